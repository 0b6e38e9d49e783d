"""The six history tables of Home Credit: columns, keys, types and categories, defined once.

Column names come from the published description (``reference/hc_tables_columns.json``) with
the two known differences of the real CSV files applied (the bureau key is ``SK_ID_BUREAU``;
``previous_application`` has no ``NFLAG_MICRO_CASH``). Types and category lists are those of
the real files. The generator writes these columns, the feature module reads them, and the
service types history inputs and links them (bureau_balance through its bureau credit) from
these specs.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from credit_scoring.core.tables import HistoryTable, Link
from credit_scoring.profiles.home_credit.reference import ID_COLUMN

BUREAU_ID, PREV_ID = "SK_ID_BUREAU", "SK_ID_PREV"

BUREAU, BUREAU_BALANCE, PREVIOUS = "bureau", "bureau_balance", "previous_application"
POS_CASH, CREDIT_CARD, INSTALMENTS = (
    "POS_CASH_balance",
    "credit_card_balance",
    "installments_payments",
)
HISTORY_TABLES = (BUREAU, BUREAU_BALANCE, PREVIOUS, POS_CASH, CREDIT_CARD, INSTALMENTS)
# bureau_balance has no SK_ID_CURR: its months belong to a bureau credit.
LINKS = {name: Link(ID_COLUMN) for name in HISTORY_TABLES} | {
    BUREAU_BALANCE: Link(BUREAU_ID, parent=BUREAU)
}
ROW_IDS = {name: (PREV_ID,) for name in HISTORY_TABLES} | {
    BUREAU: (BUREAU_ID,),
    BUREAU_BALANCE: (BUREAU_ID,),
}
DESCRIPTIONS = {
    BUREAU: "Credits at other institutions reported to the Credit Bureau (bureau.csv rows)",
    BUREAU_BALANCE: "Monthly status of those credits, linked by SK_ID_BUREAU",
    PREVIOUS: "Previous applications at Home Credit (previous_application.csv rows)",
    POS_CASH: "Monthly balances of previous POS and cash loans",
    CREDIT_CARD: "Monthly balances of previous credit cards",
    INSTALMENTS: "Instalments of previous credits: due and paid",
}

_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    BUREAU: {
        "CREDIT_ACTIVE": ("Active", "Bad debt", "Closed", "Sold"),
        "CREDIT_CURRENCY": ("currency 1", "currency 2", "currency 3", "currency 4"),
        "CREDIT_TYPE": (
            "Another type of loan",
            "Car loan",
            "Cash loan (non-earmarked)",
            "Consumer credit",
            "Credit card",
            "Interbank credit",
            "Loan for business development",
            "Loan for purchase of shares (margin lending)",
            "Loan for the purchase of equipment",
            "Loan for working capital replenishment",
            "Microloan",
            "Mobile operator loan",
            "Mortgage",
            "Real estate loan",
            "Unknown type of loan",
        ),
    },
    BUREAU_BALANCE: {"STATUS": ("0", "1", "2", "3", "4", "5", "C", "X")},
    PREVIOUS: {
        "NAME_CONTRACT_TYPE": ("Cash loans", "Consumer loans", "Revolving loans", "XNA"),
        "WEEKDAY_APPR_PROCESS_START": _WEEKDAYS,
        "FLAG_LAST_APPL_PER_CONTRACT": ("N", "Y"),
        "NAME_CASH_LOAN_PURPOSE": (
            "Building a house or an annex",
            "Business development",
            "Buying a garage",
            "Buying a holiday home / land",
            "Buying a home",
            "Buying a new car",
            "Buying a used car",
            "Car repairs",
            "Education",
            "Everyday expenses",
            "Furniture",
            "Gasification / water supply",
            "Hobby",
            "Journey",
            "Medicine",
            "Money for a third person",
            "Other",
            "Payments on other loans",
            "Purchase of electronic equipment",
            "Refusal to name the goal",
            "Repairs",
            "Urgent needs",
            "Wedding / gift / holiday",
            "XAP",
            "XNA",
        ),
        "NAME_CONTRACT_STATUS": ("Approved", "Canceled", "Refused", "Unused offer"),
        "NAME_PAYMENT_TYPE": (
            "Cash through the bank",
            "Cashless from the account of the employer",
            "Non-cash from your account",
            "XNA",
        ),
        "CODE_REJECT_REASON": (
            "CLIENT",
            "HC",
            "LIMIT",
            "SCO",
            "SCOFR",
            "SYSTEM",
            "VERIF",
            "XAP",
            "XNA",
        ),
        "NAME_TYPE_SUITE": (
            "Children",
            "Family",
            "Group of people",
            "Other_A",
            "Other_B",
            "Spouse, partner",
            "Unaccompanied",
        ),
        "NAME_CLIENT_TYPE": ("New", "Refreshed", "Repeater", "XNA"),
        "NAME_GOODS_CATEGORY": (
            "Additional Service",
            "Animals",
            "Audio/Video",
            "Auto Accessories",
            "Clothing and Accessories",
            "Computers",
            "Construction Materials",
            "Consumer Electronics",
            "Direct Sales",
            "Education",
            "Fitness",
            "Furniture",
            "Gardening",
            "Homewares",
            "House Construction",
            "Insurance",
            "Jewelry",
            "Medical Supplies",
            "Medicine",
            "Mobile",
            "Office Appliances",
            "Other",
            "Photo / Cinema Equipment",
            "Sport and Leisure",
            "Tourism",
            "Vehicles",
            "Weapon",
            "XNA",
        ),
        "NAME_PORTFOLIO": ("Cards", "Cars", "Cash", "POS", "XNA"),
        "NAME_PRODUCT_TYPE": ("XNA", "walk-in", "x-sell"),
        "CHANNEL_TYPE": (
            "AP+ (Cash loan)",
            "Car dealer",
            "Channel of corporate sales",
            "Contact center",
            "Country-wide",
            "Credit and cash offices",
            "Regional / Local",
            "Stone",
        ),
        "NAME_SELLER_INDUSTRY": (
            "Auto technology",
            "Clothing",
            "Connectivity",
            "Construction",
            "Consumer electronics",
            "Furniture",
            "Industry",
            "Jewelry",
            "MLM partners",
            "Tourism",
            "XNA",
        ),
        "NAME_YIELD_GROUP": ("XNA", "high", "low_action", "low_normal", "middle"),
        "PRODUCT_COMBINATION": (
            "Card Street",
            "Card X-Sell",
            "Cash",
            "Cash Street: high",
            "Cash Street: low",
            "Cash Street: middle",
            "Cash X-Sell: high",
            "Cash X-Sell: low",
            "Cash X-Sell: middle",
            "POS household with interest",
            "POS household without interest",
            "POS industry with interest",
            "POS industry without interest",
            "POS mobile with interest",
            "POS mobile without interest",
            "POS other with interest",
            "POS others without interest",
        ),
    },
    POS_CASH: {
        "NAME_CONTRACT_STATUS": (
            "Active",
            "Amortized debt",
            "Approved",
            "Canceled",
            "Completed",
            "Demand",
            "Returned to the store",
            "Signed",
            "XNA",
        )
    },
    CREDIT_CARD: {
        "NAME_CONTRACT_STATUS": (
            "Active",
            "Approved",
            "Completed",
            "Demand",
            "Refused",
            "Sent proposal",
            "Signed",
        )
    },
    INSTALMENTS: {},
}

# Columns the real CSVs hold as integers (never missing); every other non-category is float.
INTEGERS: dict[str, tuple[str, ...]] = {
    BUREAU: (
        ID_COLUMN,
        BUREAU_ID,
        "DAYS_CREDIT",
        "CREDIT_DAY_OVERDUE",
        "CNT_CREDIT_PROLONG",
        "DAYS_CREDIT_UPDATE",
    ),
    BUREAU_BALANCE: (BUREAU_ID, "MONTHS_BALANCE"),
    PREVIOUS: (
        PREV_ID,
        ID_COLUMN,
        "HOUR_APPR_PROCESS_START",
        "NFLAG_LAST_APPL_IN_DAY",
        "DAYS_DECISION",
        "SELLERPLACE_AREA",
    ),
    POS_CASH: (PREV_ID, ID_COLUMN, "MONTHS_BALANCE", "SK_DPD", "SK_DPD_DEF"),
    CREDIT_CARD: (
        PREV_ID,
        ID_COLUMN,
        "MONTHS_BALANCE",
        "AMT_CREDIT_LIMIT_ACTUAL",
        "CNT_DRAWINGS_CURRENT",
        "SK_DPD",
        "SK_DPD_DEF",
    ),
    INSTALMENTS: (PREV_ID, ID_COLUMN, "NUM_INSTALMENT_NUMBER"),
}


def _published_columns() -> dict[str, list[str]]:
    text = resources.files(__package__).joinpath("reference/hc_tables_columns.json")
    return json.loads(text.read_text(encoding="utf-8"))


@cache
def history_tables() -> dict[str, HistoryTable]:
    published = _published_columns()
    tables = {}
    for name in HISTORY_TABLES:
        columns = [c.strip() for c in published[f"{name}.csv"]]
        # The description names the bureau key SK_BUREAU_ID; the real CSV header says
        # SK_ID_BUREAU. NFLAG_MICRO_CASH is described but absent from the real file.
        columns = [BUREAU_ID if c == "SK_BUREAU_ID" else c for c in columns]
        columns = [c for c in columns if c != "NFLAG_MICRO_CASH"]
        tables[name] = HistoryTable(
            name,
            tuple(columns),
            CATEGORIES[name],
            INTEGERS[name],
            LINKS[name],
            ROW_IDS[name],
            DESCRIPTIONS[name],
        )
    return tables
