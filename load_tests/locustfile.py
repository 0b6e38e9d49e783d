"""Locust scenarios for the credit-scoring service: applicants drawn from a generated pool.

Run it through ``python -m load_tests.run`` (starts the service, checks the budgets), or by
hand: ``locust -f load_tests/locustfile.py --host http://127.0.0.1:3000``.

Tags select scenarios: ``predict`` (one applicant), ``history`` (one applicant with the rows of
the six history tables), ``batch`` (5-20 applicants), ``explain``,
``client`` (scoring by id from POST /clients), ``invalid`` (bad requests that must get a 4xx).
Each request name ends in ``[invalid]`` for the bad ones, so valid and invalid traffic are
reported apart.

Environment: ``LOAD_POOL_SIZE`` (applicants generated once per process, default 1000),
``LOAD_SEED`` (default 2024: not the training seed), ``LOAD_SHIFTED=1`` (draw from the
shifted population of ``home_credit.synthetic.shift_population``, to watch drift), and
``LOAD_STEP_USERS`` / ``LOAD_STEP_SECONDS`` / ``LOAD_MAX_USERS`` / ``LOAD_P95_BUDGET_MS`` /
``LOAD_CAPACITY_FILE`` for the step-load shape (enabled by ``LOAD_SHAPE=step``),
``LOAD_STATS_FILE`` (final stats as JSON, for the budget check).
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, LoadTestShape, between, events, tag, task
from locust.env import Environment
from locust.stats import calculate_response_time_percentile

# Imported after locust: gevent must patch ssl before anything loads it (shared NOTES).
from credit_scoring.profiles.home_credit.requests import records, with_histories
from credit_scoring.profiles.home_credit.synthetic import generate, shift_population

POOL_SIZE = int(os.environ.get("LOAD_POOL_SIZE", "1000"))
SEED = int(os.environ.get("LOAD_SEED", "2024"))
ID_OFFSET = 10_000_000  # pool ids never collide with the training clients' ids


def _applicant_pool() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Generated applicants, and the same applicants with their credit history."""
    data = generate(POOL_SIZE, SEED)
    table = data.applications.drop(columns="TARGET")
    if os.environ.get("LOAD_SHIFTED") == "1":
        table = shift_population(table)
    applications, with_history = records(table), with_histories(data.histories, table)
    for pool in (applications, with_history):
        for row in pool:
            row["SK_ID_CURR"] += ID_OFFSET
    return applications, with_history


# Built once per process, shared by every simulated user.
POOL, POOL_WITH_HISTORY = _applicant_pool()
# Building the pool blocks gevent's loop for seconds and its cached clock goes stale: without
# this, Locust's --run-time timer (scheduled from that clock) fires as soon as the test starts.
gevent.get_hub().loop.update_now()
_client_ids: list[int] = []  # filled by the first user from POST /clients

# Bad requests and the field the 400 must name (or the status for unknown clients).
INVALID_APPLICATIONS: list[tuple[str, Any]] = [
    ("out of range", {"applications": [{"AMT_CREDIT": -1.0}]}),
    ("unknown field", {"applications": [{"NOT_A_FIELD": 1}]}),
    ("wrong type", {"applications": [{"AMT_INCOME_TOTAL": "a lot"}]}),
    ("number for a category", {"applications": [{"CODE_GENDER": 1}]}),
    ("score above 1", {"applications": [{"EXT_SOURCE_2": 3.0}]}),
    ("no applications key", {"rows": []}),
]


class CreditScoringUser(FastHttpUser):
    """A front-office application: mostly single scores, some batches, explanations for the
    refused, lookups of known clients, and the odd malformed request."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        if not _client_ids:
            with self.client.post("/clients", json={}, catch_response=True) as response:
                if response.status_code == 200 and response.json():
                    _client_ids.extend(response.json())
                else:
                    response.failure(f"no client ids: {response.status_code}")

    def _score(self, endpoint: str, rows: list[dict], name: str) -> None:
        with self.client.post(
            f"/{endpoint}", json={"applications": rows}, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            answers = response.json()
            if len(answers) != len(rows) or not all(0 <= a["probability"] <= 1 for a in answers):
                response.failure(f"{len(answers)} answers for {len(rows)} applicants")

    @tag("predict")
    @task(10)
    def predict_one(self) -> None:
        self._score("predict", [random.choice(POOL)], "POST /predict [1]")

    @tag("history")
    @task(3)
    def predict_with_history(self) -> None:
        self._score("predict", [random.choice(POOL_WITH_HISTORY)], "POST /predict [history]")

    @tag("batch")
    @task(3)
    def predict_batch(self) -> None:
        self._score("predict", random.sample(POOL, random.randint(5, 20)), "POST /predict [batch]")

    @tag("explain")
    @task(2)
    def explain(self) -> None:
        self._score("explain", [random.choice(POOL)], "POST /explain [1]")

    @tag("client")
    @task(3)
    def predict_client(self) -> None:
        if not _client_ids:
            return
        ids = random.sample(_client_ids, random.randint(1, 3))
        with self.client.post(
            "/predict_client",
            json={"client_ids": ids},
            name="POST /predict_client",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or len(response.json()) != len(ids):
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @tag("invalid")
    @task(2)
    def invalid(self) -> None:
        kind, body = random.choice([*INVALID_APPLICATIONS, ("unknown client", None)])
        if body is None:
            path, body = "/predict_client", {"client_ids": [1]}  # ids start at 100002
        else:
            path = random.choice(["/predict", "/explain"])
        with self.client.post(
            path, json=body, name=f"POST {path} [invalid]", catch_response=True
        ) as response:
            if 400 <= response.status_code < 500:
                response.success()  # the expected answer to a bad request
            else:
                response.failure(f"{kind}: expected 4xx, got {response.status_code}")


class StepLoad(LoadTestShape):
    """Users grow by a step every ``LOAD_STEP_SECONDS`` until the p95 of a step exceeds the
    budget, a request fails, or ``LOAD_MAX_USERS`` is passed; each step's figures (measured
    after a settling time, so ramp-up is excluded) go to ``LOAD_CAPACITY_FILE`` as JSON."""

    abstract = os.environ.get("LOAD_SHAPE") != "step"  # only when asked: plain runs use -u/-t

    step_users = int(os.environ.get("LOAD_STEP_USERS", "10"))
    step_seconds = float(os.environ.get("LOAD_STEP_SECONDS", "30"))
    max_users = int(os.environ.get("LOAD_MAX_USERS", "200"))
    budget_ms = float(os.environ.get("LOAD_P95_BUDGET_MS", "1000"))
    settle_seconds = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, float]] = []
        self._mark: tuple[dict[int, int], int, int, float] | None = None
        self._stopped = False

    def _snapshot(self) -> tuple[dict[int, int], int, int, float]:
        if self.runner is None:
            raise RuntimeError("a load shape measures only inside a running Locust runner")
        total = self.runner.stats.total
        return dict(total.response_times), total.num_requests, total.num_failures, time.time()

    def _close_step(
        self, mark: tuple[dict[int, int], int, int, float], users: int
    ) -> dict[str, float]:
        times0, requests0, failures0, t0 = mark
        times1, requests1, failures1, t1 = self._snapshot()
        window = {k: v - times0.get(k, 0) for k, v in times1.items() if v - times0.get(k, 0)}
        requests = requests1 - requests0
        p95 = calculate_response_time_percentile(window, requests, 0.95) if requests else 0
        step = {
            "users": users,
            "requests": requests,
            "failures": failures1 - failures0,
            "rps": round(requests / max(t1 - t0, 1e-9), 1),
            "p95_ms": p95,
        }
        self.steps.append(step)
        path = os.environ.get("LOAD_CAPACITY_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as out:
                json.dump({"budget_p95_ms": self.budget_ms, "steps": self.steps}, out, indent=1)
        return step

    def tick(self) -> tuple[int, float] | None:
        if self._stopped:
            return None
        run_time = self.get_run_time()
        index = int(run_time // self.step_seconds)
        users = (index + 1) * self.step_users
        into_step = run_time - index * self.step_seconds
        if self._mark is None and into_step >= self.settle_seconds:
            self._mark = self._snapshot()
        if self._mark is not None and into_step < self.settle_seconds:  # a step just ended
            step = self._close_step(self._mark, users - self.step_users)
            self._mark = None
            over = step["p95_ms"] > self.budget_ms or step["failures"] > 0
            if over or users > self.max_users:
                self._stopped = True
                return None
        return users, float(self.step_users)


@events.quitting.add_listener
def _write_final_stats(environment: Environment, **_: Any) -> None:
    """Final per-request stats as JSON for the budget check (``LOAD_STATS_FILE``).

    Locust rewrites its CSV once a second while running, so the file misses the last second;
    at quitting the stats are complete. Keys follow the CSV's column names.
    """
    path = os.environ.get("LOAD_STATS_FILE")
    if not path:
        return
    stats = environment.stats
    entries = [*stats.entries.values(), stats.total]
    rows = [
        {
            "Name": entry.name,
            "Request Count": entry.num_requests,
            "Failure Count": entry.num_failures,
            "50%": entry.get_response_time_percentile(0.5) if entry.num_requests else 0,
            "95%": entry.get_response_time_percentile(0.95) if entry.num_requests else 0,
            "Requests/s": round(entry.total_rps, 2),
        }
        for entry in entries
    ]
    with open(path, "w", encoding="utf-8") as out:
        json.dump(rows, out, indent=1)
