"""The decision record keeps what was sent and answered, shows any edit or removal, and lets
an applicant's inputs be erased and old rows expire without breaking its chain."""

from __future__ import annotations

import sqlite3
import stat
import time
from dataclasses import replace

import pandas as pd
import pytest

from credit_scoring.core.request_log import (
    ChainBroken,
    LoggedDecision,
    RecordError,
    RequestLog,
    canonical,
    erase,
    expire,
    read_log,
    verify,
)


def decision(applicant_id: int | str | None, credit: float = 1.0) -> LoggedDecision:
    return LoggedDecision(
        "a1b2",
        "predict",
        "m:1",
        "d" * 64,
        0.2,
        applicant_id,
        {"AMT_CREDIT": credit},
        {"probability": 0.1, "decision": "granted", "threshold": 0.2, "top_features": []},
    )


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "logs" / "requests.sqlite"
    record = RequestLog(path)
    sent = zip((7, "007", "L-00017", None), (1.0, 2.0, 3.0, 4.0), strict=True)
    record.append(decision(applicant_id, credit) for applicant_id, credit in sent)
    record.append([decision(7, credit=70.0)])
    record.close()
    return path


def test_ids_inputs_and_answers_come_back_as_sent(path):
    logged = read_log(path)
    assert [None if v != v else v for v in logged["client_id"]] == [7, "007", "L-00017", None, 7]
    assert logged["AMT_CREDIT"].tolist() == [1.0, 2.0, 3.0, 4.0, 70.0]
    assert logged["seq"].tolist() == [1, 2, 3, 4, 5]
    first = logged.iloc[0]
    assert (first["request_id"], first["model_version"], first["decision"]) == (
        "a1b2",
        "m:1",
        "granted",
    )
    assert verify(path).rows == 5


def test_a_shadow_result_is_chained_with_its_row_and_read_back_as_columns(tmp_path):
    path = tmp_path / "requests.sqlite"
    shadow = {"probability": 0.3, "decision": "refused", "points": 540.0, "band": "D"}
    record = RequestLog(path)
    record.append(
        [
            replace(decision(1), challenger={"model_version": "c:2", "answer": shadow}),
            replace(decision(2), challenger={"model_version": "c:2", "error": "ValueError"}),
            decision(3),
        ]
    )
    record.close()
    logged = read_log(path)
    assert logged["challenger_decision"].tolist()[:2] == ["refused", None]
    assert logged["challenger_error"].tolist()[:2] == [None, "ValueError"]
    assert logged["challenger_probability"].iloc[0] == 0.3
    assert pd.isna(logged["challenger_model_version"].iloc[2])  # no shadow for that one
    assert verify(path).rows == 3


def test_the_record_and_its_folder_are_owner_only(tmp_path):
    path = tmp_path / "logs" / "requests.sqlite"
    record = RequestLog(path)
    record.append([decision(7)])
    for written in (path, path.with_name("requests.sqlite-wal")):  # the journal: while open
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, written
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    record.close()


@pytest.mark.parametrize(
    ("tamper", "bad_row", "why"),
    [
        (
            "UPDATE decisions SET content = replace(content, 'granted', 'refused') WHERE seq = 3",
            3,
            "digest",
        ),
        (
            "UPDATE decisions SET applicant = replace(applicant, '2.0', '9.0') WHERE seq = 2",
            2,
            "inputs",
        ),
        ("DELETE FROM decisions WHERE seq = 2", 3, "missing"),
        ("UPDATE decisions SET applicant = NULL WHERE seq = 4", 4, "without a tombstone"),
    ],
)
def test_verify_names_the_first_edited_or_removed_row(path, tamper, bad_row, why):
    with sqlite3.connect(path) as db:
        db.execute(tamper)
    with pytest.raises(ChainBroken, match=why) as broken:
        verify(path)
    assert broken.value.seq == bad_row


def test_erasure_removes_one_applicants_inputs_and_keeps_the_chain(path):
    assert erase(path, "7", "erasure request 2026-12-01") == [1, 5]
    kept = read_log(path)
    assert 7 not in kept["client_id"].tolist() and 70.0 not in kept["AMT_CREDIT"].tolist()
    assert verify(path).erased == 2
    with sqlite3.connect(path) as db:
        (tombstone,) = db.execute("SELECT tombstone FROM decisions WHERE seq = 5").fetchone()
    assert "erasure request 2026-12-01" in tombstone


def test_retention_empties_old_rows_only_and_refuses_less_than_six_months(path):
    with sqlite3.connect(path) as db:  # rows 1-2 as if logged three years ago
        db.execute("UPDATE decisions SET logged_at = logged_at - 3 * 365 * 86400 WHERE seq <= 2")
    with pytest.raises(RecordError, match="6 months"):
        expire(path, 5)
    # Rows 1-2 were edited above (their time no longer matches their digest): retention
    # empties them, and what is left verifies.
    assert expire(path, 25) == 2
    assert read_log(path)["seq"].tolist() == [3, 4, 5]
    result = verify(path)
    assert (result.rows, result.expired) == (5, 2)
    assert expire(path, 25, now=pd.Timestamp.now(tz="UTC")) == 0


def test_a_missing_record_is_named(tmp_path):
    with pytest.raises(RecordError, match="no decision record at"):
        read_log(tmp_path / "none.sqlite")


def cli(*args: str):
    from typer.testing import CliRunner

    from credit_scoring.cli import app

    return CliRunner().invoke(app, list(args))


def test_the_commands_verify_erase_and_expire(path, monkeypatch):
    log = ["--log", str(path)]
    ok = cli("verify", *log)
    assert ok.exit_code == 0 and ok.output.startswith(f"ok: {path}: 5 rows chained, 0 erased")
    erased = cli("erase", "--applicant", "007", *log)
    assert erased.output == "erased the inputs of applicant 007 from 1 rows [2]\n"
    assert "1 erased on request" in cli("verify", *log).output
    assert cli("retention", *log).output == "retention 25 months: 0 rows emptied\n"
    monkeypatch.setenv("CREDIT_RETENTION_MONTHS", "3")
    refused = cli("retention", *log)
    assert refused.exit_code == 1
    assert refused.output == (
        "error: CREDIT_RETENTION_MONTHS: Input should be greater than or equal to 6\n"
    )
    with sqlite3.connect(path) as db:
        db.execute("UPDATE decisions SET content = replace(content, '0.1', '0.9') WHERE seq = 4")
    broken = cli("verify", *log)
    assert broken.exit_code == 1
    assert broken.output == (
        "error: row 4: digest does not match its content and the row before it\n"
    )


def test_the_canonical_text_is_sorted_compact_json_whatever_the_number_types():
    import json

    import numpy as np

    value = {
        "b": [1, None, 2.5e-7, {"z": True, "a": "été\n"}],
        "a": np.float64(0.125),
        "c": np.int64(7),
    }
    text = canonical(value)
    assert text == '{"a":0.125,"b":[1,null,2.5e-7,{"a":"été\\n","z":true}],"c":7}'
    assert json.loads(text) == json.loads(json.dumps(value, default=lambda v: v.item()))


def _bulky(record: RequestLog, megabytes: int) -> None:
    """Appends of ~100 kB each (a few typical clients' history rows), ``megabytes`` in all:
    past SQLite's automatic checkpoint (1,000 pages, ~4 MB)."""
    text = "x" * 100_000
    for _ in range(megabytes * 10):
        record.append([replace(decision(1), inputs={"rows": text})])


def _sizes(path) -> tuple[int, int]:
    return path.stat().st_size, path.with_name(path.name + "-wal").stat().st_size


def test_a_commit_that_fills_the_journal_does_not_copy_it_into_the_file(tmp_path):
    # SQLite checkpoints inside the commit that crosses 1,000 pages: that commit (and every
    # worker waiting for the write lock) waited 4x longer. The service's record leaves it
    # to its own thread: the journal grows meanwhile and the file does not.
    default, background = tmp_path / "default.sqlite", tmp_path / "background.sqlite"
    _bulky(RequestLog(default), 6)
    _bulky(RequestLog(background, checkpoint_every_s=3600), 6)
    assert _sizes(default)[0] > 2_000_000  # copied into the file by the commits themselves
    file_size, journal_size = _sizes(background)
    assert file_size < 1_000_000 and journal_size > 6_000_000
    assert verify(background).rows == 60  # committed: in the journal, readable, chained


def test_the_record_thread_copies_the_journal_into_the_file_and_it_is_reused(tmp_path):
    path = tmp_path / "requests.sqlite"
    record = RequestLog(path, checkpoint_every_s=0.05)
    _bulky(record, 3)
    deadline = time.monotonic() + 10
    while _sizes(path)[0] < 3_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sizes(path)[0] > 3_000_000, "the thread did not checkpoint"
    journal = _sizes(path)[1]
    time.sleep(0.2)  # the next checkpoint: everything copied, the journal starts over
    _bulky(record, 1)
    assert _sizes(path)[1] <= journal  # rewritten from its start, not grown
    record.close()
    assert verify(path).rows == 40
