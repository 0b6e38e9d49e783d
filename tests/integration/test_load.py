"""The load-test command against the real service: a short bounded run passes its budgets and
writes Locust's reports; an impossible latency budget makes it fail."""

from __future__ import annotations

import csv
import json

import pytest

pytestmark = pytest.mark.integration

SHORT = ["--users", "4", "--spawn-rate", "4", "--run-time", "6", "--pool-size", "200"]


def test_short_load_test_passes_and_writes_reports(pipeline, service_url, tmp_path):
    command = ["-m", "load_tests.run", "--url", service_url, *SHORT]
    result = pipeline.run(*command, "--output-dir", str(tmp_path), "--p95-budget-ms", "10000")
    summary = json.loads((tmp_path / "load_summary.json").read_text())
    assert summary["passed"], result.stdout
    assert summary["valid_requests"] > 5 and summary["valid_error_rate"] == 0
    assert (tmp_path / "load_report.html").stat().st_size > 10_000
    with (tmp_path / "load_stats.csv").open() as f:
        names = {row["Name"] for row in csv.DictReader(f)}
    assert {"POST /predict [1]", "Aggregated"} <= names


def test_load_test_fails_over_its_latency_budget(pipeline, service_url, tmp_path):
    command = ["-m", "load_tests.run", "--url", service_url, *SHORT, "--tags", "predict"]
    budget = ["--p95-budget-ms", "0.5", "--output-dir", str(tmp_path)]
    result = pipeline.run(*command, *budget, check=False)
    assert result.returncode == 1
    assert "p95 of POST /predict [1]" in result.stderr


def test_load_test_refuses_a_remote_host(pipeline):
    result = pipeline.run("-m", "load_tests.run", "--url", "http://example.com", check=False)
    assert result.returncode != 0
    assert "not on this machine" in result.stderr + result.stdout
