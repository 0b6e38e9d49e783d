"""Where the package reads and writes, from one home folder: the working directory unless
``CREDIT_HOME`` (or the CLI's ``--home``) says otherwise, never the package's own folder, so an
installed package writes only under the folder it runs in. Each path is overridable on its own
by the environment variables the README and the Kubernetes manifests use. Server, pipeline and
UI settings live with their parts (``pipeline.settings``, ``serving.settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _absolute(path: Path) -> Path:
    return path.expanduser().resolve()


AbsolutePath = Annotated[Path, AfterValidator(_absolute)]

# Every path but the home folder, relative to it unless set explicitly.
UNDER_HOME = {
    "data_dir": Path("data"),
    "mlflow_dir": Path("mlflow"),
    "request_log": Path("logs", "requests.sqlite"),
    "override_log": Path("logs", "overrides.sqlite"),
    "reports_dir": Path("reports"),
}


class CoreSettings(BaseSettings):
    """Paths under the home folder, and the model name both sides of the hand-off use:
    ``promote`` writes it into the BentoML store, the service and the drift report read it."""

    model_config = SettingsConfigDict(
        env_prefix="CREDIT_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    home: AbsolutePath
    data_dir: AbsolutePath  # generated data (data/generated) and real files (data/source)
    mlflow_dir: AbsolutePath  # the embedded MLflow store (SQLite file and artifacts)
    request_log: AbsolutePath  # SQLite file the service appends every scored request to
    override_log: AbsolutePath  # SQLite file of credit officers' overrides (core.overrides)
    reports_dir: AbsolutePath  # load-test and drift reports (HTML, CSV, JSON)
    model_name: str = "credit_scoring"  # name in the BentoML model store
    # Months the decision record keeps a row (Regulation B's 25; the AI Act's floor is 6).
    retention_months: int = Field(25, ge=6)

    @model_validator(mode="before")
    @classmethod
    def _under_home(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Resolve the home first (at validation time: the working directory of the call),
        then place every path not set explicitly under it."""
        home = _absolute(Path(values.get("home") or Path.cwd()))
        defaults = {name: home / relative for name, relative in UNDER_HOME.items()}
        return defaults | {k: v for k, v in values.items() if v is not None} | {"home": home}

    @property
    def challenger_name(self) -> str:
        """The challenger's name in the BentoML store: the model the service scores in shadow
        beside ``model_name`` (``promote --challenger`` writes it, ``switch`` empties it)."""
        return f"{self.model_name}_challenger"

    @property
    def source_dir(self) -> Path:
        """Real Kaggle CSV files, when a user provides them."""
        return self.data_dir / "source"

    @property
    def generated_dir(self) -> Path:
        return self.data_dir / "generated"
