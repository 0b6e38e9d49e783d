"""Run a served model: start `bentoml serve`, wait for readiness with a deadline, stop it all.

One helper for every caller that needs a live service (the UI launcher, the load tests, the
benchmarks, the image smoke test, the integration tests). It imports nothing of the service
itself: a caller that only runs a server does not pay for loading BentoML, LightGBM or SHAP.

Stopping is the delicate part: BentoML's workers run in sessions of their own, so signalling
the server's process group does not reach them. The whole tree is collected (psutil) before
the server is stopped, and whatever of it outlives the server is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil

SERVICE = "credit_scoring.serving.service:CreditScoring"
READY_PATH = "/readyz"
LOG_TAIL_CHARS = 3000
POLL_S = 0.5


class ServerFailed(RuntimeError):
    """The server exited or did not become ready in time; the message ends with its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_command(host: str, port: int, service: str = SERVICE) -> list[str]:
    """`bentoml serve` of the credit-scoring service (or ``service``, "module:Class"), with
    this interpreter's BentoML."""
    return [sys.executable, "-m", "bentoml", "serve", service, "--host", host, "--port", str(port)]


def wait_ready(
    url: str,
    alive: Callable[[], bool],
    timeout_s: float,
    describe: Callable[[], str] = str,
) -> float:
    """Poll ``url`` until it answers 200; the seconds it took.

    Fails fast (``ServerFailed``) as soon as ``alive()`` is false, and at the deadline;
    ``describe()`` adds what the caller knows (a log's tail) to the message.
    """
    started = time.monotonic()
    while True:
        if not alive():
            raise ServerFailed(f"the server behind {url} exited before it was ready\n{describe()}")
        with suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise ServerFailed(f"{url} not ready after {timeout_s:.0f} s\n{describe()}")
        time.sleep(POLL_S)


@dataclass
class Server:
    """A started server process (its own session) and where it answers."""

    process: subprocess.Popen
    url: str
    log_file: Path | None = None

    def log_text(self) -> str:
        """Everything the server wrote so far; empty when its output goes to the console."""
        if self.log_file is None or not self.log_file.is_file():
            return ""
        return self.log_file.read_text(errors="replace")

    def log_tail(self) -> str:
        if self.log_file is None:
            return f"(exit code {self.process.poll()}; its output went to the console)"
        return self.log_text()[-LOG_TAIL_CHARS:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, path: str = READY_PATH, timeout_s: float = 120) -> float:
        return wait_ready(self.url + path, self.alive, timeout_s, self.log_tail)

    def tree(self) -> list[psutil.Process]:
        """The server and every process below it (workers included), while they run."""
        with suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        return []

    def stop(self, grace_s: float = 20) -> None:
        """SIGTERM to the server's group, SIGKILL if it lingers; then kill any worker left."""
        workers = self.tree()[1:]
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        _kill(workers)

    def kill(self) -> None:
        """SIGKILL the server and its workers at once, as a crash (or the OOM killer) would."""
        _kill(self.tree())


def _kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            process.kill()


@contextmanager
def running(
    command: list[str],
    url: str,
    *,
    ready_path: str = READY_PATH,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    cwd: Path | None = None,
    timeout_s: float = 120,
) -> Iterator[Server]:
    """Any server command, ready at ``url + ready_path`` inside the block, stopped after it.

    Output goes to ``log_file`` (or the console when None). The process gets a session of its
    own, so that a Ctrl-C in the caller's terminal reaches the caller only.
    """
    with ExitStack() as stack:
        output: IO[str] | None = None
        if log_file is not None:
            output = stack.enter_context(log_file.open("w"))
        process = subprocess.Popen(
            command,
            env=None if env is None else dict(env),
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
        )
        server = Server(process, url, log_file)
        stack.callback(server.stop)
        server.wait_ready(ready_path, timeout_s)
        yield server


@contextmanager
def serve(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    cwd: Path | None = None,
    timeout_s: float = 120,
) -> Iterator[Server]:
    """`bentoml serve` of the promoted model on ``host:port`` (a free port when None), ready
    inside the block and stopped, workers included, when it ends."""
    port = port or free_port(host)
    with running(
        serve_command(host, port),
        f"http://{host}:{port}",
        env=env,
        log_file=log_file,
        cwd=cwd,
        timeout_s=timeout_s,
    ) as server:
        yield server
