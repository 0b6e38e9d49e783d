"""The input schema: every raw field an applicant has, with its type, range and categories.

A dataset profile builds it (Home Credit from its published column facts, a user's table by
inference), it is stored with every model as JSON, and read back by the service to build its
request model, by the UI to build its form and by the tests to build valid and invalid
applicants.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema, create_model, model_validator

from credit_scoring.core.json_fields import MAX_JSON_INTEGER, json_id_type, number_type
from credit_scoring.core.profile import get_profile
from credit_scoring.core.tables import STRICT_JSON, check_links, row_model

__all__ = ["MAX_JSON_INTEGER", "FieldSpec", "InputSchema", "ModelBundleError"]
ID_DESCRIPTION = "Applicant id (echoed back, not scored)"  # marks the id in the OpenAPI spec
MAX_HISTORY_ROWS = 1000  # per table and applicant (the longest real histories are ~100s)
UNSEEN_DESCRIPTION = "a category not seen in training: scored as missing, with a warning"
Unseen = Literal["missing", "reject"]


@cache
def _known(categories: tuple[str, ...]) -> frozenset[str]:
    return frozenset(categories)


class ModelBundleError(RuntimeError):
    """The model folder is missing, incomplete or stored by an incompatible version."""


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
    # A protected attribute (gender, age, race...): kept for the fairness audit and accepted in
    # requests, never a model input unless training includes it explicitly.
    protected: bool = False
    # The protected fields this one is computed from (an age band from a birth date): it follows
    # their rule, so the model cannot read the attribute back through it.
    derived_from: tuple[str, ...] = ()
    # The plain statement a refusal cites for this field ("Low income"); fields and features
    # sharing a statement are one reason (core.reasons). Empty: the profile's or a default.
    reason: str = ""
    # An ordinal categorical's categories, lowest first (grades A1 < A2 < ...): coded 0..k-1
    # in this order and fed to the models as one ordered number, not as unordered levels.
    order: tuple[str, ...] = ()
    # Declared knowledge: the risk of default only rises (or only falls) with this number. The
    # search applies it (LightGBM monotone constraints, the scorecard's monotonic trend).
    monotone: Literal["increasing", "decreasing"] | None = None

    def __post_init__(self) -> None:
        """An order lists the categories themselves: it becomes the category list (so codes
        are positions in the order), and a label missing from either side is a mistake."""
        if not self.order:
            return
        if self.kind != "categorical":
            raise ValueError(f"field {self.name!r}: an order is for a categorical field")
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"field {self.name!r}: order lists a category twice: {self.order}")
        if self.categories and set(self.categories) != set(self.order):
            raise ValueError(
                f"field {self.name!r}: order {list(self.order)} must list exactly its "
                f"categories {list(self.categories)}"
            )
        object.__setattr__(self, "categories", tuple(self.order))

    @property
    def ordinal(self) -> bool:
        return bool(self.order)

    def python_type(self, unseen: Unseen = "reject", optional: bool = False) -> Any:
        """The value's type with its constraints inside, so the JSON schema (OpenAPI) shows
        them as minimum/maximum/enum, next to ``null`` for a missing value (``optional``).
        With ``unseen`` "missing" a category outside the list is valid text too (scored as
        missing, with a warning): the spec lists the known categories first, then says so."""
        if self.kind == "categorical" and unseen == "missing":
            published = [
                {"type": "string", "enum": list(self.categories)},
                {"type": "string", "description": UNSEEN_DESCRIPTION},
            ]
            if optional:
                published.append({"type": "null"})
            typed: Any = str | None if optional else str
            return Annotated[typed, WithJsonSchema({"anyOf": published})]
        known: Any = (
            Literal[self.categories]
            if self.kind == "categorical"
            else number_type(self.integer, self.minimum, self.maximum)
        )
        return known | None if optional else known


@dataclass(frozen=True)
class InputSchema:
    fields: tuple[FieldSpec, ...]
    id_column: str
    # Empty in a schema read back from the API (the UI's), which publishes neither.
    target_column: str = ""
    name: str = ""  # the dataset's name: the profile's, or a user's table's
    profile: str = ""  # the dataset profile (core.profile) whose tables and features it uses
    # History tables (the profile's names) the features aggregate per client; none for a
    # single-table dataset.
    tables: tuple[str, ...] = ()
    id_integer: bool = True  # False: ids are strings (e.g. "L-000123")
    # A category a request sends that training never saw: scored as missing with a warning
    # naming the field ("missing", so that applicant can still be scored), or refused with
    # a 400 naming it ("reject", the strict mode).
    unseen: Unseen = "missing"
    # The application date, when the table has one: never a model input; training then
    # validates out of time (the latest applications are the hold-out, CV never trains on
    # the future). Empty: no date, random stratified validation.
    date_column: str = ""

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def categorical(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind == "categorical"]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    @property
    def protected(self) -> list[str]:
        """The protected attributes, in schema order."""
        return [f.name for f in self.fields if f.protected]

    def protected_inputs(self) -> list[str]:
        """Raw fields that carry a protected attribute: the attributes themselves and the
        fields declared as derived from one of them."""
        attributes = set(self.protected)
        return [f.name for f in self.fields if f.protected or attributes & set(f.derived_from)]

    def unseen_warnings(self, application: Mapping[str, Any]) -> list[str]:
        """One warning per categorical field whose value is outside its categories: what the
        answer says when such a value is scored as missing."""
        return [
            f"{spec.name}: category {application[spec.name]!r} was not seen in training; "
            "scored as missing"
            for spec in self.categorical
            if application.get(spec.name) is not None
            and application[spec.name] not in _known(spec.categories)
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> InputSchema:
        raw = json.loads(text)
        if not raw.get("profile"):
            # Guessing the profile from the name would serve a user's table named like a
            # profile with that profile's features: refuse instead.
            raise ModelBundleError(
                "the stored input schema names no dataset profile (saved by an older "
                "version): retrain and promote the model"
            )
        specs = tuple(
            FieldSpec(
                **{
                    **f,
                    "categories": tuple(f["categories"]),
                    "derived_from": tuple(f.get("derived_from", ())),
                    "order": tuple(f.get("order", ())),
                }
            )
            for f in raw.pop("fields")
        )
        return cls(fields=specs, **{**raw, "tables": tuple(raw.get("tables", ()))})

    def id_type(self) -> Any:
        if not self.id_integer:
            return Annotated[str, Field(min_length=1, max_length=200)]
        return json_id_type()

    def request_model(self, model_name: str = "Application") -> type[BaseModel]:
        """A pydantic model of one applicant: unknown fields, NaN and inf rejected, fields
        optional (missing = unknown) unless ``required``, numbers range-checked, categories
        restricted; history rows typed by their table and checked against their links."""
        definitions: dict[str, Any] = {
            self.id_column: (
                self.id_type() | None,
                Field(default=None, description=ID_DESCRIPTION),
            )
        }
        for spec in self.fields:
            definitions[spec.name] = (
                spec.python_type(self.unseen, optional=not spec.required),
                Field(description=spec.description or None)
                if spec.required
                else Field(default=None, description=spec.description or None),
            )
        tables = get_profile(self.profile).history_tables(self.tables) if self.tables else {}
        for name, table in tables.items():
            definitions[name] = (
                # A model made at run time, which a static checker cannot see as a type.
                Annotated[list[row_model(table)], Field(max_length=MAX_HISTORY_ROWS)]  # type: ignore[misc]
                | None,
                Field(default=None, description=table.description),
            )

        def links(application: BaseModel) -> BaseModel:
            check_links(application, tables)
            return application

        linked = any(t.link.parent is not None for t in tables.values())
        return create_model(
            model_name,
            __config__=STRICT_JSON,
            # pydantic's decorator returns a descriptor its stubs do not list as a validator.
            __validators__={"links": model_validator(mode="after")(links)}  # type: ignore[dict-item]
            if linked
            else None,
            **definitions,
        )
