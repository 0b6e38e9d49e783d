"""One real pipeline per test session: train -> MLflow (SQLite) -> promote -> `bentoml serve`.

Everything runs as the user runs it (the CLIs, in subprocesses) in a temporary data folder,
MLflow store and BentoML home, on small generated data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

ROWS, SEED = 4000, 3
READY_TIMEOUT_S = 90
CLI = str(Path(sys.executable).with_name("credit-scoring"))  # the console script, run by python
SERVERS: dict[str, subprocess.Popen] = {}  # url -> running `bentoml serve`, for crash tests


@dataclass
class Pipeline:
    env: dict[str, str]
    home: Path

    @property
    def bentoml_home(self) -> Path:
        return Path(self.env["BENTOML_HOME"])

    def model_dir(self, name: str = "credit_scoring") -> Path:
        folder = self.bentoml_home / "models" / name
        return folder / (folder / "latest").read_text().strip()

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, *args], env=self.env, capture_output=True, text=True, timeout=600
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
        return result


def isolated_env(root: Path) -> dict[str, str]:
    return os.environ | {
        "CREDIT_DATA_DIR": str(root / "data"),
        "CREDIT_MLFLOW_DIR": str(root / "mlflow"),
        # Explicit: mlflow.set_tracking_uri() in a test exports this variable to children.
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "CREDIT_REQUEST_LOG": str(root / "logs" / "requests.sqlite"),
        "CREDIT_API_KEY": "",
        # One worker per test server (two cores for the whole suite); the default of two is
        # tested on its own (test_operations: connections reach both workers).
        "CREDIT_WORKERS": "1",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Pipeline:
    root = tmp_path_factory.mktemp("pipeline")
    p = Pipeline(isolated_env(root), root)
    p.run(
        CLI,
        "train",
        "--rows",
        str(ROWS),
        "--trials",
        "2",
        "--max-trees",
        "80",
        "--seed",
        str(SEED),
    )
    p.run(CLI, "promote")
    return p


@contextmanager
def serve(pipeline: Pipeline, **extra_env: str) -> Iterator[str]:
    """A real `bentoml serve` process on a free port, stopped (process group) on exit."""
    port = free_port()
    log_path = pipeline.home / f"serve-{port}.log"
    # Each server gets its own BentoML home (sharing the model store): `bentoml serve` wipes
    # the Prometheus folder of its home at start, which would reset another server's metrics.
    home = pipeline.home / f"bentoml-{port}"
    home.mkdir()
    (home / "models").symlink_to(pipeline.bentoml_home / "models")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "credit_scoring.serving.service:CreditScoring",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=pipeline.env | {"BENTOML_HOME": str(home)} | extra_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process, log_path)
            SERVERS[url] = process
            yield url
        finally:
            SERVERS.pop(url, None)
            workers = psutil.Process(process.pid).children(recursive=True)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            for worker in workers:  # workers run in sessions of their own: never leave one behind
                with suppress(psutil.NoSuchProcess):
                    worker.kill()


def kill_server(url: str) -> None:
    """SIGKILL a server and its workers at once, as a crash (or the OOM killer) would."""
    process = psutil.Process(SERVERS[url].pid)
    for victim in [process, *process.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            victim.kill()


def wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise AssertionError(log_path.read_text()[-3000:])
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"service not ready in {READY_TIMEOUT_S} s")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def service_url(pipeline: Pipeline) -> Iterator[str]:
    with serve(pipeline) as url:
        yield url
