"""Headless load test of the credit-scoring service, with pass/fail budgets.

Starts the promoted model with ``bentoml serve`` on a free 127.0.0.1 port (or uses ``--url``),
runs Locust as its own process for a bounded time, writes Locust's CSV and HTML reports and a
``summary.json`` to the output folder, and exits non-zero when a valid request failed, an
invalid one did not get a 4xx, or the p95 of a valid endpoint exceeds the budget.

``--capacity`` instead runs the step-load shape (more users every step until the p95 exceeds
the budget or a request fails) and reports the highest user count held within the budget.

Locust runs in a subprocess: importing it here, after httpx has loaded ssl, recursed forever
(gevent patches ssl too late; shared NOTES).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import typer

from credit_scoring.core.settings import CoreSettings
from credit_scoring.serving import runner

app = typer.Typer(add_completion=False, help=__doc__)
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
READY_TIMEOUT_S = 120
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@contextmanager
def serving(url: str | None, log_file: Path) -> Iterator[str]:
    """The URL of a service: the given one, or a ``bentoml serve`` started (and stopped) here."""
    if url:
        yield url.rstrip("/")
        return
    try:
        with runner.serve(log_file=log_file, timeout_s=READY_TIMEOUT_S) as server:
            typer.echo(f"service started on {server.url} (log: {log_file})")
            yield server.url
    except runner.ServerFailed as error:
        raise typer.BadParameter(str(error)) from error


def judge(rows: list[dict[str, Any]], budget_ms: float) -> dict:
    """Budgets from Locust's final stats (rows named like its ``*_stats.csv`` columns): errors
    of valid requests, 4xx for invalid ones, p95 of each valid endpoint (heavier ones such as
    batches are held to the same budget)."""
    endpoints = [r for r in rows if r["Name"] != "Aggregated"]
    valid = [r for r in endpoints if not r["Name"].endswith("[invalid]")]
    invalid = [r for r in endpoints if r["Name"].endswith("[invalid]")]
    count = lambda rs, key: sum(int(r[key]) for r in rs)  # noqa: E731
    valid_requests, valid_failures = count(valid, "Request Count"), count(valid, "Failure Count")
    aggregated = next(r for r in rows if r["Name"] == "Aggregated")
    p95 = {r["Name"]: float(r["95%"]) for r in valid if int(r["Request Count"])}
    problems = []
    if valid_requests == 0:
        problems.append("no valid request was sent")
    if valid_failures:
        problems.append(f"{valid_failures} of {valid_requests} valid requests failed")
    if count(invalid, "Failure Count"):
        problems.append(f"{count(invalid, 'Failure Count')} invalid requests did not get a 4xx")
    problems += [
        f"p95 of {n} is {v:.0f} ms > {budget_ms:.0f} ms" for n, v in p95.items() if v > budget_ms
    ]
    return {
        "passed": not problems,
        "problems": problems,
        "budget_p95_ms": budget_ms,
        "valid_requests": valid_requests,
        "valid_error_rate": valid_failures / valid_requests if valid_requests else None,
        "invalid_requests": count(invalid, "Request Count"),
        "invalid_not_4xx": count(invalid, "Failure Count"),
        "requests_per_s": float(aggregated["Requests/s"]),
        "p95_ms": p95,
        "p50_ms": {r["Name"]: float(r["50%"]) for r in valid if int(r["Request Count"])},
    }


def capacity(steps: list[dict], budget_ms: float, max_users: int) -> dict:
    held = [s for s in steps if s["p95_ms"] <= budget_ms and s["failures"] == 0]
    # The shape stops at the first step over budget: every earlier step held.
    best = held[-1] if held else None
    return {
        "budget_p95_ms": budget_ms,
        "capacity_users": best["users"] if best else 0,
        "capacity_rps": best["rps"] if best else 0.0,
        "limited_by": "budget" if len(held) < len(steps) else f"max users ({max_users})",
        "steps": steps,
    }


@app.command()
def main(
    url: str = typer.Option(None, help="Test a running service instead of starting one"),
    users: int = typer.Option(20, min=1, help="Simulated users (plain run)"),
    spawn_rate: float = typer.Option(10, min=0.1, help="Users started per second"),
    run_time: int = typer.Option(30, min=5, max=1800, help="Seconds of load (plain run)"),
    p95_budget_ms: float = typer.Option(
        1000, help="p95 budget per valid endpoint, ms (the service batches within 1 s)"
    ),
    tags: str = typer.Option(None, help="Only these comma-separated scenario tags"),
    exclude_tags: str = typer.Option(None, help="Leave out these comma-separated tags"),
    output_dir: str = typer.Option(None, help="Report folder [default: reports/load]"),
    shifted: bool = typer.Option(False, help="Send the shifted population (to see drift)"),
    pool_size: int = typer.Option(1000, min=10, help="Generated applicants to draw from"),
    capacity_mode: bool = typer.Option(
        False, "--capacity", help="Step-load until the p95 budget breaks; report the capacity"
    ),
    step_users: int = typer.Option(10, min=1, help="Users added per step (--capacity)"),
    step_seconds: int = typer.Option(30, min=10, help="Seconds per step (--capacity)"),
    max_users: int = typer.Option(200, min=1, help="Stop stepping past this (--capacity)"),
    allow_remote: bool = typer.Option(False, help="Allow a --url that is not on this machine"),
) -> None:
    """Run a bounded Locust test against the service and check the budgets."""
    if url and urlparse(url).hostname not in LOOPBACK and not allow_remote:
        raise typer.BadParameter(f"{url} is not on this machine; pass --allow-remote to load it")
    folder = Path(output_dir) if output_dir else CoreSettings().reports_dir / "load"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "capacity" if capacity_mode else "load"
    (folder / f"{prefix}_final_stats.json").unlink(missing_ok=True)  # never judge a stale run
    env = os.environ | {
        "LOAD_POOL_SIZE": str(pool_size),
        "LOAD_SHIFTED": "1" if shifted else "0",
        "LOAD_STATS_FILE": str(folder / f"{prefix}_final_stats.json"),
    }
    args = ["--headless", "--only-summary", "--stop-timeout", "5"]
    args += ["--csv", str(folder / prefix), "--html", str(folder / f"{prefix}_report.html")]
    if capacity_mode:
        steps_file = folder / "capacity_steps.json"
        steps_file.unlink(missing_ok=True)
        env |= {
            "LOAD_SHAPE": "step",
            "LOAD_STEP_USERS": str(step_users),
            "LOAD_STEP_SECONDS": str(step_seconds),
            "LOAD_MAX_USERS": str(max_users),
            "LOAD_P95_BUDGET_MS": str(p95_budget_ms),
            "LOAD_CAPACITY_FILE": str(steps_file),
        }
        # Capacity is for real traffic: bad requests are cheap and would flatter the p95.
        exclude_tags = exclude_tags or "invalid"
        bound = (max_users // step_users + 2) * step_seconds
    else:
        args += ["-u", str(users), "-r", str(spawn_rate), "-t", f"{run_time}s"]
        bound = run_time
    args += ["--tags", *tags.split(",")] if tags else []
    args += ["--exclude-tags", *exclude_tags.split(",")] if exclude_tags else []

    with serving(url, folder / "serve.log") as served:
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", served, *args]
        typer.echo(" ".join(command))
        # Locust's own exit code is 1 on any failure; the budgets below decide instead.
        subprocess.run(command, env=env, timeout=bound + 120, check=False)

    final_stats = folder / f"{prefix}_final_stats.json"
    if not final_stats.is_file():
        raise typer.BadParameter(f"Locust wrote no {final_stats}: see its output above")
    result = judge(json.loads(final_stats.read_text()), p95_budget_ms)
    if capacity_mode:
        steps = json.loads(steps_file.read_text())["steps"] if steps_file.is_file() else []
        result = capacity(steps, p95_budget_ms, max_users) | {"whole_run": result}
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "whole_run"}, indent=1))
        typer.echo(
            f"capacity: {result['capacity_users']} users ({result['capacity_rps']} req/s) "
            f"within p95 <= {p95_budget_ms:.0f} ms, limited by {result['limited_by']}"
        )
    else:
        typer.echo(json.dumps(result, indent=1))
    (folder / f"{prefix}_summary.json").write_text(json.dumps(result, indent=1), "utf-8")
    typer.echo(
        f"reports in {folder}: {prefix}_stats.csv, {prefix}_report.html, {prefix}_summary.json"
    )
    if not capacity_mode and not result["passed"]:
        typer.echo("FAILED: " + "; ".join(result["problems"]), err=True)
        raise typer.Exit(1)
    if capacity_mode and result["capacity_users"] == 0:
        typer.echo("FAILED: not even the first step held the budget", err=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
