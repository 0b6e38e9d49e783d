"""One real pipeline per test session: train -> MLflow (SQLite) -> promote -> `bentoml serve`.

Everything runs as the user runs it (the CLIs, in subprocesses) in a temporary data folder,
MLflow store and BentoML home, on small generated data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from filelock import FileLock

from credit_scoring.serving import runner
from credit_scoring.serving.runner import free_port

ROWS, SEED = 4000, 3
READY_TIMEOUT_S = 90
CLI = str(Path(sys.executable).with_name("credit-scoring"))  # the console script, run by python
SERVERS: dict[str, runner.Server] = {}  # url -> running `bentoml serve`, for crash tests
API_KEY = "client-key-for-tests"  # the keyed server's (keyed_service_url)
METRICS_TOKEN = "scraper-token-for-tests"


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
        "CREDIT_OVERRIDE_LOG": str(root / "logs" / "overrides.sqlite"),
        "CREDIT_API_KEY": "",
        # One worker per test server (two cores for the whole suite); the default of two is
        # tested on its own (test_operations: connections reach both workers).
        "CREDIT_WORKERS": "1",
    }


def train_and_promote(p: Pipeline) -> None:
    p.run(
        CLI,
        "train",
        "--rows",
        str(ROWS),
        "--trials",
        "2",
        "--max-trees",
        "80",
        # LightGBM alone, one partition: the suite's Home Credit model stays as cheap as it
        # was; the other families are trained and served on small tables (test_own_data).
        "--families",
        "lightgbm",
        "--repeats",
        "1",
        "--seed",
        str(SEED),
    )
    # Generated Home Credit data fails the fairness gate (applicants under 25 are riskier, so
    # approved less: adverse impact ratio ~0.66): the serving tests promote it as a reviewer would.
    p.run(CLI, "promote", "--justification", "integration tests on generated data", "--reviewer",
          "tests")  # fmt: skip


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, worker_id: str) -> Pipeline:
    """The session's trained and promoted stores. Under pytest-xdist (make test) the first
    worker trains them once; every worker then works on a copy of its own (its servers,
    request logs and promotions touch nobody else's)."""
    root = tmp_path_factory.mktemp("pipeline")
    p = Pipeline(isolated_env(root), root)
    if worker_id == "master":  # no xdist
        train_and_promote(p)
        return p
    trained = tmp_path_factory.getbasetemp().parent / "trained-pipeline"
    with FileLock(f"{trained}.lock"):
        if not (trained / "done").exists():
            trained.mkdir(exist_ok=True)
            train_and_promote(Pipeline(isolated_env(trained), trained))
            (trained / "done").touch()
    shutil.copytree(trained, root, dirs_exist_ok=True)
    return p


@contextmanager
def serve(pipeline: Pipeline, **extra_env: str) -> Iterator[str]:
    """A real `bentoml serve` process on a free port, stopped (workers included) on exit."""
    port = free_port()
    # Each server gets its own BentoML home (sharing the model store): `bentoml serve` wipes
    # the Prometheus folder of its home at start, which would reset another server's metrics.
    home = pipeline.home / f"bentoml-{port}"
    home.mkdir()
    (home / "models").symlink_to(pipeline.bentoml_home / "models")
    with runner.serve(
        port=port,
        env=pipeline.env | {"BENTOML_HOME": str(home)} | extra_env,
        log_file=pipeline.home / f"serve-{port}.log",
        timeout_s=READY_TIMEOUT_S,
    ) as server:
        SERVERS[server.url] = server
        try:
            yield server.url
        finally:
            SERVERS.pop(server.url, None)


def kill_server(url: str) -> None:
    """SIGKILL a server and its workers at once, as a crash (or the OOM killer) would."""
    SERVERS[url].kill()


@pytest.fixture(scope="session")
def service_url(pipeline: Pipeline) -> Iterator[str]:
    with serve(pipeline) as url:
        yield url


@pytest.fixture(scope="session")
def keyed_service_url(pipeline: Pipeline) -> Iterator[str]:
    """The server of every test about keys and workers, started once for all of them: two
    workers (the default), an API key and a metrics token. When the session ends it is
    stopped, and no process of its tree may outlive it (the runner's promise)."""
    env = {"CREDIT_API_KEY": API_KEY, "CREDIT_METRICS_TOKEN": METRICS_TOKEN}
    with serve(pipeline, CREDIT_WORKERS="2", **env) as url:
        tree = SERVERS[url].tree()
        yield url
    assert len(tree) >= 3, tree  # the server and its two workers, each in a session of its own
    assert not [p.pid for p in tree if alive(p)], "a worker outlived its server"


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
