"""Seeded generator of Home Credit's six history tables for a set of generated applicants.

Every client has a hidden repayment behaviour; it shapes what the tables show (late and short
instalments, days past due, overdue bureau debt, refused applications, card utilisation), but
the default risk is computed afterwards from those *observed* rows only (``history_logit``),
so the Bayes AUC stays the best any model of the data can reach. Row counts follow the real
tables (per 307,511 clients) and every step is vectorised over rows: the full scale (58M rows)
is generated in a few minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from credit_scoring.profiles.home_credit.reference import SENTINEL_DAYS as _NO_DATE
from credit_scoring.profiles.home_credit.tables import (
    BUREAU,
    BUREAU_BALANCE,
    BUREAU_ID,
    CREDIT_CARD,
    ID_COLUMN,
    INSTALMENTS,
    POS_CASH,
    PREV_ID,
    PREVIOUS,
    history_tables,
)

HOME_CREDIT_CLIENTS = 307_511
REAL_ROWS = {  # rows of the real files (Kaggle), scaled by clients / 307,511
    BUREAU: 1_716_428,
    BUREAU_BALANCE: 27_299_925,
    PREVIOUS: 1_670_214,
    POS_CASH: 10_001_358,
    CREDIT_CARD: 3_840_312,
    INSTALMENTS: 13_605_401,
}
SHARE_WITH_BUREAU, SHARE_WITH_PREVIOUS = 0.857, 0.946  # clients with at least one row
SENTINEL_DAYS = float(_NO_DATE)  # previous_application's "no date", a float as in the real file
_MONTH = 30.44
_CREDIT_TYPES = {  # bureau's CREDIT_TYPE shares
    "Consumer credit": 0.729,
    "Credit card": 0.236,
    "Car loan": 0.016,
    "Mortgage": 0.011,
    "Microloan": 0.007,
    "Loan for business development": 0.001,
    "Another type of loan": 0.0006,
}
# previous_application's label shares (real file, rounded), one per column.
_CONTRACT_TYPES = {"Cash loans": 0.447, "Consumer loans": 0.437, "Revolving loans": 0.116}
_WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
_CASH_LOAN_PURPOSES = {
    "XNA": 0.75,
    "Repairs": 0.07,
    "Other": 0.05,
    "Urgent needs": 0.03,
    "Everyday expenses": 0.03,
    "Medicine": 0.02,
    "Buying a used car": 0.02,
    "Payments on other loans": 0.02,
    "Education": 0.01,
}
_PAYMENT_TYPES = {
    "Cash through the bank": 0.62,
    "XNA": 0.37,
    "Non-cash from your account": 0.005,
    "Cashless from the account of the employer": 0.005,
}
_REJECT_REASONS = {
    "HC": 0.6,
    "LIMIT": 0.2,
    "SCO": 0.13,
    "SCOFR": 0.04,
    "VERIF": 0.02,
    "SYSTEM": 0.005,
    "XNA": 0.005,
}
_SUITES = {
    "Unaccompanied": 0.6,
    "Family": 0.25,
    "Spouse, partner": 0.08,
    "Children": 0.04,
    "Other_B": 0.02,
    "Other_A": 0.01,
}
_GOODS_CATEGORIES = {
    "Mobile": 0.25,
    "Consumer Electronics": 0.2,
    "Computers": 0.15,
    "Audio/Video": 0.15,
    "Furniture": 0.07,
    "Photo / Cinema Equipment": 0.04,
    "Construction Materials": 0.04,
    "Clothing and Accessories": 0.03,
    "Auto Accessories": 0.01,
    "Jewelry": 0.01,
    "Homewares": 0.01,
    "Medical Supplies": 0.01,
    "Vehicles": 0.01,
    "Other": 0.02,
}
_PRODUCT_TYPES = {"XNA": 0.64, "x-sell": 0.27, "walk-in": 0.09}
_CHANNELS = {
    "Credit and cash offices": 0.43,
    "Country-wide": 0.3,
    "Stone": 0.13,
    "Regional / Local": 0.06,
    "Contact center": 0.04,
    "AP+ (Cash loan)": 0.03,
    "Channel of corporate sales": 0.004,
    "Car dealer": 0.0003,
}
_SELLER_INDUSTRIES = {
    "Consumer electronics": 0.45,
    "Connectivity": 0.3,
    "Furniture": 0.07,
    "Construction": 0.07,
    "Clothing": 0.05,
    "Industry": 0.04,
    "Auto technology": 0.01,
    "Jewelry": 0.01,
}
_YIELD_GROUPS = {"middle": 0.4, "high": 0.3, "low_normal": 0.25, "low_action": 0.05}
_CASH_PRODUCTS = {
    "Cash": 0.3,
    "Cash X-Sell: middle": 0.25,
    "Cash X-Sell: low": 0.2,
    "Cash X-Sell: high": 0.1,
    "Cash Street: high": 0.07,
    "Cash Street: middle": 0.05,
    "Cash Street: low": 0.03,
}
_POS_PRODUCTS = {
    "POS household with interest": 0.45,
    "POS mobile with interest": 0.3,
    "POS industry with interest": 0.1,
    "POS household without interest": 0.1,
    "POS other with interest": 0.05,
}
_CARD_PRODUCTS = {"Card Street": 0.6, "Card X-Sell": 0.4}


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent index of each child row and the row's position within its parent."""
    parent = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return parent, np.arange(parent.size) - np.repeat(starts, counts)


def _rows_per_client(
    rng: np.random.Generator, n: int, share_with: float, total: float
) -> np.ndarray:
    """Overdispersed counts: most clients have a few rows, some many (gamma-Poisson)."""
    extra = total / (n * share_with) - 1
    counts = 1 + rng.poisson(rng.gamma(1.5, extra / 1.5, n))
    return np.where(rng.random(n) < share_with, counts, 0)


def _thin(rng: np.random.Generator, lengths: np.ndarray, target: float) -> np.ndarray:
    """Keep each parent's rows with one probability so the expected total is ``target``."""
    keep = rng.random(lengths.size) < min(1.0, target / max(lengths.sum(), 1))
    return np.where(keep, lengths, 0)


def _pick(rng: np.random.Generator, categories: dict[str, float], size: int) -> np.ndarray:
    names = np.array(list(categories), dtype=object)
    weights = np.array(list(categories.values()), float)
    return names[rng.choice(names.size, size, p=weights / weights.sum())]


def _categories(table: str, column: str, values: np.ndarray) -> pd.Categorical:
    """Labels -> the table's categorical column at once, before wide string arrays pile up."""
    return pd.Categorical(values, categories=list(history_tables()[table].categories[column]))


def _blank(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Values missing at random (unrelated to risk), as many columns are in the real data."""
    return np.where(rng.random(values.size) < rate, np.nan, values)


def _bureau(rng: np.random.Generator, n: int, behaviour: np.ndarray, scale: float) -> pd.DataFrame:
    """Credits reported by other lenders; overdue debt shows on clients who run late."""
    counts = _rows_per_client(rng, n, SHARE_WITH_BUREAU, REAL_ROWS[BUREAU] * scale)
    client, _ = _expand(counts)
    m = client.size
    days_credit = -np.round(2922 * rng.beta(1.1, 1.9, m))
    credit_type = _pick(rng, _CREDIT_TYPES, m)
    card = credit_type == "Credit card"
    duration = np.where(card, 900, 1) * rng.uniform(0.5, 2.0, m) + ~card * rng.choice(
        [180, 365, 730, 1095, 1825], m
    )
    end = np.round(days_credit + duration)
    late = rng.random(m) < expit(-2.4 + 1.1 * behaviour[client])  # hidden, shows in overdue
    active = (end > 0) | (late & (rng.random(m) < 0.3))
    amount = np.round(np.exp(rng.normal(np.log(125_000), 1.1, m)), -2)
    debt = np.where(active, amount * rng.uniform(0.05, 1.0, m), 0.0)
    overdue_now = active & late & (rng.random(m) < 0.25)
    days_overdue = np.where(overdue_now, rng.geometric(1 / 30, m), 0)
    closed_on = np.where(active, np.nan, np.round(np.minimum(end, -1) * rng.uniform(0.6, 1.0, m)))
    frame = {
        ID_COLUMN: client,
        BUREAU_ID: 5_000_000 + np.arange(m),
        "CREDIT_ACTIVE": np.where(
            active, "Active", np.where(rng.random(m) < 0.006, "Sold", "Closed")
        ),
        "CREDIT_CURRENCY": _pick(rng, {"currency 1": 0.9992, "currency 2": 0.0007}, m),
        "DAYS_CREDIT": days_credit,
        "CREDIT_DAY_OVERDUE": days_overdue,
        "DAYS_CREDIT_ENDDATE": _blank(rng, end, 0.06),
        "DAYS_ENDDATE_FACT": closed_on,
        "AMT_CREDIT_MAX_OVERDUE": _blank(
            rng, np.where(late, amount * rng.uniform(0.01, 0.3, m), 0.0), 0.65
        ),
        "CNT_CREDIT_PROLONG": rng.poisson(0.006, m),
        "AMT_CREDIT_SUM": amount,
        "AMT_CREDIT_SUM_DEBT": _blank(rng, np.round(debt, 2), 0.15),
        "AMT_CREDIT_SUM_LIMIT": _blank(
            rng, np.where(card & active, np.round(amount - debt, 2), 0.0), 0.34
        ),
        "AMT_CREDIT_SUM_OVERDUE": np.where(
            overdue_now, np.round(debt * rng.uniform(0.02, 0.3, m), 2), 0.0
        ),
        "CREDIT_TYPE": credit_type,
        "DAYS_CREDIT_UPDATE": np.where(
            active, -rng.integers(0, 40, m), np.minimum(np.nan_to_num(closed_on) + 20, 0)
        ),
        "AMT_ANNUITY": _blank(rng, np.round(amount / np.maximum(duration / _MONTH, 1), 1), 0.71),
    }
    return pd.DataFrame(frame)


def _bureau_balance(rng: np.random.Generator, bureau: pd.DataFrame, scale: float) -> pd.DataFrame:
    """Monthly statuses since each credit opened; late months only on credits that ran late."""
    days_credit = bureau["DAYS_CREDIT"].to_numpy()
    months = np.minimum(np.floor(-days_credit / _MONTH), 96).astype(int) + 1
    months = _thin(rng, months, REAL_ROWS[BUREAU_BALANCE] * scale)
    credit, position = _expand(months)
    ran_late = (bureau["AMT_CREDIT_MAX_OVERDUE"].fillna(0).to_numpy() > 0) | (
        bureau["CREDIT_DAY_OVERDUE"].to_numpy() > 0
    )
    ran_late = ran_late | (rng.random(ran_late.size) < 0.03)
    closed_months_ago = -bureau["DAYS_ENDDATE_FACT"].to_numpy() / _MONTH  # NaN when active
    m = credit.size
    # Status codes in the order of the table's categories: 0-5 (months late), C, X.
    labels = history_tables()[BUREAU_BALANCE].categories["STATUS"]
    codes = np.where(rng.random(m) < 0.12, labels.index("X"), labels.index("0")).astype(np.int8)
    late_month = ran_late[credit] & (rng.random(m) < 0.15)
    level = np.minimum(rng.geometric(0.7, m), 5).astype(np.int8)
    codes[late_month] = level[late_month]
    codes[position < closed_months_ago[credit]] = labels.index("C")  # NaN: still active
    # pandas-stubs types codes as a Sequence[int]; pandas takes (and here needs) an int8 array.
    status = pd.Categorical.from_codes(codes, categories=pd.Index(labels))  # type: ignore[arg-type]
    return pd.DataFrame(
        {
            BUREAU_ID: bureau[BUREAU_ID].to_numpy()[credit],
            "MONTHS_BALANCE": -position,
            "STATUS": status,
        }
    )


@dataclass(frozen=True)
class _Decisions:
    """What each previous application was and what became of it: the later columns and the
    balance tables follow from these."""

    client: np.ndarray  # the applicant's position
    position: np.ndarray  # the application's rank among the applicant's own (0: first)
    kind: np.ndarray
    cash: np.ndarray
    consumer: np.ndarray
    revolving: np.ndarray
    days_decision: np.ndarray
    refused: np.ndarray
    canceled: np.ndarray
    unused: np.ndarray
    approved: np.ndarray

    @property
    def size(self) -> int:
        return self.client.size


@dataclass(frozen=True)
class _Amounts:
    """The money and the schedule of each previous application."""

    application: np.ndarray
    credit: np.ndarray
    terms: np.ndarray
    annuity: np.ndarray
    down: np.ndarray
    first_due: np.ndarray
    last_due_first: np.ndarray
    last_due: np.ndarray
    goods: np.ndarray


def _decide(
    rng: np.random.Generator, client: np.ndarray, position: np.ndarray, behaviour: np.ndarray
) -> _Decisions:
    """Contract type, decision day and outcome; refusals follow the hidden behaviour."""
    m = client.size
    kind = _pick(rng, _CONTRACT_TYPES, m)
    days_decision = -(1 + np.round(2921 * rng.beta(0.9, 1.6, m)))
    refused = rng.random(m) < expit(-2.0 + 0.9 * behaviour[client])
    canceled = ~refused & (rng.random(m) < 0.23)
    unused = ~refused & ~canceled & (rng.random(m) < 0.02)
    return _Decisions(
        client=client,
        position=position,
        kind=kind,
        cash=kind == "Cash loans",
        consumer=kind == "Consumer loans",
        revolving=kind == "Revolving loans",
        days_decision=days_decision,
        refused=refused,
        canceled=canceled,
        unused=unused,
        approved=~(refused | canceled | unused),
    )


def _amounts(rng: np.random.Generator, d: _Decisions) -> _Amounts:
    """Amount asked and granted, term, annuity, down payment and due dates per application."""
    m = d.size
    application = np.where(
        d.cash,
        np.exp(rng.normal(np.log(225_000), 0.9, m)),
        np.exp(rng.normal(np.log(70_000), 1.0, m)),
    )
    application = np.where(
        d.revolving, rng.choice([45_000, 90_000, 135_000, 180_000, 270_000], m), application
    )
    application = np.round(np.where(d.canceled & (rng.random(m) < 0.5), 0.0, application), -2)
    credit = np.round(application * np.where(d.revolving, 1.0, rng.uniform(0.85, 1.25, m)), -2)
    terms = np.where(
        d.cash, rng.choice([12, 18, 24, 36, 48, 60], m), rng.choice([6, 10, 12, 18, 24], m)
    ).astype(float)
    terms = np.where(d.revolving, 0.0, np.where(d.canceled, np.nan, terms))
    rate = rng.uniform(0.1, 0.35, m)
    annuity = np.where(
        d.revolving,
        0.05 * credit,
        credit * (1 + rate * terms / 12) / np.where(terms > 0, terms, np.nan),
    )
    down = np.where(
        d.consumer,
        np.where(rng.random(m) < 0.5, 0.0, application * rng.uniform(0, 0.3, m)),
        np.nan,
    )
    first_due = np.where(
        d.approved & ~d.revolving, d.days_decision + rng.integers(10, 40, m), np.nan
    )
    last_due_first = first_due + 30 * terms
    goods = np.where(
        d.consumer, application, np.where(d.cash & (rng.random(m) < 0.5), application, np.nan)
    )
    return _Amounts(
        application=application,
        credit=credit,
        terms=terms,
        annuity=np.where(d.canceled, np.nan, np.round(annuity, 1)),
        down=down,
        first_due=np.where(d.approved & d.revolving, SENTINEL_DAYS, first_due),
        last_due_first=last_due_first,
        last_due=np.where(last_due_first < 0, last_due_first, SENTINEL_DAYS),
        goods=goods,
    )


def _money_columns(rng: np.random.Generator, d: _Decisions, a: _Amounts) -> dict[str, object]:
    """previous_application's columns from its contract type to its interest rates."""
    m = d.size
    return {
        PREV_ID: 1_000_000 + np.arange(m),
        ID_COLUMN: d.client,
        "NAME_CONTRACT_TYPE": d.kind,
        "AMT_ANNUITY": a.annuity,
        "AMT_APPLICATION": a.application,
        "AMT_CREDIT": a.credit,
        "AMT_DOWN_PAYMENT": np.round(a.down, 1),
        "AMT_GOODS_PRICE": a.goods,
        "WEEKDAY_APPR_PROCESS_START": rng.choice(_WEEKDAYS, m),
        "HOUR_APPR_PROCESS_START": np.clip(np.round(rng.normal(12.5, 3.3, m)), 0, 23),
        "FLAG_LAST_APPL_PER_CONTRACT": np.where(rng.random(m) < 0.995, "Y", "N"),
        "NFLAG_LAST_APPL_IN_DAY": (rng.random(m) < 0.996).astype(int),
        "RATE_DOWN_PAYMENT": a.down / np.where(a.application > 0, a.application, np.nan),
        "RATE_INTEREST_PRIMARY": _blank(rng, rng.uniform(0.03, 1.0, m), 0.996),
        "RATE_INTEREST_PRIVILEGED": _blank(rng, rng.uniform(0.37, 1.0, m), 0.996),
    }


def _decision_columns(rng: np.random.Generator, d: _Decisions) -> dict[str, object]:
    """previous_application's columns on how the application was made and decided."""
    m = d.size
    status = np.select(
        [d.refused, d.canceled, d.unused], ["Refused", "Canceled", "Unused offer"], "Approved"
    )
    return {
        "NAME_CASH_LOAN_PURPOSE": np.where(d.cash, _pick(rng, _CASH_LOAN_PURPOSES, m), "XAP"),
        "NAME_CONTRACT_STATUS": status,
        "DAYS_DECISION": d.days_decision,
        "NAME_PAYMENT_TYPE": _pick(rng, _PAYMENT_TYPES, m),
        "CODE_REJECT_REASON": np.where(
            d.refused,
            _pick(rng, _REJECT_REASONS, m),
            np.where(d.canceled & (rng.random(m) < 0.3), "CLIENT", "XAP"),
        ),
        "NAME_TYPE_SUITE": np.where(rng.random(m) < 0.49, np.array(None), _pick(rng, _SUITES, m)),
        "NAME_CLIENT_TYPE": np.where(
            d.position == 0, "New", _pick(rng, {"Repeater": 0.9, "Refreshed": 0.1}, m)
        ),
    }


def _product_columns(rng: np.random.Generator, d: _Decisions, a: _Amounts) -> dict[str, object]:
    """previous_application's columns on what was sold, where, and at what yield."""
    m = d.size
    return {
        "NAME_GOODS_CATEGORY": np.where(d.consumer, _pick(rng, _GOODS_CATEGORIES, m), "XNA"),
        "NAME_PORTFOLIO": np.where(
            d.canceled & (rng.random(m) < 0.8),
            "XNA",
            np.select([d.cash, d.consumer, d.revolving], ["Cash", "POS", "Cards"], "XNA"),
        ),
        "NAME_PRODUCT_TYPE": _pick(rng, _PRODUCT_TYPES, m),
        "CHANNEL_TYPE": _pick(rng, _CHANNELS, m),
        "SELLERPLACE_AREA": np.where(d.cash, -1, np.round(np.exp(rng.normal(3.5, 1.5, m)))),
        "NAME_SELLER_INDUSTRY": np.where(d.consumer, _pick(rng, _SELLER_INDUSTRIES, m), "XNA"),
        "CNT_PAYMENT": a.terms,
        "NAME_YIELD_GROUP": np.where(d.canceled | d.revolving, "XNA", _pick(rng, _YIELD_GROUPS, m)),
        "PRODUCT_COMBINATION": np.select(
            [d.cash, d.consumer, d.revolving],
            [
                _pick(rng, _CASH_PRODUCTS, m),
                _pick(rng, _POS_PRODUCTS, m),
                _pick(rng, _CARD_PRODUCTS, m),
            ],
            "Cash",
        ),
    }


def _date_columns(rng: np.random.Generator, d: _Decisions, a: _Amounts) -> dict[str, object]:
    """previous_application's day columns (365243 where the real file has no date)."""
    m = d.size
    scheduled = d.approved & ~d.revolving
    return {
        "DAYS_FIRST_DRAWING": np.where(
            d.approved,
            np.where(rng.random(m) < 0.88, SENTINEL_DAYS, d.days_decision + 5),
            np.nan,
        ),
        "DAYS_FIRST_DUE": a.first_due,
        "DAYS_LAST_DUE_1ST_VERSION": a.last_due_first,
        "DAYS_LAST_DUE": np.where(scheduled, a.last_due, np.nan),
        "DAYS_TERMINATION": np.where(
            scheduled,
            np.where(
                a.last_due < 0,
                np.minimum(a.last_due + rng.integers(0, 10, m), -1),
                SENTINEL_DAYS,
            ),
            np.nan,
        ),
        "NFLAG_INSURED_ON_APPROVAL": np.where(
            d.approved, (rng.random(m) < 0.33).astype(float), np.nan
        ),
    }


def _previous(
    rng: np.random.Generator, n: int, behaviour: np.ndarray, scale: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Earlier applications at Home Credit, and each one's repayment behaviour (the client's,
    plus noise) that its balance tables follow. Columns are drawn in the real file's order,
    which is also the order of the random draws: the data stays the same for a seed."""
    counts = _rows_per_client(rng, n, SHARE_WITH_PREVIOUS, REAL_ROWS[PREVIOUS] * scale)
    client, position = _expand(counts)
    loan_behaviour = behaviour[client] + rng.normal(0, 0.5, client.size)
    decisions = _decide(rng, client, position, behaviour)
    amounts = _amounts(rng, decisions)
    frame = {
        **_money_columns(rng, decisions, amounts),
        **_decision_columns(rng, decisions),
        **_product_columns(rng, decisions, amounts),
        **_date_columns(rng, decisions, amounts),
    }
    return pd.DataFrame(frame), loan_behaviour


def _instalments(
    rng: np.random.Generator, previous: pd.DataFrame, loan_behaviour: np.ndarray, scale: float
) -> pd.DataFrame:
    """One row per instalment due before the application, paid late or short by some."""
    first_due = previous["DAYS_FIRST_DUE"].to_numpy()
    terms = previous["CNT_PAYMENT"].to_numpy()
    repaying = (first_due < 0) & (terms > 0)
    due_so_far = np.where(repaying, np.minimum(np.floor(-first_due / 30) + 1, terms), 0)
    due_so_far = _thin(rng, due_so_far.astype(int), REAL_ROWS[INSTALMENTS] * scale)
    loan, number = _expand(due_so_far)
    m = loan.size
    b = loan_behaviour[loan]
    days_due = first_due[loan] + 30 * number
    late = rng.random(m) < expit(-2.6 + 1.2 * b)
    delay = np.where(
        late,
        rng.geometric(1 / 8, m) + np.where(rng.random(m) < 0.1, rng.geometric(1 / 40, m), 0),
        -np.round(rng.exponential(10, m)),
    )
    paid_on = days_due + delay
    instalment = previous["AMT_ANNUITY"].to_numpy()[loan]
    short = rng.random(m) < expit(-3.4 + 1.1 * b)
    paid = instalment * np.where(short, rng.uniform(0.05, 0.95, m), 1.0)
    unpaid = paid_on >= 0  # not yet paid on the application day
    return pd.DataFrame(
        {
            PREV_ID: previous[PREV_ID].to_numpy()[loan],
            ID_COLUMN: previous[ID_COLUMN].to_numpy()[loan],
            "NUM_INSTALMENT_VERSION": np.where(rng.random(m) < 0.05, 2.0, 1.0),
            "NUM_INSTALMENT_NUMBER": number + 1,
            "DAYS_INSTALMENT": days_due,
            "DAYS_ENTRY_PAYMENT": np.where(unpaid, np.nan, paid_on),
            "AMT_INSTALMENT": instalment,
            "AMT_PAYMENT": np.where(unpaid, np.nan, np.round(paid, 2)),
        }
    )


def _pos_cash(
    rng: np.random.Generator, previous: pd.DataFrame, loan_behaviour: np.ndarray, scale: float
) -> pd.DataFrame:
    """Monthly rows of instalment loans from the decision until paid off or the application."""
    started = np.floor(-previous["DAYS_DECISION"].to_numpy() / _MONTH).astype(int)
    terms = previous["CNT_PAYMENT"].to_numpy()
    approved = previous["NAME_CONTRACT_STATUS"].to_numpy() == "Approved"
    ok = approved & (terms > 0) & (started >= 1)
    months = np.where(ok, np.minimum(started, np.nan_to_num(terms).astype(int) + 1), 0)
    months = _thin(rng, months, REAL_ROWS[POS_CASH] * scale)
    loan, position = _expand(months)
    m = loan.size
    future = np.maximum(terms[loan] - position, 0)
    late = rng.random(m) < expit(-3.0 + 1.2 * loan_behaviour[loan])
    dpd = np.where(late, rng.geometric(1 / 12, m), 0)
    return pd.DataFrame(
        {
            PREV_ID: previous[PREV_ID].to_numpy()[loan],
            ID_COLUMN: previous[ID_COLUMN].to_numpy()[loan],
            "MONTHS_BALANCE": -(started[loan] - position),
            "CNT_INSTALMENT": terms[loan],
            "CNT_INSTALMENT_FUTURE": future,
            "NAME_CONTRACT_STATUS": _categories(
                POS_CASH, "NAME_CONTRACT_STATUS", np.where(future > 0, "Active", "Completed")
            ),
            "SK_DPD": dpd,
            "SK_DPD_DEF": np.where(rng.random(m) < 0.6, dpd, 0),
        }
    )


def _credit_card(
    rng: np.random.Generator, previous: pd.DataFrame, loan_behaviour: np.ndarray, scale: float
) -> pd.DataFrame:
    """Monthly card statements: utilisation and missed minimum payments follow behaviour."""
    started = np.floor(-previous["DAYS_DECISION"].to_numpy() / _MONTH).astype(int)
    cards = (previous["NAME_CONTRACT_TYPE"].to_numpy() == "Revolving loans") & (
        previous["NAME_CONTRACT_STATUS"].to_numpy() == "Approved"
    )
    months = np.where(cards & (started >= 1), np.minimum(started, 96), 0)
    months = _thin(rng, months, REAL_ROWS[CREDIT_CARD] * scale)
    card, position = _expand(months)
    m = card.size
    b = loan_behaviour[card]
    limit = np.maximum(previous["AMT_CREDIT"].to_numpy()[card], 45_000)
    used = rng.random(card.size) < 0.7
    card_use = expit(-0.6 + 0.9 * loan_behaviour + rng.normal(0, 0.6, loan_behaviour.size))
    utilisation = np.clip(card_use[card] + rng.normal(0, 0.1, m), 0, 1.2) * used
    balance = np.round(utilisation * limit, 2)
    minimum = np.round(0.05 * balance, 2)
    late = (balance > 0) & (rng.random(m) < expit(-3.2 + 1.2 * b))
    payment = np.where(
        late, minimum * rng.uniform(0, 0.9, m), minimum + rng.uniform(0, 1, m) * (balance - minimum)
    )
    drawings = np.round(np.where(used, rng.uniform(0, 0.2, m) * limit, 0.0), 2)
    atm = np.round(drawings * (rng.random(m) < 0.4), 2)
    count = np.where(drawings > 0, 1 + rng.poisson(2, m), 0)
    dpd = np.where(late, rng.geometric(1 / 15, m), 0)
    return pd.DataFrame(
        {
            PREV_ID: previous[PREV_ID].to_numpy()[card],
            ID_COLUMN: previous[ID_COLUMN].to_numpy()[card],
            "MONTHS_BALANCE": -(started[card] - position),
            "AMT_BALANCE": balance,
            "AMT_CREDIT_LIMIT_ACTUAL": limit.astype(np.int64),
            "AMT_DRAWINGS_ATM_CURRENT": _blank(rng, atm, 0.2),
            "AMT_DRAWINGS_CURRENT": drawings,
            "AMT_DRAWINGS_OTHER_CURRENT": _blank(rng, np.zeros(m), 0.2),
            "AMT_DRAWINGS_POS_CURRENT": _blank(rng, drawings - atm, 0.2),
            "AMT_INST_MIN_REGULARITY": minimum,
            "AMT_PAYMENT_CURRENT": np.where(balance > 0, np.round(payment, 2), np.nan),
            "AMT_PAYMENT_TOTAL_CURRENT": np.round(np.where(balance > 0, payment, 0.0), 2),
            "AMT_RECEIVABLE_PRINCIPAL": np.round(0.9 * balance, 2),
            "AMT_RECIVABLE": np.round(0.97 * balance, 2),
            "AMT_TOTAL_RECEIVABLE": np.round(0.97 * balance, 2),
            "CNT_DRAWINGS_ATM_CURRENT": _blank(rng, (atm > 0) * count, 0.2),
            "CNT_DRAWINGS_CURRENT": count,
            "CNT_DRAWINGS_OTHER_CURRENT": _blank(rng, np.zeros(m), 0.2),
            "CNT_DRAWINGS_POS_CURRENT": _blank(rng, (atm == 0) * count, 0.2),
            "CNT_INSTALMENT_MATURE_CUM": _blank(rng, position.astype(float), 0.08),
            "NAME_CONTRACT_STATUS": _categories(
                CREDIT_CARD,
                "NAME_CONTRACT_STATUS",
                np.where(rng.random(m) < 0.995, "Active", "Completed"),
            ),
            "SK_DPD": dpd,
            "SK_DPD_DEF": np.where(rng.random(m) < 0.6, dpd, 0),
        }
    )


def _per_client(client: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` per client (NaN for clients without rows)."""
    rows = np.bincount(client, minlength=n)
    total = np.bincount(client, weights=values.astype(float), minlength=n)
    return np.where(rows > 0, total / np.maximum(rows, 1), np.nan)


def _summarise_instalments(table: pd.DataFrame, c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    paid = table["DAYS_ENTRY_PAYMENT"].notna().to_numpy()
    late_days = (table["DAYS_ENTRY_PAYMENT"] - table["DAYS_INSTALMENT"]).to_numpy()
    short = (table["AMT_PAYMENT"] < table["AMT_INSTALMENT"] - 1).to_numpy()
    max_late = np.full(n, -np.inf)
    np.maximum.at(max_late, c[paid], late_days[paid])
    return {
        "late_share": _per_client(c[paid], late_days[paid] > 0, n),
        "short_share": _per_client(c[paid], short[paid], n),
        "max_late": max_late,
        "record": np.bincount(c, minlength=n),
    }


def _summarise_pos_cash(table: pd.DataFrame, c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    return {"pos_dpd": _per_client(c, table["SK_DPD"].to_numpy() > 0, n)}


def _summarise_bureau(table: pd.DataFrame, c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    active = (table["CREDIT_ACTIVE"] == "Active").to_numpy()
    debt = np.nan_to_num(table["AMT_CREDIT_SUM_DEBT"].to_numpy()) * active
    return {
        "overdue": _per_client(c, table["AMT_CREDIT_SUM_OVERDUE"].to_numpy() > 0, n) > 0,
        "debt": np.bincount(c, weights=debt, minlength=n),
        "has_bureau": np.bincount(c, minlength=n) > 0,
    }


def _summarise_bureau_balance(table: pd.DataFrame, c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    status = pd.Categorical(table["STATUS"])
    codes = status.codes
    late_codes = [i for i, code in enumerate(status.categories) if code in "12345"]
    known = codes != list(status.categories).index("X")
    return {"bb_late": _per_client(c[known], np.isin(codes[known], late_codes), n)}


def _summarise_previous(table: pd.DataFrame, c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    refused = (table["NAME_CONTRACT_STATUS"] == "Refused").to_numpy()
    recent = refused & (table["DAYS_DECISION"].to_numpy() > -365)
    return {
        "refused_share": _per_client(c, refused, n),
        "recent_refused": np.bincount(c, weights=recent, minlength=n),
    }


def _summarise_credit_card(table: pd.DataFrame, c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    utilisation = (table["AMT_BALANCE"] / table["AMT_CREDIT_LIMIT_ACTUAL"]).to_numpy()
    return {
        "utilisation": _per_client(c, utilisation, n),
        "card_late": _per_client(c, table["SK_DPD"].to_numpy() > 0, n),
    }


# Each table's summary from its rows and each row's client position.
_SUMMARIES: dict[str, Callable[[pd.DataFrame, np.ndarray, int], dict[str, np.ndarray]]] = {
    INSTALMENTS: _summarise_instalments,
    POS_CASH: _summarise_pos_cash,
    BUREAU: _summarise_bureau,
    BUREAU_BALANCE: _summarise_bureau_balance,
    PREVIOUS: _summarise_previous,
    CREDIT_CARD: _summarise_credit_card,
}


def summarise(
    name: str, table: pd.DataFrame, index: pd.Index, bureau: pd.DataFrame | None = None
) -> dict[str, np.ndarray]:
    """Per-client figures of one table that enter the true risk (observed rows only).

    ``bureau`` links bureau_balance rows to clients. Tables are summarised one at a time, so
    generation never needs every table in memory at once.
    """
    summarise_table = _SUMMARIES[name]
    if name == BUREAU_BALANCE:
        if bureau is None:
            raise ValueError("bureau_balance rows reach their clients through bureau")
        owner = pd.Series(bureau[ID_COLUMN].to_numpy(), index=bureau[BUREAU_ID].to_numpy())
        clients = pd.Index(owner.reindex(table[BUREAU_ID].to_numpy()))
    else:
        clients = pd.Index(table[ID_COLUMN])
    return summarise_table(table, index.get_indexer(clients), len(index))


def history_logit(
    summary: dict[str, np.ndarray],
    income: np.ndarray,
    annuity_income: np.ndarray,
    age: np.ndarray,
    ext_mean: np.ndarray,
) -> np.ndarray:
    """The history part of the true risk, from the tables' summaries: nothing hidden.

    Nonlinear (square roots, thresholds) and with interactions (late payer x heavy annuity,
    x youth, x poor external scores). A client without rows in a table gets no contribution.
    """
    late_share, short_share, max_late, record = (
        summary[k] for k in ("late_share", "short_share", "max_late", "record")
    )
    pos_dpd, bb_late, overdue, debt = (
        summary[k] for k in ("pos_dpd", "bb_late", "overdue", "debt")
    )
    has_bureau, refused_share = summary["has_bureau"], summary["refused_share"]
    recent_refused, utilisation = summary["recent_refused"], summary["utilisation"]
    card_late = summary["card_late"]
    zero = lambda x: np.nan_to_num(x, nan=0.0)  # noqa: E731 - no rows, no contribution
    late_share, short_share, pos_dpd, bb_late = map(
        zero, (late_share, short_share, pos_dpd, bb_late)
    )
    late_payer = late_share > 0.15
    return (
        1.2 * np.sqrt(late_share)
        + 0.5 * (max_late > 30)
        + 0.5 * (short_share > 0.08)
        + 1.5 * short_share
        + 1.5 * pos_dpd
        + 2.0 * bb_late
        + 0.5 * overdue
        + 0.6 * np.clip(np.log1p(debt / income), 0, 2.5)
        + 0.15 * ~has_bureau
        + 0.8 * zero(refused_share)
        + 0.6 * (recent_refused >= 2)
        + 0.7 * (zero(utilisation) > 0.85)
        + 1.5 * zero(card_late)
        # Interactions: a late payer is much riskier when the instalment is a heavy burden,
        # when young, or when the external scores are poor too.
        + 0.7 * late_payer * (annuity_income > 0.2)
        + 0.6 * late_payer * (age < 35)
        + 1.5 * np.sqrt(late_share) * (ext_mean < 0.35)
        - 0.35 * (record >= 24) * (late_share < 0.05)
    )


Sink = Callable[[str, pd.DataFrame], None]


def generate_histories(
    rng: np.random.Generator, client_ids: np.ndarray, behaviour: np.ndarray, sink: Sink
) -> dict[str, np.ndarray]:
    """The six tables for these clients, in the real files' columns and types, each handed
    to ``sink`` (and then dropped) as soon as it is complete; returns their risk summaries."""
    n = client_ids.size
    scale = n / HOME_CREDIT_CLIENTS
    specs = history_tables()
    positions = pd.Index(np.arange(n))
    summary: dict[str, np.ndarray] = {}

    def emit(name: str, frame: pd.DataFrame, bureau: pd.DataFrame | None = None) -> None:
        summary.update(summarise(name, frame, positions, bureau))
        if ID_COLUMN in frame:  # generated with client positions; the files carry real ids
            frame = frame.assign(**{ID_COLUMN: client_ids[frame[ID_COLUMN].to_numpy()]})
        sink(name, specs[name].typed(frame))

    bureau = _bureau(rng, n, behaviour, scale)
    emit(BUREAU, bureau)
    emit(BUREAU_BALANCE, _bureau_balance(rng, bureau, scale), bureau)
    del bureau
    previous, loan_behaviour = _previous(rng, n, behaviour, scale)
    emit(PREVIOUS, previous)
    emit(POS_CASH, _pos_cash(rng, previous, loan_behaviour, scale))
    emit(CREDIT_CARD, _credit_card(rng, previous, loan_behaviour, scale))
    emit(INSTALMENTS, _instalments(rng, previous, loan_behaviour, scale))
    return summary
