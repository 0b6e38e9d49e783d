"""Value types as a JSON client sends them, shared by the application fields and the rows of
history tables: numbers that are really numbers, and ids every JSON client holds exactly."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict

MAX_JSON_INTEGER = 2**53 - 1  # the largest integer every JSON client (JavaScript too) holds exactly


def json_number(value: Any) -> Any:
    """Refuse booleans and strings where a number is expected.

    Lax mode would read true as 1 and "12" as 12: in JSON those are client bugs. (Lax mode is
    kept for 2.0 -> 2 in integer fields, which JSON encoders of float columns produce.)
    """
    if isinstance(value, bool | str):
        raise ValueError(f"Input should be a JSON number, not {type(value).__name__}")
    return value


def number_type(integer: bool, minimum: float | None = None, maximum: float | None = None) -> Any:
    """A JSON number with its range inside the type, so the OpenAPI spec shows it. A float is
    checked strictly, in pydantic's core (a Python validator per field had cost ~1/3 of
    validating a client's history rows); an integer through ``json_number``, which keeps
    2.0 -> 2."""
    if integer:
        return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(json_number)]
    return Annotated[float, Field(ge=minimum, le=maximum), Strict()]


def json_id_type() -> Any:
    """An integer id: non-negative and exact in every JSON client."""
    return number_type(True, 0, MAX_JSON_INTEGER)
