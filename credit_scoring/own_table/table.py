"""A credit team's own table: one CSV or Parquet file, its binary target and its id column.

The input schema is inferred from the data, then optionally corrected by a small override file
(YAML or JSON); the result is an ``InputSchema`` of the ``own-table`` profile (its features are
its columns, nothing added), stored with the model, from which the service builds its API.
Inference rules (each can be overridden per column):

- numbers (integer or float dtype) are numeric; ``integer`` only for an integer dtype (a CSV
  column with missing values reads as float, and whole-number amounts must still accept cents).
  Bounds are the physical domain, not the observed range, so a request slightly outside the
  training range is still scored (trees extrapolate flat anyway): minimum 0 when no negative
  value was seen, else open; maximum 1 for a column seen within [0, 1] (a share, a score, a
  flag), else open.
- text and booleans are categorical, with the sorted observed values as categories; more than
  ``max_categories`` distinct values (free text, a second id) is an error: exclude the column
  or list its categories in the override file.
- ``required`` (the request must carry the field) when the column is never missing.
- a column with no value at all is an error: exclude it in the override file.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel

from credit_scoring.core.dataset import DataError, Dataset
from credit_scoring.core.json_fields import MAX_JSON_INTEGER
from credit_scoring.core.schema import FieldSpec, InputSchema, Unseen
from credit_scoring.own_table import NAME as PROFILE_NAME

MAX_CATEGORIES = 50
MIN_CLASS_ROWS = 20  # fewer defaulters (or payers) than this cannot be cross-validated and tested
RESPONSE_FIELDS = {"probability", "decision", "threshold", "reasons", "base_value"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OVERRIDE_KEYS = {
    "kind",
    "integer",
    "minimum",
    "maximum",
    "categories",
    "description",
    "required",
    "derived_from",
    "reason",  # the statement a refusal cites (default: the description, else the name)
    "order",
    "monotone",
}
_TOP_KEYS = {"exclude", "columns", "name", "protected", "unseen", "date_column"}
_UNSEEN = ("missing", "reject")


def _examples(values: Any, n: int = 5) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)[:n]]


def _label(value: Any) -> str:
    """A category label as a JSON client sends it: 2.0 -> "2", True -> "True"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file (by its extension), with errors naming the file."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if suffixes.endswith((".parquet", ".pq")):
        try:
            table = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a corrupt file
            raise DataError(f"{path}: cannot be parsed as Parquet ({error})") from error
    elif suffixes.endswith((".csv", ".csv.gz")):
        try:
            table = pd.read_csv(path, low_memory=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise DataError(f"{path}: cannot be parsed as CSV ({error})") from error
    else:
        raise DataError(f"{path}: unknown file type: give a .csv or .parquet file")
    if table.empty:
        raise DataError(f"{path}: no rows")
    return table


def binary_target(values: pd.Series, column: str, positive_label: str | None) -> pd.Series:
    """0/1 target (1 = default). Values other than 0/1 need ``positive_label``: guessing which
    of "good"/"bad" or "yes"/"no" means default is how a model ends up scoring the wrong way."""
    if values.isna().any():
        raise DataError(f"target column {column!r} has {int(values.isna().sum())} missing values")
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(int)  # True/False read as 1/0, like a 0/1 column
    labels = values.map(_label)
    classes = sorted(labels.unique())
    if len(classes) != 2:
        raise DataError(
            f"target column {column!r} must have exactly two classes, found {len(classes)}: "
            f"{classes[:10]}"
        )
    if positive_label is None:
        if classes != ["0", "1"]:
            raise DataError(
                f"target column {column!r} holds {classes}, not 0/1: say which value means "
                f"default with --positive-label, e.g. --positive-label {classes[0]}"
            )
        positive_label = "1"
    if positive_label not in classes:
        raise DataError(
            f"--positive-label {positive_label!r} is not a value of target column {column!r}: "
            f"found {classes}"
        )
    target = (labels == positive_label).astype(int)
    counts = target.value_counts()
    if counts.min() < MIN_CLASS_ROWS or len(counts) < 2:
        raise DataError(
            f"target column {column!r}: {int(counts.get(1, 0))} defaulters and "
            f"{int(counts.get(0, 0))} others; at least {MIN_CLASS_ROWS} of each are needed"
        )
    return target


def client_ids(values: pd.Series, column: str) -> tuple[pd.Series, bool]:
    """The ids, unique and present; integers when they fit a JSON number, strings otherwise."""
    if values.isna().any():
        raise DataError(f"id column {column!r} has {int(values.isna().sum())} missing values")
    duplicated = values[values.duplicated()].unique()
    if len(duplicated):
        raise DataError(
            f"id column {column!r} has {len(duplicated)} duplicated values, "
            f"e.g. {_examples(duplicated)}"
        )
    integer = pd.api.types.is_integer_dtype(values)
    if integer and values.min() >= 0 and values.max() <= MAX_JSON_INTEGER:
        return values.astype("int64"), True
    return values.map(_label), False


def _check_names(columns: list[str]) -> None:
    """API field names: identifiers a JSON client, pydantic and LightGBM all take as they are."""
    bad = [c for c in columns if not isinstance(c, str) or not _NAME.match(c)]
    if bad:
        raise DataError(
            f"column names must be letters, digits and '_' (starting with a letter) to become "
            f"API fields; rename {bad[:10]}"
        )
    reserved = [
        c
        for c in columns
        if c in RESPONSE_FIELDS
        or hasattr(BaseModel, c)
        or c.startswith("model_")
        or keyword.iskeyword(c)
    ]
    if reserved:
        raise DataError(f"column names reserved by the API or pydantic: {reserved}; rename them")


@dataclass(frozen=True)
class Override:
    """The override file: columns to leave out, protected attributes (audited, not model
    inputs), and per-column settings that win over inference (kind, integer, minimum, maximum,
    categories, description, required, derived_from: the protected columns it is computed
    from, reason: the statement a refusal cites)."""

    exclude: tuple[str, ...] = ()
    columns: dict[str, dict[str, Any]] | None = None
    name: str | None = None
    protected: tuple[str, ...] = ()
    unseen: Unseen = "missing"  # an unseen category in a request: scored as missing, or 400
    date_column: str = ""  # the application date: out-of-time validation, never an input

    @classmethod
    def read(cls, path: Path | None) -> Override:
        if path is None:
            return cls()
        try:
            raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}  # JSON is YAML too
        except (OSError, yaml.YAMLError) as error:
            raise DataError(f"schema override {path}: cannot be read ({error})") from error
        if not isinstance(raw, dict) or set(raw) - _TOP_KEYS:
            found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise DataError(
                f"schema override {path}: expected a mapping with keys exclude, columns, name, "
                f"protected, unseen, date_column; found {found}"
            )
        unseen = raw.get("unseen", "missing")
        if unseen not in _UNSEEN:
            raise DataError(
                f"schema override {path}: unseen must be missing or reject, not {unseen!r}"
            )
        columns = raw.get("columns") or {}
        if not isinstance(columns, dict):
            raise DataError(f"schema override {path}: columns must map names to settings")
        for column, settings in columns.items():
            if not isinstance(settings, dict | None):
                raise DataError(
                    f"schema override {path}: column {column!r} needs a mapping of settings, "
                    f"e.g. {{minimum: 0}}, not {settings!r}"
                )
            unknown = set(settings or {}) - _OVERRIDE_KEYS
            if unknown:
                raise DataError(
                    f"schema override {path}: column {column!r} has unknown keys "
                    f"{sorted(unknown)}; allowed: {sorted(_OVERRIDE_KEYS)}"
                )
            texts = {k: v for k, v in (settings or {}).items() if k in ("description", "reason")}
            for key, text in texts.items():
                if not isinstance(text, str):
                    raise DataError(
                        f"schema override {path}: column {column!r}: {key} must be text, "
                        f"not {text!r}"
                    )
            kind = (settings or {}).get("kind")
            if kind not in (None, "numeric", "categorical"):
                raise DataError(
                    f"schema override {path}: column {column!r}: kind must be numeric or "
                    f"categorical, not {kind!r}"
                )
            monotone = (settings or {}).get("monotone")
            if monotone not in (None, "increasing", "decreasing"):
                raise DataError(
                    f"schema override {path}: column {column!r}: monotone must be increasing "
                    f"or decreasing (the direction of the risk of default), not {monotone!r}"
                )
            if "order" in (settings or {}):
                declared = _order(settings["order"], column, path)  # type: ignore[index]
                columns[column] = {**(settings or {}), "order": declared}
        protected = _names_list(raw.get("protected"), f"schema override {path}: protected")
        for column, settings in columns.items():
            derived = _names_list(
                (settings or {}).get("derived_from"),
                f"schema override {path}: column {column!r}: derived_from",
            )
            if set(derived) - set(protected):
                raise DataError(
                    f"schema override {path}: column {column!r} is derived_from "
                    f"{sorted(set(derived) - set(protected))}, which are not listed under "
                    f"protected {list(protected)}"
                )
        date_column = raw.get("date_column") or ""
        if not isinstance(date_column, str):
            raise DataError(f"schema override {path}: date_column must be a column name")
        return cls(
            tuple(raw.get("exclude") or ()),
            columns,
            raw.get("name"),
            protected,
            unseen,
            date_column,
        )


def _names_list(value: Any, where: str) -> tuple[str, ...]:
    """A list of column names in the override file (absent = none)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where} must be a list of column names, e.g. [afam, single]")
    return tuple(value)


def _order(declared: Any, column: str, path: Path) -> tuple[str, ...]:
    """An ordinal column's categories, lowest first: a list as given, or a map of each
    category to a number, ordered by that number (the numbers only rank: codes are 0..k-1)."""
    if isinstance(declared, dict):
        ranks = list(declared.values())
        if not all(isinstance(r, int | float) and not isinstance(r, bool) for r in ranks):
            raise DataError(
                f"schema override {path}: column {column!r}: an order map gives each category "
                f"a number, e.g. {{A1: 1, A2: 2}}, not {declared!r}"
            )
        if len(set(ranks)) != len(ranks):
            raise DataError(
                f"schema override {path}: column {column!r}: two categories share a number "
                f"in its order map {declared!r}"
            )
        declared = sorted(declared, key=declared.__getitem__)
    if not isinstance(declared, list) or len(declared) < 2:
        raise DataError(
            f"schema override {path}: column {column!r}: order is a list of its categories "
            f"lowest first, e.g. [A1, A2, B1], or a map of category to number; not {declared!r}"
        )
    labels = tuple(map(_label, declared))
    if len(set(labels)) != len(labels):
        raise DataError(f"schema override {path}: column {column!r}: order repeats a category")
    return labels


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _numbers(values: pd.Series) -> pd.Series:
    """A column declared numeric: it must parse entirely (no silent NaN for a typo)."""
    if _is_number(values):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    lost = values[numbers.isna() & values.notna()]
    if len(lost):
        raise DataError(
            f"column {values.name!r} is declared numeric but holds text, e.g. {_examples(lost)}"
        )
    return numbers


def _infer(
    values: pd.Series, settings: dict[str, Any], max_categories: int
) -> tuple[FieldSpec, pd.Series]:
    """A column's field spec, and the column as requests will send it (labels as strings)."""
    name = str(values.name)
    order = settings.get("order", ())
    kind = settings.get("kind") or (
        "numeric" if _is_number(values) and not order else "categorical"
    )
    required = bool(values.notna().all())
    if order and kind != "categorical":
        raise DataError(f"column {name!r} has an order, so it cannot be numeric: drop its kind")
    if kind == "categorical" and settings.get("monotone"):
        raise DataError(
            f"column {name!r} is categorical: monotone applies to numeric columns only "
            "(the risk rising or falling with the number)"
        )
    if kind == "categorical":
        listed = settings.get("categories") or order
        categories = tuple(map(str, listed or sorted(values.dropna().map(_label).unique())))
        outside = sorted(set(values.dropna().map(_label)) - set(categories))
        if order and outside:
            raise DataError(
                f"column {name!r} holds values outside its declared order: "
                f"{_examples(outside)}; add them to the order"
            )
        if not listed and len(categories) > max_categories:
            raise DataError(
                f"column {name!r} has {len(categories)} distinct values (more than "
                f"--max-categories {max_categories}): free text or an id cannot be a "
                f"category; exclude it or list its categories in --schema-override, "
                f"e.g. {_examples(categories)}"
            )
        spec = FieldSpec(name, "categorical", categories=categories, required=required)
        values = values.map(_label, na_action="ignore").astype(object)
    else:
        values = _numbers(values)
        low, high = float(values.min()), float(values.max())
        spec = FieldSpec(
            name,
            "numeric",
            integer=pd.api.types.is_integer_dtype(values),
            minimum=0.0 if low >= 0 else None,
            maximum=1.0 if low >= 0 and high <= 1 else None,
            required=required,
        )
    settings = {k: v for k, v in settings.items() if k not in ("kind", "categories")}
    if "derived_from" in settings:
        settings["derived_from"] = tuple(settings["derived_from"])
    try:
        return replace(spec, **settings), values
    except ValueError as error:  # an order that does not list the categories given
        raise DataError(str(error)) from error


def infer_schema(
    table: pd.DataFrame,
    id_column: str,
    target_column: str,
    name: str,
    override: Override | None = None,
    max_categories: int = MAX_CATEGORIES,
    id_integer: bool = True,
) -> tuple[InputSchema, pd.DataFrame]:
    """The schema of every column but id, target and date, and the table typed as it says
    (the date column, when declared, parsed as dates)."""
    override = override or Override()
    date_column = override.date_column
    columns = [c for c in table.columns if c not in (id_column, target_column)]
    declared = [*override.exclude, *(override.columns or {}), *override.protected]
    for listed in declared + ([date_column] if date_column else []):
        if listed not in columns:
            raise DataError(
                f"schema override names column {listed!r}, which the file does not have "
                f"(columns: {columns[:20]})"
            )
    columns = [c for c in columns if c not in (*override.exclude, date_column)]
    dropped = sorted(set(override.protected) - set(columns))
    if dropped:
        raise DataError(
            f"schema override: protected columns {dropped} are also excluded: an excluded "
            "column cannot be audited; keep it (protected columns are never model inputs)"
        )
    if not columns:
        raise DataError("no input column left besides the id and the target")
    _check_names([id_column, *columns])
    empty = [c for c in columns if table[c].isna().all()]
    if empty:
        raise DataError(
            f"columns entirely empty: {empty}; list them under exclude in --schema-override"
        )
    specs, typed = [], {}
    if date_column:
        typed[date_column] = application_dates(table[date_column])
    for column in columns:
        settings = (override.columns or {}).get(column) or {}
        spec, typed[column] = _infer(table[column], settings, max_categories)
        specs.append(replace(spec, protected=column in override.protected))
    return InputSchema(
        fields=tuple(specs),
        id_column=id_column,
        target_column=target_column,
        name=override.name or name,
        profile=PROFILE_NAME,
        tables=(),
        id_integer=id_integer,
        unseen=override.unseen,
        date_column=date_column,
    ), pd.DataFrame(typed, index=table.index)


def application_dates(values: pd.Series) -> pd.Series:
    """The declared date column as dates: every row must have one that parses (a row without
    its date cannot be placed in or out of the hold-out period)."""
    dates = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = values[dates.isna()]
    if len(bad):
        raise DataError(
            f"date column {values.name!r}: {len(bad)} rows without a readable date, "
            f"e.g. {_examples(bad.astype(str))}"
        )
    return dates


def load_own(
    path: Path,
    target: str,
    id_column: str,
    positive_label: str | None = None,
    override_path: Path | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> Dataset:
    """A user's file as a training ``Dataset``: one table, no history, no known true risk."""
    schema, table = load_table(
        path, target, id_column, positive_label, override_path, max_categories
    )
    label = f", positive label {positive_label!r}" if positive_label is not None else ""
    return Dataset(
        table,
        source=f"file: {Path(path).resolve()} (target {target!r}{label}, id {id_column!r})",
        schema=schema,
        table_name=schema.name,
    )


def load_table(
    path: Path,
    target: str,
    id_column: str,
    positive_label: str | None = None,
    override_path: Path | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> tuple[InputSchema, pd.DataFrame]:
    """Read, check and type a user's file: (schema, table with id, 0/1 target and inputs)."""
    path = Path(path)
    table = read_table(path)
    missing = [c for c in (id_column, target) if c not in table]
    if missing:
        raise DataError(
            f"{path}: no column {', '.join(map(repr, missing))}; columns: {list(table)[:30]}"
        )
    if id_column == target:
        raise DataError(f"{path}: the id column and the target are both {id_column!r}")
    try:
        ids, integer_ids = client_ids(table[id_column], id_column)
        y = binary_target(table[target], target, positive_label)
        schema, inputs = infer_schema(
            table,
            id_column,
            target,
            path.name.split(".")[0],
            Override.read(override_path),
            max_categories,
            integer_ids,
        )
    except DataError as error:
        raise DataError(f"{path}: {error}") from error
    typed = pd.concat([ids.rename(id_column), y.rename(target), inputs], axis=1)
    return schema, typed.reset_index(drop=True)
