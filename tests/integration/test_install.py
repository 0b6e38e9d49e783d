"""The install promise: `pip install .` into a fresh virtual environment, then `credit-scoring`
generate -> train -> promote in an empty folder writes only under that folder (and the BentoML
home), nothing into the installed package or the checkout.

The fresh environment sees the project environment's dependencies through a .pth file (no
download, no second copy) and gets the project itself as a real, non-editable install."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
CHECKOUT = Path(__file__).resolve().parents[2]
TINY = [
    "--rows",
    "1500",
    "--trials",
    "1",
    "--max-trees",
    "20",
    "--families",
    "lightgbm",
    "--repeats",
    "1",
]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    packages = next(root.glob("lib/python*/site-packages"))
    (packages / "project_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    uv = Path(sys.executable).with_name("uv")
    python = str(root / "bin" / "python")
    command = [str(uv), "pip", "install", "--quiet", "--no-deps", "--python", python]
    subprocess.run([*command, str(CHECKOUT)], check=True, timeout=300)
    return root


def clean_env(bentoml_home: Path) -> dict[str, str]:
    """The user's environment without this project's settings: paths come from the cwd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "MLFLOW_"))}
    return env | {"BENTOML_HOME": str(bentoml_home), "BENTOML_DO_NOT_TRACK": "true"}


def test_an_installed_package_writes_only_under_the_folder_it_runs_in(venv, tmp_path):
    packages = next(venv.glob("lib/python*/site-packages"))
    installed = packages / "credit_scoring"
    assert installed.is_dir() and not (installed / "cli.py").is_symlink()
    before = files_under(packages)
    checkout_before = set(CHECKOUT.iterdir())
    folder, bentoml_home = tmp_path / "empty", tmp_path / "bentoml"
    folder.mkdir()
    env = clean_env(bentoml_home)
    cli = str(venv / "bin" / "credit-scoring")

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [cli, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr[-3000:]}"
        return result

    assert "generate" in run("--help").stdout
    assert "default rate" in run("generate", "--rows", "1500").stdout
    run("train", *TINY)
    run("promote", "--justification", "install test on generated data", "--reviewer", "tests")

    assert {p.name for p in folder.iterdir()} == {"data", "mlflow"}
    assert (folder / "mlflow" / "mlflow.db").is_file()
    assert list((folder / "data" / "generated").iterdir()) == [folder / "data/generated/1500-0"]
    assert (bentoml_home / "models" / "credit_scoring" / "latest").is_file()
    new = files_under(packages) - before
    assert all("__pycache__" in p.parts for p in new), sorted(new)[:10]
    assert set(CHECKOUT.iterdir()) == checkout_before
    assert not list(tmp_path.glob("*.db"))
