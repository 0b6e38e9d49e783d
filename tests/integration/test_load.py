"""The load-test command against the real service: a short bounded run writes Locust's reports,
every valid request succeeds, every invalid one gets a 4xx, and an impossible latency budget
makes the command fail."""

from __future__ import annotations

import csv
import json

import pytest

pytestmark = pytest.mark.integration

SHORT = ["--users", "4", "--spawn-rate", "4", "--run-time", "6", "--pool-size", "200"]


def test_load_test_writes_reports_and_fails_over_its_budget(pipeline, service_url, tmp_path):
    # One short run: every scenario answered correctly, but no endpoint can answer in 0.5 ms.
    command = ["-m", "load_tests.run", "--url", service_url, *SHORT, "--output-dir", str(tmp_path)]
    result = pipeline.run(*command, "--p95-budget-ms", "0.5", check=False)
    assert result.returncode == 1
    summary = json.loads((tmp_path / "load_summary.json").read_text())
    assert summary["valid_requests"] > 5 and summary["valid_error_rate"] == 0, result.stdout
    assert summary["invalid_not_4xx"] == 0
    assert summary["problems"] and all(p.startswith("p95 of ") for p in summary["problems"])
    assert "FAILED: p95 of " in result.stderr
    assert (tmp_path / "load_report.html").stat().st_size > 10_000
    with (tmp_path / "load_stats.csv").open() as f:
        names = {row["Name"] for row in csv.DictReader(f)}
    assert {"POST /predict [1]", "Aggregated"} <= names


def test_load_test_refuses_a_remote_host(pipeline):
    result = pipeline.run("-m", "load_tests.run", "--url", "http://example.com", check=False)
    assert result.returncode != 0
    assert "not on this machine" in result.stderr + result.stdout
