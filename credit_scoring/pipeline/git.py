"""The code version a model was trained from, for its MLflow record."""

from __future__ import annotations

import subprocess

UNKNOWN = "unknown"


def _git(*args: str) -> str:
    """A git command in the working directory's checkout (the one being run from)."""
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def code_version() -> str:
    """``git describe``-like: the commit of the working directory's checkout, with ``-dirty``
    when files differ from it; ``unknown`` outside a checkout (an installed package run in
    a plain folder)."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{commit}-dirty" if dirty else commit
