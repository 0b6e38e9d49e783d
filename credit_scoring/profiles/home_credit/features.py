"""Home Credit's feature blocks, the profile's hook into ``core.features.build_features``: the
pensioner sentinel flagged, the classic application ratios, the history aggregates and the
history amounts relative to the application.

History tables (Kaggle names and columns, see ``tables``) are aggregated per
client with one ``groupby`` each, so a client's features depend on that client's rows only: the
same values whether computed in a training batch of 300,000 or alone at serving time. A client
with no rows in a table gets counts 0 and statistics NaN, in training and serving alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import pandas as pd

from credit_scoring.core.profile import EncodedFields, FeatureBlocks
from credit_scoring.core.tables import Histories, HistoryTable
from credit_scoring.profiles.home_credit.reference import SENTINEL_DAYS
from credit_scoring.profiles.home_credit.tables import (
    BUREAU,
    BUREAU_BALANCE,
    BUREAU_ID,
    CREDIT_CARD,
    HISTORY_TABLES,
    ID_COLUMN,
    INSTALMENTS,
    POS_CASH,
    PREV_ID,
    PREVIOUS,
    history_tables,
)

EXT_SOURCES = ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]
COUNT_SUFFIX = "_COUNT"  # history features that are 0, not NaN, for a client without rows
RECENT_DAYS, RECENT_MONTHS = -365, -12  # "recent" = the year before the application


def _ratio(numerator: pd.Series | np.ndarray, denominator: pd.Series | np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0. In NumPy throughout: pandas
    calls cost ~0.1 ms each, which summed to most of a served request's features."""
    bottom = np.asarray(denominator, dtype=float)
    return np.asarray(numerator, dtype=float) / np.where(bottom == 0, np.nan, bottom)


def _row_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, min, max, sample std (NaN under two values), product (NaN if any is missing) and
    missing count of each row, skipping missing values; no warnings on all-missing rows."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(present, values, 0.0).sum(axis=1) / count
        squares = np.where(present, (values - mean[:, None]) ** 2, 0.0).sum(axis=1)
        std = np.where(count > 1, np.sqrt(squares / (count - 1)), np.nan)
    return {
        "MEAN": mean,
        "MIN": np.fmin.reduce(values, axis=1),
        "MAX": np.fmax.reduce(values, axis=1),
        "STD": std,
        "PROD": values.prod(axis=1),
        "MISSING": (~present).sum(axis=1).astype(float),
    }


def _engineered(raw: EncodedFields) -> dict[str, np.ndarray]:
    """Home Credit's classic application features; each needs its inputs to be present."""
    have = set(raw)
    out: dict[str, np.ndarray] = {}
    if {"AMT_CREDIT", "AMT_INCOME_TOTAL", "AMT_ANNUITY"} <= have:
        out["CREDIT_INCOME_RATIO"] = _ratio(raw["AMT_CREDIT"], raw["AMT_INCOME_TOTAL"])
        out["ANNUITY_INCOME_RATIO"] = _ratio(raw["AMT_ANNUITY"], raw["AMT_INCOME_TOTAL"])
        out["ANNUITY_CREDIT_RATIO"] = _ratio(raw["AMT_ANNUITY"], raw["AMT_CREDIT"])
    if {"AMT_GOODS_PRICE", "AMT_CREDIT"} <= have:
        out["GOODS_CREDIT_RATIO"] = _ratio(raw["AMT_GOODS_PRICE"], raw["AMT_CREDIT"])
    if {"AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"} <= have:
        out["INCOME_PER_PERSON"] = _ratio(raw["AMT_INCOME_TOTAL"], raw["CNT_FAM_MEMBERS"])
    if {"DAYS_EMPLOYED", "DAYS_BIRTH"} <= have:
        out["EMPLOYED_BIRTH_RATIO"] = _ratio(raw["DAYS_EMPLOYED"], raw["DAYS_BIRTH"])
    if set(EXT_SOURCES) <= have:
        statistics = _row_statistics(np.column_stack([raw[c] for c in EXT_SOURCES]))
        out |= {f"EXT_SOURCE_{name}": values for name, values in statistics.items()}
    return out


Values = pd.Series | np.ndarray  # a table's column (see Columns)


def _flag(condition: Values) -> np.ndarray:
    return np.asarray(condition, dtype=float)


def _kept(values: Values, condition: Values) -> np.ndarray:
    """``values`` where ``condition`` holds, else missing."""
    return np.where(condition, values, np.nan)


def _or_zero(values: Values) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def _lookup(values: pd.Series | np.ndarray, mapping: dict[str, float]) -> np.ndarray:
    """Map labels to numbers (others missing); a ``category`` column through its codes (27M
    rows, fast)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        table = np.array([mapping.get(str(c), np.nan) for c in values.cat.categories] + [np.nan])
        return table[values.cat.codes.to_numpy()]
    labels = np.asarray(values, dtype=object)
    return np.fromiter((mapping.get(v, np.nan) for v in labels), float, len(labels))


def _is(values: pd.Series | np.ndarray, *labels: str) -> np.ndarray:
    return _or_zero(_lookup(values, dict.fromkeys(labels, 1.0)))


# A table as its columns: numbers as NumPy arrays, labels as a ``category`` Series (training)
# or an object array (JSON). Column views, not a DataFrame: pandas' per-column calls cost
# ~0.1 ms each, which summed to most of a served request's features.
Columns = dict[str, Values]
Aggregations = dict[str, tuple[str, str]]  # output name -> (input column, _Groups statistic)


def _columns(frame: pd.DataFrame, name: str) -> Columns:
    """The table's listed columns (missing ones missing), numbers as numbers (JSON may send
    objects); a typed training table's columns as they are, without a copy."""
    spec = history_tables()[name]
    if all(d == np.dtype(object) for d in frame.dtypes):
        return _json_columns(frame, spec)
    positions = frame.columns.get_indexer(pd.Index(spec.columns))
    out: Columns = {}
    for column, position in zip(spec.columns, positions, strict=True):
        if position < 0:
            out[column] = np.full(len(frame), np.nan)
            continue
        values = frame.iloc[:, int(position)]
        if spec.dtype(column) == "category":
            out[column] = values
        elif values.dtype == object:
            out[column] = pd.to_numeric(values.to_numpy(), errors="coerce")
        else:
            out[column] = values.to_numpy()
    return out


def _json_columns(frame: pd.DataFrame, spec: HistoryTable) -> Columns:
    """A batch's rows as JSON sent them (one block of Python objects): the measures converted
    in one pass, None to NaN (a pandas conversion per column cost ~25 us, a fifth of a small
    batch's history features); keys stay integers, exact near 2**53."""
    objects = frame.to_numpy(object)
    positions = dict(zip(frame.columns, range(frame.shape[1]), strict=True))
    keys = {spec.link.key, *spec.row_ids}
    measures = [
        c for c in spec.columns if c in positions and c not in keys and c not in spec.categories
    ]
    block = objects[:, [positions[c] for c in measures]]
    block[block == None] = np.nan  # noqa: E711 (elementwise, on an object array)
    numbers = dict(zip(measures, block.astype(float).T, strict=True))
    out: Columns = {}
    for column in spec.columns:
        if column not in positions:
            out[column] = np.full(len(frame), np.nan)
        elif column in spec.categories:
            out[column] = objects[:, positions[column]]
        elif column in keys:
            out[column] = pd.to_numeric(objects[:, positions[column]], errors="coerce")
        else:
            out[column] = numbers[column]
    return out


class _Groups:
    """Per-group statistics of one input column, as pandas' groupby computes them (missing
    values skipped; a sum of none is 0, a mean, min or max of none is missing, a standard
    deviation needs two values), in NumPy over the whole table at once: a pandas groupby call
    costs ~0.4 ms whatever its size, and a request's batch makes ~130 of them. Each group
    adds its rows in their order, so a client's values do not depend on the other clients in
    the table."""

    def __init__(self, values: np.ndarray, codes: np.ndarray, groups: int) -> None:
        self.values, self.codes, self.groups = values, codes, groups
        self.missing = np.isnan(values)

    def _bincount(self, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(self.codes, weights=weights, minlength=self.groups)

    @cached_property
    def _count(self) -> np.ndarray:  # present values per group (mean and std share it)
        return self._bincount((~self.missing).astype(float))

    @cached_property
    def _sum(self) -> np.ndarray:
        return self._bincount(np.where(self.missing, 0.0, self.values))

    def size(self) -> np.ndarray:
        return self._bincount().astype(float)

    def sum(self) -> np.ndarray:
        return self._sum

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self._count > 0, self._sum / self._count, np.nan)

    def nunique(self) -> np.ndarray:
        """Distinct present values per group: each (group, value) pair counted once."""
        valid = ~self.missing
        value_codes, distinct = pd.factorize(self.values[valid])
        width = max(len(distinct), 1)
        pairs = pd.unique(self.codes[valid].astype(np.int64) * width + value_codes)  # hashed
        return np.bincount(pairs // width, minlength=self.groups).astype(float)

    def _extreme(self, function: np.ufunc) -> np.ndarray:
        out = np.full(self.groups, np.nan)
        function.at(out, self.codes, self.values)  # fmax/fmin: a missing value never wins
        return out

    def max(self) -> np.ndarray:
        return self._extreme(np.fmax)

    def min(self) -> np.ndarray:
        return self._extreme(np.fmin)

    def std(self) -> np.ndarray:
        deviation = self.values - self.mean()[self.codes]
        squares = self._bincount(np.where(self.missing, 0.0, deviation * deviation))
        count = self._count
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 1, np.sqrt(squares / (count - 1)), np.nan)


@dataclass(frozen=True)
class PerKey:
    """Aggregates, one value per key, keys in order of first appearance."""

    keys: np.ndarray
    columns: dict[str, np.ndarray]

    def at(self, keys: np.ndarray) -> dict[str, np.ndarray]:
        """Each aggregate at these keys (missing for a key without rows)."""
        positions = pd.Index(self.keys).get_indexer(pd.Index(keys))  # -1: the NaN column
        if not self.columns:
            return {}
        # All aggregates taken in one indexing of one (aggregates x keys + 1) table: one
        # append and take per aggregate was ~12 us each, ~150 of them per served batch.
        table = np.empty((len(self.columns), len(self.keys) + 1))
        np.stack(list(self.columns.values()), out=table[:, :-1])
        table[:, -1] = np.nan
        return dict(zip(self.columns, table[:, positions], strict=True))


def _aggregate(columns: Columns, key: str, aggregations: Aggregations) -> PerKey:
    """Group by ``key`` one input column at a time (no wide copy of a 13M-row table is made,
    as a DataFrame of all derived columns would be); groups in order of first appearance."""
    codes, keys = pd.factorize(np.asarray(columns[key]), sort=False)
    present = codes >= 0  # rows without a key belong to nobody
    codes = codes[present]
    by_input: dict[str, list[tuple[str, str]]] = {}
    for output, (column, function) in aggregations.items():
        by_input.setdefault(column, []).append((output, function))
    out: dict[str, np.ndarray] = {}
    for column, pairs in by_input.items():
        values = np.asarray(columns[column], dtype=float)[present]
        groups = _Groups(values, codes, len(keys))
        for output, function in pairs:
            out[output] = getattr(groups, function)()
    keys = np.asarray(keys) if len(keys) else np.array([], dtype=float)
    return PerKey(keys, {name: out[name] for name in aggregations})


def _bureau_balance_per_credit(balance: Columns) -> PerKey:
    """Monthly statuses -> one row per bureau credit (months, late months, worst status)."""
    level = _lookup(balance["STATUS"], {str(k): float(k) for k in range(6)})
    known = ~np.isnan(level) | _is(balance["STATUS"], "C").astype(bool)
    late = (level > 0).astype(float)
    parts: Columns = {
        BUREAU_ID: balance[BUREAU_ID],
        "known": known.astype(float),
        "late": late,
        "recent_late": late * (balance["MONTHS_BALANCE"] >= RECENT_MONTHS),
        "closed": _is(balance["STATUS"], "C"),
        "level": level,
    }
    return _aggregate(
        parts,
        BUREAU_ID,
        {
            "months": ("known", "size"),
            "known": ("known", "sum"),
            "late": ("late", "sum"),
            "recent_late": ("recent_late", "sum"),
            "closed": ("closed", "sum"),
            "worst": ("level", "max"),
        },
    )


def _bureau(bureau: Columns, balance: Columns) -> tuple[Columns, Aggregations]:
    active = _is(bureau["CREDIT_ACTIVE"], "Active")
    debt = bureau["AMT_CREDIT_SUM_DEBT"]
    per_credit = _bureau_balance_per_credit(balance).at(np.asarray(bureau[BUREAU_ID]))
    frame: Columns = {
        ID_COLUMN: bureau[ID_COLUMN],
        "active": active,
        "closed": _is(bureau["CREDIT_ACTIVE"], "Closed"),
        "card": _is(bureau["CREDIT_TYPE"], "Credit card"),
        "recent": _flag(bureau["DAYS_CREDIT"] > RECENT_DAYS),
        "overdue": _flag(bureau["AMT_CREDIT_SUM_OVERDUE"] > 0),
        "debt_ratio": _ratio(debt, bureau["AMT_CREDIT_SUM"]),
        "active_debt": debt * active,
        "active_annuity": bureau["AMT_ANNUITY"] * active,
        **{f"bb_{c}": values for c, values in per_credit.items()},
        "bb_has": (~np.isnan(per_credit["months"])).astype(float),
    }
    for column in (
        "DAYS_CREDIT",
        "DAYS_CREDIT_ENDDATE",
        "DAYS_ENDDATE_FACT",
        "DAYS_CREDIT_UPDATE",
        "CREDIT_DAY_OVERDUE",
        "AMT_CREDIT_MAX_OVERDUE",
        "CNT_CREDIT_PROLONG",
        "AMT_CREDIT_SUM",
        "AMT_CREDIT_SUM_DEBT",
        "AMT_CREDIT_SUM_LIMIT",
        "AMT_CREDIT_SUM_OVERDUE",
        "AMT_ANNUITY",
    ):
        frame[column] = bureau[column]
    aggregations: Aggregations = {
        "BUREAU_COUNT": ("active", "size"),
        "BUREAU_ACTIVE_COUNT": ("active", "sum"),
        "BUREAU_CLOSED_COUNT": ("closed", "sum"),
        "BUREAU_RECENT_COUNT": ("recent", "sum"),
        "BUREAU_OVERDUE_COUNT": ("overdue", "sum"),
        "BUREAU_ACTIVE_SHARE": ("active", "mean"),
        "BUREAU_CARD_SHARE": ("card", "mean"),
        "BUREAU_OVERDUE_SHARE": ("overdue", "mean"),
        "BUREAU_DAYS_CREDIT_MEAN": ("DAYS_CREDIT", "mean"),
        "BUREAU_DAYS_CREDIT_MIN": ("DAYS_CREDIT", "min"),
        "BUREAU_DAYS_CREDIT_MAX": ("DAYS_CREDIT", "max"),
        "BUREAU_DAYS_CREDIT_ENDDATE_MEAN": ("DAYS_CREDIT_ENDDATE", "mean"),
        "BUREAU_DAYS_CREDIT_ENDDATE_MAX": ("DAYS_CREDIT_ENDDATE", "max"),
        "BUREAU_DAYS_ENDDATE_FACT_MEAN": ("DAYS_ENDDATE_FACT", "mean"),
        "BUREAU_DAYS_CREDIT_UPDATE_MEAN": ("DAYS_CREDIT_UPDATE", "mean"),
        "BUREAU_CREDIT_DAY_OVERDUE_MAX": ("CREDIT_DAY_OVERDUE", "max"),
        "BUREAU_CREDIT_DAY_OVERDUE_MEAN": ("CREDIT_DAY_OVERDUE", "mean"),
        "BUREAU_AMT_CREDIT_MAX_OVERDUE_MAX": ("AMT_CREDIT_MAX_OVERDUE", "max"),
        "BUREAU_AMT_CREDIT_MAX_OVERDUE_MEAN": ("AMT_CREDIT_MAX_OVERDUE", "mean"),
        "BUREAU_CNT_CREDIT_PROLONG_SUM": ("CNT_CREDIT_PROLONG", "sum"),
        "BUREAU_AMT_CREDIT_SUM_SUM": ("AMT_CREDIT_SUM", "sum"),
        "BUREAU_AMT_CREDIT_SUM_MEAN": ("AMT_CREDIT_SUM", "mean"),
        "BUREAU_AMT_CREDIT_SUM_MAX": ("AMT_CREDIT_SUM", "max"),
        "BUREAU_AMT_CREDIT_SUM_DEBT_SUM": ("AMT_CREDIT_SUM_DEBT", "sum"),
        "BUREAU_AMT_CREDIT_SUM_DEBT_MEAN": ("AMT_CREDIT_SUM_DEBT", "mean"),
        "BUREAU_AMT_CREDIT_SUM_DEBT_MAX": ("AMT_CREDIT_SUM_DEBT", "max"),
        "BUREAU_AMT_CREDIT_SUM_LIMIT_SUM": ("AMT_CREDIT_SUM_LIMIT", "sum"),
        "BUREAU_AMT_CREDIT_SUM_OVERDUE_SUM": ("AMT_CREDIT_SUM_OVERDUE", "sum"),
        "BUREAU_AMT_CREDIT_SUM_OVERDUE_MAX": ("AMT_CREDIT_SUM_OVERDUE", "max"),
        "BUREAU_AMT_ANNUITY_MEAN": ("AMT_ANNUITY", "mean"),
        "BUREAU_DEBT_RATIO_MEAN": ("debt_ratio", "mean"),
        "BUREAU_DEBT_RATIO_MAX": ("debt_ratio", "max"),
        "BUREAU_ACTIVE_DEBT_SUM": ("active_debt", "sum"),
        "BUREAU_ACTIVE_ANNUITY_SUM": ("active_annuity", "sum"),
        # bureau_balance, linked through SK_ID_BUREAU
        "BB_CREDITS_COUNT": ("bb_has", "sum"),
        "BB_MONTHS_COUNT": ("bb_months", "sum"),
        "BB_LATE_MONTHS_COUNT": ("bb_late", "sum"),
        "BB_RECENT_LATE_MONTHS_COUNT": ("bb_recent_late", "sum"),
        "BB_KNOWN_MONTHS_COUNT": ("bb_known", "sum"),
        "BB_CLOSED_MONTHS_COUNT": ("bb_closed", "sum"),
        "BB_WORST_STATUS_MAX": ("bb_worst", "max"),
        "BB_MONTHS_MEAN": ("bb_months", "mean"),
    }
    return frame, aggregations


def _previous(previous: Columns) -> tuple[Columns, Aggregations]:
    status, kind = previous["NAME_CONTRACT_STATUS"], previous["NAME_CONTRACT_TYPE"]
    refused = _is(status, "Refused")
    recent = _flag(previous["DAYS_DECISION"] > RECENT_DAYS)
    dates = ("DAYS_FIRST_DUE", "DAYS_LAST_DUE_1ST_VERSION", "DAYS_LAST_DUE", "DAYS_TERMINATION")
    frame: Columns = {
        ID_COLUMN: previous[ID_COLUMN],
        "approved": _is(status, "Approved"),
        "refused": refused,
        "canceled": _is(status, "Canceled"),
        "recent": recent,
        "recent_refused": recent * refused,
        "cash": _is(kind, "Cash loans"),
        "consumer": _is(kind, "Consumer loans"),
        "revolving": _is(kind, "Revolving loans"),
        "high_yield": _is(previous["NAME_YIELD_GROUP"], "high"),
        "new_client": _is(previous["NAME_CLIENT_TYPE"], "New"),
        "asked_given": _ratio(previous["AMT_APPLICATION"], previous["AMT_CREDIT"]),
        "annuity_credit": _ratio(previous["AMT_ANNUITY"], previous["AMT_CREDIT"]),
        "refused_amount": _kept(previous["AMT_APPLICATION"], refused == 1),
        **{c: _kept(previous[c], previous[c] != SENTINEL_DAYS) for c in dates},
    }
    for column in (
        "AMT_ANNUITY",
        "AMT_APPLICATION",
        "AMT_CREDIT",
        "AMT_DOWN_PAYMENT",
        "RATE_DOWN_PAYMENT",
        "DAYS_DECISION",
        "CNT_PAYMENT",
        "HOUR_APPR_PROCESS_START",
        "NFLAG_INSURED_ON_APPROVAL",
    ):
        frame[column] = previous[column]
    aggregations: Aggregations = {
        "PREV_COUNT": ("approved", "size"),
        "PREV_APPROVED_COUNT": ("approved", "sum"),
        "PREV_REFUSED_COUNT": ("refused", "sum"),
        "PREV_CANCELED_COUNT": ("canceled", "sum"),
        "PREV_RECENT_COUNT": ("recent", "sum"),
        "PREV_RECENT_REFUSED_COUNT": ("recent_refused", "sum"),
        "PREV_APPROVED_SHARE": ("approved", "mean"),
        "PREV_REFUSED_SHARE": ("refused", "mean"),
        "PREV_CASH_SHARE": ("cash", "mean"),
        "PREV_CONSUMER_SHARE": ("consumer", "mean"),
        "PREV_REVOLVING_SHARE": ("revolving", "mean"),
        "PREV_HIGH_YIELD_SHARE": ("high_yield", "mean"),
        "PREV_NEW_CLIENT_SHARE": ("new_client", "mean"),
        "PREV_ASKED_GIVEN_MEAN": ("asked_given", "mean"),
        "PREV_ASKED_GIVEN_MAX": ("asked_given", "max"),
        "PREV_ANNUITY_CREDIT_MEAN": ("annuity_credit", "mean"),
        "PREV_REFUSED_AMOUNT_MEAN": ("refused_amount", "mean"),
        "PREV_AMT_ANNUITY_MEAN": ("AMT_ANNUITY", "mean"),
        "PREV_AMT_ANNUITY_MAX": ("AMT_ANNUITY", "max"),
        "PREV_AMT_APPLICATION_MEAN": ("AMT_APPLICATION", "mean"),
        "PREV_AMT_APPLICATION_MAX": ("AMT_APPLICATION", "max"),
        "PREV_AMT_CREDIT_MEAN": ("AMT_CREDIT", "mean"),
        "PREV_AMT_CREDIT_MAX": ("AMT_CREDIT", "max"),
        "PREV_AMT_CREDIT_SUM": ("AMT_CREDIT", "sum"),
        "PREV_AMT_DOWN_PAYMENT_MEAN": ("AMT_DOWN_PAYMENT", "mean"),
        "PREV_RATE_DOWN_PAYMENT_MEAN": ("RATE_DOWN_PAYMENT", "mean"),
        "PREV_DAYS_DECISION_MEAN": ("DAYS_DECISION", "mean"),
        "PREV_DAYS_DECISION_MAX": ("DAYS_DECISION", "max"),
        "PREV_DAYS_DECISION_MIN": ("DAYS_DECISION", "min"),
        "PREV_CNT_PAYMENT_MEAN": ("CNT_PAYMENT", "mean"),
        "PREV_CNT_PAYMENT_SUM": ("CNT_PAYMENT", "sum"),
        "PREV_HOUR_MEAN": ("HOUR_APPR_PROCESS_START", "mean"),
        "PREV_INSURED_SHARE": ("NFLAG_INSURED_ON_APPROVAL", "mean"),
        "PREV_DAYS_FIRST_DUE_MEAN": ("DAYS_FIRST_DUE", "mean"),
        "PREV_DAYS_LAST_DUE_1ST_VERSION_MAX": ("DAYS_LAST_DUE_1ST_VERSION", "max"),
        "PREV_DAYS_LAST_DUE_MEAN": ("DAYS_LAST_DUE", "mean"),
        "PREV_DAYS_TERMINATION_MAX": ("DAYS_TERMINATION", "max"),
    }
    return frame, aggregations


def _pos_cash(pos: Columns) -> tuple[Columns, Aggregations]:
    late = _flag(pos["SK_DPD"] > 0)
    recent = _flag(pos["MONTHS_BALANCE"] >= RECENT_MONTHS)
    frame: Columns = {
        ID_COLUMN: pos[ID_COLUMN],
        PREV_ID: pos[PREV_ID],
        "late": late,
        "late_def": _flag(pos["SK_DPD_DEF"] > 0),
        "recent_late": late * recent,
        "recent": recent,
        "recent_dpd": _kept(pos["SK_DPD"], recent == 1),
        "completed": _is(pos["NAME_CONTRACT_STATUS"], "Completed"),
        "MONTHS_BALANCE": pos["MONTHS_BALANCE"],
        "SK_DPD": pos["SK_DPD"],
        "SK_DPD_DEF": pos["SK_DPD_DEF"],
        "CNT_INSTALMENT": pos["CNT_INSTALMENT"],
        "CNT_INSTALMENT_FUTURE": pos["CNT_INSTALMENT_FUTURE"],
    }
    aggregations: Aggregations = {
        "POS_MONTHS_COUNT": ("late", "size"),
        "POS_LOANS_COUNT": (PREV_ID, "nunique"),
        "POS_LATE_MONTHS_COUNT": ("late", "sum"),
        "POS_RECENT_MONTHS_COUNT": ("recent", "sum"),
        "POS_RECENT_LATE_MONTHS_COUNT": ("recent_late", "sum"),
        "POS_LATE_SHARE": ("late", "mean"),
        "POS_LATE_DEF_SHARE": ("late_def", "mean"),
        "POS_COMPLETED_SHARE": ("completed", "mean"),
        "POS_MONTHS_BALANCE_MIN": ("MONTHS_BALANCE", "min"),
        "POS_MONTHS_BALANCE_MAX": ("MONTHS_BALANCE", "max"),
        "POS_SK_DPD_MAX": ("SK_DPD", "max"),
        "POS_SK_DPD_MEAN": ("SK_DPD", "mean"),
        "POS_SK_DPD_DEF_MAX": ("SK_DPD_DEF", "max"),
        "POS_RECENT_DPD_MAX": ("recent_dpd", "max"),
        "POS_CNT_INSTALMENT_MEAN": ("CNT_INSTALMENT", "mean"),
        "POS_CNT_INSTALMENT_FUTURE_MEAN": ("CNT_INSTALMENT_FUTURE", "mean"),
    }
    return frame, aggregations


def _credit_card(cards: Columns) -> tuple[Columns, Aggregations]:
    limit = cards["AMT_CREDIT_LIMIT_ACTUAL"]
    utilisation = _ratio(cards["AMT_BALANCE"], limit)
    minimum = cards["AMT_INST_MIN_REGULARITY"]
    late = _flag(cards["SK_DPD"] > 0)
    recent = cards["MONTHS_BALANCE"] >= RECENT_MONTHS
    frame: Columns = {
        ID_COLUMN: cards[ID_COLUMN],
        PREV_ID: cards[PREV_ID],
        "utilisation": utilisation,
        "recent_utilisation": np.where(recent, utilisation, np.nan),
        "paid_minimum": _ratio(cards["AMT_PAYMENT_TOTAL_CURRENT"], minimum),
        "missed_minimum": _flag(cards["AMT_PAYMENT_TOTAL_CURRENT"] < minimum),
        "late": late,
        "recent_late": late * recent,
        "drawings_limit": _ratio(cards["AMT_DRAWINGS_CURRENT"], limit),
    }
    for column in (
        "AMT_BALANCE",
        "AMT_CREDIT_LIMIT_ACTUAL",
        "AMT_DRAWINGS_CURRENT",
        "AMT_DRAWINGS_ATM_CURRENT",
        "AMT_INST_MIN_REGULARITY",
        "AMT_PAYMENT_TOTAL_CURRENT",
        "AMT_TOTAL_RECEIVABLE",
        "CNT_DRAWINGS_CURRENT",
        "CNT_INSTALMENT_MATURE_CUM",
        "SK_DPD",
    ):
        frame[column] = cards[column]
    aggregations: Aggregations = {
        "CC_MONTHS_COUNT": ("late", "size"),
        "CC_CARDS_COUNT": (PREV_ID, "nunique"),
        "CC_LATE_MONTHS_COUNT": ("late", "sum"),
        "CC_RECENT_LATE_MONTHS_COUNT": ("recent_late", "sum"),
        "CC_LATE_SHARE": ("late", "mean"),
        "CC_MISSED_MINIMUM_SHARE": ("missed_minimum", "mean"),
        "CC_UTILISATION_MEAN": ("utilisation", "mean"),
        "CC_UTILISATION_MAX": ("utilisation", "max"),
        "CC_RECENT_UTILISATION_MEAN": ("recent_utilisation", "mean"),
        "CC_PAID_MINIMUM_MEAN": ("paid_minimum", "mean"),
        "CC_PAID_MINIMUM_MIN": ("paid_minimum", "min"),
        "CC_DRAWINGS_LIMIT_MEAN": ("drawings_limit", "mean"),
        "CC_AMT_BALANCE_MEAN": ("AMT_BALANCE", "mean"),
        "CC_AMT_BALANCE_MAX": ("AMT_BALANCE", "max"),
        "CC_AMT_CREDIT_LIMIT_ACTUAL_MEAN": ("AMT_CREDIT_LIMIT_ACTUAL", "mean"),
        "CC_AMT_CREDIT_LIMIT_ACTUAL_MAX": ("AMT_CREDIT_LIMIT_ACTUAL", "max"),
        "CC_AMT_DRAWINGS_CURRENT_MEAN": ("AMT_DRAWINGS_CURRENT", "mean"),
        "CC_AMT_DRAWINGS_CURRENT_SUM": ("AMT_DRAWINGS_CURRENT", "sum"),
        "CC_AMT_DRAWINGS_ATM_CURRENT_MEAN": ("AMT_DRAWINGS_ATM_CURRENT", "mean"),
        "CC_AMT_INST_MIN_REGULARITY_MEAN": ("AMT_INST_MIN_REGULARITY", "mean"),
        "CC_AMT_PAYMENT_TOTAL_CURRENT_MEAN": ("AMT_PAYMENT_TOTAL_CURRENT", "mean"),
        "CC_AMT_TOTAL_RECEIVABLE_MEAN": ("AMT_TOTAL_RECEIVABLE", "mean"),
        "CC_CNT_DRAWINGS_CURRENT_MEAN": ("CNT_DRAWINGS_CURRENT", "mean"),
        "CC_CNT_INSTALMENT_MATURE_CUM_MAX": ("CNT_INSTALMENT_MATURE_CUM", "max"),
        "CC_SK_DPD_MAX": ("SK_DPD", "max"),
        "CC_SK_DPD_MEAN": ("SK_DPD", "mean"),
    }
    return frame, aggregations


def _instalments(instalments: Columns) -> tuple[Columns, Aggregations]:
    due, paid_on = instalments["DAYS_INSTALMENT"], instalments["DAYS_ENTRY_PAYMENT"]
    owed, paid = instalments["AMT_INSTALMENT"], instalments["AMT_PAYMENT"]
    delay = paid_on - due  # > 0: paid late
    shortfall = owed - paid  # > 0: paid less than due
    late = _kept(_flag(delay > 0), ~np.isnan(delay))
    short = _kept(_flag(shortfall > 1), ~np.isnan(shortfall))  # 1 unit: rounding is not short
    recent = _flag(due >= RECENT_DAYS)
    frame: Columns = {
        ID_COLUMN: instalments[ID_COLUMN],
        PREV_ID: instalments[PREV_ID],
        "delay": delay,
        "days_late": np.clip(delay, 0, None),
        "late": late,
        "late_count": _or_zero(late),
        "short": short,
        "short_count": _or_zero(short),
        "shortfall": shortfall,
        "paid_owed": _ratio(paid, owed),
        "unpaid": _flag(np.isnan(paid_on)),
        "recent": recent,
        "recent_late": _kept(late, recent == 1),
        "recent_short": _kept(short, recent == 1),
        "recent_delay": _kept(delay, recent == 1),
        "AMT_INSTALMENT": owed,
        "AMT_PAYMENT": paid,
        "NUM_INSTALMENT_NUMBER": instalments["NUM_INSTALMENT_NUMBER"],
        "NUM_INSTALMENT_VERSION": instalments["NUM_INSTALMENT_VERSION"],
    }
    aggregations: Aggregations = {
        "INST_COUNT": ("late", "size"),
        "INST_LOANS_COUNT": (PREV_ID, "nunique"),
        "INST_LATE_COUNT": ("late_count", "sum"),
        "INST_SHORT_COUNT": ("short_count", "sum"),
        "INST_UNPAID_COUNT": ("unpaid", "sum"),
        "INST_RECENT_COUNT": ("recent", "sum"),
        "INST_LATE_SHARE": ("late", "mean"),
        "INST_SHORT_SHARE": ("short", "mean"),
        "INST_RECENT_LATE_SHARE": ("recent_late", "mean"),
        "INST_RECENT_SHORT_SHARE": ("recent_short", "mean"),
        "INST_DELAY_MEAN": ("delay", "mean"),
        "INST_DELAY_MAX": ("delay", "max"),
        "INST_DELAY_MIN": ("delay", "min"),
        "INST_DELAY_STD": ("delay", "std"),
        "INST_RECENT_DELAY_MEAN": ("recent_delay", "mean"),
        "INST_RECENT_DELAY_MAX": ("recent_delay", "max"),
        "INST_DAYS_LATE_MEAN": ("days_late", "mean"),
        "INST_DAYS_LATE_SUM": ("days_late", "sum"),
        "INST_SHORTFALL_MEAN": ("shortfall", "mean"),
        "INST_SHORTFALL_MAX": ("shortfall", "max"),
        "INST_SHORTFALL_SUM": ("shortfall", "sum"),
        "INST_PAID_OWED_MEAN": ("paid_owed", "mean"),
        "INST_PAID_OWED_MIN": ("paid_owed", "min"),
        "INST_AMT_INSTALMENT_MEAN": ("AMT_INSTALMENT", "mean"),
        "INST_AMT_INSTALMENT_MAX": ("AMT_INSTALMENT", "max"),
        "INST_AMT_PAYMENT_MEAN": ("AMT_PAYMENT", "mean"),
        "INST_AMT_PAYMENT_SUM": ("AMT_PAYMENT", "sum"),
        "INST_NUMBER_MAX": ("NUM_INSTALMENT_NUMBER", "max"),
        "INST_VERSION_MAX": ("NUM_INSTALMENT_VERSION", "max"),
    }
    return frame, aggregations


def _rows(histories: Histories | None, name: str) -> pd.DataFrame | None:
    """The given table's rows, or None when there are none."""
    table = None if histories is None else histories.get(name)
    return None if table is None or len(table) == 0 else table


def _table(histories: Histories | None, name: str) -> Columns:
    """The given table's columns, or no rows: every client then gets the values of a client
    without history."""
    table = _rows(histories, name)
    return _columns(history_tables()[name].empty() if table is None else table, name)


# Each block of history features and the tables it reads (bureau_balance through bureau).
_BLOCKS: tuple[tuple[tuple[str, ...], Callable[..., tuple[Columns, Aggregations]]], ...] = (
    ((BUREAU, BUREAU_BALANCE), _bureau),
    ((PREVIOUS,), _previous),
    ((POS_CASH,), _pos_cash),
    ((CREDIT_CARD,), _credit_card),
    ((INSTALMENTS,), _instalments),
)


def _per_client(frame: Columns, aggregations: Aggregations, ids: np.ndarray) -> FeatureBlocks:
    """One row per id; a client without rows: counts 0, statistics missing."""
    out = _aggregate(frame, ID_COLUMN, aggregations).at(ids)
    blocks = FeatureBlocks()
    blocks.add({n: _or_zero(v) if n.endswith(COUNT_SUFFIX) else v for n, v in out.items()})
    return blocks


@cache
def _without_rows(block: int) -> FeatureBlocks:
    """A block's one row for a client without rows, computed once: aggregating empty tables
    costs ~10 ms per block and per call, most of a served request that sends no history."""
    names, build = _BLOCKS[block]
    return _per_client(*build(*(_table(None, n) for n in names)), np.array([np.nan]))


def _block(block: int, histories: Histories | None, ids: np.ndarray) -> FeatureBlocks:
    names, build = _BLOCKS[block]
    if all(_rows(histories, n) is None for n in names):
        return _without_rows(block).repeated(len(ids))
    return _per_client(*build(*(_table(histories, n) for n in names)), ids)


def history_features(
    applications: pd.DataFrame, histories: Histories | None = None
) -> pd.DataFrame:
    """Per-client aggregates of the six history tables, one row per application."""
    blocks = _history_blocks(applications, histories)
    return pd.DataFrame(blocks.matrix(), columns=blocks.names, index=applications.index)


def _history_blocks(applications: pd.DataFrame, histories: Histories | None) -> FeatureBlocks:
    """The aggregates as blocks. Each table is fetched once and released before the next, so
    a lazy mapping (one that reads a Parquet file on access) keeps a single table in memory."""
    if all(_rows(histories, name) is None for name in HISTORY_TABLES):
        return _without_history().repeated(len(applications))
    ids = (
        pd.to_numeric(applications[ID_COLUMN], errors="coerce").to_numpy(float)
        if ID_COLUMN in applications
        else np.full(len(applications), np.nan)
    )
    return _aggregated(histories, ids)


@cache
def _without_history() -> FeatureBlocks:
    """The one row of a client without history rows, computed once per process."""
    return _aggregated(None, np.array([np.nan]))


def _aggregated(histories: Histories | None, ids: np.ndarray) -> FeatureBlocks:
    out = FeatureBlocks()
    for block in range(len(_BLOCKS)):
        out.extend(_block(block, histories, ids))
    # Shares of bureau months, from the summed counts (a share of shares would weigh credits).
    out.add(
        {
            "BB_LATE_SHARE": _ratio(
                out.column("BB_LATE_MONTHS_COUNT"), out.column("BB_KNOWN_MONTHS_COUNT")
            ),
            "BB_CLOSED_SHARE": _ratio(
                out.column("BB_CLOSED_MONTHS_COUNT"), out.column("BB_MONTHS_COUNT")
            ),
        }
    )
    return out


def _cross_features(numeric: EncodedFields, history: FeatureBlocks) -> dict[str, np.ndarray]:
    """History amounts relative to this application's income, credit and annuity."""
    income, credit = numeric["AMT_INCOME_TOTAL"], numeric["AMT_CREDIT"]
    annuity = numeric["AMT_ANNUITY"]
    debt, annuities = (
        history.column("BUREAU_ACTIVE_DEBT_SUM"),
        history.column("BUREAU_ACTIVE_ANNUITY_SUM"),
    )
    return {
        "BUREAU_DEBT_INCOME_RATIO": _ratio(debt, income),
        "BUREAU_DEBT_CREDIT_RATIO": _ratio(debt, credit),
        "BUREAU_ANNUITY_INCOME_RATIO": _ratio(annuities, income),
        "PREV_ANNUITY_RATIO": _ratio(history.column("PREV_AMT_ANNUITY_MEAN"), annuity),
        "PREV_CREDIT_RATIO": _ratio(history.column("PREV_AMT_CREDIT_MEAN"), credit),
        "INST_INSTALMENT_INCOME_RATIO": _ratio(history.column("INST_AMT_INSTALMENT_MEAN"), income),
        "CC_BALANCE_INCOME_RATIO": _ratio(history.column("CC_AMT_BALANCE_MEAN"), income),
        "TOTAL_ANNUITY_INCOME_RATIO": _ratio(annuity + _or_zero(annuities), income),
    }


def _flag_pensioners(encoded: EncodedFields) -> dict[str, np.ndarray]:
    """The sentinel is a category ("not employed"), not a duration: flag it, and blank it in
    place, before any ratio reads the column."""
    if "DAYS_EMPLOYED" not in encoded:
        return {}
    days = encoded["DAYS_EMPLOYED"]
    pensioner = days == SENTINEL_DAYS
    days[pensioner] = np.nan
    return {"DAYS_EMPLOYED_ANOMALY": pensioner.astype(float)}


def features(
    encoded: EncodedFields,
    applications: pd.DataFrame,
    histories: Histories | None,
    tables: tuple[str, ...],
) -> FeatureBlocks:
    """Home Credit's columns after the raw fields: the sentinel flag, the application ratios
    and, for a schema with history tables, their aggregates (rows linked by ``SK_ID_CURR``,
    bureau_balance through ``SK_ID_BUREAU``) and the cross features."""
    out = FeatureBlocks()
    out.add(_flag_pensioners(encoded))
    out.add(_engineered(encoded))
    if tables:
        history = _history_blocks(applications, histories)
        out.extend(history)
        out.add(_cross_features(encoded, history))
    return out
