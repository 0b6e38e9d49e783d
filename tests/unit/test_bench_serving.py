"""`make bench-serving` writes its table into reports/, which a fresh clone does not have."""

from __future__ import annotations

from benchmarks.serving import save


def test_the_table_is_written_where_no_folder_exists_yet(tmp_path):
    target = tmp_path / "reports" / "bench-serving.md"
    save("| variant |", target)
    assert target.read_text() == "| variant |"


def test_the_typical_and_heavy_clients_are_the_nearest_in_every_table():
    import pandas as pd

    from credit_scoring.profiles.home_credit.requests import history_counts, nearest

    requests = [
        {"bureau": [{}] * 3, "previous_application": [{}] * 2},  # median in both
        {"bureau": [{}] * 3},  # median bureau, no previous applications
        {"bureau": [{}] * 40, "previous_application": [{}] * 30},  # heavy in both
        {"bureau": [{}] * 1, "previous_application": [{}] * 1},
        {"bureau": [{}] * 5, "previous_application": [{}] * 4},
    ]
    counts = history_counts(requests)[["bureau", "previous_application"]]
    assert counts.to_numpy().tolist() == [[3, 2], [3, 0], [40, 30], [1, 1], [5, 4]]
    assert nearest(counts, pd.Series({"bureau": 3, "previous_application": 2}), 1) == [0]
    assert nearest(counts, counts.quantile(0.95), 1) == [2]


def test_the_ratios_and_budgets_of_the_request_kinds():
    from benchmarks.serving import LIVEZ, Result, budget_lines, ratio_lines

    results = [
        Result(LIVEZ, 64, 8000, 8, 15, 0),
        Result("score, application only", 64, 4000, 15, 40, 0),
        Result("score, typical client", 64, 1000, 60, 120, 0),
        Result("predict, typical client", 64, 900, 70, 90, 3),
        Result("predict, typical client, model credit_scoring:full", 64, 450, 140, 200, 0),
    ]
    ratios = "\n".join(ratio_lines(results))
    assert "score, application only / /livez (target >= 0.5): 0.50" in ratios
    assert "score, typical client / application only (target >= 0.25): 0.25" in ratios
    assert "predict, typical client, model credit_scoring:full / the promoted" in ratios
    assert ratios.endswith("0.50")
    budgets = "\n".join(budget_lines(results))
    assert "- score, typical client: 120 ms" in budgets
    assert "predict, typical client, model credit_scoring:full: 200 ms" in budgets
    assert "cells with errors (target: none): predict, typical client at 64" in budgets


def test_the_framework_floor_bounds_the_application_only_ratio():
    from benchmarks.serving import FLOOR, LIVEZ, Result, ratio_lines

    results = [
        Result(LIVEZ, 64, 5000, 8, 15, 0),
        Result(f"{FLOOR}, application only", 64, 2000, 20, 40, 0),
        Result(f"{FLOOR}, typical client", 64, 1000, 40, 80, 0),
        Result("score, application only", 64, 1200, 30, 60, 0),
        Result("score, typical client", 64, 500, 90, 180, 0),
    ]
    ratios = "\n".join(ratio_lines(results))
    assert "BentoML's floor, application only / /livez (bounds the first ratio): 0.40" in ratios
    assert "score, application only / BentoML's floor with the same body: 0.60" in ratios
    assert "score, typical client / BentoML's floor with the same body: 0.50" in ratios
