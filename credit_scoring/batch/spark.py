"""Portfolio scoring on Spark: every client of a portfolio scored with the promoted bundle, by
the same feature function and scorer as the service (``batch.portfolio.score_clients``).

The plan: every table is checked and brought to the applicant's id (a table linked through a
parent, such as the monthly balances of a credit, joins its parent's rows); each client
is assigned to a bucket (hash of the id mod ``buckets``); each table's rows are packed per
bucket into Arrow blobs tagged with the table's name, the tables are unioned, and one
``applyInPandas`` call per bucket unpacks all its tables, sets the rejected rows aside
(``batch.buckets``) and scores its clients (``cogroup`` takes only two frames; a union of
blobs takes any number, whatever their columns). The inputs are read once: the checks' results
travel with the rows, and the bucket function's answers and rejects are cached for the two
writes. The model bundle is shipped to the executors once (``SparkContext.addFile``) and
loaded once per Python worker.

The output folder holds ``scores/`` (Parquet, one row per client scored) and ``rejects/``
(Parquet, one row per input row not scored, with its reasons); it is written beside the
destination and swapped in when complete, so a failed or interrupted rerun leaves the previous
output whole.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark import SparkFiles, StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from credit_scoring.batch import buckets as bucket_rows
from credit_scoring.batch import checks
from credit_scoring.batch.buckets import APPLICATION, REJECT_COLUMNS
from credit_scoring.batch.checks import CLIENT
from credit_scoring.batch.portfolio import ANSWER_COLUMNS
from credit_scoring.core.dataset import DataError
from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.scorer import SCHEMA_FILE, Scorer, verify_digests
from credit_scoring.core.tables import HistoryTable, linking_order, parent_keys

log = logging.getLogger("batch")
BUCKET = "__bucket"
SCORES_DIR, REJECTS_DIR = "scores", "rejects"
# Rows per Arrow batch handed to the packing function (Spark's default is 10,000): bigger
# batches make fewer, bigger blobs per bucket, so less per-blob work on both sides.
PACK_ROWS = 100_000
STUCK_WORKER_S = 600  # a bucket of ~10,000 clients takes ~3 s in its pandas call
ARROW_UNLIMITED = 2**31 - 1  # Spark's Int.MaxValue: the one value that turns the byte limit off


@dataclass(frozen=True)
class SparkOptions:
    master: str | None = None  # None: spark-submit's, else local[*]
    memory: str | None = "2g"  # driver (and, in local mode, executor) memory
    executor_memory: str | None = None
    partitions: int | None = None  # shuffle partitions; None: the bucket count
    buckets: int = 32
    app_name: str = "credit-scoring batch-score"


@dataclass(frozen=True)
class Bundle:
    folder: Path  # the model bundle (a BentoML store version folder or a copy of one)
    version: str  # "name:version", as the service reports it
    digest: str  # the bundle's SHA-256 (its digests manifest's), as the decision record keeps


@dataclass
class RunSummary:
    scored: int
    rejected: dict[str, int]  # table -> rows rejected
    reasons: dict[str, int]  # reason -> rows (the column and problem, never a value)
    output: str
    model_version: str
    seconds: float
    buckets: int


def session(options: SparkOptions) -> SparkSession:
    """A Spark session whose Python workers run this interpreter (else they start another
    one, which lacks pyarrow and this package), with the console progress bar on."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(options.app_name)
    if options.master:
        builder = builder.master(options.master)
    settings = {
        "spark.driver.memory": options.memory,
        "spark.executor.memory": options.executor_memory,
        "spark.sql.shuffle.partitions": str(options.partitions or options.buckets),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(PACK_ROWS),
        # No byte limit per Arrow batch: with one (64 MiB by default), Spark sizes the batch
        # being built after every row it adds, over all its columns: 14% of the JVM's time
        # on the history rows (Java Flight Recorder, 50k clients). A bucket's packed rows go
        # to pandas in one batch, which Arrow caps at 2 GiB: ~27M history rows, far more
        # than the ~10,000 clients per bucket the README's --buckets rule gives.
        "spark.sql.execution.arrow.maxBytesPerBatch": str(ARROW_UNLIMITED),
        # The JVM and its Python workers over a Unix socket, not loopback TCP: over TCP, 2 of
        # ~12 full-scale runs stalled for good in the packing stage, the worker blocked
        # writing 4 MB that never reached the JVM's socket (its receive queue empty, the
        # task waiting to read; `ss`, jstack, py-spy).
        "spark.python.unix.domain.socket.enabled": "true",
        # And should a worker still send nothing for this long, it is killed: the run fails
        # with that reason (the previous output kept whole) instead of waiting forever.
        "spark.python.worker.idleTimeoutSeconds": str(STUCK_WORKER_S),
        "spark.python.worker.killOnIdleTimeout": "true",
        # One task per bucket: adaptive execution would merge the small buckets into fewer
        # tasks than cores (3 tasks on 2 cores: the last runs alone).
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        "spark.ui.showConsoleProgress": "true",
        "spark.sql.session.timeZone": "UTC",
    }
    for key, value in settings.items():
        if value is not None:
            builder = builder.config(key, value)
    return builder.getOrCreate()


def _read(spark: SparkSession, path: Path) -> DataFrame:
    """A Parquet file or folder, or a CSV file with a header (types inferred: a column with
    one bad value stays text and that row is rejected, naming the column)."""
    if path.suffix == ".csv":
        return spark.read.csv(str(path), header=True, inferSchema=True, mode="PERMISSIVE")
    if path.suffix == ".parquet" or path.is_dir():
        return spark.read.parquet(str(path))
    raise DataError(f"{path}: give a .parquet or .csv table")


def history_files(folder: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """The history tables found in ``folder`` as ``<table>.parquet`` or ``<table>.csv``."""
    found = {}
    for name in names:
        for suffix in (".parquet", ".csv"):
            if (folder / f"{name}{suffix}").exists():
                found[name] = folder / f"{name}{suffix}"
                break
    return found


def input_files(applications: Path, histories: Path | None, bundle: Bundle) -> dict[str, Path]:
    """The application table and the model's history tables found (by the names its schema
    lists) in ``histories``, else beside the application table; a table not found has no
    rows, as a request without it, and is named in the log."""
    if not applications.exists():
        raise DataError(f"{applications}: no such application table")
    folder = histories or applications.parent
    if not folder.is_dir():
        raise DataError(f"--histories {folder}: not a folder")
    schema = InputSchema.from_json((bundle.folder / SCHEMA_FILE).read_text("utf-8"))
    found = history_files(folder, schema.tables)
    missing = [n for n in schema.tables if n not in found]
    if missing:
        log.warning("history tables not found in %s (scored as no rows): %s", folder, missing)
    return {APPLICATION: applications, **found}


@cache
def _scorer(name: str, digest: str) -> Scorer:
    """The shipped bundle, checked against the driver's digest and loaded once per worker."""
    folder = Path(SparkFiles.get(name))
    if verify_digests(folder) != digest:
        raise RuntimeError(f"the model bundle shipped to this executor is not {digest}")
    scorer = Scorer.load(folder)
    _ = scorer.reference_values  # the granted applicants' medians, once per worker
    return scorer


def partition_keys(spark: SparkSession, buckets: int, partitions: int) -> np.ndarray:
    """For each bucket, the grouping key that Spark's hash partitioning sends to partition
    ``bucket mod partitions``: every partition then holds ``buckets / partitions`` buckets.
    Grouped by the bucket number itself, 32 buckets went to 18 of 32 partitions (up to 3
    in one task, 14 tasks empty). Found with Spark's own hash, the partitioner's."""
    # ~64 candidates for every key needed, more partitions than buckets included; only the
    # partitions that get a bucket are brought to the driver.
    candidates = spark.range(64 * max(buckets, partitions)).select(
        F.col("id").cast("int").alias("key"),
        F.pmod(F.hash(F.col("id").cast("int")), F.lit(partitions)).alias("partition"),
    )
    used = candidates.where(F.col("partition") < min(buckets, partitions))
    free: dict[int, list[int]] = {}
    for row in used.collect():
        free.setdefault(row["partition"], []).append(row["key"])
    short = [b for b in range(buckets) if len(free.get(b % partitions, ())) <= b // partitions]
    if short:
        raise ValueError(f"no grouping key found for buckets {short} over {partitions} partitions")
    return np.array([free[b % partitions][b // partitions] for b in range(buckets)], dtype=np.int32)


def _pack(
    table: str, keys: np.ndarray
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow function: each batch's rows grouped by bucket, one Arrow IPC blob each,
    tagged with the bucket's grouping key (``keys``, from ``partition_keys``)."""

    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            # Sorted by bucket once, then cut into slices (zero-copy): one pass, not one
            # filter over the whole batch per bucket.
            order = np.argsort(batch.column(BUCKET).to_numpy(), kind="stable")
            rows = batch.take(pa.array(order))
            buckets = rows.column(BUCKET).to_numpy()
            values = rows.drop_columns([BUCKET])
            present, starts = np.unique(buckets, return_index=True)
            ends = [*starts[1:], len(buckets)]
            blobs = []
            for start, end in zip(starts, ends, strict=True):
                sink = pa.BufferOutputStream()
                chosen = values.slice(start, end - start)
                with pa.ipc.new_stream(sink, chosen.schema) as writer:
                    writer.write_batch(chosen)
                blobs.append(sink.getvalue().to_pybytes())
            yield pa.RecordBatch.from_pydict(
                {"bucket": keys[present], "table": [table] * len(blobs), "payload": blobs},
                schema=PACKED,
            )

    return pack


PACKED = pa.schema([("bucket", pa.int32()), ("table", pa.string()), ("payload", pa.binary())])
PACKED_SPARK = "bucket int, table string, payload binary"


def _unpacked(group: pd.DataFrame) -> dict[str, pa.Table]:
    """A bucket's rows, table by table, back as Arrow tables."""
    tables = {}
    for name, rows in group.groupby("table"):
        parts = [pa.ipc.open_stream(blob).read_all() for blob in rows["payload"]]
        tables[str(name)] = pa.concat_tables(parts)
    return tables


def _score_bucket(bundle_name: str, digest: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """applyInPandas function: one bucket's checked rows -> its answers and its rejects."""

    def score(group: pd.DataFrame) -> pd.DataFrame:
        return bucket_rows.answers(_scorer(bundle_name, digest), _unpacked(group))

    return score


def _output_schema(id_type: T.DataType, id_column: str) -> T.StructType:
    """The bucket function's rows: an answer (id and ``ANSWER_COLUMNS``) or a reject
    (``REJECT_COLUMNS``), the other half null."""
    strings = T.ArrayType(T.StringType())
    return T.StructType(
        [
            T.StructField(id_column, id_type),
            T.StructField("probability", T.DoubleType()),
            T.StructField("decision", T.StringType()),
            T.StructField("threshold", T.DoubleType()),
            T.StructField("points", T.DoubleType()),
            T.StructField("band", T.StringType()),
            T.StructField("reasons", T.StringType()),
            T.StructField("principal_reasons", strings),
            T.StructField("warnings", strings),
            *[T.StructField(c, T.StringType()) for c in REJECT_COLUMNS],
        ]
    )


@dataclass
class Checked:
    applications: DataFrame
    histories: dict[str, DataFrame]  # in linking order
    specs: dict[str, HistoryTable]


def checked_tables(
    spark: SparkSession, schema_tables: dict[str, HistoryTable], scorer: Scorer, files: dict
) -> Checked:
    """Every input table typed and checked (``batch.checks``), histories brought to the
    applicant's id, parents before their children."""
    schema = scorer.schema
    applications = checks.applications(_read(spark, files[APPLICATION]), schema)
    client_kind = "long" if schema.id_integer else "string"
    children_keys = parent_keys(schema_tables)
    histories: dict[str, DataFrame] = {}
    for name in linking_order(schema_tables, [n for n in schema_tables if n in files]):
        spec = schema_tables[name]
        frame = checks.history(
            _read(spark, files[name]), spec, histories, client_kind, children_keys.get(name)
        )
        if spec.link.parent is None:
            frame = checks.without_application(frame, applications, schema.id_column)
        histories[name] = frame
    return Checked(applications, histories, schema_tables)


def _bucketed(frame: DataFrame, buckets: int) -> DataFrame:
    return frame.withColumn(BUCKET, F.pmod(F.xxhash64(CLIENT), F.lit(buckets)).cast("int"))


def _packed(frame: DataFrame, table: str, keys: np.ndarray) -> DataFrame:
    """The table's checked rows (their reasons too: rejects are decided per bucket) packed
    into one blob per bucket and Arrow batch."""
    columns = [F.col(f"`{c}`") for c in frame.columns]
    bucketed = _bucketed(frame, len(keys)).select(*columns, BUCKET)
    return bucketed.mapInArrow(_pack(table, keys), PACKED_SPARK)


class _Output:
    """The destination, written as a sibling temporary folder and swapped in at the end
    (through Hadoop's file system API: local disks, HDFS and object stores alike)."""

    def __init__(self, spark: SparkSession, destination: str) -> None:
        jvm, jsc = spark.sparkContext._jvm, spark.sparkContext._jsc
        if jvm is None or jsc is None:
            raise RuntimeError("the Spark session has stopped")
        conf = jsc.hadoopConfiguration()
        self._path = jvm.org.apache.hadoop.fs.Path
        self.destination = self._path(destination)
        self.fs = self.destination.getFileSystem(conf)
        self.destination = self.fs.makeQualified(self.destination)
        run = uuid.uuid4().hex[:8]
        self.temporary = self._path(f"{self.destination.toString()}.partial-{run}")
        self.previous = self._path(f"{self.destination.toString()}.previous-{run}")

    def part(self, name: str) -> str:
        return f"{self.temporary.toString()}/{name}"

    def commit(self) -> None:
        """Previous output aside, the new one in its place, the previous one removed."""
        had_output = self.fs.exists(self.destination)
        if had_output and not self.fs.rename(self.destination, self.previous):
            raise OSError(f"cannot move the previous output {self.destination} aside")
        if not self.fs.rename(self.temporary, self.destination):
            if had_output:
                self.fs.rename(self.previous, self.destination)
            raise OSError(f"cannot move the new output into {self.destination}")
        if had_output:
            self.fs.delete(self.previous, True)

    def abandon(self) -> None:
        self.fs.delete(self.temporary, True)


def score_portfolio(
    spark: SparkSession, files: dict[str, Path], bundle: Bundle, output: str, buckets: int
) -> RunSummary:
    """Score every client of the tables in ``files`` (``APPLICATION`` and history tables by
    name) with ``bundle``; write ``output``/scores and ``output``/rejects; a summary."""
    started = time.perf_counter()
    scorer = Scorer.load(bundle.folder)
    schema = scorer.schema
    profile = get_profile(schema.profile)
    schema_tables = profile.history_tables(schema.tables) if schema.tables else {}
    unknown = sorted(set(files) - {APPLICATION, *schema_tables})
    if unknown:
        raise DataError(f"tables {unknown} are not tables of model schema {schema.name!r}")
    spark.sparkContext.addFile(str(bundle.folder), recursive=True)
    out = _Output(spark, output)
    try:
        checked = checked_tables(spark, schema_tables, scorer, files)
        # Computed once, kept for the two writes and the summary that read it.
        answers = _answers(checked, bundle, buckets, schema.id_column)
        answers = answers.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            scores, rejects = _outputs(answers, bundle, schema.id_column)
            scores.write.mode("overwrite").parquet(out.part(SCORES_DIR))
            rejects.coalesce(1).write.mode("overwrite").parquet(out.part(REJECTS_DIR))
            summary = _summary(answers, bundle, buckets, time.perf_counter() - started)
        finally:
            answers.unpersist()
    except BaseException:
        out.abandon()
        raise
    out.commit()
    summary.output = out.destination.toString()
    return summary


def _answers(checked: Checked, bundle: Bundle, buckets: int, id_column: str) -> DataFrame:
    """Every table's checked rows packed per bucket, unioned, and answered bucket by bucket:
    one pass over the inputs for the answers and the rejects."""
    spark = checked.applications.sparkSession
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or buckets)
    keys = partition_keys(spark, buckets, partitions)
    union = _packed(checked.applications, APPLICATION, keys)
    for name, frame in checked.histories.items():
        union = union.unionByName(_packed(frame, name, keys))
    id_type = checked.applications.schema[CLIENT].dataType
    return union.groupBy("bucket").applyInPandas(
        _score_bucket(bundle.folder.name, bundle.digest), _output_schema(id_type, id_column)
    )


def _outputs(answers: DataFrame, bundle: Bundle, id_column: str) -> tuple[DataFrame, DataFrame]:
    """(scores with the bundle and the run's time, rejects) from the bucket function's rows."""
    run_time = datetime.now(UTC).replace(microsecond=0)
    scores = answers.where(F.col("table").isNull()).select(
        F.col(f"`{id_column}`"),
        *ANSWER_COLUMNS,
        F.lit(bundle.version).alias("model_version"),
        F.lit(bundle.digest).alias("bundle_digest"),
        F.lit(run_time).cast("timestamp").alias("scored_at"),
    )
    return scores, answers.where(F.col("table").isNotNull()).select(*REJECT_COLUMNS)


def _summary(answers: DataFrame, bundle: Bundle, buckets: int, seconds: float) -> RunSummary:
    """Clients scored, rows rejected per table and per reason, from one job: the answers
    counted per (table, joined reasons), a few hundred rows at most (reasons name a column
    and a problem, never a value)."""
    scored, by_table, reasons = 0, Counter[str](), Counter[str]()
    for row in answers.groupBy("table", "reason").count().collect():
        if row["table"] is None:
            scored += row["count"]
            continue
        by_table[row["table"]] += row["count"]
        for reason in row["reason"].split("; "):
            reasons[reason] += row["count"]
    top = dict(reasons.most_common(20))
    return RunSummary(scored, dict(by_table), top, "", bundle.version, round(seconds, 1), buckets)
