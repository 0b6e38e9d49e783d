"""Portfolio scoring throughput: `credit-scoring batch-score` on local[1] and local[2] against
the plain in-process pandas path on one core, rows per second and peak memory, one run each.

    python -m benchmarks.batch_scoring --rows 307511                 # Home Credit scale
    python -m benchmarks.batch_scoring --rows 50000 --buckets 8,32,128  # the bucket count

Each variant runs as its own process tree (the JVM and its Python workers included), whose
summed resident memory is sampled every 0.2 s for the peak. The in-process path is the same
``batch.portfolio.score_clients`` over the whole portfolio at once, pinned to one core with
one OpenMP thread. The data is the cached synthetic set (``credit-scoring generate --rows``);
the model is the promoted one (``--model-tag``) or a bundle folder (``--model``). Targets:
local[2] >= 1.4x local[1]; local[1] >= 0.5x in-process; the whole portfolio in less time than
training takes (``--training-seconds``: `make train-full`'s wall time). Timings vary by tens
of percent on a shared machine: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from credit_scoring.core.settings import CoreSettings

GIB = 1024**3
CLI = str(Path(sys.executable).with_name("credit-scoring"))
APPLICATIONS = "application_train.parquet"


@dataclass
class Measured:
    name: str
    seconds: float
    peak_gib: float
    rows: int
    cpu_seconds: float  # user + system of the whole process tree (JVM and workers included)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def cores(self) -> float:
        """The cores it kept busy on average: local[1] runs one task at a time, but the JVM's
        reading, shuffle and garbage collection run beside that task's Python worker."""
        return self.cpu_seconds / self.seconds


def _tree_sample(members: list[psutil.Process], cpu: dict[int, float]) -> int:
    """The tree's summed RSS now; each member's CPU seconds so far into ``cpu`` (by pid; a
    member's reaped children are not added: they were members, sampled themselves). Sampled,
    because the JVM is never waited for by its parent, so no rusage would count it."""
    total = 0
    for member in members:
        with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
            total += member.memory_info().rss
            t = member.cpu_times()
            cpu[member.pid] = t.user + t.system
    return total


def _jvm_threads(members: list[psutil.Process], threads: dict[int, tuple[str, float]]) -> None:
    """Each JVM thread's name and CPU seconds so far into ``threads`` (by thread id; names
    from /proc): which threads the JVM's CPU goes to (tasks, JIT compilers, the collector,
    the driver's planning)."""
    for member in members:
        with contextlib.suppress(psutil.Error, OSError):  # ended while being read
            if member.name() == "java":
                for thread in member.threads():
                    comm = Path(f"/proc/{member.pid}/task/{thread.id}/comm")
                    threads[thread.id] = (
                        comm.read_text().strip(),
                        thread.user_time + thread.system_time,
                    )


def _by_kind(threads: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per kind of JVM thread: the name without its number ("C2 CompilerThre",
    "Executor task l", "GC Thread"; the kernel cuts names at 15 characters; "Thread" is
    py4j's, the driver's planning)."""
    kinds: dict[str, float] = {}
    for name, seconds in threads.values():
        kind = name.rstrip("0123456789#- ")
        kinds[kind] = kinds.get(kind, 0.0) + seconds
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def _print_kinds(kinds: dict[str, float]) -> None:
    total = sum(kinds.values())
    shares = ", ".join(f"{k} {s:.0f} s" for k, s in list(kinds.items())[:8] if s >= 0.5)
    print(f"  JVM threads, {total:.0f} CPU s in all: {shares}", flush=True)


def measured(
    name: str, command: list[str], rows: int, one_core: bool = False, jvm_threads: bool = False
) -> Measured:
    """Run ``command``, timing it and sampling its process tree's summed RSS (and, with
    ``jvm_threads``, its JVM's CPU per thread, printed)."""
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    pin = (lambda: os.sched_setaffinity(0, {0})) if one_core else None
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, preexec_fn=pin, stdout=subprocess.DEVNULL)
    process, peak, done = psutil.Process(child.pid), [0], threading.Event()
    cpu: dict[int, float] = {}
    threads: dict[int, tuple[str, float]] = {}

    def sample() -> None:
        while not done.wait(0.2):
            members = [process, *process.children(recursive=True)]  # listed once for both
            peak[0] = max(peak[0], _tree_sample(members, cpu))
            if jvm_threads:
                _jvm_threads(members, threads)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"{name}: {' '.join(command)} failed with status {code}")
    result = Measured(name, seconds, peak[0] / GIB, rows, sum(cpu.values()))
    print(
        f"{name}: {seconds:.1f} s, {result.rows_per_s:,.0f} clients/s, "
        f"peak {result.peak_gib:.2f} GiB, {result.cores:.2f} cores busy",
        flush=True,
    )
    if jvm_threads:
        _print_kinds(_by_kind(threads))
    return result


def in_process(data: Path, model: Path, output: Path) -> None:
    """The whole portfolio scored in this process by the batch job's pandas function."""
    from credit_scoring.batch.portfolio import score_clients, typed_histories
    from credit_scoring.core.parquet import read_parquet
    from credit_scoring.core.scorer import Scorer

    scorer = Scorer.load(model)
    applications = read_parquet(data / APPLICATIONS)
    names = scorer.schema.tables
    histories = {n: read_parquet(data / f"{n}.parquet") for n in names}
    answers = score_clients(scorer, applications, typed_histories(scorer.schema, histories))
    answers.to_parquet(output)


def _model_folder(model: Path | None, tag: str | None) -> Path:
    if model is not None:
        return model
    import bentoml

    return Path(bentoml.models.get(tag or f"{CoreSettings().model_name}:latest").path)


def _data(rows: int) -> Path:
    folder = CoreSettings().generated_dir / f"{rows}-0"
    if not (folder / "manifest.json").is_file():
        subprocess.run([CLI, "generate", "--rows", str(rows)], check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=307_511, help="clients (generated, seed 0)")
    parser.add_argument("--model", type=Path, help="model bundle folder [the promoted model]")
    parser.add_argument("--model-tag", help="BentoML model [<CREDIT_MODEL_NAME>:latest]")
    parser.add_argument("--buckets", default="32", help="bucket counts, e.g. 8,32,128")
    parser.add_argument("--memory", default="3g", help="Spark driver memory")
    parser.add_argument(
        "--training-seconds",
        type=float,
        default=3104.0,
        help="training's wall time to compare with (make train-full: 51 min 44 s, 2026-12-01)",
    )
    parser.add_argument(
        "--masters", default="local[1],local[2]", help="Spark masters (the sweep: the last one)"
    )
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument(
        "--jvm-threads", action="store_true", help="also print each run's JVM CPU per thread kind"
    )
    # The in-process variant's own process (DATA MODEL OUT), started by the benchmark.
    parser.add_argument("--in-process", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        data, model, out = map(Path, args.in_process)
        in_process(data, model, out)
        return

    data, model = _data(args.rows), _model_folder(args.model, args.model_tag)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    print(f"{args.rows:,} clients from {data}; model {model}", flush=True)
    try:
        results = _run_all(args, data, model, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _ratios(results, args.training_seconds)


def _run_all(args: argparse.Namespace, data: Path, model: Path, work: Path) -> list[Measured]:
    buckets = [int(b) for b in args.buckets.split(",")]
    base = [CLI, "--no-verbose", "batch-score", str(data / APPLICATIONS), "--model", str(model)]
    base += ["--memory", args.memory]
    masters = args.masters.split(",")
    results = []
    for master in masters:
        for count in buckets if master == masters[-1] else buckets[:1]:
            name = f"batch-score {master}, {count} buckets"
            options = ["--master", master, "--buckets", str(count)]
            # No brackets in the path: Hadoop reads them as a glob.
            output = work / f"out-{master[6:-1]}-cores-{count}"
            command = [*base, *options, "--output", str(output)]
            results.append(measured(name, command, args.rows, jvm_threads=args.jvm_threads))
    if not args.skip_in_process:
        command = [sys.executable, "-m", "benchmarks.batch_scoring", "--in-process"]
        command += [str(data), str(model), str(work / "in-process.parquet")]
        results.append(measured("in-process pandas, 1 core", command, args.rows, one_core=True))
    return results


def _table(results: list[Measured]) -> None:
    """The figures as the README's Markdown table."""
    print("\n| variant | wall | clients/s | peak RSS (tree) | cores busy |\n|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.name} | {r.seconds:.0f} s | {r.rows_per_s:,.0f} | {r.peak_gib:.2f} GiB "
            f"| {r.cores:.2f} |"
        )


def _ratios(results: list[Measured], training_seconds: float) -> None:
    _table(results)
    first = {r.name.split(",")[0]: r for r in reversed(results)}
    one, two = first.get("batch-score local[1]"), first.get("batch-score local[2]")
    plain = first.get("in-process pandas")
    if one and two:
        print(f"local[2] / local[1]: {two.rows_per_s / one.rows_per_s:.2f}x (target >= 1.4)")
    if one and plain:
        print(f"local[1] / in-process: {one.rows_per_s / plain.rows_per_s:.2f}x (target >= 0.5)")
    if two and plain:
        print(f"local[2] / in-process: {two.rows_per_s / plain.rows_per_s:.2f}x")
    for r in results:  # what each variant costs, whatever the cores it found free
        print(f"{r.name}: {r.rows / r.cpu_seconds:,.0f} clients per CPU second")
    if two:
        print(
            f"whole portfolio on local[2]: {two.seconds:.0f} s vs training "
            f"{training_seconds:.0f} s ({two.seconds / training_seconds:.2f}x; target < 1)"
        )


if __name__ == "__main__":
    main()
