"""Serving throughput and latency, every variant against the same promoted model in one run.

For 1, 16 and 64 keep-alive clients (wrk, a separate process, on 127.0.0.1): score (no reason
codes), predict (reason codes) and explain, batched and unbatched, one and two workers; score
and predict with a shadow challenger (the served model itself, so a challenger as costly as
the champion) against the same without; the raw model in process as the limit; optionally
MLServer with its LightGBM runtime and adaptive batching serving the same model file
(installed in its own virtual environment, skipped with --without-mlserver). Prints a Markdown
table and the ratios the service is held to.

The requests are real applicants of the reference sample shipped with the model: application
only; the OpenAPI example (``EXAMPLE_HISTORY_ROWS`` rows of each history table); a typical
client (the reference clients nearest the median row count of every history table) and a heavy
one (nearest the 95th percentile), with all their history rows. Score and predict run with
each, and ``/livez`` gives the server's floor. ``--also-model TAG`` runs score and predict of
every request kind against a second model (the full-scale one) in the same run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import typer

from credit_scoring.core.models import PREDICT_THREADS, LightGBMModel
from credit_scoring.core.profile import get_profile
from credit_scoring.core.scorer import Scorer
from credit_scoring.profiles.home_credit.requests import (
    clients_at,
    history_counts,
    records,
    reference_clients,
)
from credit_scoring.serving.docs import typical_application
from credit_scoring.serving.runner import Server, free_port, running, serve, serve_command

app = typer.Typer(add_completion=False, help=__doc__)
MLSERVER_VENV = Path("build", "mlserver-venv")  # under the working directory, kept between runs
MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-lightgbm==1.7.1", "uvloop<0.22"]
# Requests are formatted once, at load: the client's own CPU stays small (same two cores).
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Host"] = wrk.host  -- wrk adds it only after this script has run (h11 needs it)
local requests = {}
for line in io.lines("%s") do requests[#requests + 1] = wrk.format(nil, nil, nil, line) end
local i = 0
request = function()
  i = i %% #requests + 1
  return requests[i]
end
"""


@dataclass
class Result:
    name: str
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors
    note: str = ""


def wrk(
    url: str,
    bodies: Path | None,
    clients: int,
    seconds: int,
    name: str,
    during: Callable[[], str] | None = None,
) -> Result:
    """One bounded wrk run, POSTing the JSON lines of ``bodies`` in turn (a GET without them);
    ``during`` is called halfway through and its answer kept as a note."""
    command = ["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds}s"]
    command.append("--latency")
    if bodies is not None:
        script = bodies.with_suffix(".lua")
        script.write_text(WRK_SCRIPT % bodies)
        command += ["-s", str(script)]
    process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)
    note = ""
    if during is not None:
        time.sleep(seconds / 2)
        note = during()
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed on {url}")

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"wrk's output on {url} has no match for {pattern!r}:\n{out}")
        return match

    def latency(p: str) -> float:
        value, unit = found(rf"\s{p}%\s+([\d.]+)(us|ms|s)").groups()
        return float(value) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(map(int, sockets.groups())) if sockets else 0
    rps = float(found(r"Requests/sec:\s+([\d.]+)").group(1))
    return Result(name, clients, rps, latency("50"), latency("99"), errors, note)


def bento(
    workdir: Path,
    workers: int,
    batching: bool,
    challenger: str | None = None,
    model: str | None = None,
) -> AbstractContextManager[Server]:
    """The promoted model (or ``model``, a tag) served with these settings, on a free port, in
    its own BentoML home (sharing the model store), logging to ``workdir``; ``challenger`` (a
    model tag) scored in shadow, else none (whatever the store holds)."""
    port = free_port()
    home = workdir / f"bentoml-{port}"
    home.mkdir()
    (home / "models").symlink_to(
        Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"), "models")
    )
    env = os.environ | {
        "BENTOML_HOME": str(home),
        "CREDIT_WORKERS": str(workers),
        "CREDIT_BATCHING": "1" if batching else "0",
        "CREDIT_REQUEST_LOG": str(workdir / f"requests-{port}.sqlite"),
        "CREDIT_API_KEY": "",
        **({"CREDIT_CHALLENGER_TAG": challenger} if challenger else {"CREDIT_SHADOW": "off"}),
        **({"CREDIT_MODEL_TAG": model} if model else {}),
    }
    return serve(port=port, env=env, log_file=workdir / f"serve-{port}.log", timeout_s=180)


def rows_per_worker(log: str) -> list[int]:
    """Rows scored by each worker process, from the service's structured batch log."""
    counts: dict[str, int] = {}
    for line in log.splitlines():
        found = re.search(r'\{"event": "scored", "pid": (\d+), .*?"rows": (\d+)', line)
        if found:
            counts[found.group(1)] = counts.get(found.group(1), 0) + int(found.group(2))
    return sorted(counts.values(), reverse=True)


def split_probe(server: Server) -> Callable[[], str]:
    """A note of the connections each worker holds, taken mid-run: the p99 follows the busier
    worker's share."""
    port = int(server.url.rsplit(":", 1)[1])
    return lambda: f"connections per worker {connections_per_worker(server, port)}"


def connections_per_worker(server: Server, port: int) -> list[int]:
    """Established client connections held by each worker process, right now."""
    counts = []
    for worker in server.tree()[1:]:
        with suppress(psutil.NoSuchProcess):
            held = [
                c
                for c in worker.net_connections(kind="tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            ]
            if held:
                counts.append(len(held))
    return sorted(counts, reverse=True)


APPLICATION_ONLY, EXAMPLE, TYPICAL, HEAVY = (
    "application only",
    "OpenAPI example",
    "typical client",
    "heavy client",
)
CLIENTS_PER_KIND = 50  # distinct applicants per request kind, sent in turn


REFERENCE_ROWS = 500  # reference applicants sent in turn as the application-only kind


@dataclass(frozen=True)
class Benchmarked:
    """A stored model, its reference applicants and the requests built from them."""

    folder: Path
    scorer: Scorer
    rows: pd.DataFrame  # reference applications, without the target
    kinds: dict[str, list[dict]]  # request kind -> applicants sent in turn
    note: str  # the kinds' history rows per table


def benchmarked(tag: str | None) -> Benchmarked:
    """The model of ``tag`` (default: the promoted one) with the requests every benchmark
    sends it."""
    folder = Path(bentoml_model_path(tag or "credit_scoring:latest"))
    scorer = Scorer.load(folder)
    if scorer.reference is None:
        raise RuntimeError(f"model {folder} was promoted without a reference sample")
    rows = scorer.reference.drop(columns=[scorer.schema.target_column]).head(REFERENCE_ROWS)
    kinds, note = request_kinds(scorer, rows)
    return Benchmarked(folder, scorer, rows, kinds, note)


def request_kinds(scorer: Scorer, rows: pd.DataFrame) -> tuple[dict[str, list[dict]], str]:
    """The applicants sent per request kind, and a note of their mean history rows per table.
    A model without history tables has the application-only kind alone."""
    kinds = {APPLICATION_ONLY: records(rows)}
    full = reference_clients(scorer)
    if full is None:
        return kinds, ""
    schema = scorer.schema
    tables = get_profile(schema.profile).history_tables(schema.tables)
    histories = scorer.reference_histories or {}
    kinds[EXAMPLE] = [typical_application(schema, scorer.reference, histories, tables)]
    notes = [f"reference clients' rows per table: median {history_counts(full).median().to_dict()}"]
    for kind, quantile in ((TYPICAL, 0.5), (HEAVY, 0.95)):
        kinds[kind] = clients_at(full, quantile, CLIENTS_PER_KIND)
        mean = history_counts(kinds[kind]).mean().round(1).to_dict()
        notes.append(f"{kind}: {sum(mean.values()):.0f} rows, mean per table {mean}")
    return kinds, "; ".join(notes)


def write_bodies(folder: Path, kinds: dict[str, list[dict]]) -> dict[str, Path]:
    """One JSON line per request (one applicant each) per kind."""
    paths = {}
    for kind, applicants in kinds.items():
        paths[kind] = folder / f"bodies-{kind.replace(' ', '-')}.txt"
        lines = (json.dumps({"applications": [a]}) for a in applicants)
        paths[kind].write_text("".join(line + "\n" for line in lines))
    return paths


def by_request_kind(
    workdir: Path, bodies: dict[str, Path], levels: list[int], seconds: int, model: str | None
) -> list[Result]:
    """``/livez``, then score and predict with every request kind, on the service's own
    setting (2 workers, batched); ``model`` a tag, else the promoted model."""
    results = []
    suffix = f", model {model}" if model else ""
    with bento(workdir, 2, True, model=model) as server:
        split = split_probe(server)
        if model is None:
            results += [wrk(f"{server.url}/livez", None, c, seconds, LIVEZ) for c in levels]
        for endpoint in ("score", "predict"):
            for kind, path in bodies.items():
                name, url = f"{endpoint}, {kind}{suffix}", f"{server.url}/{endpoint}"
                wrk(url, path, 16, 2, "warm-up")
                for c in levels:
                    results.append(wrk(url, path, c, seconds, name, split if c > 1 else None))
        typer.echo(f"done: request kinds{suffix}", err=True)
    return results


LIVEZ = "/livez (the server's floor)"
FLOOR = "BentoML's floor: a batched endpoint that parses the body and answers a constant"
FLOOR_SERVICE = "benchmarks.floor_service:Floor"
REPOSITORY = Path(__file__).resolve().parents[1]
MLSERVER = "MLServer LightGBM, batched (64, 10 ms)"


def framework_floor(
    workdir: Path, bodies: dict[str, Path], levels: list[int], seconds: int
) -> list[Result]:
    """``FLOOR`` with the application-only and typical bodies: what BentoML's batched path
    costs before any work of the service's own (the ratio to ``/livez`` bounds any endpoint's)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = serve_command("127.0.0.1", port, FLOOR_SERVICE)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    }
    results = []
    log_file = workdir / f"floor-{port}.log"
    with running(command, url, env=env, log_file=log_file, cwd=REPOSITORY, ready_path="/readyz"):
        for kind in (APPLICATION_ONLY, TYPICAL):
            if kind in bodies:
                wrk(f"{url}/score", bodies[kind], 16, 2, "warm-up")
                name = f"{FLOOR}, {kind}"
                results += [wrk(f"{url}/score", bodies[kind], c, seconds, name) for c in levels]
    typer.echo("done: the framework's floor", err=True)
    return results


def lightgbm_of(scorer: Scorer):
    """The benchmark compares LightGBM runtimes: it needs a LightGBM model."""
    if not isinstance(scorer.model, LightGBMModel):
        raise SystemExit(f"the served model is a {scorer.model.family} model, not LightGBM")
    return scorer.model.booster


def in_process(scorer: Scorer, rows, seconds: float = 3.0) -> list[Result]:
    """The limit: LightGBM itself on pre-built feature rows, one row and 64 rows per call, one
    thread as in the service (PREDICT_THREADS); p50 column = ms per call."""
    matrix = scorer.features(rows).to_numpy()
    booster = lightgbm_of(scorer)
    results = []
    for name, kwargs in (("raw booster.predict", {}), ("raw pred_contrib", {"pred_contrib": True})):
        for batch in (1, 64):
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                booster.predict(
                    matrix[calls % 64 : calls % 64 + batch] if batch == 1 else matrix[:64],
                    num_threads=PREDICT_THREADS,
                    **kwargs,
                )
                calls += 1
            elapsed = time.perf_counter() - started
            results.append(
                Result(
                    name,
                    batch,
                    calls * batch / elapsed,
                    1000 * elapsed / calls,
                    float("nan"),
                    0,
                    f"rows/s, {batch} row(s) per call",
                )
            )
    return results


def mlserver(
    workdir: Path, scorer: Scorer, model_dir: Path, rows, clients: list[int], seconds: int
) -> list[Result]:
    venv = MLSERVER_VENV
    if not (venv / "bin" / "mlserver").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *MLSERVER_PINS], check=True)
    repo = workdir / "mlserver"
    (repo / "credit").mkdir(parents=True)
    shutil.copy(model_dir / "model.txt", repo / "credit" / "model.bst")
    (repo / "credit" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "credit",
                "implementation": "mlserver_lightgbm.LightGBMModel",
                "max_batch_size": 64,
                "max_batch_time": 0.01,
                "parameters": {"uri": "./model.bst"},
            }
        )
    )
    port, grpc = free_port(), free_port()
    (repo / "settings.json").write_text(
        json.dumps(
            {
                "http_port": port,
                "grpc_port": grpc,
                "metrics_port": free_port(),
                "host": "127.0.0.1",
                "parallel_workers": 0,
            }
        )
    )
    with running(
        [str(venv / "bin" / "mlserver"), "start", str(repo)],
        f"http://127.0.0.1:{port}",
        ready_path="/v2/models/credit/ready",
        log_file=workdir / "mlserver.log",
        timeout_s=180,
    ):
        matrix = scorer.features(rows).to_numpy()
        bodies = workdir / "mlserver-bodies.txt"
        bodies.write_text(
            "".join(
                json.dumps(
                    {
                        "inputs": [
                            {
                                "name": "x",
                                "shape": [1, matrix.shape[1]],
                                "datatype": "FP64",
                                "data": [None if np.isnan(v) else float(v) for v in row],
                            }
                        ]
                    }
                )
                + "\n"
                for row in matrix
            )
        )
        url = f"http://127.0.0.1:{port}/v2/models/credit/infer"
        return [wrk(url, bodies, c, seconds, MLSERVER) for c in clients]


SCORE, PREDICT = "score (predict, no reason codes)", "predict (with reason codes)"
SHADOW = "with a shadow challenger"
# (label, endpoint, workers, adaptive batching, shadow challenger): the service's setting is
# 2 workers, batched.
VARIANTS = [
    (SCORE, "score", 2, True, False),
    (f"{SCORE} {SHADOW}", "score", 2, True, True),
    (SCORE, "score", 2, False, False),
    (PREDICT, "predict", 2, True, False),
    (f"{PREDICT} {SHADOW}", "predict", 2, True, True),
    ("explain (every contribution)", "explain", 2, True, False),
    (SCORE, "score", 1, True, False),
]


@app.command()
def main(
    seconds: int = typer.Option(10, help="Duration of each wrk run"),
    clients: str = typer.Option("1,16,64", help="Concurrent keep-alive connections"),
    with_mlserver: bool = typer.Option(
        True, help="Measure MLServer too (installed once in build/mlserver-venv)"
    ),
    markdown: Path = typer.Option(None, help="Also write the table to this file"),
    only: str = typer.Option(
        None, help="Only the variants whose name starts with this, e.g. 'predict' (a re-run)"
    ),
    model: str = typer.Option(
        None, help="The model's tag [the promoted one: credit_scoring:latest]"
    ),
    also_model: str = typer.Option(
        None, help="A second model's tag (e.g. make train-full's): score and predict per kind"
    ),
) -> None:
    """Run every variant against the promoted model and print the table and ratios."""
    if shutil.which("wrk") is None:
        raise typer.BadParameter("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    levels = [int(c) for c in clients.split(",")]
    measured = benchmarked(model)
    model_dir, scorer, rows, kinds = measured.folder, measured.scorer, measured.rows, measured.kinds
    if model:
        os.environ["CREDIT_MODEL_TAG"] = model  # every server started below serves it
    tag = f"credit_scoring:{model_dir.name}"  # also the shadow challenger: a model as costly
    results: list[Result] = []
    typer.echo(measured.note, err=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = write_bodies(workdir, kinds)
        bodies = paths[APPLICATION_ONLY]
        if not only:
            results += by_request_kind(workdir, paths, levels, seconds, None)
            if also_model:
                results += by_request_kind(workdir, paths, levels, seconds, also_model)
            results += framework_floor(workdir, paths, levels, seconds)
        for label, endpoint, workers, batching, shadow in VARIANTS:
            name = f"{label}, {'batched' if batching else 'unbatched'}, {workers} worker(s)"
            if only and not name.startswith(only):
                continue
            with bento(workdir, workers, batching, tag if shadow else None) as server:
                url, split = server.url, split_probe(server)
                wrk(f"{url}/{endpoint}", bodies, 16, 2, "warm-up")
                for c in levels:
                    probe = split if workers > 1 and c > 1 else None
                    results.append(wrk(f"{url}/{endpoint}", bodies, c, seconds, name, probe))
                if workers > 1:
                    per_worker = rows_per_worker(server.log_text())
                    results[-1].note += f"; rows per worker (whole run) {per_worker}"
            typer.echo(f"done: {name}", err=True)
        if with_mlserver:
            results += mlserver(workdir, scorer, model_dir, rows, levels, seconds)
    results += in_process(scorer, rows)
    other = Scorer.load(Path(bentoml_model_path(also_model))) if also_model else None
    table = report(results, scorer, measured.note, other)
    typer.echo(table)
    if markdown:
        save(table, markdown)


def save(table: str, path: Path) -> None:
    """Write the table, creating its folder (``reports/`` is not in a fresh clone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table)


def bentoml_model_path(tag: str) -> str:
    import bentoml

    return bentoml.models.get(tag).path


def report(
    results: list[Result], scorer: Scorer, kinds_note: str = "", other: Scorer | None = None
) -> str:
    lines = [
        f"Model: {lightgbm_of(scorer).num_trees()} trees, {len(scorer.feature_names)} features. "
        + (f"Second model: {lightgbm_of(other).num_trees()} trees. " if other else "")
        + f"{os.cpu_count()} cores.",
        "",
        *([f"Requests: {kinds_note}.", ""] if kinds_note else []),
        "| variant | clients | req/s | p50 ms | p99 ms | errors | note |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.name} | {r.clients} | {r.rps:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
        f"{r.errors} | {r.note} |"
        for r in results
    ]
    lines += ["", *ratio_lines(results), *budget_lines(results)]
    return "\n".join(lines)


def _rps(results: list[Result], name: str, clients: int, prefix: bool = False) -> float | None:
    """The req/s of the first cell named ``name`` (or, with ``prefix``, starting with it)."""
    found = [
        r.rps
        for r in results
        if r.clients == clients and (r.name.startswith(name) if prefix else r.name == name)
    ]
    return found[0] if found else None


def ratio_lines(results: list[Result]) -> list[str]:
    """The ratios the service is held to, at the most clients measured."""
    top = max(r.clients for r in results)
    served = f"{SCORE}, batched, 2"
    by_prefix = {
        "score batched (2 workers) / MLServer batched (target >= 1)": (served, "MLServer"),
        "score batched: 2 workers / 1 worker (target >= 1.5)": (served, f"{SCORE}, batched, 1"),
        "predict with reason codes / score (target >= 0.4)": (f"{PREDICT}, batched, 2", served),
        "score batched / unbatched": (served, f"{SCORE}, unbatched, 2"),
        "score with a shadow challenger / without (target >= 0.6)": (
            f"{SCORE} {SHADOW}, batched, 2",
            served,
        ),
        "predict with a shadow challenger / without (target >= 0.6)": (
            f"{PREDICT} {SHADOW}, batched, 2",
            f"{PREDICT}, batched, 2",
        ),
        "explain / score": ("explain", served),
    }
    exact = {
        "score, application only / /livez (target >= 0.5)": (f"score, {APPLICATION_ONLY}", LIVEZ),
        "score, OpenAPI example / application only (target >= 0.6)": (
            f"score, {EXAMPLE}",
            f"score, {APPLICATION_ONLY}",
        ),
        "score, typical client / application only (target >= 0.25)": (
            f"score, {TYPICAL}",
            f"score, {APPLICATION_ONLY}",
        ),
        "predict with reasons, application only / MLServer batched (target >= 1.0)": (
            f"predict, {APPLICATION_ONLY}",
            MLSERVER,
        ),
        "BentoML's floor, application only / /livez (bounds the first ratio)": (
            f"{FLOOR}, {APPLICATION_ONLY}",
            LIVEZ,
        ),
        "score, application only / BentoML's floor with the same body": (
            f"score, {APPLICATION_ONLY}",
            f"{FLOOR}, {APPLICATION_ONLY}",
        ),
        "score, typical client / BentoML's floor with the same body": (
            f"score, {TYPICAL}",
            f"{FLOOR}, {TYPICAL}",
        ),
        "score, heavy client / application only": (
            f"score, {HEAVY}",
            f"score, {APPLICATION_ONLY}",
        ),
    }
    pairs = {
        k: (_rps(results, a, top, prefix=True), _rps(results, b, top, prefix=True))
        for k, (a, b) in by_prefix.items()
    }
    pairs |= {k: (_rps(results, a, top), _rps(results, b, top)) for k, (a, b) in exact.items()}
    for r in results:  # the second model's answers against the promoted one's, kind by kind
        if ", model " in r.name and r.clients == top:
            own = r.name.split(", model ")[0]
            key = f"{r.name} / the promoted model's (target >= 0.5 for predict)"
            pairs[key] = (r.rps, _rps(results, own, top))
    lines = [f"Ratios at {top} clients:"]
    lines += [f"- {k}: {a / b:.2f}" for k, (a, b) in pairs.items() if a and b]
    return lines


def budget_lines(results: list[Result]) -> list[str]:
    """p99 at the most clients for score and predict with a typical client or lighter (target
    <= 100 ms), and the cells with any error (target: none)."""
    top = max(r.clients for r in results)
    light = (APPLICATION_ONLY, EXAMPLE, TYPICAL)
    checked = [
        r
        for r in results
        if r.clients == top
        and r.name.startswith(("score, ", "predict, "))
        and any(f", {kind}" in r.name for kind in light)
    ]
    lines = ["", f"p99 at {top} clients, typical client or lighter (target <= 100 ms):"]
    lines += [f"- {r.name}: {r.p99_ms:.0f} ms" for r in checked]
    failed = [f"{r.name} at {r.clients}" for r in results if r.errors]
    lines += ["", f"cells with errors (target: none): {', '.join(failed) or 'none'}"]
    return lines


if __name__ == "__main__":
    app()
