"""The Home Credit dataset profile: its seven tables and their links, its feature blocks, its
sentinel, its input schema, its loader and its synthetic generator.

``PROFILE`` is what the core finds by the name stored in a schema (entry point
``credit_scoring.profiles: home-credit``); it costs the features module and the table specs.
The loaders and the generator (scipy, scikit-learn) are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from credit_scoring.core.profile import Profile
from credit_scoring.profiles.home_credit.features import features
from credit_scoring.profiles.home_credit.input_fields import age_bands, home_credit_schema
from credit_scoring.profiles.home_credit.reasons import reason_catalogue
from credit_scoring.profiles.home_credit.reference import NAME, SENTINEL_DAYS
from credit_scoring.profiles.home_credit.tables import history_tables

PROFILE = Profile(
    name=NAME,
    tables=history_tables(),
    features=features,
    sentinels={"DAYS_EMPLOYED": SENTINEL_DAYS},
    audit_groups={"DAYS_BIRTH": age_bands},
    reasons=reason_catalogue,
)
_LAZY = {
    "load_dataset": "data",
    "load_synthetic": "data",
    "generate": "synthetic",
    "shift_population": "synthetic",
}
__all__ = ["PROFILE", "home_credit_schema", *_LAZY]


def __getattr__(name: str) -> Any:
    """The loaders and the generator, imported when first asked for (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
