"""The rows a portfolio run cannot score, found in Spark before anything is scored: a value of
the wrong type, a missing or repeated id, a value the service would refuse (out of range, an
unseen category under the reject policy), a history row whose applicant (or parent row) is not
in the input. Each such row is kept with its reasons for the rejects file, never dropped.

Every checked frame gets two columns: ``CLIENT`` (the applicant's id, typed as the application
table's) and ``REASON`` (the row's problems joined by "; ", null when it is fine). Reasons
name the column and the problem, never a value: they are printed on the console.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from credit_scoring.core.schema import FieldSpec, InputSchema
from credit_scoring.core.tables import HistoryTable

CLIENT, REASON = "__client", "__reason"


def _reasons(problems: list[Column]) -> Column:
    """The problems that apply, joined (``concat_ws`` skips the ``when``s that are null); null
    when none applies. Joined only then: text built and sent to Python for every one of
    tens of millions of valid rows was a fifth of the JVM's time at full scale."""
    if not problems:
        return F.lit(None).cast("string")
    return F.when(F.coalesce(*problems).isNotNull(), F.concat_ws("; ", *problems))


def _typed(frame: DataFrame, column: str, kind: str) -> tuple[Column, Column]:
    """(the column cast to ``kind``, its wrong-type problem); a column absent from the file
    counts as missing, as a field absent from a request does."""
    if column not in frame.columns:
        return F.lit(None).cast(kind), F.lit(None)
    source = F.col(f"`{column}`")
    if kind == "string":
        return source.cast("string"), F.lit(None)
    if _always_fits(frame.schema[column].dataType, kind):
        return source.cast(kind), F.lit(None)  # no check per row for a cast that cannot fail
    cast = source.try_cast(kind)
    expected = "an integer" if kind == "long" else "a number"
    problem = F.when(source.isNotNull() & cast.isNull(), F.lit(f"{column}: not {expected}"))
    return cast, problem


def _always_fits(source: T.DataType, kind: str) -> bool:
    """A number typed as one in the file (Parquet's columns) always casts to a double, and an
    integer to a long: only text (a CSV column with one bad value) can hold a wrong type."""
    integral = isinstance(source, T.IntegralType)
    return integral or (kind == "double" and isinstance(source, T.NumericType))


def _repeated(frame: DataFrame, key: str) -> DataFrame:
    """The frame with a flag column ``__repeated``: its ``key`` occurs on more than one row."""
    counts = frame.groupBy(key).count().where("count > 1").select(key, F.lit(True).alias("r"))
    joined = frame.join(counts, on=key, how="left")
    return joined.withColumn("__repeated", F.coalesce(F.col("r"), F.lit(False))).drop("r")


def applications(frame: DataFrame, schema: InputSchema) -> DataFrame:
    """The application table's schema fields typed, with ``CLIENT`` and ``REASON``."""
    id_kind = "long" if schema.id_integer else "string"
    client, id_problem = _typed(frame, schema.id_column, id_kind)
    columns, problems = [client.alias(CLIENT), client.alias(schema.id_column)], [id_problem]
    problems.append(F.when(client.isNull(), F.lit(f"{schema.id_column}: missing")))
    for spec in schema.fields:
        kind = "string" if spec.kind == "categorical" else "double"
        value, problem = _typed(frame, spec.name, kind)
        columns.append(value.alias(spec.name))
        problems += [problem, *_field_problems(value, spec, schema)]
    typed = _repeated(frame.select(*columns, _reasons(problems).alias(REASON)), CLIENT)
    repeated = F.when(F.col("__repeated"), F.lit(f"{schema.id_column}: appears more than once"))
    return _with_reason(typed, [F.col(REASON), repeated]).drop("__repeated")


def _with_reason(frame: DataFrame, problems: list[Column]) -> DataFrame:
    return frame.withColumn(REASON, _reasons(problems))


def _field_problems(value: Column, spec: FieldSpec, schema: InputSchema) -> list[Column]:
    """What the service's request model refuses in a present value of this field."""
    problems = [F.when(value.isNull(), F.lit(f"{spec.name}: missing"))] if spec.required else []
    if spec.kind == "categorical":
        if schema.unseen == "reject":
            unseen = value.isNotNull() & ~value.isin(list(spec.categories))
            problems.append(F.when(unseen, F.lit(f"{spec.name}: category not seen in training")))
        return problems
    if spec.minimum is not None:
        below = F.lit(f"{spec.name}: below its minimum {spec.minimum:g}")
        problems.append(F.when(value < spec.minimum, below))
    if spec.maximum is not None:
        above = F.lit(f"{spec.name}: above its maximum {spec.maximum:g}")
        problems.append(F.when(value > spec.maximum, above))
    return problems


def history(
    frame: DataFrame,
    spec: HistoryTable,
    parents: Mapping[str, DataFrame],
    client_kind: str,
    child_key: str | None,
) -> DataFrame:
    """A history table's columns typed, with ``CLIENT`` (through its parent's rows for a
    table linked through one) and ``REASON``. ``parents``: the checked parent tables;
    ``child_key``: the column this table's children link through (each value once)."""
    columns, problems = [], []
    for column in spec.columns:
        kind = "long" if column in spec.row_ids or column in spec.integers else "double"
        kind = "string" if column in spec.categories else kind
        value, problem = _typed(frame, column, kind)
        columns.append(value.alias(column))
        problems.append(problem)
        if column in spec.categories:
            known = value.isNull() | value.isin(list(spec.categories[column]))
            problems.append(F.when(~known, F.lit(f"{column}: not one of its categories")))
    key = spec.link.key
    typed = frame.select(*columns, _reasons(problems).alias(REASON))
    missing_key = F.when(F.col(key).isNull(), F.lit(f"{key}: missing"))
    if spec.link.parent is None:
        typed = typed.withColumn(CLIENT, F.col(key).cast(client_kind))
    else:
        typed = _through_parent(typed, spec, parents[spec.link.parent])
    extra = [F.col(REASON), missing_key]
    if child_key is not None:
        typed = _repeated(typed, child_key)
        extra.append(F.when(F.col("__repeated"), F.lit(f"{child_key}: appears more than once")))
        return _with_reason(typed, extra).drop("__repeated")
    return _with_reason(typed, extra)


def _through_parent(frame: DataFrame, spec: HistoryTable, parent: DataFrame) -> DataFrame:
    """Each row's applicant: that of the (valid) parent row it refers to; a row whose parent
    row is absent or rejected gets none, and a reason."""
    key, name = spec.link.key, spec.link.parent
    owners = parent.where(F.col(REASON).isNull()).select(key, F.col(CLIENT).alias("__owner"))
    # Broadcast: two ids per parent row (tens of MB at Home Credit's scale) sent to every
    # task, instead of shuffling and sorting the (much longer) child table by its key.
    joined = frame.join(F.broadcast(owners), on=key, how="left")
    orphan = F.when(
        F.col(key).isNotNull() & F.col("__owner").isNull(), F.lit(f"{key}: no valid {name} row")
    )
    joined = _with_reason(joined, [F.col(REASON), orphan])
    return joined.withColumnRenamed("__owner", CLIENT)


def without_application(rows: DataFrame, applications: DataFrame, id_column: str) -> DataFrame:
    """History rows whose applicant has no row in the application table get a reason."""
    known = applications.select(F.col(CLIENT).alias("__known")).distinct()
    # Broadcast: one id per client, instead of shuffling the history table by client.
    joined = rows.join(F.broadcast(known), rows[CLIENT] == known["__known"], how="left")
    orphan = F.when(
        F.col(CLIENT).isNotNull() & F.col("__known").isNull(),
        F.lit(f"{id_column}: no application with this id"),
    )
    return _with_reason(joined, [F.col(REASON), orphan]).drop("__known")
