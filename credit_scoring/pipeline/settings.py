"""The pipeline's settings: where MLflow records runs and how registered models are named."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credit_scoring.core.settings import AbsolutePath, CoreSettings

# MLflow refuses '/' and ':' in a registered model name; anything but letters, digits, '_',
# '-' and '.' is replaced as well, so a name reads the same in a URI and a shell.
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDIT_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    core: CoreSettings = Field(default_factory=CoreSettings)
    # MLflow's own variable (no prefix): a team's tracking server; default: the home's SQLite.
    mlflow_tracking_uri: str | None = Field(None, validation_alias="MLFLOW_TRACKING_URI")
    mlflow_artifacts: AbsolutePath | None = None  # default: <CREDIT_MLFLOW_DIR>/artifacts
    experiment: str = "credit-scoring"
    # Registered models are named <prefix>.<dataset>: one per dataset, each with its champion.
    registry_prefix: str = "credit-scoring"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.core.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_dir(self) -> Path:
        return self.mlflow_artifacts or self.core.mlflow_dir / "artifacts"

    def registered_model(self, dataset: str) -> str:
        """The registered model of one dataset (its input schema's name)."""
        return f"{self.registry_prefix}.{_NOT_IN_A_NAME.sub('-', dataset)}"
