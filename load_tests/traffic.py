"""Close the loop on generated traffic: send generated applicants (with their history rows) to
a running service, then record the outcomes the generator draws for the ones it answered
through ``POST /outcomes`` (the loan system's key), as months later a lender would.

The generator knows each applicant's true risk (``profiles.home_credit.synthetic``); with
``--shifted`` the population changes (``shift_population``) and so does its risk
(``PopulationShift.risk_signal``), so the realised AUC must fall. Every outcome is drawn,
granted or refused: complete information, which real lending never has.

    python -m load_tests.traffic --url http://127.0.0.1:3000 --rows 400 [--shifted] \\
        --outcomes-key KEY [--api-key KEY]
    python -m load_tests.traffic --rows 400 [--shifted] --report   # `make outcomes-demo`

Without ``--url`` it serves the promoted model itself (``serving.runner``, an outcomes key
made for the run) and stops it after. ``--report`` then writes the realised-performance
report of the traffic just sent (judged a performance window and a day from now: the
generator drew every outcome at once, so every cohort is mature) and, when a challenger was
shadowing, the comparison report.

Ids are offset (``ID_OFFSET``, shifted runs apart from unshifted ones) so that they never
meet the training clients' ids; a run repeated with the same seed sends the same applicants,
whose outcomes are then unchanged (the endpoint is idempotent).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd

from credit_scoring.core.settings import CoreSettings
from credit_scoring.monitoring import compare, performance
from credit_scoring.monitoring.decisions import ReportError, Window
from credit_scoring.monitoring.settings import MonitoringSettings
from credit_scoring.profiles.home_credit.requests import with_histories
from credit_scoring.profiles.home_credit.synthetic import (
    PopulationShift,
    SyntheticData,
    draw_outcomes,
    generate,
    shift_population,
)
from credit_scoring.profiles.home_credit.tables import ID_COLUMN
from credit_scoring.serving import runner

ID_OFFSET = {False: 20_000_000, True: 30_000_000}  # by shifted: apart from training and Locust
BATCH = 25  # applicants per request: with their histories ~1 MB of JSON
TIMEOUT_S = 120


def applicants(rows: int, seed: int, shifted: bool) -> tuple[SyntheticData, list[dict[str, Any]]]:
    """The generated data (ids offset) and the requests' applications."""
    data = generate(rows, seed)
    offset = ID_OFFSET[shifted]
    data.applications[ID_COLUMN] += offset
    for rows_of_table in data.histories.values():
        if ID_COLUMN in rows_of_table:
            rows_of_table[ID_COLUMN] += offset
    table = data.applications.drop(columns="TARGET")
    return data, with_histories(data.histories, shift_population(table) if shifted else table)


def send(client: httpx.Client, applications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score every application through ``/score`` in batches; the answers, in order."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(applications), BATCH):
        response = client.post("/score", json={"applications": applications[start : start + BATCH]})
        response.raise_for_status()
        answers += response.json()
    return answers


def outcomes(data: SyntheticData, ids: list[int], shifted: bool, seed: int) -> list[dict[str, Any]]:
    """The generated outcome of each applicant answered, observed today."""
    drawn = draw_outcomes(data, ids, PopulationShift() if shifted else None, seed)
    today = datetime.now(UTC).date().isoformat()
    return [
        {"applicant_id": int(i), "defaulted": bool(d), "observed_on": today}
        for i, d in zip(drawn[ID_COLUMN], drawn["defaulted"], strict=True)
    ]


def post_outcomes(client: httpx.Client, rows: list[dict[str, Any]], key: str) -> httpx.Response:
    return client.post(
        "/outcomes", json={"outcomes": rows}, headers={"Authorization": f"Bearer {key}"}
    )


def run(
    url: str, rows: int, seed: int, shifted: bool, api_key: str | None, outcomes_key: str
) -> dict[str, Any]:
    """Send the traffic, record its outcomes; what the service answered to each step."""
    data, applications = applicants(rows, seed, shifted)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_S) as client:
        answers = send(client, applications)
        ids = [a[ID_COLUMN] for a in answers]
        receipt = post_outcomes(client, outcomes(data, ids, shifted, seed), outcomes_key)
    receipt.raise_for_status()
    refused = sum(a["decision"] == "refused" for a in answers)
    return {
        "scored": len(answers),
        "refused": refused,
        "shifted": shifted,
        "outcomes": receipt.json(),
    }


@contextmanager
def service(url: str | None, outcomes_key: str | None) -> Iterator[tuple[str, str]]:
    """(url, outcomes key): the running service given, or the promoted model served here."""
    if url is not None:
        if outcomes_key is None:
            raise SystemExit(
                "--outcomes-key is needed with --url: the service's CREDIT_OUTCOMES_KEY"
            )
        yield url, outcomes_key
        return
    key = secrets.token_urlsafe(24)
    env = dict(os.environ) | {"CREDIT_OUTCOMES_KEY": key, "CREDIT_WORKERS": "1"}
    with runner.serve(env=env) as server:
        yield server.url, key


def report(since: pd.Timestamp, until: pd.Timestamp, shifted: bool) -> None:
    """The performance report (and the comparison, if a challenger shadowed) of the run."""
    core = CoreSettings()
    suffix = "-shifted" if shifted else ""
    window = Window(since, until)
    months = MonitoringSettings().performance_window_months
    options = performance.Options(window, months, until + pd.DateOffset(months=months, days=1))
    built = performance.build(core.request_log, options)
    paths = performance.write(built, core.reports_dir / f"performance{suffix}")
    print(performance.describe(built), f"\nwritten to {paths[1]}")
    try:
        compared = compare.build(core.request_log, window, options.as_of)
    except ReportError as error:
        print(f"no comparison: {error}")
        return
    paths = compare.write(compared, core.reports_dir / f"compare{suffix}")
    print(compare.describe(compared), f"\nwritten to {paths[1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="a running service [default: serve one]")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--shifted", action="store_true", help="a drifted population, risk changed")
    parser.add_argument("--api-key", default=None, help="the scoring key, if the service has one")
    parser.add_argument("--outcomes-key", default=None, help="the service's CREDIT_OUTCOMES_KEY")
    parser.add_argument("--report", action="store_true", help="then write the reports")
    args = parser.parse_args(argv)
    since = pd.Timestamp.now(tz="UTC")
    with service(args.url, args.outcomes_key) as (url, key):
        summary = run(url, args.rows, args.seed, args.shifted, args.api_key, key)
    print(json.dumps(summary))
    if args.report:
        report(since, pd.Timestamp.now(tz="UTC"), args.shifted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
