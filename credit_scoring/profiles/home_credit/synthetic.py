"""A seeded generator of Home Credit-shaped applications whose true default risk is known.

Marginals come from the published column facts (``reference``); the columns a
credit analyst reasons about (age, employment, income, credit, annuity, external scores) are
generated jointly so their relations hold. The default probability is a function of the
*observed* row only (missing values carry no hidden signal), so the ROC AUC of that
probability on the data is the best any model can reach: the Bayes AUC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr
from sklearn.metrics import roc_auc_score

from credit_scoring.profiles.home_credit.reference import (
    ID_COLUMN,
    SENTINEL_DAYS,
    TARGET_COLUMN,
    ColumnFacts,
    application_columns,
)
from credit_scoring.profiles.home_credit.synthetic_histories import (
    Sink,
    generate_histories,
    history_logit,
)

DEFAULT_RATE = 0.0807  # Home Credit's published share of TARGET = 1
BUILDING_SUFFIXES = ("_AVG", "_MODE", "_MEDI")
BUILDING_MISSING_RATE = 0.47  # the share of clients with no building record at all
_DAYS_PER_YEAR = 365.25
# Scales the whole risk model so the Bayes AUC is ~0.78, between the published LightGBM AUCs on
# the application table alone (~0.75) and on all tables (~0.79).
RISK_STRENGTH = 0.72
# With the six history tables the application part is scaled down and the history part added,
# so the Bayes AUC lands near the published all-tables LightGBM AUC (~0.79-0.80).
APPLICATION_STRENGTH_WITH_HISTORIES = 0.42
HISTORY_STRENGTH = 0.45
LATENT = "_latent"  # hidden creditworthiness, shared by the external scores and histories


@dataclass
class SyntheticData:
    applications: pd.DataFrame  # the application_train table, TARGET included
    true_probability: pd.Series  # indexed like applications
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)  # the six other tables

    @property
    def bayes_auc(self) -> float:
        return float(roc_auc_score(self.applications[TARGET_COLUMN], self.true_probability))


def _categorical(rng: np.random.Generator, facts: ColumnFacts, n: int) -> np.ndarray:
    values = np.array(list(facts.categories), dtype=object)
    weights = np.array(list(facts.categories.values()), dtype=float)
    return rng.choice(values, size=n, p=weights / weights.sum())


def _numeric(rng: np.random.Generator, facts: ColumnFacts, n: int) -> np.ndarray:
    s = facts.stats
    low, high = s["min"], s["max"]
    quartiles = (s["p25"], s["median"], s["p75"])
    if facts.dtype == "int64" and high <= 1:
        return (rng.random(n) < s["mean"]).astype(float)
    if all(float(q).is_integer() for q in (low, *quartiles)) and quartiles[2] - quartiles[0] <= 5:
        # Small counts (children, bureau enquiries, social-circle defaults): shifted Poisson.
        return np.clip(low + rng.poisson(max(s["mean"] - low, 0.0), n), low, high)
    if low >= 0 and high <= 1:
        # Bounded scores and shares: follow the published quartiles piecewise-linearly.
        return np.interp(rng.random(n), [0, 0.25, 0.5, 0.75, 1], [low, *quartiles, high])
    iqr_sigma = lambda a, b: max(b - a, 1e-9) / 1.349  # noqa: E731 - normal sigma from an IQR
    if low > 0:  # amounts: log-normal through the quartiles, capped at the observed extremes
        sigma = iqr_sigma(np.log(quartiles[0]), np.log(quartiles[2]))
        values = np.exp(rng.normal(np.log(quartiles[1]), sigma, n))
    else:  # day offsets
        values = rng.normal(quartiles[1], iqr_sigma(quartiles[0], quartiles[2]), n)
    values = np.clip(values, low, high)
    return np.round(values) if facts.dtype == "int64" else values


def _quantile_map(u: np.ndarray, facts: ColumnFacts) -> np.ndarray:
    s = facts.stats
    return np.interp(
        u, [0, 0.25, 0.5, 0.75, 1], [s["min"], s["p25"], s["median"], s["p75"], s["max"]]
    )


def _core_columns(rng: np.random.Generator, facts: dict[str, ColumnFacts], n: int) -> dict:
    """Columns generated jointly, so that ages, jobs, amounts and scores are consistent."""
    income_type = _categorical(rng, facts["NAME_INCOME_TYPE"], n)
    pensioner = income_type == "Pensioner"
    age = np.where(
        pensioner, np.clip(rng.normal(59, 5, n), 40, 69), np.clip(rng.normal(40, 10, n), 21, 68)
    )
    years_employed = np.minimum(rng.exponential(6.5, n), age - 18)
    days_employed = np.where(pensioner, SENTINEL_DAYS, -np.round(years_employed * _DAYS_PER_YEAR))
    organisations = {k: v for k, v in facts["ORGANIZATION_TYPE"].categories.items() if k != "XNA"}
    organisation = np.where(
        pensioner,
        "XNA",
        _categorical(rng, ColumnFacts("ORGANIZATION_TYPE", "object", 0, "", {}, organisations), n),
    )
    z_income = rng.normal(size=n)
    income = np.clip(np.exp(np.log(147150) + 0.55 * z_income - 0.2 * pensioner), 25650, 1.17e8)
    credit = np.clip(
        np.exp(np.log(513531) + 0.3 * z_income + rng.normal(0, 0.65, n)), 45000, 4.05e6
    )
    annuity = np.clip(credit * np.exp(rng.normal(np.log(0.05), 0.3, n)), 1615.5, 258026)
    goods = np.round(credit * rng.uniform(0.72, 1.0, n) / 4500) * 4500
    # External scores share a latent creditworthiness; EXT_SOURCE_1 also rises with age.
    latent = rng.normal(size=n)
    ext = {}
    for name, age_weight in (("EXT_SOURCE_1", 0.45), ("EXT_SOURCE_2", 0.1), ("EXT_SOURCE_3", 0.2)):
        z = 0.6 * latent + age_weight * (age - 43) / 12 + rng.normal(0, 0.75, n)
        ext[name] = _quantile_map(ndtr(z / np.std(z)), facts[name])
    return {
        LATENT: latent,
        "NAME_INCOME_TYPE": income_type,
        "DAYS_BIRTH": -np.round(age * _DAYS_PER_YEAR),
        "DAYS_EMPLOYED": days_employed,
        "FLAG_EMP_PHONE": (~pensioner).astype(float),
        "ORGANIZATION_TYPE": organisation,
        "AMT_INCOME_TOTAL": np.round(income / 450) * 450,
        "AMT_CREDIT": np.round(credit, 1),
        "AMT_ANNUITY": np.round(annuity, 1),
        "AMT_GOODS_PRICE": np.maximum(goods, 40500),
        **ext,
    }


def _missing_mask(rng: np.random.Generator, facts: ColumnFacts, building_missing: np.ndarray):
    n = building_missing.size
    if facts.missing_rate == 0:
        return np.zeros(n, bool)
    if facts.name.endswith(BUILDING_SUFFIXES) or facts.name in (
        "FONDKAPREMONT_MODE",
        "HOUSETYPE_MODE",
        "WALLSMATERIAL_MODE",
        "EMERGENCYSTATE_MODE",
        "TOTALAREA_MODE",
    ):
        extra = max(facts.missing_rate - BUILDING_MISSING_RATE, 0) / (1 - BUILDING_MISSING_RATE)
        return building_missing | (rng.random(n) < extra)
    return rng.random(n) < facts.missing_rate


def true_default_logit(table: pd.DataFrame) -> np.ndarray:
    """The generator's risk model, a function of the observed columns only (without intercept).

    Strongest: the external scores (nonlinear, with a low-score interaction); then age,
    employment, credit burden, education, gender, region, car, contract type.
    """
    ext = table[["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]]
    ext_mean = ext.mean(axis=1).fillna(0.5).to_numpy()
    centred = (ext - 0.5).fillna(0).to_numpy()
    age = -table["DAYS_BIRTH"].to_numpy() / _DAYS_PER_YEAR
    days_employed = table["DAYS_EMPLOYED"].to_numpy()
    pensioner = days_employed == SENTINEL_DAYS
    years_employed = np.where(pensioner, np.nan, -days_employed / _DAYS_PER_YEAR)
    credit_income = (table["AMT_CREDIT"] / table["AMT_INCOME_TOTAL"]).to_numpy()
    annuity_income = (table["AMT_ANNUITY"] / table["AMT_INCOME_TOTAL"]).fillna(0.15).to_numpy()
    goods_credit = (table["AMT_GOODS_PRICE"] / table["AMT_CREDIT"]).fillna(0.9).to_numpy()
    education = table["NAME_EDUCATION_TYPE"].map(
        {"Lower secondary": 0.4, "Higher education": -0.35, "Academic degree": -0.6}
    )
    occupation = table["OCCUPATION_TYPE"].isin(["Laborers", "Drivers", "Low-skill Laborers"])
    logit = (
        centred @ np.array([-1.6, -2.4, -2.8])
        + 2.5 * np.maximum(0.3 - ext_mean, 0) * 10 * np.maximum(0.3 - ext_mean, 0)
        + np.clip(0.035 * (40 - age), -0.45, 0.6)
        + 0.5 * ((age < 30) & (ext_mean < 0.4))
        + np.where(pensioner, -0.25, 0.4 * (np.nan_to_num(years_employed, nan=5) < 1))
        + 0.3 * np.log(np.clip(credit_income, 0.1, 50) / 3)
        + 0.35 * (annuity_income > 0.3)
        + 0.3 * (goods_credit < 0.85)
        + education.fillna(0).to_numpy()
        + 0.25 * (table["CODE_GENDER"] == "M").to_numpy()
        + 0.2 * (table["REGION_RATING_CLIENT_W_CITY"].to_numpy() - 2)
        - 0.12 * (table["FLAG_OWN_CAR"] == "Y").to_numpy()
        - 0.3 * (table["NAME_CONTRACT_TYPE"] == "Revolving loans").to_numpy()
        + 0.2 * occupation.to_numpy()
        + 0.15 * (table["DAYS_ID_PUBLISH"].to_numpy() > -1000)
    )
    return np.asarray(logit, float)


def _intercept_for_rate(logit: np.ndarray, rate: float) -> float:
    low, high = -15.0, 15.0
    for _ in range(60):  # bisection: mean(expit(logit + b)) is increasing in b
        mid = (low + high) / 2
        low, high = (mid, high) if expit(logit + mid).mean() < rate else (low, mid)
    return (low + high) / 2


def generate(
    rows: int, seed: int = 0, histories: bool = True, sink: Sink | None = None
) -> SyntheticData:
    """``rows`` applicants with all 122 columns of application_train, in file order, and
    (unless ``histories`` is False) their rows in the six history tables: kept in
    ``SyntheticData.histories``, or handed to ``sink`` one table at a time (to write them
    without holding all in memory)."""
    rng = np.random.default_rng(seed)
    facts = {c.name: c for c in application_columns()}
    columns = _core_columns(rng, facts, rows)
    latent = columns.pop(LATENT)
    building_missing = rng.random(rows) < BUILDING_MISSING_RATE
    table: dict[str, np.ndarray] = {}
    for name, f in facts.items():
        if name in (ID_COLUMN, TARGET_COLUMN):
            continue
        values = columns.get(name)
        if values is None:
            values = _categorical(rng, f, rows) if f.is_categorical else _numeric(rng, f, rows)
        values = pd.Series(values, dtype=object if f.is_categorical else float)
        missing = _missing_mask(rng, f, building_missing)
        if name == "OCCUPATION_TYPE":  # pensioners have none; others miss it less often
            pensioner = columns["DAYS_EMPLOYED"] == SENTINEL_DAYS
            share = pensioner.mean()
            extra = max(f.missing_rate - share, 0) / max(1 - share, 1e-9)
            missing = pensioner | (rng.random(rows) < extra)
        if name == "OWN_CAR_AGE":  # known exactly when the client owns a car
            missing = np.zeros(rows, bool)
        table[name] = values.mask(missing).to_numpy()
    frame = pd.DataFrame(table)
    frame["OWN_CAR_AGE"] = frame["OWN_CAR_AGE"].round().where(frame["FLAG_OWN_CAR"] == "Y")
    ids = 100002 + np.arange(rows)
    logit = RISK_STRENGTH * true_default_logit(frame)
    tables: dict[str, pd.DataFrame] = {}
    if histories:
        # Repayment behaviour: partly the creditworthiness behind the external scores, partly
        # the client's own; only its traces in the tables enter the risk.
        behaviour = 0.5 * latent + np.sqrt(0.75) * rng.normal(size=rows)
        summary = generate_histories(rng, ids, behaviour, sink or tables.__setitem__)
        income = frame["AMT_INCOME_TOTAL"].to_numpy()
        annuity_income = (frame["AMT_ANNUITY"] / frame["AMT_INCOME_TOTAL"]).fillna(0).to_numpy()
        age = -frame["DAYS_BIRTH"].to_numpy() / _DAYS_PER_YEAR
        ext_mean = frame[["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]].mean(axis=1)
        history = history_logit(
            summary, income, annuity_income, age, ext_mean.fillna(0.5).to_numpy()
        )
        # Interaction no additive model can express: a client's history weighs twice as
        # much when the external scores are weak (lenders read histories that way).
        weak_scores = ext_mean.fillna(0.5).to_numpy() < 0.45
        logit = APPLICATION_STRENGTH_WITH_HISTORIES * true_default_logit(
            frame
        ) + HISTORY_STRENGTH * history * np.where(weak_scores, 1.8, 0.3)
    probability = expit(logit + _intercept_for_rate(logit, DEFAULT_RATE))
    frame.insert(0, TARGET_COLUMN, (rng.random(rows) < probability).astype(int))
    frame.insert(0, ID_COLUMN, ids)
    for name, f in facts.items():  # integer columns without missing values stay integers
        if f.dtype == "int64" and not frame[name].isna().any():
            frame[name] = frame[name].astype("int64")
    return SyntheticData(
        frame, pd.Series(probability, index=frame.index, name="probability"), tables
    )


@dataclass(frozen=True)
class PopulationShift:
    """How a shifted applicant population differs from the training one (drift scenarios).

    Each factor is 1 for "no shift". Defaults: external scores 30% lower, applicants' years
    above 21 cut by a third, loans 60% larger (annuity and goods price follow the credit).

    The risk changes too, not only the inputs (``draw_outcomes``): the shifted applicants'
    true default logit keeps only ``risk_signal`` of the original one's correlation (the rest
    is a cause the application does not show: a local downturn, a new fraud pattern) and
    their default rate is ``default_rate``. A model's realised AUC on them falls.
    """

    ext_source_factor: float = 0.7
    age_factor: float = 0.67
    credit_factor: float = 1.6
    risk_signal: float = 0.4  # correlation of the shifted true logit with the original (1: same)
    default_rate: float = 0.12


def shift_population(
    applications: pd.DataFrame, shift: PopulationShift | None = None
) -> pd.DataFrame:
    """A copy of generated applications as a drifted population would send them.

    Values stay inside the input schema's ranges, so the service accepts every row. TARGET is
    dropped: the shifted clients' outcomes come from ``draw_outcomes`` with the shift.
    """
    shift = shift or PopulationShift()
    shifted = applications.drop(columns=[TARGET_COLUMN], errors="ignore").copy()
    for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        shifted[name] = shifted[name] * shift.ext_source_factor
    age = -shifted["DAYS_BIRTH"] / _DAYS_PER_YEAR
    younger = 21 + (age - 21).clip(lower=0) * shift.age_factor
    shifted["DAYS_BIRTH"] = -np.round(younger * _DAYS_PER_YEAR).astype("int64")
    # Nobody starts working before 18: employment is cut to the (now shorter) adult life.
    employed = shifted["DAYS_EMPLOYED"] != SENTINEL_DAYS
    earliest = shifted["DAYS_BIRTH"] + round(18 * _DAYS_PER_YEAR)
    shifted["DAYS_EMPLOYED"] = shifted["DAYS_EMPLOYED"].where(
        ~employed, shifted["DAYS_EMPLOYED"].clip(lower=earliest)
    )
    for name in ("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"):
        shifted[name] = np.round(shifted[name] * shift.credit_factor, 1)
    return shifted


def draw_outcomes(
    data: SyntheticData,
    ids: Iterable[int] | None = None,
    shift: PopulationShift | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The outcome (defaulted 0/1) and true default probability of generated applicants
    (``ids``: the ones sent; default all), as a loan system would report them once the
    performance window has passed: complete information, every applicant's outcome known.

    Unshifted, an outcome is the TARGET ``generate`` drew from the true probability. With a
    ``shift`` (the population ``shift_population`` sends), the true risk itself changes (see
    ``PopulationShift``) and outcomes are drawn anew from it, seeded."""
    frame = data.applications
    probability = data.true_probability.to_numpy()
    defaulted = frame[TARGET_COLUMN].to_numpy()
    if shift is not None:
        rng = np.random.default_rng(seed)
        logit = np.log(probability / (1 - probability))
        spread = np.std(logit)
        kept = (logit - logit.mean()) / spread
        hidden = rng.normal(size=len(logit))
        changed = spread * (shift.risk_signal * kept + np.sqrt(1 - shift.risk_signal**2) * hidden)
        probability = expit(changed + _intercept_for_rate(changed, shift.default_rate))
        defaulted = (rng.random(len(probability)) < probability).astype(int)
    outcomes = pd.DataFrame(
        {ID_COLUMN: frame[ID_COLUMN], "defaulted": defaulted, "true_probability": probability}
    )
    return outcomes if ids is None else outcomes[outcomes[ID_COLUMN].isin(list(ids))]
