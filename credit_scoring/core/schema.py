"""The input schema: every raw field an applicant has, with its type, range and categories.

It is defined once (for Home Credit, from the published column facts), stored with every model
as JSON, and read back by the service to build its request model, by the UI to build its form
and by the tests to build valid and invalid applicants.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)

from credit_scoring.profiles.home_credit.reference import (
    ID_COLUMN,
    TARGET_COLUMN,
    ColumnFacts,
    application_columns,
)
from credit_scoring.profiles.home_credit.tables import (
    BUREAU,
    BUREAU_BALANCE,
    BUREAU_ID,
    CREDIT_CARD,
    HISTORY_TABLES,
    INSTALMENTS,
    POS_CASH,
    PREV_ID,
    PREVIOUS,
    history_tables,
)

DAYS_EMPLOYED_PENSIONER = 365243  # Home Credit's sentinel for "not employed" (mostly pensioners)
_HUNDRED_YEARS_IN_DAYS = -36525
MAX_JSON_INTEGER = 2**53 - 1  # the largest integer every JSON client (JavaScript too) holds exactly
ID_DESCRIPTION = "Applicant id (echoed back, not scored)"  # marks the id in the OpenAPI spec


def _json_number(value: Any) -> Any:
    # Lax mode would read true as 1 and "12" as 12: in JSON those are client bugs. (Lax mode is
    # kept for 2.0 -> 2 in integer fields, which JSON encoders of float columns produce.)
    if isinstance(value, bool | str):
        raise ValueError(f"Input should be a JSON number, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class FieldSpec:
    """One raw input field. ``None`` bounds are open; every field may be missing."""

    name: str
    kind: Literal["numeric", "categorical"]
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    description: str = ""
    required: bool = False  # a request must carry it (a user's column never missing in training)

    def python_type(self) -> Any:
        """The value's type with its constraints inside, so the JSON schema (OpenAPI) shows
        them as minimum/maximum/enum, next to ``null`` for a missing value."""
        if self.kind == "categorical":
            return Literal[self.categories]  # type: ignore[valid-type]
        return Annotated[
            int if self.integer else float,
            Field(ge=self.minimum, le=self.maximum),
            BeforeValidator(_json_number),
        ]


@dataclass(frozen=True)
class InputSchema:
    fields: tuple[FieldSpec, ...]
    id_column: str = ID_COLUMN
    target_column: str = TARGET_COLUMN
    name: str = "home-credit"
    # History tables (profile table names) the features aggregate per client,
    # linked by ``id_column``; none for a single-table dataset.
    tables: tuple[str, ...] = ()
    id_integer: bool = True  # False: ids are strings (e.g. "L-000123")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def categorical(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind == "categorical"]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> InputSchema:
        raw = json.loads(text)
        specs = tuple(
            FieldSpec(**{**f, "categories": tuple(f["categories"])}) for f in raw.pop("fields")
        )
        # Schemas stored before ``tables`` existed were all Home Credit's, with every table.
        default = HISTORY_TABLES if raw.get("name") == "home-credit" else ()
        return cls(fields=specs, **{**raw, "tables": tuple(raw.get("tables", default))})

    def id_type(self) -> Any:
        if not self.id_integer:
            return Annotated[str, Field(min_length=1, max_length=200)]
        return FieldSpec(self.id_column, "numeric", True, 0, MAX_JSON_INTEGER).python_type()

    def request_model(self, model_name: str = "Application") -> type[BaseModel]:
        """A pydantic model of one applicant: unknown fields, NaN and inf rejected, fields
        optional (missing = unknown) unless ``required``, numbers range-checked, categories
        restricted."""
        definitions: dict[str, Any] = {
            self.id_column: (
                self.id_type() | None,
                Field(default=None, description=ID_DESCRIPTION),
            )
        }
        for spec in self.fields:
            definitions[spec.name] = (
                spec.python_type() if spec.required else spec.python_type() | None,
                Field(description=spec.description or None)
                if spec.required
                else Field(default=None, description=spec.description or None),
            )
        for table in self.tables:
            definitions[table] = (
                Annotated[list[history_row_model(table)], Field(max_length=MAX_HISTORY_ROWS)]
                | None,
                Field(default=None, description=_HISTORY_DESCRIPTIONS[table]),
            )
        validators = {"bureau_links": model_validator(mode="after")(_check_bureau_links)}
        return create_model(
            model_name,
            __config__=_STRICT_JSON,
            __validators__=validators if BUREAU_BALANCE in self.tables else None,
            **definitions,
        )


_STRICT_JSON = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False)
MAX_HISTORY_ROWS = 1000  # per table and applicant (the longest real histories are ~100s)
_HISTORY_DESCRIPTIONS = {
    BUREAU: "Credits at other institutions reported to the Credit Bureau (bureau.csv rows)",
    BUREAU_BALANCE: "Monthly status of those credits, linked by SK_ID_BUREAU",
    PREVIOUS: "Previous applications at Home Credit (previous_application.csv rows)",
    POS_CASH: "Monthly balances of previous POS and cash loans",
    CREDIT_CARD: "Monthly balances of previous credit cards",
    INSTALMENTS: "Instalments of previous credits: due and paid",
}


@cache
def history_row_model(table: str) -> type[BaseModel]:
    """One row of a history table, typed from its table spec; the applicant's id is
    implied (the row belongs to the application it is sent with)."""
    spec = history_tables()[table]
    definitions: dict[str, Any] = {}
    for column in spec.columns:
        if column == ID_COLUMN:
            continue
        if column in spec.categories:
            kind: Any = Literal[spec.categories[column]]  # type: ignore[valid-type]
        elif column in (BUREAU_ID, PREV_ID):
            kind = FieldSpec(column, "numeric", True, 0, MAX_JSON_INTEGER).python_type()
        else:
            kind = Annotated[
                int if column in spec.integers else float, BeforeValidator(_json_number)
            ]
        required = table == BUREAU_BALANCE and column == BUREAU_ID  # its only link
        definitions[column] = (kind, ...) if required else (kind | None, None)
    name = "".join(part.capitalize() for part in table.split("_")) + "Row"
    return create_model(name, __config__=_STRICT_JSON, **definitions)


def _check_bureau_links(application: BaseModel) -> BaseModel:
    """A bureau_balance row must belong to one of the applicant's bureau credits: otherwise it
    would silently count for nothing."""
    months = getattr(application, BUREAU_BALANCE, None) or []
    ids = [getattr(c, BUREAU_ID) for c in getattr(application, BUREAU, None) or []]
    credits = {i for i in ids if i is not None}
    if len(credits) < len([i for i in ids if i is not None]):
        raise ValueError(f"{BUREAU} rows share an {BUREAU_ID}: each credit needs its own")
    orphans = sorted({getattr(m, BUREAU_ID) for m in months} - credits)
    if orphans:
        raise ValueError(
            f"{BUREAU_BALANCE} rows refer to {BUREAU_ID} {orphans[:5]}, which no {BUREAU} "
            "row of this application has"
        )
    return application


def _bounds(facts: ColumnFacts) -> tuple[float | None, float | None]:
    """Validation bounds: the physical domain, not just what 307,511 clients happened to show.

    Days are offsets before the application (<= 0; at most 100 years back); shares, scores and
    flags observed within [0, 1] stay there; ratings and hours keep their scale; amounts and
    counts are open above.
    """
    low, high = facts.stats["min"], facts.stats["max"]
    if facts.name.startswith("DAYS_"):
        upper = DAYS_EMPLOYED_PENSIONER if facts.name == "DAYS_EMPLOYED" else 0
        return _HUNDRED_YEARS_IN_DAYS, upper
    lower = 0.0 if low >= 0 else low
    if high <= 1:
        return lower, 1.0
    if facts.name == "HOUR_APPR_PROCESS_START":
        return 0, 23
    if facts.name.startswith("REGION_RATING"):
        return 1, 3
    return lower, None


def _spec(facts: ColumnFacts) -> FieldSpec:
    if facts.is_categorical:
        return FieldSpec(
            facts.name,
            "categorical",
            categories=tuple(sorted(facts.categories)),
            description=facts.description,
        )
    low, high = _bounds(facts)
    integer = facts.dtype == "int64"
    return FieldSpec(
        facts.name,
        "numeric",
        integer=integer,
        minimum=low,
        maximum=high,
        description=facts.description,
    )


def home_credit_schema() -> InputSchema:
    """The 120 raw fields of a Home Credit application (all columns but id and target)."""
    columns = [c for c in application_columns() if c.name not in (ID_COLUMN, TARGET_COLUMN)]
    return InputSchema(fields=tuple(_spec(c) for c in columns), tables=HISTORY_TABLES)
