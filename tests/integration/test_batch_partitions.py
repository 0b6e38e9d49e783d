"""Every Spark task of a portfolio run scores the same number of client buckets: the buckets'
grouping keys are spread evenly over the shuffle partitions by Spark's own partitioner (a
real Spark session on local[2], grouped as the job groups its packed rows)."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest
from pyspark import TaskContext
from pyspark.sql import functions as F

from credit_scoring.batch import spark as job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spark():
    session = job.session(job.SparkOptions(master="local[2]", memory="1g"))
    yield session
    session.stop()


def _partition_of_each_bucket(spark, buckets: int, partitions: int) -> dict[int, int]:
    """Bucket -> the partition its group was scored in, grouped as ``_answers`` groups."""
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    keys = job.partition_keys(spark, buckets, partitions)
    rows = spark.createDataFrame(pd.DataFrame({"bucket": keys, "index": range(buckets)}))
    rows = rows.withColumn("bucket", F.col("bucket").cast("int"))  # as the packed rows' type

    def where(group: pd.DataFrame) -> pd.DataFrame:
        context = TaskContext.get()
        assert context is not None
        return group.assign(partition=context.partitionId())[["index", "partition"]]

    placed = rows.groupBy("bucket").applyInPandas(where, "index long, partition int")
    return {r["index"]: r["partition"] for r in placed.collect()}


@pytest.mark.parametrize(("buckets", "partitions"), [(32, 32), (32, 4), (12, 5)])
def test_each_partition_gets_its_share_of_the_buckets(spark, buckets, partitions):
    placed = _partition_of_each_bucket(spark, buckets, partitions)
    assert placed == {b: b % partitions for b in range(buckets)}
    per_partition: defaultdict[int, int] = defaultdict(int)
    for partition in placed.values():
        per_partition[partition] += 1
    assert max(per_partition.values()) - min(per_partition.values()) <= 1


def test_keys_exist_for_more_partitions_than_buckets(spark):
    """``--partitions`` above ``--buckets`` (idle tasks, but a user's choice) still places
    each bucket in its own partition, checked with Spark's hash, the partitioner's."""
    buckets, partitions = 8, 5_000
    keys = job.partition_keys(spark, buckets, partitions)
    frame = spark.createDataFrame(pd.DataFrame({"key": keys, "index": range(buckets)}))
    placed = frame.select(
        "index", F.pmod(F.hash(F.col("key").cast("int")), F.lit(partitions)).alias("partition")
    )
    assert {r["index"]: r["partition"] for r in placed.collect()} == {b: b for b in range(buckets)}
