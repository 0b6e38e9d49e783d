"""Where a served request's time goes: py-spy on both loaded workers, samples per stage.

    python -m benchmarks.profile_serving                        # score, typical client
    python -m benchmarks.profile_serving --endpoint predict --kind "application only"

Serves the promoted model (or ``--model``) as the service runs (2 workers, batched), loads one
endpoint with one request kind from wrk (64 keep-alive clients), and samples every thread of
both workers with py-spy meanwhile. Each sample is put in the first stage its stack passes
through (the decision record before the features, since the record is written last); samples
of threads waiting for work are left out. Samples are wall-clock time of busy threads: a
SQLite commit holds its thread while the GIL is free, so the shares add up past the CPU used.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

from benchmarks.serving import (
    TYPICAL,
    benchmarked,
    bento,
    write_bodies,
    wrk,
)

app = typer.Typer(add_completion=False, help=__doc__)

# Stage -> substrings of a frame that put a sample in it; the first stage that matches wins.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("decision record: checkpoints (its own thread)", ("_checkpoints",)),
    ("decision record: JSON, digest, commit", ("RequestLog.append", "GroupCommit")),
    ("metrics (Prometheus)", ("prometheus_client",)),
    ("features: history tables", ("_history_blocks",)),
    ("features: application fields", ("build_features",)),
    ("batch assembly", ("to_batch",)),
    ("model inputs and probability", ("Scorer.inputs", "probability_of")),
    ("contributions and reasons", ("explanation_of", "Scorer.reasons")),
    ("answers", ("CreditScoring._answer", "CreditScoring.score", "CreditScoring.predict")),
    ("JSON parsing and validation", ("from_http_request", "model_validate_json")),
    ("response JSON", ("to_http_response", "dump_json")),
    ("HTTP server, middlewares, BentoML's batching", ("",)),
]
WORKER = "_bentoml_impl.worker"  # in a worker's command line, not in the server's
WAITING = ("Runner.run (asyncio/runners.py", "Condition.wait", "Queue.get", "Event.wait")


def stage_of(frames: list[str]) -> str | None:
    """The stage of one sampled stack (root first), None for a thread waiting for work."""
    if frames[-1].startswith(WAITING):
        return None
    for stage, marks in STAGES:
        if any(mark in frame for frame in frames for mark in marks):
            return stage
    raise AssertionError("the last stage matches every stack")


def shares(raw: list[Path]) -> tuple[dict[str, float], float]:
    """Each stage's share of the busy samples in py-spy's raw output files, and the busy
    share of all samples."""
    counts: collections.Counter[str] = collections.Counter()
    waiting = 0
    for path in raw:
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            stage = stage_of(stack.split(";"))
            if stage is None:
                waiting += int(n)
            else:
                counts[stage] += int(n)
    busy = sum(counts.values())
    return {s: n / busy for s, n in counts.most_common()}, busy / (busy + waiting)


def _py_spy() -> str:
    found = shutil.which("py-spy")
    if found is None:
        raise typer.BadParameter("py-spy is not installed (pip install py-spy; it needs root)")
    return found


@app.command()
def main(
    endpoint: str = typer.Option("score", help="score, predict or explain"),
    kind: str = typer.Option(TYPICAL, help="A request kind of the serving benchmark"),
    model: str = typer.Option(None, help="The model's tag [the promoted one]"),
    seconds: int = typer.Option(8, help="Seconds of load and of sampling"),
) -> None:
    """Print each stage's share of the workers' busy samples, and wrk's figures."""
    py_spy = _py_spy()
    if model:
        os.environ["CREDIT_MODEL_TAG"] = model
    kinds = benchmarked(model).kinds
    if kind not in kinds:
        raise typer.BadParameter(f"kind {kind!r}: one of {sorted(kinds)}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bodies = write_bodies(workdir, {kind: kinds[kind]})[kind]
        with bento(workdir, 2, True) as server:
            url = f"{server.url}/{endpoint}"
            wrk(url, bodies, 16, 2, "warm-up")
            workers = [p.pid for p in server.tree() if WORKER in " ".join(p.cmdline())]
            raw = [workdir / f"py-spy-{pid}.txt" for pid in workers]
            spies = [
                subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "-p",
                        str(pid),
                        "-d",
                        str(seconds),
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "-o",
                        str(out),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pid, out in zip(workers, raw, strict=True)
            ]
            loaded = wrk(url, bodies, 64, seconds + 1, f"{endpoint}, {kind}")
            for spy in spies:
                spy.wait()
        by_stage, busy = shares([p for p in raw if p.is_file()])
    typer.echo(
        f"{endpoint}, {kind}, 64 clients: {loaded.rps:.0f} req/s, p99 {loaded.p99_ms:.0f} ms;"
        f" workers' threads busy in {busy:.0%} of samples"
    )
    for stage, share in by_stage.items():
        typer.echo(f"  {100 * share:5.1f}%  {stage}")


if __name__ == "__main__":
    app()
