"""Portfolio scoring on a real Spark (local[2]) answers every client as the real service does,
and reports each row it cannot score in the rejects file instead of dropping it.

One `credit-scoring batch-score` run (the command a user types) over a sample of the promoted
model's reference clients, with a few bad rows mixed in; its answers are compared with the
served model's `predict_client` on the same clients (the service reads the same rows from the
bundle's reference sample).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.profile import get_profile
from credit_scoring.core.scorer import Scorer
from credit_scoring.core.tables import client_rows
from tests.integration.conftest import CLI
from tests.integration.test_pipeline import post

pytestmark = pytest.mark.integration
SAMPLE = 150
ORPHAN_CLIENT, ORPHAN_CREDIT = 999_999_999, 888_888_888


def _bad_rows(
    applications: pd.DataFrame, histories: dict[str, pd.DataFrame], scorer: Scorer
) -> dict[str, int]:
    """Bad rows written into the tables in place; the clients each concerns, by case."""
    repeated, out_of_range = (int(i) for i in applications["SK_ID_CURR"].iloc[:2])
    applications.loc[len(applications)] = applications.iloc[0]  # the same id twice
    bounded = next(f for f in scorer.schema.fields if f.kind == "numeric" and f.minimum is not None)
    applications.loc[1, bounded.name] = bounded.minimum - 1  # the service refuses it (400)
    previous = histories["previous_application"]
    wrong_type = int(previous.loc[~previous["SK_ID_CURR"].isin([repeated, out_of_range]),
                                  "SK_ID_CURR"].iloc[0])  # fmt: skip
    # The amounts as text (each number's exact repr), one of them not a number.
    amounts = previous["AMT_CREDIT"].map(lambda v: None if pd.isna(v) else repr(float(v)))
    amounts[(previous["SK_ID_CURR"] == wrong_type).idxmax()] = "twelve"
    histories["previous_application"] = previous.assign(AMT_CREDIT=amounts.astype(object))
    bureau, balance = histories["bureau"], histories["bureau_balance"]
    orphan_credit = bureau.iloc[:1].assign(SK_ID_CURR=ORPHAN_CLIENT, SK_ID_BUREAU=ORPHAN_CREDIT)
    histories["bureau"] = pd.concat([bureau, orphan_credit])
    orphan_month = balance.iloc[:1].assign(SK_ID_BUREAU=ORPHAN_CREDIT + 1)
    histories["bureau_balance"] = pd.concat([balance, orphan_month])
    return {"repeated": repeated, "out_of_range": out_of_range, "wrong_type": wrong_type}


@pytest.fixture(scope="module")
def portfolio(
    pipeline, tmp_path_factory
) -> tuple[pd.DataFrame, pd.DataFrame, dict, list, Path, dict]:
    """(scores, rejects, the bad clients by case, the sample's ids, the output folder, the
    summary it printed) of one batch-score run."""
    scorer = Scorer.load(pipeline.model_dir())
    folder = tmp_path_factory.mktemp("portfolio")
    reference = scorer.reference.drop(columns=[scorer.schema.target_column])
    applications = reference.head(SAMPLE).reset_index(drop=True)
    ids = applications["SK_ID_CURR"].tolist()
    tables = get_profile(scorer.schema.profile).tables
    histories = client_rows(scorer.reference_histories, ids, tables)
    bad = _bad_rows(applications, histories, scorer)
    applications.to_parquet(folder / "application_train.parquet")
    for name, rows in histories.items():
        rows.to_parquet(folder / f"{name}.parquet")
    output = folder / "out"
    command = [CLI, "batch-score", str(folder / "application_train.parquet")]
    options = ["--output", str(output), "--master", "local[2]", "--buckets", "4"]
    printed = pipeline.run(*command, *options, "--memory", "1g").stdout
    scores = pd.read_parquet(output / "scores")
    rejects = pd.read_parquet(output / "rejects")
    return scores, rejects, bad, ids, output, json.loads(printed[printed.index("{") :])


def test_batch_scores_equal_the_service(portfolio, service_url, pipeline):
    scores, _, bad, ids, *_ = portfolio
    good = [i for i in ids if i not in bad.values()]
    served = post(service_url, "predict_client", {"client_ids": good}).json()
    batch = scores.set_index("SK_ID_CURR").loc[good]
    assert sorted(scores["SK_ID_CURR"]) == sorted(good)  # each good client once, no bad one
    probability = np.array([a["probability"] for a in served])
    assert np.abs(batch["probability"].to_numpy() - probability).max() <= 1e-9
    assert batch["decision"].tolist() == [a["decision"] for a in served]
    assert batch["points"].tolist() == [a["points"] for a in served]
    assert batch["band"].tolist() == [a["band"] for a in served]
    assert [json.loads(r) for r in batch["reasons"]] == [a["reasons"] for a in served]
    assert [list(w) for w in batch["warnings"]] == [a["warnings"] for a in served]
    assert "refused" in batch["decision"].tolist()  # reasons were compared, not only []
    version = Path(pipeline.model_dir()).name
    assert set(batch["model_version"]) == {f"credit_scoring:{version}"}


def test_bad_rows_are_written_to_rejects_with_their_reason(portfolio):
    _, rejects, bad, *_ = portfolio
    by_client = rejects.groupby("client_id")["reason"].apply(" | ".join)
    assert by_client[str(bad["repeated"])].count("appears more than once") == 2
    assert "below its minimum" in by_client[str(bad["out_of_range"])]
    assert "AMT_CREDIT: not a number" in by_client[str(bad["wrong_type"])]
    # Its application is not scored from incomplete rows, and says why.
    assert "not scored: rejected rows in previous_application" in by_client[str(bad["wrong_type"])]
    orphans = rejects[rejects["client_id"].isna() | (rejects["client_id"] == str(ORPHAN_CLIENT))]
    assert set(orphans["table"]) == {"bureau", "bureau_balance"}
    assert "no application with this id" in " ".join(orphans["reason"])
    assert "SK_ID_BUREAU: no valid bureau row" in " ".join(orphans["reason"])
    # The rejected row itself, to correct and resubmit.
    assert json.loads(orphans[orphans["table"] == "bureau"]["row"].iloc[0])["SK_ID_CURR"] == (
        ORPHAN_CLIENT
    )


def test_the_printed_summary_counts_what_was_written(portfolio):
    scores, rejects, *_, summary = portfolio
    assert summary["scored"] == len(scores) > 0
    assert summary["rejected"] == rejects["table"].value_counts().to_dict()
    each_reason = rejects["reason"].str.split("; ").explode().value_counts()
    assert summary["reasons"] == each_reason.head(20).to_dict()
    assert summary["buckets"] == 4 and summary["output"].endswith("out")


def test_portfolio_drift_reads_the_batch_output(portfolio, pipeline, tmp_path):
    scores, *_, output, _ = portfolio
    result = pipeline.run(CLI, "portfolio-drift", str(output), "--output-dir", str(tmp_path))
    assert "score drift" in result.stdout.lower()
    summary = json.loads((tmp_path / "portfolio_summary.json").read_text())
    assert summary["clients"] == len(scores) and summary["runs"] == 1
    refused = float((scores["decision"] == "refused").mean())
    assert summary["portfolio_refusal_rate"] == pytest.approx(refused, abs=1e-4)
    assert (tmp_path / "scores_over_time.html").is_file()
