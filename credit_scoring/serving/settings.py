"""The service's settings, read once at import by ``serving.service``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credit_scoring.core.settings import CoreSettings

_ENV = SettingsConfigDict(env_prefix="CREDIT_", env_ignore_empty=True, extra="ignore", frozen=True)


class ServingSettings(BaseSettings):
    model_config = _ENV

    core: CoreSettings = Field(default_factory=CoreSettings)
    # The model version served; set by the arbiter for its workers (one model per server).
    model_tag: str | None = None
    # The challenger scored in shadow (default: the newest <model name>_challenger, if any);
    # set by the arbiter for its workers, like model_tag. CREDIT_SHADOW=off serves none.
    challenger_tag: str | None = None
    shadow: bool = True
    # Share of applicants (by a hash of their id) the challenger also scores: bounds its cost.
    shadow_share: float = Field(1.0, ge=0, le=1)
    api_key: str | None = None  # bearer token the service requires; None = open service
    # bearer token /metrics requires (a scraper's, not the API key); None = /metrics open
    metrics_token: str | None = None
    # bearer token POST /outcomes requires (the loan system's, not the API key); None = closed
    outcomes_key: str | None = None
    workers: int = Field(2, ge=1)  # service processes: 2 (the cores here); 1 per pod on k8s
    batching: bool = True  # adaptive batching on (off only to measure what it brings)
    max_batch_size: int = Field(64, ge=1)  # rows per adaptive batch (README, Serving figures)
    # A category unseen in training: overrides the policy stored with the model ("reject":
    # the strict 400; "missing": scored as missing with a warning); unset keeps the model's.
    unseen: Literal["missing", "reject"] | None = None

    def reported(self) -> dict[str, str | None]:
        """The effective settings keyed by the environment variable that sets each one, as
        text (what a ConfigMap holds), secrets only as "set": an operator compares them with
        the deployment's configuration (``POST /metadata``, ``make k8s-smoke``)."""
        secrets = {"api_key", "metrics_token"}
        fields = self.core.model_dump(mode="json") | self.model_dump(mode="json", exclude={"core"})
        return {
            f"CREDIT_{name.upper()}": ("set" if value else None)
            if name in secrets
            else (None if value is None else _text(value))
            for name, value in fields.items()
        }


def _text(value: object) -> str:
    """A setting as an environment variable would spell it (booleans lower-case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
