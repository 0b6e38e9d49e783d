"""The layout's import rules (``[tool.importlinter]`` in pyproject.toml) hold, and they are
live: a forbidden import added to a copy of the code is reported by the contract it breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CODE = ("credit_scoring", "ui", "load_tests", "benchmarks", "deploy", "pyproject.toml")


def _lint_imports(folder: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the code in ``folder`` (only ``contracts``, when given)."""
    selected = [arg for c in contracts for arg in ("--contract", c)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *selected],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},  # one line per import in its report
    )


def test_the_import_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("contract", "module", "injected", "reported"),
    [
        (
            "core",
            "credit_scoring/core/cost.py",
            "import credit_scoring.pipeline",
            "credit_scoring.core.cost -> credit_scoring.pipeline",
        ),
        (
            "pipeline-serving",
            "credit_scoring/pipeline/promote.py",
            "import credit_scoring.serving.contract",
            "credit_scoring.pipeline.promote -> credit_scoring.serving.contract",
        ),
        (
            "ui-http-only",
            "ui/charts.py",
            "import credit_scoring.core.cost",
            "ui.charts -> credit_scoring.core.cost",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path, contract, module, injected, reported):
    for name in CODE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    with (tmp_path / module).open("a", encoding="utf-8") as code:
        code.write(f"\n{injected}  # forbidden\n")
    result = _lint_imports(tmp_path, contract)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert reported in result.stdout, result.stdout
