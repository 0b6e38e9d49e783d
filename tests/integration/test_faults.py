"""Process faults, against one real two-worker `bentoml serve` (a model store of its own, so
that promoting into it leaves the session's other servers alone): connections reach both
workers; readiness follows the request log; killed workers come back serving the same model
and no connection is refused meanwhile; a killed arbiter takes its workers with it.

The tests run in file order on the one server; the last one kills it.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from credit_scoring.serving import runner
from tests.integration.conftest import CLI, Pipeline
from tests.integration.test_pipeline import applicants

pytestmark = pytest.mark.integration
RESTART_TIMEOUT_S = 90
START_TIMEOUT_S = 240


@dataclass
class Served:
    server: runner.Server
    env: dict[str, str]  # the server's environment: its own BentoML home and request log
    log: Path  # its request log

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def workers(self) -> list[psutil.Process]:
        return self.server.tree()[1:]


@pytest.fixture(scope="module")
def served(pipeline: Pipeline, tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("faults")
    shutil.copytree(pipeline.bentoml_home / "models", root / "bentoml" / "models")
    env = {
        "BENTOML_HOME": str(root / "bentoml"),
        "CREDIT_REQUEST_LOG": str(root / "logs" / "requests.sqlite"),
        "CREDIT_WORKERS": "2",
        "BENTOML_CONTAINERIZED": "true",  # as in the image: workers must still be replaced
    }
    env = pipeline.env | env
    # Two workers start in ~15 s here when the machine is quiet, several times that under load.
    with runner.serve(env=env, log_file=root / "serve.log", timeout_s=START_TIMEOUT_S) as server:
        yield Served(server, env, root / "logs" / "requests.sqlite")


def test_a_tampered_bundle_stops_the_server_naming_the_file(pipeline, tmp_path):
    """40 bytes of model.txt changed, same length: the server process refuses at import,
    before any worker starts (it used to serve the tampered model under the same tag)."""
    store = tmp_path / "bentoml"
    shutil.copytree(pipeline.bentoml_home / "models", store / "models")
    folder = store / "models" / "credit_scoring"
    model = folder / (folder / "latest").read_text().strip() / "model.txt"
    text = model.read_bytes()
    model.write_bytes(text[:-40] + bytes(b ^ 1 for b in text[-40:]))
    result = subprocess.run(
        [sys.executable, "-c", "import credit_scoring.serving.service"],
        env=pipeline.env | {"BENTOML_HOME": str(store)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert f"model file {model} does not match its SHA-256 recorded at promote" in result.stderr


def listening_sockets(port: int) -> int:
    """Sockets listening on this local port (/proc/net/tcp: one line per socket, 0A = LISTEN)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
    )


def ready(url: str, timeout_s: float = 10) -> int:
    return httpx.get(f"{url}/readyz", timeout=timeout_s).status_code


def test_each_worker_has_a_listening_slot_and_connections_reach_both(pipeline, served):
    """One listening socket per worker (SO_REUSEPORT, the kernel spreads connections), not
    one shared socket whose connections go to whichever worker wakes first; sixteen
    keep-alive clients then reach both workers."""
    bodies = [{"applications": [a]} for a in applicants(pipeline, 16)]

    def client_session(body: dict) -> None:
        with httpx.Client(timeout=30) as client:  # one connection, kept alive
            for _ in range(5):
                client.post(f"{served.url}/score", json=body).raise_for_status()

    deadline = time.monotonic() + 10  # the arbiter opens a slot as it starts that worker
    while listening_sockets(served.port) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert listening_sockets(served.port) == 2
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client_session, bodies))
    rows_by_pid: dict[str, int] = {}
    scored = r'"event": "scored", "pid": (\d+), .*?"rows": (\d+)'
    for pid, rows in re.findall(scored, served.server.log_text()):
        rows_by_pid[pid] = rows_by_pid.get(pid, 0) + int(rows)
    assert sum(rows_by_pid.values()) == 80
    assert len(rows_by_pid) == 2, rows_by_pid


def test_not_ready_while_the_request_log_is_locked_or_gone(served):
    assert ready(served.url) == 200
    with sqlite3.connect(served.log, isolation_level=None) as other:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the log
        locked = httpx.get(f"{served.url}/readyz", timeout=10)
        assert locked.status_code == 503
        assert "not ready: request log cannot be written (database is locked)" in locked.text
        other.execute("ROLLBACK")
    assert ready(served.url) == 200
    moved = served.log.with_name("moved.sqlite")
    served.log.rename(moved)  # deleted, as far as the service can tell
    try:
        assert ready(served.url) == 503
    finally:
        moved.rename(served.log)
    assert ready(served.url) == 200
    log = served.server.log_text()
    assert '"cause": "request log cannot be written (database is locked)"' in log
    assert '"cause": "request log was deleted or replaced while serving"' in log
    assert f'"request_log": "{served.log}"' in log


@dataclass
class Load:
    """Requests on a fresh connection each (what a refused connection shows up in), until
    stopped; every status, every refusal, every model tag answered."""

    url: str
    statuses: list[int] = field(default_factory=list)
    refused: int = 0
    dropped: int = 0  # in flight on a killed worker
    tags: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                answer = httpx.post(f"{self.url}/metadata", json={}, timeout=RESTART_TIMEOUT_S)
            except httpx.ConnectError:
                self.refused += 1
                continue
            except httpx.TransportError:
                # A request the killed worker was answering dies with it (a reset, not a
                # refusal): counted, and the load goes on (it used to end this thread, and the
                # test then waited forever for answers).
                self.dropped += 1
                continue
            self.statuses.append(answer.status_code)
            self.tags.add(answer.json().get("model_tag"))
            time.sleep(0.02)


def promote_again(served: Served) -> str:
    """Promote the champion once more into the server's own store: a new `:latest`."""
    subprocess.run(
        [sys.executable, CLI, "promote", "--justification", "fault tests", "--reviewer", "tests"],
        env=served.env,
        check=True,
        capture_output=True,
    )
    folder = Path(served.env["BENTOML_HOME"], "models", "credit_scoring")
    return "credit_scoring:" + (folder / "latest").read_text().strip()


def test_killed_workers_restart_on_the_same_model_refusing_no_connection(served):
    served_tag = httpx.post(f"{served.url}/metadata", json={}).json()["model_tag"]
    newer = promote_again(served)
    assert newer != served_tag
    load = Load(served.url)
    thread = threading.Thread(target=load.run)
    thread.start()
    try:
        time.sleep(0.5)
        killed = served.workers()
        assert len(killed) == 2
        for worker in killed:
            worker.kill()
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        # A probe sent while a slot's worker restarts waits in the slot's backlog for it.
        while not (len(served.workers()) == 2 and ready(served.url, RESTART_TIMEOUT_S) == 200):
            assert time.monotonic() < deadline, served.server.log_tail()
            time.sleep(0.5)
        assert not {w.pid for w in killed} & {w.pid for w in served.workers()}
        answered = len(load.statuses)
        while len(load.statuses) < answered + 20:  # answers from the restarted workers
            assert time.monotonic() < deadline + RESTART_TIMEOUT_S, served.server.log_tail()
            time.sleep(0.1)
    finally:
        load.stop.set()
        thread.join()
    assert load.refused == 0
    assert load.dropped <= len(killed)  # at most the request each killed worker was answering
    assert set(load.statuses) == {200}
    assert load.tags == {served_tag}


def test_a_killed_arbiter_takes_its_workers_and_frees_the_port(served):
    workers = served.workers()
    assert workers
    psutil.Process(served.server.process.pid).kill()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, [w.pid for w in alive]
    assert listening_sockets(served.port) == 0
