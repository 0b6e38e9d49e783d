"""Every path, URI and name the apps use, in one place, each overridable by an environment
variable. The defaults work offline from a clone: data, MLflow store and artifacts stay under
the project folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _path(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable, default)).expanduser().resolve()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    mlflow_tracking_uri: str
    mlflow_artifact_dir: Path
    experiment_name: str
    model_name: str  # name in the BentoML model store and the MLflow registry
    service_url: str
    request_log: Path  # SQLite file the service appends every scored request to
    api_key: str | None  # bearer token the service requires; None = open service
    workers: int  # service processes: 2 (the cores here); 1 per pod on Kubernetes
    batching: bool  # adaptive batching on (off only to measure what it brings)
    max_batch_size: int  # rows per adaptive batch (measured: README, Serving figures)
    reports_dir: Path  # load-test and drift reports (HTML, CSV, JSON)

    @property
    def source_dir(self) -> Path:
        """Real Kaggle CSV files, when a user provides them."""
        return self.data_dir / "source"

    @property
    def generated_dir(self) -> Path:
        return self.data_dir / "generated"


def get_settings() -> Settings:
    mlflow_dir = _path("CREDIT_MLFLOW_DIR", PROJECT_ROOT / "mlflow")
    return Settings(
        data_dir=_path("CREDIT_DATA_DIR", PROJECT_ROOT / "data"),
        mlflow_tracking_uri=os.environ.get(
            "MLFLOW_TRACKING_URI", f"sqlite:///{mlflow_dir / 'mlflow.db'}"
        ),
        mlflow_artifact_dir=_path("CREDIT_MLFLOW_ARTIFACTS", mlflow_dir / "artifacts"),
        experiment_name=os.environ.get("CREDIT_EXPERIMENT", "credit-scoring"),
        model_name=os.environ.get("CREDIT_MODEL_NAME", "credit_scoring"),
        service_url=os.environ.get("CREDIT_SERVICE_URL", "http://127.0.0.1:3000"),
        request_log=_path("CREDIT_REQUEST_LOG", PROJECT_ROOT / "logs" / "requests.sqlite"),
        api_key=os.environ.get("CREDIT_API_KEY") or None,
        workers=int(os.environ.get("CREDIT_WORKERS", "2")),
        batching=os.environ.get("CREDIT_BATCHING", "1") != "0",
        max_batch_size=int(os.environ.get("CREDIT_MAX_BATCH_SIZE", "64")),
        reports_dir=_path("CREDIT_REPORTS_DIR", PROJECT_ROOT / "reports"),
    )
