"""The server runner with real processes: a small HTTP server whose "worker" runs in a session
of its own, as BentoML's workers do, so that stopping the server's group alone would miss it."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from credit_scoring.serving import runner

# An HTTP server on argv[1] that first starts a sleeping child in its own session and writes
# the child's pid to argv[2]; argv[3] == "crash" exits at once instead, after a line of log.
SERVER = textwrap.dedent(
    """
    import http.server, subprocess, sys
    if sys.argv[3] == "crash":
        sys.exit("cannot load the model")
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    open(sys.argv[2], "w").write(str(worker.pid))
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler
    ).serve_forever()
    """
)


def command(tmp_path: Path, port: int, mode: str = "serve") -> list[str]:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    return [sys.executable, str(script), str(port), str(tmp_path / "worker.pid"), mode]


def gone(pid: int) -> bool:
    """No such process, or only its zombie (it died; its parent has not reaped it yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone(pid)


def test_free_ports_can_be_bound():
    import socket

    port = runner.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_serve_command_runs_the_service_with_this_interpreter():
    assert runner.serve_command("127.0.0.1", 3001) == [
        sys.executable,
        *("-m", "bentoml", "serve", "credit_scoring.serving.service:CreditScoring"),
        *("--host", "127.0.0.1", "--port", "3001"),
    ]


def test_the_server_is_ready_inside_the_block_and_stopped_with_its_workers(tmp_path):
    port = runner.free_port()
    url = f"http://127.0.0.1:{port}"
    with runner.running(command(tmp_path, port), url, ready_path="/", timeout_s=30) as server:
        assert server.url == url
        worker = int((tmp_path / "worker.pid").read_text())
        assert psutil.pid_exists(worker)
    assert not server.alive()
    assert wait_gone(worker), "a worker in its own session outlived the server"


def test_a_server_that_exits_fails_fast_with_its_log(tmp_path):
    port = runner.free_port()
    started = time.monotonic()
    with (
        pytest.raises(runner.ServerFailed, match="exited before it was ready") as failure,
        runner.running(
            command(tmp_path, port, "crash"),
            f"http://127.0.0.1:{port}",
            log_file=tmp_path / "server.log",
            timeout_s=60,
        ),
    ):
        pass
    assert "cannot load the model" in str(failure.value)
    assert time.monotonic() - started < 10


def test_a_server_that_never_answers_is_stopped_at_the_deadline(tmp_path):
    port = runner.free_port()
    silent = runner.free_port()  # nothing listens there
    with (
        pytest.raises(runner.ServerFailed, match="not ready after 2 s"),
        runner.running(command(tmp_path, port), f"http://127.0.0.1:{silent}", timeout_s=2),
    ):
        pass
    assert wait_gone(int((tmp_path / "worker.pid").read_text()))


def test_kill_takes_the_server_and_its_workers_down_at_once(tmp_path):
    port = runner.free_port()
    url = f"http://127.0.0.1:{port}"
    with runner.running(command(tmp_path, port), url, ready_path="/", timeout_s=30) as server:
        worker = int((tmp_path / "worker.pid").read_text())
        server.kill()
        assert wait_gone(server.process.pid) and wait_gone(worker)
