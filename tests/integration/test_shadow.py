"""Champion and challenger through the real service: a second, cheaper model of another family
(logistic) promoted as the challenger beside the session's champion, real `bentoml serve`
processes, the real MLflow store and decision record.

Then the loop closes on the same pair: generated traffic, its generated outcomes recorded
through ``POST /outcomes``, the realised performance of both models (on unshifted traffic the
champion's realised AUC CI holds its hold-out AUC; on a shifted population whose risk changed it
is clearly lower) and the comparison's observed bad rates per swap set.

The module works on a copy of the session's stores (its MLflow database, its BentoML models):
the session's own servers never see this challenger. The tests run in file order, as the
workflow does: shadow -> outcomes -> sampled and broken shadow -> switch -> rollback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

from credit_scoring.core.request_log import read_log
from credit_scoring.core.scorer import Scorer
from credit_scoring.serving.shadow import sampled
from load_tests import traffic
from tests.integration.conftest import CLI, SEED, Pipeline, isolated_env, serve
from tests.integration.test_pipeline import applicants, post

pytestmark = pytest.mark.integration
CHALLENGER = "credit_scoring_challenger"
GATE = ("--justification", "tests on generated data", "--reviewer", "tests")
SIGNED = ("--reviewer", "risk committee", "--why", "challenger better on the swap set")
OUTCOMES_KEY = "loan-system-key-for-tests"
TRAFFIC_ROWS, TRAFFIC_SEED = 300, 11


@pytest.fixture(scope="module")
def arena(pipeline: Pipeline, tmp_path_factory) -> Pipeline:
    """The session's stores, copied; a logistic model trained on the same data (a new version
    of the same registered model, kept off the champion alias) promoted as the challenger."""
    root = tmp_path_factory.mktemp("shadow")
    shutil.copytree(pipeline.home / "mlflow", root / "mlflow")
    shutil.copytree(pipeline.bentoml_home / "models", root / "bentoml" / "models")
    arena = Pipeline(
        isolated_env(root) | {"CREDIT_DATA_DIR": pipeline.env["CREDIT_DATA_DIR"]}, root
    )
    champion = _registry(arena).get_model_version_by_alias(_model(arena), "champion")
    arena.run(CLI, "train", "--rows", "4000", "--seed", str(SEED), "--families", "logistic",
              "--repeats", "1")  # fmt: skip
    # Whichever is cheaper on the hold-out, the session's model stays champion here.
    _registry(arena).set_registered_model_alias(_model(arena), "champion", champion.version)
    arena.run(CLI, "promote", "--challenger", *GATE)
    return arena


def _registry(arena: Pipeline) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=arena.env["MLFLOW_TRACKING_URI"])


def _model(arena: Pipeline) -> str:
    (model,) = _registry(arena).search_registered_models()
    return model.name


def _aliases(arena: Pipeline) -> dict[str, str]:
    aliases = _registry(arena).get_registered_model(_model(arena)).aliases
    return {alias: str(version) for alias, version in aliases.items()}


@contextmanager
def _served(arena: Pipeline, name: str, **env: str) -> Iterator[tuple[str, Path]]:
    """A server of the arena with a decision record of its own."""
    log = arena.home / "logs" / f"{name}.sqlite"
    with serve(arena, CREDIT_REQUEST_LOG=str(log), **env) as url:
        yield url, log


def _send(url: str, rows: list[dict]) -> dict[str, list[dict]]:
    """The rows through score and predict (a few per request), and three by id."""
    answers: dict[str, list[dict]] = {"score": [], "predict": []}
    for endpoint in answers:
        for start in range(0, len(rows), 4):
            response = post(url, endpoint, {"applications": rows[start : start + 4]})
            assert response.status_code == 200, response.text
            answers[endpoint] += response.json()
    return answers


def _each_set(champion: Scorer, challenger: Scorer, rows: list[dict], per_set: int) -> list[dict]:
    """Up to ``per_set`` applicants of each set (both grant, both refuse, and each swap), in
    their order: traffic on which the comparison has swaps to count."""
    frame = pd.DataFrame.from_records(rows)
    pairs = zip(champion.decide(champion.predict_proba(frame)),
                challenger.decide(challenger.predict_proba(frame)), strict=True)  # fmt: skip
    taken: dict[tuple[str, str], int] = {}
    chosen = []
    for row, pair in zip(rows, pairs, strict=True):
        if taken.get(pair, 0) < per_set:
            taken[pair] = taken.get(pair, 0) + 1
            chosen.append(row)
    return chosen


def test_the_champion_answers_and_both_models_are_logged_for_every_applicant(arena: Pipeline):
    champion = Scorer.load(arena.model_dir())
    challenger = Scorer.load(arena.model_dir(CHALLENGER))
    rows = _each_set(champion, challenger, applicants(arena, 400, offset=40), per_set=4)
    frame = pd.DataFrame.from_records(rows)
    with _served(arena, "shadow") as (url, log):
        answers = _send(url, rows)
        ids = champion.reference["SK_ID_CURR"].tolist()[:3]
        by_id = post(url, "predict_client", {"client_ids": ids})
        meta = post(url, "metadata", {}).json()
    expected = champion.predict_proba(frame)
    for answered in answers.values():
        assert [a["probability"] for a in answered] == pytest.approx(list(expected), abs=1e-9)
    assert [a["probability"] for a in by_id.json()] == pytest.approx(
        list(champion.predict_proba(*champion.reference_rows(ids))), abs=1e-9
    )
    record = read_log(log)
    assert len(record) == 2 * len(rows) + len(ids)
    assert (record["challenger_model_version"] == meta["challenger"]["model_tag"]).all()
    shadow = record[record["endpoint"] != "predict_client"]["challenger_probability"]
    assert list(shadow) == pytest.approx(list(challenger.predict_proba(frame)) * 2, abs=1e-9)
    assert list(record["challenger_decision"][: len(rows)]) == challenger.decide(
        challenger.predict_proba(frame)
    )
    assert_compare_recomputes_the_swap_sets(arena, log, record)
    assert meta["model_tag"] == f"credit_scoring:{arena.model_dir().name}"
    assert meta["challenger"] | {"bundle_digest": None, "mlflow_run_id": None} == {
        "model_tag": f"{CHALLENGER}:{arena.model_dir(CHALLENGER).name}",
        "family": "logistic",
        "threshold": challenger.threshold,
        "mlflow_run_id": None,
        "bundle_digest": None,
        "shadow_share": 1.0,
        "error": None,
    }


def assert_compare_recomputes_the_swap_sets(arena: Pipeline, log: Path, record: pd.DataFrame):
    """`credit-scoring compare` over the served record: its counts equal a recomputation from
    the logged rows (predict and score; predict_client rows are not applications sent)."""
    out = arena.home / "compare"
    arena.run(CLI, "compare", "--log", str(log), "--output-dir", str(out))
    report = json.loads((out / "compare.json").read_text())
    sent = record[record["endpoint"].isin(["predict", "score"])]
    champion, challenger = sent["decision"], sent["challenger_decision"]
    assert report["decisions"] == len(sent)
    swaps = report["sets"]["swap_out"]["count"] + report["sets"]["swap_in"]["count"]
    assert swaps > 0  # the traffic holds swaps: the counts below are not 0 == 0
    assert report["sets"]["swap_out"]["count"] == int(
        ((champion == "granted") & (challenger == "refused")).sum()
    )
    assert report["sets"]["swap_in"]["count"] == int(
        ((champion == "refused") & (challenger == "granted")).sum()
    )
    assert report["agreement_rate"] == round(float((champion == challenger).mean()), 4)


def _traffic_with_outcomes(url: str, shifted: bool) -> tuple[str, str, dict[int, bool]]:
    """TRAFFIC_ROWS generated applicants (with their history rows) through ``/score``, their
    generated outcomes recorded; the window's bounds and the outcomes by applicant."""
    client = httpx.Client(base_url=url, timeout=120)
    since = pd.Timestamp.now(tz="UTC").isoformat()
    data, applications = traffic.applicants(TRAFFIC_ROWS, TRAFFIC_SEED, shifted)
    ids = [a["SK_ID_CURR"] for a in traffic.send(client, applications)]
    rows = traffic.outcomes(data, ids, shifted, TRAFFIC_SEED)
    receipt = traffic.post_outcomes(client, rows, OUTCOMES_KEY).json()
    assert receipt == {"recorded": TRAFFIC_ROWS, "unchanged": 0, "unknown_ids": []}
    until = pd.Timestamp.now(tz="UTC").isoformat()
    return since, until, {r["applicant_id"]: r["defaulted"] for r in rows}


def _report(arena: Pipeline, command: str, log: Path, window: tuple[str, str], name: str) -> dict:
    """The CLI's report over the window, judged a year and a day from now (outcomes drawn for
    the whole window at once: every cohort mature)."""
    as_of = (pd.Timestamp.now(tz="UTC") + pd.DateOffset(months=12, days=1)).isoformat()
    out = arena.home / name
    arena.run(CLI, command, "--log", str(log), "--since", window[0], "--until", window[1],
              "--as-of", as_of, "--output-dir", str(out))  # fmt: skip
    return json.loads((out / f"{command}.json").read_text())


def test_outcomes_judge_both_models_and_the_swap_sets(arena: Pipeline):
    with _served(arena, "loop", CREDIT_OUTCOMES_KEY=OUTCOMES_KEY) as (url, log):
        *normal, defaulted = _traffic_with_outcomes(url, shifted=False)
        *shifted, _ = _traffic_with_outcomes(url, shifted=True)
    realised = _report(arena, "performance", log, tuple(normal), "normal")
    holdout = realised["models"]["champion"]["training"]["roc_auc"]
    champion, challenger = (realised["cohorts"][-1][role] for role in ("champion", "challenger"))
    assert realised["cohorts"][-1]["applicants"] == TRAFFIC_ROWS
    assert realised["complete_information"]  # the generator drew every applicant's outcome
    assert champion["roc_auc_low"] <= holdout <= champion["roc_auc_high"], (champion, holdout)
    assert challenger["applicants"] == TRAFFIC_ROWS  # judged on the same applicants
    drifted = _report(arena, "performance", log, tuple(shifted), "shifted")
    worse = drifted["cohorts"][-1]["champion"]
    assert worse["roc_auc_high"] < holdout and worse["roc_auc"] < champion["roc_auc"] - 0.1, worse
    assert any("below the bound" in alert for alert in drifted["alerts"]), drifted["alerts"]

    # The comparison's bad rate per set: the logged decisions and the recorded outcomes agree.
    compared = _report(arena, "compare", log, tuple(normal), "compared")
    record = read_log(log)
    record = record[record["client_id"].isin(list(defaulted))]
    bad = record["client_id"].map(defaulted)
    for name, (mine, theirs) in {"swap_out": ("granted", "refused"),
                                 "swap_in": ("refused", "granted")}.items():  # fmt: skip
        chosen = (record["decision"] == mine) & (record["challenger_decision"] == theirs)
        assert compared["outcomes"][name]["applicants"] == int(chosen.sum())
        assert compared["outcomes"][name]["bads"] == int(bad[chosen].sum())


def test_a_share_samples_by_applicant_and_a_broken_challenger_changes_no_answer(
    arena: Pipeline,
):
    champion = Scorer.load(arena.model_dir())
    rows = applicants(arena, 16, offset=80)
    card = arena.model_dir(CHALLENGER) / "model_card.md"
    original = card.read_bytes()
    card.write_bytes(original + b"\nedited after promote\n")  # its digest no longer matches
    try:
        with _served(arena, "broken", CREDIT_SHADOW_SHARE="0.5") as (url, log):
            answers = _send(url, rows)
            metrics = httpx.get(f"{url}/metrics").text
    finally:
        card.write_bytes(original)
    expected = list(champion.predict_proba(pd.DataFrame.from_records(rows)))
    for answered in answers.values():
        assert [a["probability"] for a in answered] == pytest.approx(expected, abs=1e-9)
    record = read_log(log)
    chosen = [sampled(row["SK_ID_CURR"], 0.5) for row in rows] * 2
    assert 0 < sum(chosen) < len(chosen)  # the share draws some applicants, not all
    assert list(record["challenger_error"].notna()) == chosen
    assert set(record["challenger_error"].dropna()) == {"ModelBundleError"}
    failed = f'credit_challenger_rows_total{{endpoint="score",outcome="failed"}} {sum(chosen) // 2}'
    assert failed in metrics.replace(".0\n", "\n")


def test_switch_makes_the_challenger_champion_served_from_the_next_start(arena: Pipeline):
    before = _aliases(arena)
    arena.run(CLI, "switch", *SIGNED)
    assert _aliases(arena) == {"champion": before["challenger"]}
    version = _registry(arena).get_model_version(_model(arena), before["challenger"])
    assert version.tags["previous_champion"] == before["champion"]
    assert version.tags["switched_by"] == "risk committee"
    # No challenger left in the store: the next server serves the champion alone.
    assert not list((arena.bentoml_home / "models" / CHALLENGER).glob("*/model.yaml"))
    with _served(arena, "switched") as (url, _):
        meta = post(url, "metadata", {}).json()
    assert meta["family"] == "logistic"
    assert meta["model_tag"] == f"credit_scoring:{arena.model_dir().name}"
    assert meta["challenger"] is None


def test_rollback_returns_to_the_previous_champion(arena: Pipeline):
    switched = _aliases(arena)["champion"]
    arena.run(CLI, "rollback", *SIGNED)
    previous = _registry(arena).get_model_version(_model(arena), switched).tags["previous_champion"]
    assert _aliases(arena) == {"champion": previous}
    # The store's newest champion is the restored version's bundle again (the next start's).
    assert Scorer.load(arena.model_dir()).model.family == "lightgbm"
