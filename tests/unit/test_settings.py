"""Settings: every path under one home folder (the working directory by default, never the
package's folder), each still overridable; bad values refused with the variable's name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from credit_scoring.cli import app
from credit_scoring.core.settings import CoreSettings
from credit_scoring.pipeline.settings import PipelineSettings
from credit_scoring.serving.settings import ServingSettings


@pytest.fixture(autouse=True)
def no_project_env(monkeypatch):
    for name in (
        "CREDIT_HOME",
        "CREDIT_DATA_DIR",
        "CREDIT_MLFLOW_DIR",
        "MLFLOW_TRACKING_URI",
        "CREDIT_REQUEST_LOG",
        "CREDIT_REPORTS_DIR",
        "CREDIT_WORKERS",
        "CREDIT_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip


def test_paths_follow_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    core = CoreSettings()
    assert core.home == tmp_path
    assert core.generated_dir == tmp_path / "data" / "generated"
    assert core.request_log == tmp_path / "logs" / "requests.sqlite"
    assert core.reports_dir == tmp_path / "reports"
    assert PipelineSettings().tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert PipelineSettings().artifact_dir == tmp_path / "mlflow" / "artifacts"


def test_the_home_and_each_path_can_be_set(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "elsewhere"))
    core = CoreSettings()
    assert (core.data_dir, core.mlflow_dir) == (tmp_path / "elsewhere", tmp_path / "home/mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert PipelineSettings().tracking_uri == "http://mlflow:5000"


def test_serving_settings_are_validated(monkeypatch):
    monkeypatch.setenv("CREDIT_API_KEY", "")  # empty = open service, as in the k8s manifests
    monkeypatch.setenv("CREDIT_BATCHING", "0")
    settings = ServingSettings()
    assert (settings.api_key, settings.batching, settings.workers) == (None, False, 2)
    monkeypatch.setenv("CREDIT_WORKERS", "two")
    with pytest.raises(ValidationError, match="workers"):
        ServingSettings()


def test_reported_settings_echo_the_environment_and_hide_secrets(monkeypatch):
    environment = {
        "CREDIT_WORKERS": "1",
        "CREDIT_BATCHING": "false",
        "CREDIT_REQUEST_LOG": "/var/lib/credit-scoring/requests.sqlite",
        "CREDIT_MODEL_NAME": "credit_scoring",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CREDIT_API_KEY", "s3cret-key")
    reported = ServingSettings().reported()
    assert {k: reported[k] for k in environment} == environment
    assert (reported["CREDIT_API_KEY"], reported["CREDIT_METRICS_TOKEN"]) == ("set", None)
    assert "s3cret-key" not in str(reported)


@pytest.mark.parametrize(
    ("dataset", "name"),
    [
        ("home-credit", "credit-scoring.home-credit"),
        ("my loans: 2024/Q1", "credit-scoring.my-loans-2024-Q1"),
    ],
)
def test_one_registered_model_per_dataset_with_a_name_mlflow_accepts(dataset, name):
    assert PipelineSettings().registered_model(dataset) == name


def test_a_bad_setting_fails_the_command_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDIT_WORKERS", "0")
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "serve"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: CREDIT_WORKERS: Input should be greater than or equal to 1"
    ]


def test_tools_outside_the_package_need_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["load-test", "--help"])
    assert result.exit_code == 1
    assert result.output.startswith("error: load_tests.run is a tool of the credit-scoring-bento")
