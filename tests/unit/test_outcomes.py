"""Outcomes beside the decision record: idempotent, validated, unknown ids reported, and
what an outcome counts as once the performance window is applied."""

from __future__ import annotations

import stat
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from credit_scoring.core import outcomes
from credit_scoring.core.outcomes import Outcome, OutcomeConflict, OutcomeError
from credit_scoring.core.request_log import LoggedDecision, RecordError, RequestLog

TODAY = pd.Timestamp.now(tz="UTC").date()


def _decision(applicant_id: int | str) -> LoggedDecision:
    answer = {"probability": 0.1, "decision": "granted", "points": 600.0, "band": "B"}
    return LoggedDecision(None, "predict", "m:1", "d" * 64, 0.2, applicant_id, {}, answer)


@pytest.fixture
def record(tmp_path: Path) -> Path:
    log = RequestLog(tmp_path / "logs" / "requests.sqlite")
    log.append([_decision(1), _decision(2), _decision("007")])
    log.close()
    return log.path


def test_recorded_once_the_same_outcome_again_changes_nothing(record: Path):
    sent = [Outcome("1", True, TODAY), Outcome("2", False, TODAY)]
    assert outcomes.record(record, sent) == outcomes.Receipt(2, 0, [])
    assert outcomes.record(record, sent) == outcomes.Receipt(0, 2, [])
    stored = outcomes.read(record).sort_values("applicant_id")
    assert stored["applicant_id"].tolist() == ["1", "2"]
    assert stored["defaulted"].tolist() == [True, False]
    assert stat.S_IMODE(record.stat().st_mode) == 0o600  # still the record's owner-only file


def test_unknown_ids_are_reported_back_and_the_rest_recorded(record: Path):
    receipt = outcomes.record(
        record,
        [Outcome("007", False, TODAY), Outcome("99", True, TODAY), Outcome("7", True, TODAY)],
    )
    assert receipt == outcomes.Receipt(1, 0, ["99", "7"])  # "007" was scored, 7 was not
    assert outcomes.read(record)["applicant_id"].tolist() == ["007"]


def test_a_different_outcome_refuses_the_whole_batch_naming_the_applicant(record: Path):
    outcomes.record(record, [Outcome("1", False, TODAY)])
    with pytest.raises(OutcomeConflict, match=r"'1' \(no default on .*, sent defaulted on"):
        outcomes.record(record, [Outcome("2", True, TODAY), Outcome("1", True, TODAY)])
    assert outcomes.read(record)["applicant_id"].tolist() == ["1"]  # "2" was not recorded either


def test_bad_rows_are_named(record: Path, tmp_path: Path):
    csv = tmp_path / "outcomes.csv"
    csv.write_text(f"applicant_id,defaulted,observed_on\n1,yes,{TODAY}\n2,maybe,{TODAY}\n")
    with pytest.raises(OutcomeError, match="row 2: defaulted must be yes/no"):
        outcomes.read_csv(csv)
    csv.write_text("applicant_id,defaulted,observed_on\n1,1,31/12/2026\n")
    with pytest.raises(OutcomeError, match="row 1: observed_on must be a date"):
        outcomes.read_csv(csv)
    csv.write_text("applicant,defaulted\n1,1\n")
    with pytest.raises(OutcomeError, match="no column applicant_id, observed_on"):
        outcomes.read_csv(csv)
    future = [Outcome("1", False, TODAY), Outcome("2", True, TODAY + timedelta(days=1))]
    with pytest.raises(OutcomeError, match=r"row 2: applicant '2' observed_on .* in the future"):
        outcomes.record(record, future)
    with pytest.raises(OutcomeError, match=r"row 1: .* before the decision"):
        outcomes.record(record, [Outcome("1", True, TODAY - timedelta(days=3))])
    assert outcomes.read(record).empty


def test_no_record_no_outcomes(tmp_path: Path):
    with pytest.raises(RecordError, match="no decision record"):
        outcomes.record(tmp_path / "none.sqlite", [Outcome("1", True, TODAY)])


def test_erasing_an_outcome_allows_a_correction(record: Path):
    outcomes.record(record, [Outcome("1", False, TODAY)])
    assert outcomes.erase_outcome(record, "1") == 1
    assert outcomes.record(record, [Outcome("1", True, TODAY)]).recorded == 1


def test_a_young_cohort_is_immature_not_good_and_late_defaults_do_not_count():
    decided = pd.Series(pd.to_datetime(["2025-01-10", "2025-01-10", "2025-11-01", "2025-01-10",
                                        "2025-11-01"], utc=True))  # fmt: skip
    defaulted = pd.Series([True, True, None, False, True])
    observed = pd.Series([date(2025, 6, 1), date(2026, 3, 1), None, date(2026, 1, 15),
                          date(2025, 12, 1)])  # fmt: skip
    labels = outcomes.realised(
        decided, defaulted, observed, 12, pd.Timestamp("2026-02-01", tz="UTC")
    )
    # default within 12 months: bad; after them: good (mature); young, nothing yet: immature;
    # mature no default: good; young but already defaulted: bad.
    assert labels.tolist() == ["bad", "good", "immature", "good", "bad"]
    no_outcome = outcomes.realised(
        decided[:1], pd.Series([None]), pd.Series([None]), 12, pd.Timestamp("2026-02-01", tz="UTC")
    )
    assert no_outcome.tolist() == ["no outcome"]
