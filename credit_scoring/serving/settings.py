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
