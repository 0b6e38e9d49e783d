"""Adverse-action reasons: why a refused applicant was refused, as a statement they can read.

A reason catalogue maps each model feature to a plain statement ("Low external credit
scores"), the unit its value is read in and the raw fields it is computed from. Features
sharing a statement are one reason: their contributions add up, and the one that pushed the
most shows the applicant's value beside the reference value (the median among the applicants
the model grants in the reference sample). Only what pushed towards refusal is cited, never a
missing value (not something an applicant can act on), never a feature computed from a
protected attribute. The profile supplies its catalogue; a schema field's ``reason`` (a user's
override file) wins for that field; any other feature gets a readable default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # the schema module imports the profile module, which imports this one
    from credit_scoring.core.schema import FieldSpec, InputSchema

MAX_REASONS = 4  # US Regulation B practice: at most four principal reasons
DAYS_PER_YEAR = 365.25
# The unit a feature's value is stored in, and so how a person reads it.
Unit = Literal[
    "number",  # as sent (a user's table: their own unit)
    "category",  # a label
    "flag",  # 1/0 -> yes/no
    "currency",  # an amount
    "count",
    "share",  # a fraction 0..1 -> percent
    "score",  # a score in 0..1, as is
    "ratio",  # a quotient -> "2.1x"
    "days",  # a number of days (a payment delay)
    "days_ago",  # a negative day offset before the application -> years ago
    "days_ahead",  # a day offset from the application (future positive) -> years
    "months_ago",  # a negative month offset -> months ago
    "years",  # already in years
]
# The unit an answer names for each stored unit (what the number it carries is counted in).
SHOWN_UNIT: dict[str, str] = {
    "number": "",
    "category": "",
    "flag": "",
    "currency": "currency",
    "count": "count",
    "share": "%",
    "score": "score",
    "ratio": "ratio",
    "days": "days",
    "days_ago": "years ago",
    "days_ahead": "years",
    "months_ago": "months ago",
    "years": "years",
}


@dataclass(frozen=True)
class ReasonSpec:
    """One feature's entry in the catalogue. An empty statement: never cited (a feature that
    only counts missing values, say)."""

    statement: str
    unit: Unit = "number"
    sources: tuple[str, ...] = ()  # raw fields it is computed from (protection check)


@dataclass(frozen=True)
class Reason:
    """One principal reason of a refusal: its statement, the feature that pushed most within
    it, that feature's value and reference value in readable units."""

    reason: str
    feature: str
    value: float | str
    reference: float | str | None
    unit: str
    contribution: float  # the statement's features' summed log-odds contribution, > 0
    features: tuple[str, ...]  # its features that pushed towards refusal, strongest first


def humanised(name: str) -> str:
    """``monthly_income`` -> "Monthly income": the default statement of a user's column."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def field_entry(spec: FieldSpec, profile_entry: ReasonSpec | None) -> ReasonSpec:
    """A raw field's entry: the schema's ``reason`` wins, then the profile's, then the
    field's description or name. A profile's empty statement (never cited) wins over all."""
    unit: Unit = "category" if spec.kind == "categorical" else "number"
    if profile_entry is not None:
        if not profile_entry.statement:
            return profile_entry
        unit = profile_entry.unit
    statement = spec.reason or (
        profile_entry.statement
        if profile_entry is not None
        else spec.description or humanised(spec.name)
    )
    return ReasonSpec(statement, unit, (spec.name,))


def catalogue(
    schema: InputSchema, features: Sequence[str], profile: Mapping[str, ReasonSpec]
) -> list[ReasonSpec]:
    """Each model feature's entry, in model order."""
    fields = {spec.name: spec for spec in schema.fields}
    out = []
    for name in features:
        if name in fields:
            out.append(field_entry(fields[name], profile.get(name)))
        else:
            out.append(profile.get(name) or ReasonSpec(humanised(name), "number", ()))
    return out


def protected_fields(fields: Iterable[FieldSpec], never_cited: Iterable[str] = ()) -> set[str]:
    """Raw fields no reason may cite: those declared protected, those derived from one
    (``FieldSpec.protected`` / ``derived_from``), and the profile's own list."""
    fields = list(fields)
    protected = {f.name for f in fields if f.protected} | set(never_cited)
    derived = {f.name for f in fields if set(f.derived_from) & protected}
    return protected | derived


def citable(entries: Sequence[ReasonSpec], protected: set[str]) -> np.ndarray:
    """Which features may be cited at all: a statement, and no protected source."""
    return np.array(
        [bool(e.statement) and not (set(e.sources) & protected) for e in entries], dtype=bool
    )


def readable(value: float, unit: str, categories: tuple[str, ...] = ()) -> float | str:
    """A stored feature value as a person reads it: years, not days; percent, not shares;
    labels, not codes; amounts to the cent."""
    if unit == "category":
        return categories[int(value)] if categories else str(value)
    if unit == "flag":
        return "yes" if value >= 0.5 else "no"
    converted = {
        "share": 100 * value,
        "days_ago": -value / DAYS_PER_YEAR,
        "days_ahead": value / DAYS_PER_YEAR,
        "months_ago": -value,
    }.get(unit, value)
    digits = {
        "currency": 2,
        "share": 1,
        "days_ago": 1,
        "days_ahead": 1,
        "years": 1,
        "months_ago": 0,
        "days": 0,
        "ratio": 2,
        "score": 3,
        "count": 1,
    }.get(unit, 4)
    rounded = round(float(converted), digits)
    return rounded + 0.0  # no "-0.0" for a value that rounds to zero


def adverse_reasons(
    contributions: np.ndarray,
    values: np.ndarray,
    features: Sequence[str],
    entries: Sequence[ReasonSpec],
    allowed: np.ndarray,
    reference: np.ndarray,
    categories: Mapping[str, tuple[str, ...]],
    top: int = MAX_REASONS,
) -> list[Reason]:
    """The principal reasons of one refused applicant, strongest first.

    Features are grouped by statement; only citable features with a value count (a missing
    value is no reason by itself); a statement is a reason when its features' contributions
    add up to a push towards refusal (> 0 log-odds). ``reference`` holds each feature's
    reference value as stored (NaN where unknown).
    """
    totals: dict[str, float] = {}
    members: dict[str, list[int]] = {}
    for j, entry in enumerate(entries):
        if not allowed[j] or math.isnan(values[j]):
            continue
        totals[entry.statement] = totals.get(entry.statement, 0.0) + float(contributions[j])
        members.setdefault(entry.statement, []).append(j)
    ranked = sorted((s for s in totals if totals[s] > 0), key=lambda s: -totals[s])[:top]
    reasons = []
    for statement in ranked:
        pushing = sorted(
            (j for j in members[statement] if contributions[j] > 0), key=lambda j: -contributions[j]
        )
        j = pushing[0]  # the net push is > 0, so some feature pushed
        name, unit = features[j], entries[j].unit
        labels = categories.get(name, ())
        reasons.append(
            Reason(
                reason=statement,
                feature=name,
                value=readable(values[j], unit, labels),
                reference=None
                if math.isnan(reference[j])
                else readable(reference[j], unit, labels),
                unit=SHOWN_UNIT[unit],
                contribution=totals[statement],  # unrounded: a tiny push stays > 0
                features=tuple(features[k] for k in pushing),
            )
        )
    return reasons


def reference_values(
    features: np.ndarray, granted: np.ndarray, categorical: np.ndarray
) -> np.ndarray:
    """Per feature, the value a credit officer compares with: the median among granted
    applicants (the most frequent code for a category), NaN when none has a value."""
    rows = features[granted]
    out = np.full(features.shape[1], np.nan)
    for j in range(features.shape[1]):
        column = rows[:, j][~np.isnan(rows[:, j])]
        if not len(column):
            continue
        if categorical[j]:
            codes, counts = np.unique(column, return_counts=True)
            out[j] = codes[np.argmax(counts)]
        else:
            out[j] = float(np.median(column))
    return out
