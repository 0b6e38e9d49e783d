"""The BentoML fixes, each against BentoML's real classes, in process: the timeout timer is
cancelled and the 504 still comes, a response's media type is computed once per class, an
API method's caller once per instance; and under a version they were not written for they
are skipped without importing a single BentoML internal. (The socket fix is exercised by a
real two-worker `bentoml serve` in tests/integration/test_faults.py.)"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import bentoml
import httpx
import pydantic
import pytest
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

from credit_scoring.serving import bentoml_fixes


@pytest.fixture(scope="module", autouse=True)
def applied() -> tuple[str, ...]:
    return bentoml_fixes.apply()


class Item(pydantic.BaseModel):
    value: int


@bentoml.service
class Echo:
    @bentoml.api
    def items(self, count: int) -> list[Item]:
        return [Item(value=i) for i in range(count)]

    @bentoml.api
    def whoami(self) -> int:
        return id(self)


class TimerRecordingLoop(asyncio.SelectorEventLoop):
    """A real event loop that keeps every timer handle it hands out, with its callback's name
    (a cancelled handle forgets its callback)."""

    def __init__(self) -> None:
        super().__init__()
        self.timers: list[tuple[str, asyncio.TimerHandle]] = []

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        handle = super().call_later(delay, callback, *args, context=context)
        self.timers.append((getattr(callback, "__name__", ""), handle))
        return handle


def _timeout_middleware(app: Any, timeout: float) -> Any:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    return TimeoutMiddleware(app, timeout=timeout)


def _get(app: Any) -> tuple[httpx.Response, TimerRecordingLoop]:
    """GET / from ``app`` through httpx's ASGI transport, on a timer-recording loop."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/")

    with asyncio.Runner(loop_factory=TimerRecordingLoop) as runner:
        response = runner.run(get())
        loop = runner.get_loop()
    assert isinstance(loop, TimerRecordingLoop)
    return response, loop


def test_the_fixes_apply_under_the_version_they_were_written_for(applied):
    assert bentoml.__version__ in bentoml_fixes.FIXED_VERSIONS
    assert {
        "timeout_timer",
        "media_type_cache",
        "local_caller_cache",
        "metrics_labels",
        "client_error_body",
        "header_timeout",
        "respawn_in_container",
        "untraced_spans",
    } <= set(applied)
    assert bentoml_fixes.status() == {"fixes": "applied", "bentoml": bentoml.__version__}


def test_the_timeout_timer_is_cancelled_when_the_request_ends():
    response, loop = _get(_timeout_middleware(PlainTextResponse("ok"), timeout=60))
    assert response.status_code == 200
    assert response.text == "ok"
    timers = [handle for name, handle in loop.timers if name == "_set_timer_out"]
    assert len(timers) == 1
    assert timers[0].cancelled(), "the request's timer is still pending after its answer"


def test_a_request_slower_than_the_timeout_still_gets_504():
    cancelled = []

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(scope["path"])
            raise

    response, loop = _get(_timeout_middleware(slow, timeout=0.05))
    assert response.status_code == 504
    assert response.json() == {"error": "Not able to process the request in 0.05 seconds"}
    assert cancelled == ["/"], "the slow request was left running"
    assert all(handle.cancelled() or handle.when() <= loop.time() for _, handle in loop.timers)


def test_a_list_outputs_json_schema_is_generated_once_not_per_response(monkeypatch):
    output = Echo.apis["items"].output_spec
    stock_schema = output.model_json_schema.__func__
    generated = []

    def counted(cls: type, *args: Any, **kwargs: Any) -> dict:
        generated.append(cls)
        return stock_schema(cls, *args, **kwargs)

    monkeypatch.setattr(output, "model_json_schema", classmethod(counted))
    with TestClient(Echo.to_asgi()) as client:
        first = client.post("/items", json={"count": 2})
        after_first = len(generated)
        answers = [client.post("/items", json={"count": 2}) for _ in range(3)]
    assert [a.json() for a in [first, *answers]] == [[{"value": 0}, {"value": 1}]] * 4
    assert {a.headers["content-type"] for a in answers} == {"application/json"}
    assert len(generated) == after_first, "the JSON schema is generated again per response"


def test_an_api_methods_caller_is_built_once_per_method_and_instance():
    first, second = Echo(), Echo()
    assert first.whoami is first.whoami
    assert first.items is first.items
    assert first.whoami is not second.whoami
    assert first.whoami is not first.items
    assert (first.whoami(), second.whoami()) == (id(first), id(second))


UPGRADED = """
import json, logging, sys
import bentoml
logging.basicConfig(level=logging.INFO, format="%(message)s")
bentoml.__version__ = "9.9.9"
private = ["bentoml._internal.server.http.traffic", "_bentoml_sdk.io_models",
           "_bentoml_sdk.method", "circus.sockets", "circus.process", "uvicorn",
           "bentoml._internal.server.http.instruments", "_bentoml_impl.server.app",
           "bentoml.serving"]
for name in private:  # as if the upgrade had moved them: importing any of them fails
    sys.modules[name] = None
from credit_scoring.serving import bentoml_fixes
applied, status = bentoml_fixes.apply(), bentoml_fixes.status()
for name in private:
    del sys.modules[name]
import bentoml.serving, circus.process, circus.sockets, uvicorn
from _bentoml_sdk.io_models import IOMixin
from _bentoml_sdk.method import APIMethod
from bentoml._internal.server.http.traffic import TimeoutMiddleware
from bentoml._internal.server.http.instruments import RunnerTrafficMetricsMiddleware as M
from _bentoml_impl.server.app import ServiceAppFactory
patched = [TimeoutMiddleware.__call__, IOMixin.mime_type.__func__, APIMethod._local_call,
           circus.sockets.CircusSocket.__init__, circus.process.Process._get_sockets_fds,
           uvicorn.Config.load, M.__init__, M.__call__, ServiceAppFactory.api_endpoint,
           bentoml.serving.create_watcher]
print(json.dumps({"applied": applied, "status": status,
                  "owners": sorted({f.__module__ for f in patched})}))
"""


def test_an_unknown_version_skips_every_fix_and_leaves_bentoml_untouched():
    run = subprocess.run(
        [sys.executable, "-c", UPGRADED], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["applied"] == []
    assert result["status"] == {"fixes": "skipped", "bentoml": "9.9.9"}
    assert "BentoML 9.9.9: fixes skipped" in run.stderr
    assert "credit_scoring.serving.bentoml_fixes" not in result["owners"]


def test_workers_are_replaced_inside_a_bentoml_image_too(applied, monkeypatch):
    """BentoML's images set BENTOML_CONTAINERIZED, under which stock circus lets a dead
    worker stop the whole server (the k8s smoke test's worker kill restarted the container)."""
    import bentoml.serving

    monkeypatch.setenv("BENTOML_CONTAINERIZED", "true")
    watcher = bentoml.serving.create_watcher("worker", ["-c", "pass"])
    assert watcher.respawn is True


def test_a_port_someone_listens_on_is_refused_loudly():
    """With SO_REUSEPORT a second server (or a stale worker) could otherwise join the port."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve on 127.0.0.1:{port}"):
            bentoml_fixes._refuse_a_taken_port("127.0.0.1", port, socket.AF_INET)


def test_without_tracing_no_span_is_opened_and_each_answer_keeps_its_request_id(applied):
    from _bentoml_impl.server.app import ServiceAppFactory
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    Echo.inject_config()
    # Without the traffic metrics, which register their series once per process.
    app = ServiceAppFactory(Echo, is_main=True, enable_metrics=False)()
    chain = [m.cls for m in app.user_middleware]
    assert OpenTelemetryMiddleware not in chain
    assert bentoml_fixes.RequestIdMiddleware in chain
    with TestClient(app) as client:
        ids = [client.post("/whoami", json={}).headers["X-BentoML-Request-ID"] for _ in range(5)]
    assert len(set(ids)) == 5 and all(len(i) == 16 for i in ids)
