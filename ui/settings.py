"""The page's own settings: where the scoring service answers and the key it wants.

Read from the environment by the UI itself (the page knows the service over HTTP only).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class UISettings(BaseSettings):
    """``CREDIT_SERVICE_URL`` and ``CREDIT_API_KEY``; an empty key means an open service."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore")

    service_url: str = "http://127.0.0.1:3000"
    api_key: str | None = None
    reports_dir: Path = Path("reports")  # the monitoring page's JSON reports (CREDIT_REPORTS_DIR)

    @field_validator("service_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _empty_is_none(cls, key: str | None) -> str | None:
        return key or None
