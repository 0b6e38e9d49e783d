"""The serving profile puts each sampled stack in the stage a reader of its table expects."""

from __future__ import annotations

from benchmarks.profile_serving import shares, stage_of

SERVE = "main (_bentoml_impl/worker/service.py:242)"
THREAD = "WorkerThread.run (anyio/_backends/_asyncio.py:1124)"


def test_the_record_is_counted_before_the_endpoint_that_writes_it():
    stack = [THREAD, "CreditScoring.score (service.py:397)", "RequestLog.append (r.py:1)"]
    assert stage_of(stack) == "decision record: JSON, digest, commit"


def test_history_features_are_told_from_the_application_fields():
    features = [THREAD, "CreditScoring.score (s.py:1)", "build_features (features.py:65)"]
    assert stage_of([*features, "_history_blocks (f.py:648)"]) == "features: history tables"
    assert stage_of(features) == "features: application fields"


def test_a_waiting_thread_is_not_a_stage_and_anything_else_is_the_framework():
    assert (
        stage_of([THREAD, "Queue.get (queue.py:171)", "Condition.wait (threading.py:327)"]) is None
    )
    assert stage_of([SERVE, "RequestResponseCycle.send (h.py:1)"]).startswith("HTTP server")


def test_shares_are_of_the_busy_samples(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text(
        f"{THREAD};to_batch (batch.py:45) 3\n"
        f"{SERVE};from_http_request (io.py:213) 1\n"
        f"{THREAD};Queue.get (queue.py:171) 4\n"
    )
    by_stage, busy = shares([raw])
    assert by_stage == {"batch assembly": 0.75, "JSON parsing and validation": 0.25}
    assert busy == 0.5
