"""Value types as a JSON client sends them, shared by the application fields and the rows of
history tables: numbers that are really numbers, and ids every JSON client holds exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, Strict
from pydantic_core import core_schema as cs

MAX_JSON_INTEGER = 2**53 - 1  # the largest integer every JSON client (JavaScript too) holds exactly


def _whole(value: float) -> int:
    if not value.is_integer():
        raise ValueError("a number with a fractional part")  # the union reports int_type
    return int(value)


@dataclass(frozen=True)
class JsonInteger:
    """An integer as JSON clients send it, checked in pydantic's core with no Python call
    per value: an integer, or a number without fraction (2.0 -> 2: JSON encoders of float
    columns write that). Booleans and strings are refused (lax mode would read true as 1 and
    "12" as 12: in JSON those are client bugs). Its range shows in the OpenAPI spec."""

    minimum: float | None = None
    maximum: float | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        number = cs.union_schema(
            [
                cs.int_schema(strict=True),
                cs.no_info_after_validator_function(_whole, cs.float_schema(strict=True)),
            ],
            custom_error_type="int_type",  # one error, pydantic's own: "a valid integer"
        )
        return cs.chain_schema([number, self._bounded()])

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        return handler(self._bounded())

    def _bounded(self) -> cs.IntSchema:
        """The range on integers: the same integers as the (maybe fractional) bounds admit."""
        low = None if self.minimum is None else math.ceil(self.minimum)
        high = None if self.maximum is None else math.floor(self.maximum)
        return cs.int_schema(ge=low, le=high)


def number_type(integer: bool, minimum: float | None = None, maximum: float | None = None) -> Any:
    """A JSON number with its range inside the type, so the OpenAPI spec shows it. Both kinds
    are checked in pydantic's core (a Python validator per field had cost half of validating
    a client's history rows)."""
    if integer:
        return Annotated[int, JsonInteger(minimum, maximum)]
    return Annotated[float, Field(ge=minimum, le=maximum), Strict()]


def json_id_type() -> Any:
    """An integer id: non-negative and exact in every JSON client."""
    return number_type(True, 0, MAX_JSON_INTEGER)
