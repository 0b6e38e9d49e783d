"""Adverse-action reasons: grouping by statement, only pushes towards refusal, never a missing
value or a protected attribute, values in readable units; the Home Credit catalogue."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from credit_scoring.core.features import feature_names
from credit_scoring.core.reasons import (
    MAX_REASONS,
    ReasonSpec,
    adverse_reasons,
    catalogue,
    citable,
    field_entry,
    protected_fields,
    readable,
    reference_values,
)
from credit_scoring.core.schema import FieldSpec
from credit_scoring.profiles.home_credit import PROFILE

NAN = np.nan
SCORES = "Low external credit scores"


def reasons(contributions, values, entries, allowed=None, reference=None, categories=None):
    n = len(entries)
    return adverse_reasons(
        np.array(contributions, dtype=float),
        np.array(values, dtype=float),
        [f"f{j}" for j in range(n)],
        entries,
        np.ones(n, dtype=bool) if allowed is None else np.array(allowed),
        np.full(n, NAN) if reference is None else np.array(reference, dtype=float),
        categories or {},
    )


def test_features_sharing_a_statement_are_one_reason_led_by_the_strongest():
    entries = [ReasonSpec(SCORES, "score"), ReasonSpec(SCORES, "score"), ReasonSpec("Low income")]
    (scores, income) = reasons([0.2, 0.5, 0.4], [0.31, 0.2, 900], entries, reference=[0.6] * 3)
    assert (scores.reason, scores.feature, scores.value, scores.reference) == (
        SCORES,
        "f1",
        0.2,
        0.6,
    )
    assert scores.contribution == pytest.approx(0.7) and scores.features == ("f1", "f0")
    assert income.reason == "Low income" and income.contribution == pytest.approx(0.4)


def test_only_what_pushed_towards_refusal_is_cited_at_most_four():
    entries = [ReasonSpec(f"statement {j}") for j in range(7)]
    cited = reasons([0.1, -0.5, 0.7, 0.3, 0.0, 0.2, 0.05], [1] * 7, entries)
    assert [r.reason for r in cited] == [f"statement {j}" for j in (2, 3, 5, 0)]
    assert len(cited) == MAX_REASONS and all(r.contribution > 0 for r in cited)
    # A statement whose features net out towards approval is no reason.
    mixed = [ReasonSpec("A"), ReasonSpec("A")]
    assert reasons([0.3, -0.4], [1, 1], mixed) == []


def test_a_missing_value_is_no_reason_and_its_push_is_not_counted():
    entries = [ReasonSpec(SCORES, "score"), ReasonSpec(SCORES, "score"), ReasonSpec("Low income")]
    cited = reasons([0.9, 0.1, 0.2], [NAN, 0.4, NAN], entries)
    assert [(r.reason, r.feature, r.contribution) for r in cited] == [(SCORES, "f1", 0.1)]


def test_protected_fields_and_what_derives_from_them_are_never_cited():
    fields = [
        SimpleNamespace(name="sex", protected=True, derived_from=()),
        SimpleNamespace(name="age_band", protected=False, derived_from=("age",)),
        SimpleNamespace(name="income", protected=False, derived_from=()),
        FieldSpec("age", "numeric"),  # a schema saved before `protected` existed reads too
    ]
    protected = protected_fields(fields, never_cited=["age"])  # type: ignore[arg-type]
    assert protected == {"sex", "age", "age_band"}
    entries = [
        ReasonSpec("Sex", "category", ("sex",)),
        ReasonSpec("Income per year of age", "ratio", ("income", "age")),
        ReasonSpec("Low income", "currency", ("income",)),
        ReasonSpec("", "count", ()),  # never cited
    ]
    allowed = citable(entries, protected)
    assert allowed.tolist() == [False, False, True, False]
    cited = reasons([2.0, 1.0, 0.1, 3.0], [1, 1, 1, 1], entries, allowed=allowed)
    assert [r.reason for r in cited] == ["Low income"]


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (-9461.0, "days_ago", 25.9),  # DAYS_BIRTH: years, not days
        (-637.0, "days_ago", 1.7),
        (730.5, "days_ahead", 2.0),
        (-6.0, "months_ago", 6.0),
        (0.125, "share", 12.5),
        (202500.0, "currency", 202500.0),
        (1234.5678, "currency", 1234.57),
        (3.0, "count", 3.0),
        (0.26291, "score", 0.263),
        (1.0, "flag", "yes"),
        (0.0, "flag", "no"),
        (2.0, "category", "Working"),
        (-0.0001, "share", 0.0),
    ],
)
def test_values_are_shown_in_readable_units(value, unit, shown):
    assert readable(value, unit, ("Commercial", "Pensioner", "Working")) == shown


def test_a_reason_shows_value_and_reference_in_the_same_unit():
    entries = [ReasonSpec("Short or no employment", "days_ago"), ReasonSpec("Kind", "category")]
    (employment, kind) = reasons(
        [0.5, 0.2],
        [-365.25, 0],
        entries,
        reference=[-1826.25, 1],
        categories={"f1": ("cash", "home")},
    )
    assert (employment.value, employment.reference, employment.unit) == (1.0, 5.0, "years ago")
    assert (kind.value, kind.reference, kind.unit) == ("cash", "home", "")


def test_reference_values_are_medians_of_granted_rows_and_modes_of_categories():
    features = np.array([[1.0, 0.0], [3.0, 1.0], [5.0, 1.0], [100.0, 0.0], [NAN, NAN]])
    granted = np.array([True, True, True, False, True])
    out = reference_values(features, granted, np.array([False, True]))
    assert out.tolist() == [3.0, 1.0]
    nobody = reference_values(features, np.zeros(5, dtype=bool), np.array([False, True]))
    assert np.isnan(nobody).all()  # no granted applicant: no reference value


def test_a_users_field_reads_its_reason_then_description_then_name():
    assert field_entry(FieldSpec("monthly_income", "numeric"), None).statement == ("Monthly income")
    described = FieldSpec("inc", "numeric", description="Monthly net income")
    assert field_entry(described, None).statement == "Monthly net income"
    stated = FieldSpec("inc", "numeric", description="Monthly net income", reason="Low income")
    entry = field_entry(stated, None)
    assert (entry.statement, entry.unit, entry.sources) == ("Low income", "number", ("inc",))
    assert field_entry(FieldSpec("purpose", "categorical", categories=("a",)), None).unit == (
        "category"
    )


def test_home_credit_catalogue_groups_units_and_protects(schema):
    names = feature_names(schema)
    entries = dict(zip(names, catalogue(schema, names, PROFILE.reasons(names)), strict=True))
    ext = [n for n in names if entries[n].statement == SCORES]
    assert {"EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3", "EXT_SOURCE_MEAN"} <= set(ext)
    assert entries["CREDIT_INCOME_RATIO"].statement == "High credit amount relative to income"
    assert entries["INST_RECENT_LATE_SHARE"].statement == "Recent late instalment payments"
    assert entries["DAYS_EMPLOYED"].unit == "days_ago" and entries["AMT_CREDIT"].unit == "currency"
    assert entries["INST_DELAY_MEAN"].unit == "days" and entries["BUREAU_COUNT"].unit == "count"
    assert entries["ORGANIZATION_TYPE"].unit == "category"
    # Gender, age, family status and what is computed from them: never cited.
    for name in ("CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS", "EMPLOYED_BIRTH_RATIO"):
        assert entries[name].statement == "", name
    assert entries["EXT_SOURCE_MISSING"].statement == ""  # counts missing values: no reason
    # Every other feature has a statement: nothing the model uses falls back to a raw name.
    assert all(e.statement != n for n, e in entries.items())
