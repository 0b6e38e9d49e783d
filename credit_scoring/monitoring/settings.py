"""The monitoring reports' settings: the performance window and the alert bounds."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitoringSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDIT_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    # A default counts when observed within this many months of the decision; a younger
    # cohort is immature (CREDIT_PERFORMANCE_WINDOW_MONTHS).
    performance_window_months: int = Field(12, ge=1, le=120)
    # Alert when a model's realised ROC AUC falls below this (CREDIT_MIN_AUC).
    min_auc: float = Field(0.65, gt=0.5, lt=1)
    # Alert when the observed default rate differs from the predicted one by more than this
    # share of it and by more than two standard errors (CREDIT_CALIBRATION_TOLERANCE).
    calibration_tolerance: float = Field(0.5, gt=0)
