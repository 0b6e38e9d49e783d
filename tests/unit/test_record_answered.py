"""Decisions reach the record only with a 2xx answer (the middleware, on a real ASGI app)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest
import uvicorn
from _bentoml_impl.server.app import ContextMiddleware
from bentoml._internal.context import ServiceContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from credit_scoring.core.request_log import read_log
from credit_scoring.serving import record
from tests.unit.test_request_log import decision


def app_answering(status: int, path) -> Starlette:
    async def score(request):
        await request.body()
        record.pending().append(decision(42))  # what scoring does, in the request's context
        await asyncio.sleep(0)
        response = JSONResponse({}, status_code=status)
        response.headers["X-BentoML-Request-ID"] = "00ff"
        return response

    app = Starlette(routes=[Route("/score", score, methods=["POST"])])
    app.add_middleware(record.RecordAnswered, path=path)
    return app


@pytest.mark.parametrize(("status", "rows"), [(200, 1), (503, 0), (504, 0), (400, 0)])
def test_only_answered_requests_are_recorded(tmp_path, status, rows):
    path = tmp_path / "requests.sqlite"
    record.open_record(path)  # as the service does at start
    with TestClient(app_answering(status, path)) as client:
        assert client.post("/score", json={}).status_code == status
    logged = read_log(path)
    assert len(logged) == rows
    if rows:
        assert logged["request_id"].tolist() == ["00ff"]


def app_answering_together(path, requests: int) -> Starlette:
    """Every request's answer is ready at the same moment (as in a shared batch); the request
    whose id is "bad" carries a row the record cannot take."""
    ready = asyncio.Barrier(requests)

    async def score(request):
        client = (await request.json())["client"]
        inputs = {"AMT_CREDIT": object()} if client == "bad" else {"AMT_CREDIT": 1.0}
        record.pending().append(replace(decision(client), inputs=inputs))
        await ready.wait()
        response = JSONResponse({"client": client})
        response.headers["X-BentoML-Request-ID"] = f"id-{client}"
        return response

    app = Starlette(routes=[Route("/score", score, methods=["POST"])])
    app.add_middleware(record.RecordAnswered, path=path)
    return app


async def _post_together(app: Starlette, clients: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.post("/score", json={"client": c}) for c in clients))


def _transactions(path) -> int:
    """One append is one transaction, and stamps all its rows with the same time."""
    return read_log(path)["logged_at"].nunique()


def test_requests_answered_together_share_one_transaction(tmp_path):
    path = tmp_path / "requests.sqlite"
    clients = [str(i) for i in range(20)]
    answers = asyncio.run(_post_together(app_answering_together(path, 20), clients))
    assert [a.status_code for a in answers] == [200] * 20
    logged = read_log(path)
    assert sorted(logged["request_id"]) == sorted(f"id-{c}" for c in clients)
    assert _transactions(path) <= 2  # one per request before: the commit rate capped a worker


def test_a_bad_row_fails_its_own_request_only(tmp_path):
    path = tmp_path / "requests.sqlite"
    clients = ["1", "bad", "2", "3"]
    answers = asyncio.run(_post_together(app_answering_together(path, 4), clients))
    assert [a.status_code for a in answers] == [200, 500, 200, 200]
    assert sorted(read_log(path)["request_id"]) == ["id-1", "id-2", "id-3"]


CONTEXT = ServiceContext()  # a service's context, as BentoML gives each one


async def _answer_from_context(scope, receive, send) -> None:
    """An API handler as BentoML runs one, behind its ``ContextMiddleware`` (which holds the
    request in a context variable for the request's task), answering at once."""
    if scope["type"] != "http":
        return
    await CONTEXT.request.body()
    record.pending().append(decision(42))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"[]", "more_body": False})


@contextmanager
def _uvicorn(app) -> Iterator[str]:
    """``app`` served by a real uvicorn (BentoML's server) in a thread; its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_answered_request_leaves_no_reference_cycle(tmp_path):
    """Each request's objects are freed as soon as it is answered, not left in a reference
    cycle for the garbage collector (the disconnect watcher's context held the request, whose
    receive held the watcher: ~60 objects per request, and full collections of 60-100 ms under
    load)."""
    path = tmp_path / "requests.sqlite"
    record.open_record(path)
    app = record.RecordAnswered(ContextMiddleware(_answer_from_context, CONTEXT), path)
    with _uvicorn(app) as url, httpx.Client(base_url=url) as client:
        assert client.post("/score", json={}).status_code == 200  # warm
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept, to be looked at
        try:
            for _ in range(20):
                assert client.post("/score", json={}).status_code == 200
            time.sleep(0.2)  # the last watchers end
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, (Request, asyncio.Task))]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert len(read_log(path)) == 21
    assert left == []
