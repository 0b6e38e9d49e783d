"""Home Credit's reason catalogue: each of its 293 features -> the plain statement a refusal
cites, the unit its value is read in and the raw fields it is computed from.

Features that measure the same thing share a statement, so they are one reason (the three
external scores and their mean, minimum and maximum are "Low external credit scores"). Rules
are regular expressions over the feature names, the first match wins, so a new history
aggregate gets its table's statement without an edit here. Gender, age and family status are
never cited, nor is anything computed from them, even when an option makes one a model input:
credit law does not let a refusal rest on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TypeVar

from credit_scoring.core.reasons import ReasonSpec, Unit
from credit_scoring.profiles.home_credit.features import EXT_SOURCES

T = TypeVar("T")
NEVER_CITED = ("CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS")
# The raw fields each application-level engineered feature is computed from (history
# aggregates come from the history tables, which hold no protected attribute).
SOURCES: dict[str, tuple[str, ...]] = {
    "DAYS_EMPLOYED_ANOMALY": ("DAYS_EMPLOYED",),
    "CREDIT_INCOME_RATIO": ("AMT_CREDIT", "AMT_INCOME_TOTAL"),
    "ANNUITY_INCOME_RATIO": ("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
    "ANNUITY_CREDIT_RATIO": ("AMT_ANNUITY", "AMT_CREDIT"),
    "GOODS_CREDIT_RATIO": ("AMT_GOODS_PRICE", "AMT_CREDIT"),
    "INCOME_PER_PERSON": ("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
    "EMPLOYED_BIRTH_RATIO": ("DAYS_EMPLOYED", "DAYS_BIRTH"),
    **{f"EXT_SOURCE_{s}": tuple(EXT_SOURCES) for s in ("MEAN", "MIN", "MAX", "STD", "PROD")},
    "EXT_SOURCE_MISSING": tuple(EXT_SOURCES),
    "BUREAU_DEBT_INCOME_RATIO": ("AMT_INCOME_TOTAL",),
    "BUREAU_DEBT_CREDIT_RATIO": ("AMT_CREDIT",),
    "BUREAU_ANNUITY_INCOME_RATIO": ("AMT_INCOME_TOTAL",),
    "PREV_ANNUITY_RATIO": ("AMT_ANNUITY",),
    "PREV_CREDIT_RATIO": ("AMT_CREDIT",),
    "INST_INSTALMENT_INCOME_RATIO": ("AMT_INCOME_TOTAL",),
    "CC_BALANCE_INCOME_RATIO": ("AMT_INCOME_TOTAL",),
    "TOTAL_ANNUITY_INCOME_RATIO": ("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
}

# (pattern, statement): the first match wins. "" = never cited.
STATEMENTS: tuple[tuple[str, str], ...] = (
    ("^EXT_SOURCE_MISSING$", ""),  # counts missing scores: a missing value is no reason
    ("^EXT_SOURCE_STD$", "Inconsistent external credit scores"),
    ("^EXT_SOURCE_", "Low external credit scores"),
    ("^(AMT_CREDIT|AMT_GOODS_PRICE)$", "High credit amount requested"),
    ("^CREDIT_INCOME_RATIO$", "High credit amount relative to income"),
    ("^(AMT_INCOME_TOTAL|INCOME_PER_PERSON)$", "Low income"),
    ("^AMT_ANNUITY$", "High repayment amount"),
    (
        "^(ANNUITY_INCOME_RATIO|TOTAL_ANNUITY_INCOME_RATIO|BUREAU_ANNUITY_INCOME_RATIO"
        "|INST_INSTALMENT_INCOME_RATIO)$",
        "High repayments relative to income",
    ),
    ("^ANNUITY_CREDIT_RATIO$", "Short repayment term"),
    ("^GOODS_CREDIT_RATIO$", "Credit amount high relative to the price of the goods"),
    ("^(DAYS_EMPLOYED|DAYS_EMPLOYED_ANOMALY|EMPLOYED_BIRTH_RATIO)$", "Short or no employment"),
    ("^NAME_INCOME_TYPE$", "Source of income"),
    ("^OCCUPATION_TYPE$", "Occupation"),
    ("^ORGANIZATION_TYPE$", "Type of employer"),
    ("^NAME_EDUCATION_TYPE$", "Level of education"),
    ("^NAME_CONTRACT_TYPE$", "Type of loan requested"),
    ("^NAME_TYPE_SUITE$", "Accompanied when applying"),
    ("^(NAME_HOUSING_TYPE|FLAG_OWN_REALTY)$", "Housing situation"),
    ("^(FLAG_OWN_CAR|OWN_CAR_AGE)$", "Car ownership"),
    ("^(CNT_CHILDREN|CNT_FAM_MEMBERS)$", "Number of dependants"),
    (
        "^(DAYS_REGISTRATION|DAYS_ID_PUBLISH|DAYS_LAST_PHONE_CHANGE)$",
        "Recent change of registration, identity document or phone",
    ),
    ("^(REG|LIVE)_", "Home, registered and work addresses in different places"),
    ("^REGION_", "Region of residence"),
    ("^FLAG_(MOBIL|EMP_PHONE|WORK_PHONE|CONT_MOBILE|PHONE|EMAIL)$", "Contact details provided"),
    ("^FLAG_DOCUMENT_", "Documents provided with the application"),
    ("_APPR_PROCESS_START$", "Day and hour of the application"),
    ("^AMT_REQ_CREDIT_BUREAU_", "Many recent credit bureau enquiries"),
    ("_SOCIAL_CIRCLE$", "Defaults among the applicant's social circle"),
    ("_(AVG|MODE|MEDI)$", "Characteristics of the applicant's building"),
    (
        "^(BUREAU_OVERDUE|BUREAU_CREDIT_DAY_OVERDUE|BUREAU_AMT_CREDIT_MAX_OVERDUE"
        "|BUREAU_AMT_CREDIT_SUM_OVERDUE|BB_LATE|BB_RECENT_LATE|BB_WORST_STATUS)",
        "Late payments on credits at other lenders",
    ),
    (
        "^BUREAU_(AMT_CREDIT_SUM|DEBT|ACTIVE_DEBT|AMT_ANNUITY|ACTIVE_ANNUITY)",
        "High debt at other lenders",
    ),
    ("^(BUREAU|BB)_", "Credit history at other lenders"),
    ("^PREV_(RECENT_)?REFUSED", "Previous applications refused"),
    ("^PREV_", "Previous applications"),
    ("^POS_(LATE|RECENT_LATE|SK_DPD|RECENT_DPD)", "Late payments on previous loans"),
    ("^POS_", "Previous loans"),
    ("^CC_(LATE|RECENT_LATE|MISSED_MINIMUM|PAID_MINIMUM|SK_DPD)", "Late or missed card payments"),
    (
        "^CC_(UTILISATION|RECENT_UTILISATION|AMT_BALANCE|BALANCE_INCOME|DRAWINGS|AMT_DRAWINGS"
        "|AMT_TOTAL_RECEIVABLE|CNT_DRAWINGS)",
        "High credit card balance and use",
    ),
    ("^CC_", "Credit card history"),
    ("^INST_RECENT_(LATE|DELAY)", "Recent late instalment payments"),
    ("^INST_(LATE|DELAY|DAYS_LATE)", "Late instalment payments"),
    ("^INST_(RECENT_SHORT|SHORT|SHORTFALL|PAID_OWED|UNPAID)", "Instalments not paid in full"),
    ("^INST_", "Instalment payment history"),
)
# (pattern, unit): how a value is read; the first match wins, "number" otherwise.
UNITS: tuple[tuple[str, Unit], ...] = (
    ("^EXT_SOURCE_MISSING$", "count"),
    ("^(EXT_SOURCE_|REGION_POPULATION)|_(AVG|MODE|MEDI)$", "score"),
    (
        "_ANOMALY$|^FLAG_(MOBIL|EMP_PHONE|WORK_PHONE|CONT_MOBILE|PHONE|EMAIL|DOCUMENT_)"
        "|^(REG|LIVE)_",
        "flag",
    ),
    (
        "_SHARE$|ANNUITY_INCOME_RATIO$|ANNUITY_CREDIT_RATIO$|EMPLOYED_BIRTH_RATIO$"
        "|INSTALMENT_INCOME_RATIO$|UTILISATION|DRAWINGS_LIMIT|DEBT_RATIO_|PAID_OWED"
        "|RATE_DOWN_PAYMENT|PREV_ANNUITY_CREDIT",
        "share",
    ),
    ("_RATIO$|ASKED_GIVEN|PAID_MINIMUM", "ratio"),
    ("DAY_OVERDUE|DPD|DELAY|DAYS_LATE", "days"),
    ("DAYS_CREDIT_ENDDATE", "days_ahead"),
    ("DAYS_", "days_ago"),
    ("MONTHS_BALANCE", "months_ago"),
    ("^OWN_CAR_AGE$", "years"),
    ("^AMT_REQ_CREDIT_BUREAU_", "count"),
    ("AMT_|_AMOUNT_|INCOME_PER_PERSON|SHORTFALL|ACTIVE_(DEBT|ANNUITY)", "currency"),
    ("_COUNT$|^CNT_|_CNT_|_NUMBER_|_VERSION_|WORST_STATUS|BB_MONTHS_MEAN", "count"),
)


def _first(rules: Sequence[tuple[str, T]], name: str, default: T) -> T:
    return next((value for pattern, value in rules if re.search(pattern, name)), default)


@cache
def _categorical() -> frozenset[str]:
    from credit_scoring.profiles.home_credit.input_fields import home_credit_schema

    return frozenset(spec.name for spec in home_credit_schema().categorical)


def entry(name: str) -> ReasonSpec:
    """One feature's catalogue entry."""
    sources = SOURCES.get(name, ())  # a raw field's source is itself (core.reasons)
    statement = _first(STATEMENTS, name, "")
    unit: Unit = "category" if name in _categorical() else _first(UNITS, name, "number")
    if name in NEVER_CITED or set(sources) & set(NEVER_CITED):
        statement = ""
    return ReasonSpec(statement, unit, sources)


def reason_catalogue(features: Sequence[str]) -> Mapping[str, ReasonSpec]:
    """The profile's hook (``Profile.reasons``): every feature's entry."""
    return {name: entry(name) for name in features}
