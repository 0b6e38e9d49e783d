"""Can the request log be written right now? The service is ready only while it can.

Every answer is recorded, so a service that cannot record must not take traffic: a full disk,
a read-only folder, a lock held by another process or a log file deleted under the service
each made every scoring call fail (or stall, or write to a deleted file) while ``/readyz``
said 200. The probe names the cause; it opens a connection of its own, so it never disturbs
the service's writer.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

# Below this much free space a batch may fail half-way: refuse traffic before it does.
MIN_FREE_BYTES = 16 * 1024 * 1024
LOCK_WAIT_S = 0.2  # a probe waits this long for a lock held elsewhere, then reports it


class RequestLogError(RuntimeError):
    """The request log cannot be opened for writing; the message names its path."""


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


class RequestLogProbe:
    """Checks that the request log the service opened at ``path`` can take rows now."""

    def __init__(self, path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
        self.path = Path(path)
        self.min_free_bytes = min_free_bytes
        self.opened = _identity(self.path)  # the file the service writes to

    def problem(self) -> str | None:
        """None when a row could be appended now; else why not (without the path: the answer
        goes to an unauthenticated probe; the service's log names the path)."""
        try:
            if _identity(self.path) != self.opened:
                raise FileNotFoundError
        except FileNotFoundError:
            return "request log was deleted or replaced while serving"
        free = shutil.disk_usage(self.path.parent).free
        if free < self.min_free_bytes:
            return f"request log: disk full ({free} bytes free)"
        return _write_problem(self.path)


def _write_problem(path: Path) -> str | None:
    """Take the write lock and give it back at once: fails when the file is locked by another
    process, read-only, or its folder cannot hold the journal."""
    try:
        db = sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None)
    except sqlite3.OperationalError as error:
        return f"request log cannot be opened ({error})"
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return None
    except sqlite3.OperationalError as error:
        return f"request log cannot be written ({error})"
    finally:
        db.close()


def checked_folder(path: Path) -> None:
    """Fail at start, naming the path, when the request log cannot be created or written
    (instead of workers restarting in a loop with SQLite's "unable to open database file")."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RequestLogError(f"request log folder {folder}: {error.strerror}") from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RequestLogError(f"request log folder {folder} is not writable")
    problem = _write_problem(Path(path)) if Path(path).exists() else None
    if problem:
        raise RequestLogError(f"{problem}: {path}")
