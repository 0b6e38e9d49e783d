"""Which model family wins, case by case, through the product's own training command.

    python -m benchmarks.model_families                      # every case, ~15-25 min on 2 cores
    python -m benchmarks.model_families --cases lending hmda --trials 8

Each case (the generated shapes `lending` and `interactions`, the real HMDA Boston table,
Home Credit synthetic at 50,000 clients) is trained by `credit-scoring train` into one
MLflow store under a temporary home; the table is read back from the runs: repeated-CV ROC
AUC per family (metrics ``cv_auc_mean_<family>``, ``cv_auc_std_<family>``), the promoted
family (tag ``family``), its hold-out AUC with the bootstrap interval, and the logistic
baseline's hold-out AUC. The checks of issue 13 are printed beside: the promoted family's CV
AUC within 0.005 of the best other family's, and on `interactions` and Home Credit LightGBM
promoted with at least 0.01 more CV AUC than logistic. A run without per-family metrics (a
pipeline that compares no families) shows LightGBM's ``cv_roc_auc`` and n/a elsewhere.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow

FAMILIES = ("lightgbm", "logistic", "scorecard")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CLI = str(Path(sys.executable).with_name("credit-scoring"))
TREES_MUST_WIN = {"interactions", "home-credit"}  # LightGBM promoted, >= 0.01 over logistic
TOLERANCE, TREE_MARGIN = 0.005, 0.01


@dataclass(frozen=True)
class Case:
    name: str  # the schema name the run records
    table: str | None  # `example-tables` shape to write first, or None
    train: tuple[str, ...]  # `credit-scoring train` options besides --trials


def cases(rows: int) -> list[Case]:
    return [
        Case(
            "lending",
            "lending",
            ("--target", "bad", "--id", "loan_id",
             "--schema-override", str(EXAMPLES / "lending.schema.yaml")),
        ),
        Case("interactions", "interactions", ("--target", "default", "--id", "application_id")),
        Case(
            "hmda",
            None,
            ("--data", str(EXAMPLES / "hmda_boston.csv"), "--target", "deny",
             "--id", "application_id", "--positive-label", "yes",
             "--schema-override", str(EXAMPLES / "hmda_boston.schema.yaml")),
        ),
        Case("home-credit", None, ("--source", "synthetic", "--rows", str(rows))),
    ]  # fmt: skip


def run_case(case: Case, home: Path, trials: int) -> float:
    """Write the case's table if it is generated, then train it; the seconds it took."""
    env = os.environ | {"CREDIT_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    options = list(case.train)
    if case.table is not None:
        path = home / "data" / "own" / f"{case.table}.csv"
        command = [CLI, "example-tables", case.table, str(path)]
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=home)
        options = ["--data", str(path), *options]
    started = time.perf_counter()
    done = subprocess.run(
        [CLI, "train", *options, "--trials", str(trials)],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"training {case.name} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def latest_run(name: str) -> mlflow.entities.Run:
    runs = mlflow.search_runs(
        experiment_names=["credit-scoring"],
        filter_string=f"tags.candidate = 'true' and params.schema_name = '{name}'",
        order_by=["start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not runs:
        raise RuntimeError(f"no training run of {name!r} in {mlflow.get_tracking_uri()}")
    return runs[0]


def family_cv(metrics: dict[str, float]) -> dict[str, tuple[float, float]]:
    """CV AUC (mean, std) per family; LightGBM's single CV AUC when no family was compared."""
    out = {
        f: (metrics[f"cv_auc_mean_{f}"], metrics.get(f"cv_auc_std_{f}", math.nan))
        for f in FAMILIES
        if f"cv_auc_mean_{f}" in metrics
    }
    if not out and "cv_roc_auc" in metrics:
        out["lightgbm"] = (metrics["cv_roc_auc"], math.nan)
    return out


def checks(name: str, promoted: str, cv: dict[str, tuple[float, float]]) -> str:
    """Issue 13's conditions on this case, or why they cannot be judged."""
    if promoted not in cv or len(cv) < 2:
        return "n/a (no family comparison in the run)"
    others = [mean for family, (mean, _) in cv.items() if family != promoted]
    verdicts = [
        f"promoted >= best other - {TOLERANCE}: "
        f"{'yes' if cv[promoted][0] >= max(others) - TOLERANCE else 'NO'}"
    ]
    if name in TREES_MUST_WIN and "logistic" in cv:
        margin = cv.get("lightgbm", (math.nan, 0))[0] - cv["logistic"][0]
        ok = promoted == "lightgbm" and margin >= TREE_MARGIN
        verdicts.append(f"LightGBM promoted, +{margin:.4f} over logistic: {'yes' if ok else 'NO'}")
    return "; ".join(verdicts)


def row(name: str, run: mlflow.entities.Run, seconds: float) -> str:
    metrics = run.data.metrics
    cv = family_cv(metrics)
    promoted = run.data.tags.get("family", "lightgbm")

    def cell(family: str) -> str:
        if family not in cv:
            return "n/a"
        mean, std = cv[family]
        return f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")

    holdout = (
        f"{metrics['test_roc_auc']:.4f} ({metrics['test_roc_auc_ci_low']:.4f}-"
        f"{metrics['test_roc_auc_ci_high']:.4f})"
    )
    logistic = metrics.get("baseline_logistic_test_roc_auc", math.nan)
    cells = [
        name,
        *(cell(f) for f in FAMILIES),
        promoted,
        holdout,
        f"{logistic:.4f}",
        checks(name, promoted, cv),
        f"{seconds:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| case | CV AUC LightGBM | CV AUC logistic | CV AUC scorecard | promoted | hold-out AUC "
    "(95% CI) | logistic baseline, hold-out | checks | train s |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="lending interactions hmda home-credit")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--rows", type=int, default=50_000, help="Home Credit synthetic clients")
    parser.add_argument("--home", type=Path, help="keep the runs here (default: a temp folder)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    chosen = [c for c in cases(args.rows) if not args.cases or c.name in args.cases]
    with tempfile.TemporaryDirectory() as tmp:
        home = (args.home or Path(tmp)).resolve()
        home.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        lines = [HEADER]
        for case in chosen:
            seconds = run_case(case, home, args.trials)
            lines.append(row(case.name, latest_run(case.name), seconds))
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
