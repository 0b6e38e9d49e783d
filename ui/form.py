"""The manual-entry form: which fields, their defaults, and the units a credit officer reads.

Types, ranges and categories come from the served input schema; only the choice of the main
fields, the defaults (published Home Credit medians and most frequent categories) and the
display of day offsets in years are decided here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from credit_scoring.core.schema import FieldSpec, InputSchema
from credit_scoring.profiles.home_credit.reference import application_columns

# The fields an officer has at hand and the model leans on most (external scores, age,
# employment, amounts); every other field can be given as JSON.
MAIN_FIELDS = (
    "NAME_CONTRACT_TYPE",
    "CODE_GENDER",
    "DAYS_BIRTH",
    "CNT_CHILDREN",
    "NAME_FAMILY_STATUS",
    "NAME_EDUCATION_TYPE",
    "NAME_INCOME_TYPE",
    "OCCUPATION_TYPE",
    "DAYS_EMPLOYED",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "FLAG_OWN_CAR",
    "FLAG_OWN_REALTY",
    "NAME_HOUSING_TYPE",
    "REGION_RATING_CLIENT",
    "EXT_SOURCE_1",
    "EXT_SOURCE_2",
    "EXT_SOURCE_3",
)
OWN_FIELDS = 20  # a user's schema has no main fields: its first fields, required ones first
DAYS_PER_YEAR = 365.25
MOSTLY_MISSING = 0.5  # a field missing for most real clients defaults to missing
UNKNOWN = "(unknown)"  # the select-box choice that sends nothing: a missing value


@dataclass(frozen=True)
class FormField:
    """One widget: a schema field, possibly shown in years instead of days before application."""

    spec: FieldSpec
    default: float | int | str | None

    @property
    def in_years(self) -> bool:
        return self.spec.kind == "numeric" and self.spec.name.startswith("DAYS_")

    @property
    def key(self) -> str:
        return f"field:{self.spec.name}"

    @property
    def label(self) -> str:
        return f"{self.spec.name} (years)" if self.in_years else self.spec.name

    def widget_default(self) -> Any:
        if self.default is None or not self.in_years:
            return self.default
        return round(max(0.0, -float(self.default) / DAYS_PER_YEAR), 1)

    def widget_range(self) -> tuple[Any, Any]:
        """Bounds in the widget's unit; years count back from the application, so they flip."""
        low, high = self.spec.minimum, self.spec.maximum
        if self.in_years:
            top = None if low is None else -low / DAYS_PER_YEAR
            return 0.0, top
        if self.spec.integer:
            return (None if low is None else int(low)), (None if high is None else int(high))
        return low, high

    def to_api(self, widget_value: Any) -> Any:
        """The widget's value in the API's unit; None (left empty) stays missing."""
        if widget_value is None or widget_value == UNKNOWN:
            return None
        if self.in_years:
            return -round(float(widget_value) * DAYS_PER_YEAR)
        if self.spec.kind == "numeric":
            return int(widget_value) if self.spec.integer else float(widget_value)
        return widget_value


def form_fields(schema: InputSchema) -> list[FormField]:
    """The main fields the served schema has, in MAIN_FIELDS order; for a schema without any
    (a user's own table), its required fields, then the others, up to OWN_FIELDS."""
    served = set(schema.names)
    names = [n for n in MAIN_FIELDS if n in served] or [
        f.name for f in sorted(schema.fields, key=lambda f: not f.required)
    ][:OWN_FIELDS]
    return [FormField(schema.field(n), _default(schema.field(n))) for n in names]


@cache
def _facts() -> dict[str, Any]:
    return {c.name: c for c in application_columns()}


def _default(spec: FieldSpec) -> float | int | str | None:
    facts = _facts().get(spec.name)
    if facts is None or facts.missing_rate > MOSTLY_MISSING:
        return None
    if spec.kind == "categorical":
        allowed = {c: n for c, n in facts.categories.items() if c in spec.categories}
        return max(allowed, key=allowed.__getitem__) if allowed else None
    median = facts.stats.get("median")
    if median is None:
        return None
    if spec.minimum is not None:
        median = max(median, spec.minimum)
    if spec.maximum is not None:
        median = min(median, spec.maximum)
    return round(median) if spec.integer else float(median)


def parse_extra_fields(text: str) -> dict[str, Any]:
    """The optional JSON object of further fields; the service validates names and values."""
    if not text.strip():
        return {}
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"Additional fields are not valid JSON: {error}") from error
    if not isinstance(extra, dict):
        raise ValueError('Additional fields must be a JSON object, e.g. {"OWN_CAR_AGE": 5}')
    return extra


def application(
    fields: list[FormField], widget_values: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """The request row: filled widgets in API units, then the JSON fields (which win)."""
    row = {f.spec.name: f.to_api(widget_values.get(f.key)) for f in fields}
    return {k: v for k, v in row.items() if v is not None} | extra
