"""Readiness follows the request log: each way it cannot take rows is reported with its cause;
a folder the log cannot be created in fails at start naming the path."""

from __future__ import annotations

import sqlite3

import pytest

from credit_scoring.core.request_log import RequestLog
from credit_scoring.serving.readiness import RequestLogError, RequestLogProbe, checked_folder


@pytest.fixture
def log_path(tmp_path):
    RequestLog(tmp_path / "requests.sqlite").close()
    return tmp_path / "requests.sqlite"


def test_a_writable_log_has_no_problem(log_path):
    assert RequestLogProbe(log_path).problem() is None


def test_a_lock_held_elsewhere_is_reported_and_clears(log_path):
    probe = RequestLogProbe(log_path)
    with sqlite3.connect(log_path, isolation_level=None) as other:
        other.execute("BEGIN EXCLUSIVE")
        assert probe.problem() == "request log cannot be written (database is locked)"
        other.execute("ROLLBACK")
    assert probe.problem() is None


def test_a_deleted_or_replaced_log_is_reported(log_path):
    writer = RequestLog(log_path)  # held open, as the service holds it
    probe = RequestLogProbe(log_path)
    log_path.unlink()
    assert probe.problem() == "request log was deleted or replaced while serving"
    RequestLog(log_path).close()  # a new file at the same path is not the one being written
    assert probe.problem() == "request log was deleted or replaced while serving"
    writer.close()


def test_a_full_disk_is_reported(log_path):
    problem = RequestLogProbe(log_path, min_free_bytes=2**62).problem()
    assert problem is not None and problem.startswith("request log: disk full (")


def test_a_folder_that_cannot_be_created_names_the_path(tmp_path):
    (tmp_path / "logs").write_text("a file where the folder should be")
    with pytest.raises(RequestLogError, match=str(tmp_path / "logs")):
        checked_folder(tmp_path / "logs" / "requests.sqlite")
    checked_folder(tmp_path / "fine" / "requests.sqlite")  # created when missing
    assert (tmp_path / "fine").is_dir()
