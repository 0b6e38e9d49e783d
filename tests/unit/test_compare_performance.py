"""The comparison and realised-performance reports on decision-record rows written here, with
challenger results as the shadow service logs them: figures recomputed from the rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core import metrics, outcomes
from credit_scoring.core.request_log import LoggedDecision, RequestLog
from credit_scoring.monitoring import compare, performance
from credit_scoring.monitoring.decisions import ReportError, Window

THRESHOLD = 0.2
ROWS = 400
TODAY = pd.Timestamp.now(tz="UTC")
LATER = TODAY + pd.DateOffset(months=12, days=1)  # every cohort of today mature


def _answer(p: float) -> dict:
    return {"probability": p, "decision": "refused" if p >= THRESHOLD else "granted",
            "points": 600.0, "band": "A" if p < 0.1 else "B"}  # fmt: skip


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """ROWS applicants scored by a champion, a challenger in shadow (correlated scores), one
    challenger failure; their true outcomes drawn from the champion's score."""
    rng = np.random.default_rng(0)
    champion = rng.beta(1.2, 8, ROWS)
    challenger = np.clip(champion + rng.normal(0, 0.06, ROWS), 0, 1)
    rows = [
        LoggedDecision(None, "predict", "m:1", "d" * 64, THRESHOLD, 1000 + i, {}, _answer(p),
                       {"model_version": "m:2", "bundle_digest": "e" * 64, "answer": _answer(q)})
        for i, (p, q) in enumerate(zip(champion, challenger, strict=True))
    ]  # fmt: skip
    failed = {"model_version": "m:2", "error": "ValueError"}
    rows.append(
        LoggedDecision(None, "score", "m:1", "d" * 64, THRESHOLD, 5000, {}, _answer(0.5), failed)
    )
    rows.append(LoggedDecision(None, "explain", "m:1", "d" * 64, THRESHOLD, 6000, {}, _answer(0.5)))
    # An answer without an applicant id: the id column then reads back as floats.
    rows.append(
        LoggedDecision(None, "score", "m:1", "d" * 64, THRESHOLD, None, {}, _answer(0.01), failed)
    )
    log = RequestLog(tmp_path / "requests.sqlite")
    log.append(rows)
    log.close()
    truth = pd.DataFrame(
        {
            "id": 1000 + np.arange(ROWS),
            "p": champion,
            "q": challenger,
            "bad": rng.random(ROWS) < champion,
        }
    )
    return log.path, truth


def test_swap_set_counts_equal_a_recomputation_from_the_rows(logged):
    path, truth = logged
    report = compare.build(path, Window())
    mine, theirs = truth["p"] >= THRESHOLD, truth["q"] >= THRESHOLD
    assert report["decisions"] == ROWS  # the failed shadow and the explanation are left out
    assert report["challenger_errors"] == {"ValueError": 2}
    assert report["sets"]["swap_out"]["count"] == int((~mine & theirs).sum())
    assert report["sets"]["swap_in"]["count"] == int((mine & ~theirs).sum())
    assert report["sets"]["agree_refused"]["count"] == int((mine & theirs).sum())
    assert report["agreement_rate"] == round(float((mine == theirs).mean()), 4)
    assert report["approval_rate"] == {
        "champion": round(float((~mine).mean()), 4),
        "challenger": round(float((~theirs).mean()), 4),
    }
    assert 0 <= report["psi"] < 0.25  # close score distributions
    assert "outcomes" in report and report["outcomes"]["swap_in"]["bad_rate"] is None


def test_outcomes_of_refused_applicants_are_flagged_as_complete_information(logged):
    path, truth = logged
    sent = [
        outcomes.Outcome(str(i), bool(b), TODAY.date())
        for i, b in zip(truth["id"], truth["bad"], strict=True)
    ]
    outcomes.record(path, sent)
    report = compare.build(path, Window(), as_of=LATER)
    observed = report["outcomes"]
    assert observed["complete_information"] is True
    swap_in = truth[(truth["p"] >= THRESHOLD) & (truth["q"] < THRESHOLD)]
    assert observed["swap_in"]["bads"] == int(swap_in["bad"].sum())


def test_psi_needs_enough_decisions_and_the_page_shows_counts_as_counts(logged, tmp_path):
    path, truth = logged
    scores = pd.Series(truth["p"])
    few = compare.MIN_PSI_DECISIONS - 1
    assert compare.psi(scores[:few], scores[:few]) is None  # noise, not a shift
    assert compare.psi(scores, scores) == 0
    outcomes.record(path, [outcomes.Outcome(str(i), False, TODAY.date()) for i in truth["id"]])
    report = compare.build(path, Window(), as_of=LATER)
    html_path = compare.write(report, tmp_path)[1]
    page = html_path.read_text()
    swap_out = report["outcomes"]["swap_out"]
    count = swap_out["applicants"]
    assert f"<td>{count}</td>" in page and f"<td>{count}.0</td>" not in page
    assert "decisions logged at any time" in page and "'since'" not in page


def test_realised_auc_is_the_training_reports_and_young_cohorts_are_immature(logged):
    path, truth = logged
    with pytest.raises(ReportError, match="no outcome recorded"):
        performance.build(path, performance.Options(Window(), 12, TODAY))
    sent = [
        outcomes.Outcome(str(i), bool(b), TODAY.date())
        for i, b in zip(truth["id"], truth["bad"], strict=True)
    ]
    outcomes.record(path, sent)
    now = performance.build(path, performance.Options(Window(), 12, TODAY))
    overall = now["cohorts"][-1]
    assert overall["bad"] == int(truth["bad"].sum())  # defaults count at once
    # the rest, and the one scored applicant without an outcome, are immature: none is good
    assert overall["immature"] == ROWS + 1 - overall["bad"] and overall["good"] == 0
    later = performance.build(path, performance.Options(Window(), 12, LATER))
    champion = later["cohorts"][-1]["champion"]
    expected = metrics.auc_interval(truth["bad"].to_numpy(int), truth["p"].to_numpy())
    assert champion["roc_auc"] == round(expected.auc, 4)
    assert champion["roc_auc_low"] == round(expected.low, 4)
    assert later["cohorts"][-1]["challenger"]["applicants"] == ROWS
    assert later["complete_information"] is True
    assert set(later["models"]) == {"champion", "challenger"}


def _page(reports: str) -> None:
    from pathlib import Path

    from ui.monitoring import monitoring_view

    monitoring_view(Path(reports))


def test_the_monitoring_page_shows_the_reports(logged, tmp_path: Path):
    from streamlit.testing.v1 import AppTest

    path, truth = logged
    sent = [
        outcomes.Outcome(str(i), bool(b), TODAY.date())
        for i, b in zip(truth["id"], truth["bad"], strict=True)
    ]
    outcomes.record(path, sent)
    reports = tmp_path / "reports"
    performance.write(
        performance.build(path, performance.Options(Window(), 12, LATER)), reports / "performance"
    )
    compared = compare.build(path, Window(), LATER)
    compare.write(compared, reports / "compare")
    page = AppTest.from_function(_page, args=(str(reports),)).run(timeout=60)
    assert not page.exception
    assert page.metric[0].value == f"{compared['agreement_rate']:.1%}"
    assert len(page.dataframe) >= 3  # cohorts, training figures, swap sets
    assert "No drift report yet" in page.info[0].value
