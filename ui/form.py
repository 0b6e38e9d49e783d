"""The manual-entry form: which fields, their defaults, and the units a credit officer reads.

Types, ranges, categories, descriptions and defaults (the service's example applicant) come
from the served input schema; only the choice of the main fields and the display of day
offsets in years are decided here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ui.client import ServedField, ServedSchema

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
# A field described as counted in days before the application ("How many days before the
# application ...", "age in days at the time of application"): shown in years.
DAYS_BEFORE_APPLICATION = re.compile(r"\bdays\b.*\bapplication\b", re.IGNORECASE)
UNKNOWN = "(unknown)"  # the select-box choice that sends nothing: a missing value


@dataclass(frozen=True)
class FormField:
    """One widget: a schema field, possibly shown in years instead of days before application."""

    spec: ServedField

    @property
    def default(self) -> float | int | str | None:
        """The example applicant's value, typed as the widget needs it (Streamlit refuses an
        int default in a float input)."""
        value = self.spec.example
        if value is None or self.spec.kind == "categorical":
            return value
        return int(value) if self.spec.integer else float(value)

    @property
    def in_years(self) -> bool:
        """Day offsets before the application (negative numbers) read as years back."""
        spec = self.spec
        return (
            spec.kind == "numeric"
            and spec.minimum is not None
            and spec.minimum < 0
            and DAYS_BEFORE_APPLICATION.search(spec.description) is not None
        )

    @property
    def key(self) -> str:
        return f"field:{self.spec.name}"

    @property
    def label(self) -> str:
        return f"{self.spec.name} (years)" if self.in_years else self.spec.name

    def widget_default(self) -> Any:
        if self.default is None or not self.in_years:
            return self.default
        if float(self.default) > 0:  # after the application: a sentinel, not a time in years
            return None
        return round(-float(self.default) / DAYS_PER_YEAR, 1)

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


def form_fields(schema: ServedSchema) -> list[FormField]:
    """The main fields the served schema has, in MAIN_FIELDS order; for a schema without any
    (a user's own table), its required fields, then the others, up to OWN_FIELDS."""
    served = set(schema.names)
    names = [n for n in MAIN_FIELDS if n in served] or [
        f.name for f in sorted(schema.fields, key=lambda f: not f.required)
    ][:OWN_FIELDS]
    return [FormField(schema.field(n)) for n in names]


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
