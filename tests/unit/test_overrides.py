"""The override log: an override names the model answer it overrides, refuses to override
nothing or to repeat the model, never touches the request log; rates by decision and group."""

from __future__ import annotations

import pytest

from credit_scoring.core.overrides import (
    OverrideLog,
    OverrideRefused,
    latest_answers,
    model_answer,
    override_rates,
    read_overrides,
)
from credit_scoring.core.request_log import LoggedDecision, RequestLog, read_log


def logged(version: str, client_id: int, decision: str, gender: str) -> LoggedDecision:
    answer = {"probability": 0.5, "decision": decision}
    return LoggedDecision(
        None, "predict", version, "0" * 64, 0.3, client_id, {"CODE_GENDER": gender}, answer
    )


@pytest.fixture
def request_log(tmp_path):
    path = tmp_path / "requests.sqlite"
    log = RequestLog(path)
    answers = [(1, "refused", "F"), (2, "refused", "M"), (3, "granted", "F"), (4, "granted", "M")]
    log.append(logged("m:1", i, d, g) for i, d, g in answers)
    log.append([logged("m:2", 2, "granted", "M")])
    log.close()
    return path


def test_an_override_records_the_model_answer_it_overrides(request_log, tmp_path):
    overrides = OverrideLog(tmp_path / "overrides.sqlite")
    assert model_answer(request_log, 2).decision == "granted"  # the latest answer counts
    record = overrides.record(
        1, "granted", "payslips checked", "A. Officer", model_answer(request_log, 1)
    )
    assert (record.model_decision, record.model_version, record.decision) == (
        "refused",
        "m:1",
        "granted",
    )
    with pytest.raises(OverrideRefused, match="already 'granted'"):
        overrides.record(3, "granted", "why", "A", model_answer(request_log, 3))
    with pytest.raises(OverrideRefused, match="applicant 99 has no logged model answer"):
        overrides.record(99, "granted", "why", "A", model_answer(request_log, 99))
    assert read_overrides(tmp_path / "overrides.sqlite")["client_id"].tolist() == [1]
    # The model's logged answer stays as it was.
    logged = read_log(request_log)
    assert logged.loc[logged["client_id"] == 1, "decision"].tolist() == ["refused"]


def test_override_rates_by_decision_and_by_group(request_log, tmp_path):
    overrides = OverrideLog(tmp_path / "overrides.sqlite")
    overrides.record(1, "granted", "payslips checked", "A", model_answer(request_log, 1))
    overrides.record(4, "refused", "fraud suspected", "B", model_answer(request_log, 4))
    answers, recorded = latest_answers(request_log), read_overrides(tmp_path / "overrides.sqlite")
    rates = override_rates(answers, recorded).set_index("model_decision")
    assert rates.loc["refused"].tolist() == [1, 1, 1.0]  # client 2 is granted by now
    assert rates.loc["granted"].tolist() == [3, 1, pytest.approx(1 / 3)]
    by_group = override_rates(answers, recorded, by=["CODE_GENDER"])
    assert len(by_group) == 3 and by_group["overridden"].sum() == 2
    with pytest.raises(ValueError, match="no logged application field"):
        override_rates(answers, recorded, by=["race"])
