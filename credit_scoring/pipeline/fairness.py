"""The fairness audit of a trained model: how its decisions fall across the groups of each
protected attribute, how well its inputs stand in for those attributes, what leaving them out
costs, group-blind alternatives, and the promotion gate's verdict.

Everything is measured on the hold-out set at the model's decision threshold. Per group
(fairlearn ``MetricFrame``, bootstrap 95% intervals): count, approval rate, observed target
rate, true/false positive rates (positive = refused, the target = default), ROC AUC,
calibration (mean predicted vs observed), and the adverse impact ratio (approval rate / that
of the most approved group; the "four-fifths rule" bound is 0.8). Groups with fewer than
``MIN_GROUP_ROWS`` applicants are reported as too small to audit and left out of the gate.

The result is plain JSON (``Audit.to_dict``): stored with the model (``scorer.json``
``fairness``), logged to MLflow, served in ``/metadata`` and written into the model card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from matplotlib.figure import Figure
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from credit_scoring.core.cost import CostMatrix, best_threshold, business_cost
from credit_scoring.core.groups import MIN_GROUP_ROWS, MISSING
from credit_scoring.core.schema import InputSchema

log = logging.getLogger("training")
# A group's AUC ranks its defaulters against its others: with fewer than this many of either,
# it swings by +-0.1 from one resample to the next, so the AUC gap leaves the group out.
MIN_CLASS_ROWS = 20
BOOTSTRAP = 200  # resamples for the 95% intervals
SIDE_ROWS = 5_000  # rows the side models (proxy, price, alternatives) train on, at most
# A small, regularised LightGBM for the side questions: the same for every comparison, so the
# differences it shows come from the inputs, not from tuning.
# About 20 fits of it per audit: kept to 40 trees of 7 leaves, so the audit costs less than a
# search trial.
SIDE_MODEL: dict[str, Any] = {
    "n_estimators": 40,
    "learning_rate": 0.15,
    "num_leaves": 7,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "reg_lambda": 5.0,
    "verbose": -1,
    "n_jobs": 1,
}


@dataclass(frozen=True)
class GateBounds:
    """What the promotion gate refuses: any audited group's adverse impact ratio below
    ``min_air``, or a gap between two groups' ROC AUC above ``max_auc_gap``."""

    min_air: float = 0.8
    max_auc_gap: float = 0.1


# ---------------------------------------------------------------- audit at the threshold


def _auc(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray) -> float:
    """ROC AUC of the probabilities, as the Mann-Whitney statistic of their ranks (ties
    averaged: equal to scikit-learn's ``roc_auc_score``, whose input checks cost ~100x more,
    which the bootstrap pays a thousand times); NaN with one class only."""
    positive = np.asarray(y_true) == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(proba)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _approval_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return 1.0 - float(np.mean(y_pred))


def _target_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true))


def _mean_predicted(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray) -> float:
    return float(np.mean(proba))


def _rate_among(y_pred: np.ndarray, among: np.ndarray) -> float:
    """Share refused among the rows ``among`` selects (NaN when there are none)."""
    return float(np.mean(y_pred[among])) if among.any() else float("nan")


def _tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate_among(np.asarray(y_pred), np.asarray(y_true) == 1)


def _fpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate_among(np.asarray(y_pred), np.asarray(y_true) == 0)


# NumPy metrics (fairlearn's own, through scikit-learn, cost ~10x more per call: they run
# BOOTSTRAP times per group).
METRICS: dict[str, Callable[..., float]] = {
    "approval_rate": _approval_rate,
    "target_rate": _target_rate,
    "tpr": _tpr,  # share of defaulters refused
    "fpr": _fpr,  # share of good clients refused
    "auc": _auc,
    "mean_predicted": _mean_predicted,
}
WITH_PROBA = ("auc", "mean_predicted")


def _by_group(y: np.ndarray, refused: np.ndarray, proba: np.ndarray, groups: np.ndarray):
    """fairlearn's ``MetricFrame`` of the point estimates: one row per group."""
    return MetricFrame(
        metrics={"count": count, **METRICS},
        y_true=y,
        y_pred=refused,
        sensitive_features=groups,
        sample_params={name: {"proba": proba} for name in WITH_PROBA},
    ).by_group


def _metrics_of(y: np.ndarray, refused: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    return {
        name: metric(y, refused, proba) if name in WITH_PROBA else metric(y, refused)
        for name, metric in METRICS.items()
    }


def _bootstrap(
    y: np.ndarray, refused: np.ndarray, proba: np.ndarray, groups: np.ndarray, seed: int
) -> dict[str, pd.DataFrame]:
    """Each group's metrics on ``BOOTSTRAP`` resamples of all rows (the group's size varies
    from resample to resample, as in fairlearn's ``n_boot``): group -> resamples x metrics.
    fairlearn's own bootstrap rebuilds a MetricFrame per resample: 55 s for 476 rows here."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[dict[str, float]]] = {str(g): [] for g in np.unique(groups)}
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        yb, rb, pb, gb = y[rows], refused[rows], proba[rows], groups[rows]
        for group, found in draws.items():
            mask = gb == group
            if mask.any():
                found.append(_metrics_of(yb[mask], rb[mask], pb[mask]))
    return {group: pd.DataFrame(found, columns=list(METRICS)) for group, found in draws.items()}


def _number(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 4)


def _interval(values: pd.Series) -> list[float | None]:
    """The 95% bootstrap interval of one metric (NaN resamples, e.g. one class, left out)."""
    values = values.dropna()
    if values.empty:
        return [None, None]
    return [_number(values.quantile(0.025)), _number(values.quantile(0.975))]


def _rows(
    y: np.ndarray, proba: np.ndarray, threshold: float, groups: np.ndarray, seed: int
) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """One dict per group: each metric with its 95% interval (``<metric>_ci``); and the
    bootstrap draws."""
    refused = (proba >= threshold).astype(int)
    point = _by_group(y, refused, proba, groups)
    draws = _bootstrap(y, refused, proba, groups, seed)
    rows = []
    for group in point.index:
        row: dict[str, Any] = {"group": str(group), "count": int(point.loc[group, "count"])}
        for name in METRICS:
            row[name] = _number(point.loc[group, name])
            row[f"{name}_ci"] = _interval(draws[str(group)][name])
        rows.append(row)
    return rows, draws


def audit_attribute(
    y: np.ndarray, proba: np.ndarray, threshold: float, groups: pd.Series, seed: int = 0
) -> dict[str, Any]:
    """The audit table of one protected attribute, and its worst adverse impact ratio (with
    its bootstrap interval) and AUC gap among the groups large enough to audit."""
    rows, draws = _rows(y, proba, threshold, groups.to_numpy(str), seed)
    audited = [r for r in rows if r["count"] >= MIN_GROUP_ROWS and r["group"] != MISSING]
    best = max((r["approval_rate"] or 0.0 for r in audited), default=0.0)
    for row in rows:
        approval = row["approval_rate"]
        row["air"] = _number(approval / best) if best > 0 and approval is not None else None
        row["audited"] = row in audited
    result: dict[str, Any] = {
        "groups": rows,
        "too_small": [r["group"] for r in rows if r["count"] < MIN_GROUP_ROWS],
    }
    ratios = [r for r in audited if r["air"] is not None]
    if ratios:
        worst = min(ratios, key=lambda r: r["air"])
        approvals = pd.DataFrame({r["group"]: draws[r["group"]]["approval_rate"] for r in audited})
        result |= {
            "min_air": worst["air"],
            "min_air_group": worst["group"],
            "min_air_ci": _interval(approvals.min(axis=1) / approvals.max(axis=1)),
        }
    labels = groups.to_numpy(str)
    aucs = [r for r in audited if r["auc"] is not None and _both_classes(y[labels == r["group"]])]
    if len(aucs) >= 2:
        low, high = min(aucs, key=lambda r: r["auc"]), max(aucs, key=lambda r: r["auc"])
        result["auc_gap"] = _number(high["auc"] - low["auc"])
        result["auc_gap_groups"] = [low["group"], high["group"]]
    return result


def _both_classes(y: np.ndarray) -> bool:
    """Enough defaulters and others for a group's AUC to be compared."""
    positives = int(np.sum(y == 1))
    return min(positives, len(y) - positives) >= MIN_CLASS_ROWS


def overall(y: np.ndarray, proba: np.ndarray, threshold: float, seed: int = 0) -> dict[str, Any]:
    """The hold-out figures of the whole population with their 95% intervals (the card's
    performance table)."""
    rows, _ = _rows(y, proba, threshold, np.full(len(y), "all"), seed)
    return rows[0]


# ---------------------------------------------------------------- the gate


def verdict(audit: dict[str, Any], bounds: GateBounds) -> dict[str, Any]:
    """Passed, or each failure naming the attribute, the group and the figure."""
    failures = []
    for name, result in audit.get("attributes", {}).items():
        for row in result["groups"]:
            if row["audited"] and row["air"] is not None and row["air"] < bounds.min_air:
                failures.append(
                    f"{name} = {row['group']}: adverse impact ratio {row['air']:.3f} < "
                    f"{bounds.min_air} (approval rate {row['approval_rate']:.3f})"
                )
        gap = result.get("auc_gap")
        if gap is not None and gap > bounds.max_auc_gap:
            low, high = result["auc_gap_groups"]
            failures.append(
                f"{name}: ROC AUC gap {gap:.3f} > {bounds.max_auc_gap} between {low} and {high}"
            )
    return {
        "passed": not failures,
        "failures": failures,
        "bounds": {"min_air": bounds.min_air, "max_auc_gap": bounds.max_auc_gap},
    }


# ---------------------------------------------------------------- side models


def _side_model() -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(**SIDE_MODEL, random_state=0)


def _sample(index: pd.Index, seed: int) -> pd.Index:
    if len(index) <= SIDE_ROWS:
        return index
    return pd.Index(np.random.default_rng(seed).choice(index, SIDE_ROWS, replace=False))


def _cv(x: pd.DataFrame, y: np.ndarray, seed: int) -> tuple[np.ndarray, pd.Series]:
    """Out-of-fold class probabilities of the side model (3 stratified folds), and the
    split gain of each input summed over the folds' models."""
    proba = np.zeros((len(y), len(np.unique(y))))
    gain = pd.Series(0.0, index=x.columns)
    for fit_rows, held_out in StratifiedKFold(3, shuffle=True, random_state=seed).split(x, y):
        model = _side_model().fit(x.iloc[fit_rows], y[fit_rows])
        proba[held_out] = model.predict_proba(x.iloc[held_out])
        gain += model.booster_.feature_importance(importance_type="gain")
    return proba, gain


def _cv_proba(x: pd.DataFrame, y: np.ndarray, seed: int) -> np.ndarray:
    return _cv(x, y, seed)[0]


def proxy_check(x: pd.DataFrame, groups: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Per protected attribute: the CV ROC AUC (one-vs-rest macro for 3+ groups) of a small
    classifier predicting the attribute's group from the model's inputs, and the five inputs
    that carry it most (share of the classifier's split gain). 0.5 = the inputs say nothing."""
    result = {}
    for name in groups.columns:
        known = groups.index[groups[name] != MISSING]
        labels = groups.loc[known, name]
        common = labels.value_counts()
        labels = labels[labels.isin(common[common >= MIN_GROUP_ROWS].index)]
        if labels.nunique() < 2:
            continue
        rows = _sample(labels.index, seed)
        codes, classes = pd.factorize(labels.loc[rows])
        proba, gain = _cv(x.loc[rows], codes, seed)
        if len(classes) == 2:
            auc = roc_auc_score(codes, proba[:, 1])
        else:
            auc = roc_auc_score(codes, proba, multi_class="ovr", average="macro")
        top = (gain / max(gain.sum(), 1e-12)).sort_values(ascending=False).head(5)
        result[name] = {
            "cv_auc": _number(auc),
            "groups": [str(c) for c in classes],
            "top_inputs": [{"feature": f, "share": _number(s)} for f, s in top.items() if s > 0],
        }
    return result


def price_of_exclusion(
    x: pd.DataFrame, protected: pd.DataFrame, y: np.ndarray, seed: int = 0
) -> dict[str, float | None]:
    """CV ROC AUC of the same small model without and with the protected features: what
    leaving them out costs in ranking power (a difference near 0: nothing)."""
    rows = _sample(x.index, seed)
    labels = pd.Series(y, index=x.index).loc[rows].to_numpy()
    without = _cv_proba(x.loc[rows], labels, seed)[:, 1]
    with_them = _cv_proba(x.loc[rows].join(protected.loc[rows]), labels, seed)[:, 1]
    return {
        "cv_auc_without": _number(roc_auc_score(labels, without)),
        "cv_auc_with": _number(roc_auc_score(labels, with_them)),
        "rows": len(rows),
    }


def _evaluate_side(
    train: tuple[pd.DataFrame, np.ndarray],
    test: tuple[pd.DataFrame, np.ndarray],
    groups: pd.DataFrame,
    costs: CostMatrix,
    seed: int,
) -> dict[str, Any]:
    """A small model fitted on ``train`` with its cost-optimal threshold from out-of-fold
    scores, on the hold-out set: AUC, cost per client and the worst adverse impact ratio."""
    (x_train, y_train), (x_test, y_test) = train, test
    threshold = best_threshold(y_train, _cv_proba(x_train, y_train, seed)[:, 1], costs).threshold
    proba = np.asarray(_side_model().fit(x_train, y_train).predict_proba(x_test))[:, 1]
    return {
        "test_auc": _number(roc_auc_score(y_test, proba)),
        "cost_per_client": _number(_cost(y_test, proba, threshold, costs)),
    } | _worst_air(y_test, proba, threshold, groups)


def _cost(y: np.ndarray, proba: np.ndarray, threshold: float, costs: CostMatrix) -> float:
    return business_cost(y, proba >= threshold, costs) / len(y)


def _worst_air(
    y: np.ndarray, proba: np.ndarray, threshold: float, groups: pd.DataFrame
) -> dict[str, Any]:
    """The lowest adverse impact ratio over every attribute's audited groups (no intervals)."""
    worst: dict[str, Any] = {"min_air": None, "min_air_group": None}
    refused = proba >= threshold
    for name in groups.columns:
        labels = groups[name].to_numpy()
        rates = {
            g: 1 - refused[labels == g].mean()
            for g in np.unique(labels)
            if g != MISSING and (labels == g).sum() >= MIN_GROUP_ROWS
        }
        best = max(rates.values(), default=0.0)
        for group, rate in rates.items():
            air = rate / best if best > 0 else None
            if air is not None and (worst["min_air"] is None or air < worst["min_air"]):
                worst = {"min_air": _number(air), "min_air_group": f"{name} = {group}"}
    return worst


def alternatives(
    train: tuple[pd.DataFrame, np.ndarray],
    test: tuple[pd.DataFrame, np.ndarray],
    groups_test: pd.DataFrame,
    model: tuple[np.ndarray, float],
    proxies: dict[str, Any],
    costs: CostMatrix,
    bounds: GateBounds,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Group-blind alternatives for the reviewer, each with its AUC, cost per client and
    worst adverse impact ratio on the hold-out set:

    - the small side model on the model's inputs (the reference for the next line), and the
      same without the strongest proxy input (the one carrying most of any attribute);
    - the served model at another single threshold: the nearest to its own at which every
      audited group reaches the bound (the same threshold for everyone, so still
      group-blind; chosen on the hold-out set, hence a reference figure only).
    """
    (x_train, y_train), (x_test, y_test) = train, test
    rows = _sample(x_train.index, seed)
    side_train = (x_train.loc[rows], pd.Series(y_train, index=x_train.index).loc[rows].to_numpy())
    found: list[dict[str, Any]] = [
        {"name": "small LightGBM, the model's inputs"}
        | _evaluate_side(side_train, test, groups_test, costs, seed)
    ]
    strongest = _strongest_proxy(proxies)
    if strongest is not None and x_train.shape[1] > 1:
        drop = (side_train[0].drop(columns=[strongest]), side_train[1])
        found.append(
            {"name": f"small LightGBM without {strongest} (strongest proxy input)"}
            | _evaluate_side(
                drop, (x_test.drop(columns=[strongest]), y_test), groups_test, costs, seed
            )
        )
    proba, threshold = model
    fairer = _fairer_threshold(y_test, proba, threshold, groups_test, bounds)
    if fairer is not None:
        found.append(
            {"name": f"the model at threshold {fairer:.4f} instead of {threshold:.4f}"}
            | {
                "test_auc": _number(roc_auc_score(y_test, proba)),
                "cost_per_client": _number(_cost(y_test, proba, fairer, costs)),
                "threshold": _number(fairer),
            }
            | _worst_air(y_test, proba, fairer, groups_test)
        )
    return found


def _strongest_proxy(proxies: dict[str, Any]) -> str | None:
    """The input carrying most of the attribute the inputs predict best."""
    known = [p for p in proxies.values() if p["top_inputs"] and p["cv_auc"] is not None]
    if not known:
        return None
    return max(known, key=lambda p: p["cv_auc"])["top_inputs"][0]["feature"]


def _fairer_threshold(
    y: np.ndarray, proba: np.ndarray, threshold: float, groups: pd.DataFrame, bounds: GateBounds
) -> float | None:
    """The single threshold nearest to ``threshold`` at which every audited group's adverse
    impact ratio reaches the bound; None when the model already passes or none does."""
    if (_worst_air(y, proba, threshold, groups)["min_air"] or 1.0) >= bounds.min_air:
        return None
    candidates = np.unique(np.quantile(proba, np.linspace(0.01, 0.99, 197)))
    for candidate in sorted(candidates, key=lambda t: abs(t - threshold)):
        worst = _worst_air(y, proba, float(candidate), groups)["min_air"]
        if worst is not None and worst >= bounds.min_air:
            return float(candidate)
    return None


# ---------------------------------------------------------------- the whole audit


@dataclass
class AuditInputs:
    """What the audit reads from a training run (hold-out = the test part)."""

    schema: InputSchema
    x_train: pd.DataFrame  # the model's inputs
    y_train: np.ndarray
    x_test: pd.DataFrame
    y_test: np.ndarray
    proba_test: np.ndarray  # the model's calibrated probabilities
    threshold: float
    groups_train: pd.DataFrame  # audit_groups of the training rows
    groups_test: pd.DataFrame
    protected_train: pd.DataFrame  # the protected features the model leaves out
    costs: CostMatrix
    included: tuple[str, ...] = ()  # protected attributes the model takes as inputs (explicit)


def audit(inputs: AuditInputs, bounds: GateBounds, seed: int = 0) -> dict[str, Any]:
    """The full audit as JSON: per-attribute tables, overall figures, proxy check, price of
    exclusion, group-blind alternatives and the gate's verdict at ``bounds``."""
    y, proba, threshold = inputs.y_test, inputs.proba_test, inputs.threshold
    attributes = {
        name: audit_attribute(y, proba, threshold, inputs.groups_test[name], seed)
        for name in inputs.groups_test.columns
    }
    proxies = proxy_check(inputs.x_train, inputs.groups_train, seed)
    result: dict[str, Any] = {
        "set": "hold-out",
        "rows": len(y),
        "threshold": _number(threshold),
        "bootstrap": BOOTSTRAP,
        "min_group_rows": MIN_GROUP_ROWS,
        "protected": list(inputs.schema.protected),
        "included_as_inputs": list(inputs.included),
        "left_out_features": list(inputs.protected_train.columns),
        "overall": overall(y, proba, threshold, seed),
        "attributes": attributes,
        "proxy": proxies,
    }
    if len(inputs.protected_train.columns):
        result["price"] = price_of_exclusion(
            inputs.x_train, inputs.protected_train, inputs.y_train, seed
        )
    result["alternatives"] = alternatives(
        (inputs.x_train, inputs.y_train),
        (inputs.x_test, y),
        inputs.groups_test,
        (proba, threshold),
        proxies,
        inputs.costs,
        bounds,
        seed,
    )
    result["verdict"] = verdict(result, bounds)
    return result


def table(audit_result: dict[str, Any]) -> pd.DataFrame:
    """The per-group audit as one flat table (MLflow ``log_table``, the card)."""
    rows = [
        {"attribute": name, **row}
        for name, result in audit_result["attributes"].items()
        for row in result["groups"]
    ]
    frame = pd.DataFrame(rows)
    for column in [c for c in frame.columns if c.endswith("_ci")]:
        frame[column] = frame[column].map(lambda ci: f"[{ci[0]}, {ci[1]}]")
    return frame


def summary_lines(audit_result: dict[str, Any]) -> list[str]:
    """The audit in a few log lines: per attribute its worst ratio and AUC gap, the proxy
    check, the price of exclusion, the alternatives and the verdict."""
    lines = []
    for name, result in audit_result["attributes"].items():
        ci = result.get("min_air_ci", [None, None])
        lines.append(
            f"fairness {name}: min adverse impact ratio {result.get('min_air')} "
            f"({result.get('min_air_group')}, 95% CI {ci[0]}-{ci[1]}), AUC gap "
            f"{result.get('auc_gap')}; groups "
            + ", ".join(
                f"{r['group']} n={r['count']} approved {r['approval_rate']}"
                for r in result["groups"]
            )
            + (f"; too small to audit: {result['too_small']}" if result["too_small"] else "")
        )
    for name, proxy in audit_result["proxy"].items():
        top = ", ".join(f"{t['feature']} {t['share']}" for t in proxy["top_inputs"][:3])
        lines.append(f"proxy check {name}: CV AUC {proxy['cv_auc']} from the inputs ({top})")
    if "price" in audit_result:
        price = audit_result["price"]
        lines.append(
            f"price of leaving {audit_result['left_out_features']} out: CV AUC "
            f"{price['cv_auc_without']} without, {price['cv_auc_with']} with (small LightGBM)"
        )
    for alternative in audit_result["alternatives"]:
        lines.append(
            f"alternative {alternative['name']}: AUC {alternative['test_auc']}, cost/client "
            f"{alternative['cost_per_client']}, min AIR {alternative['min_air']} "
            f"({alternative['min_air_group']})"
        )
    gate = audit_result["verdict"]
    lines.append(
        "fairness gate: passed"
        if gate["passed"]
        else "fairness gate: WOULD REFUSE promotion: " + "; ".join(gate["failures"])
    )
    if audit_result["included_as_inputs"]:
        lines.append(
            f"WARNING: protected attributes used as model inputs: "
            f"{audit_result['included_as_inputs']} (--include-protected)"
        )
    return lines


# ---------------------------------------------------------------- figures


def approval_figure(audit: dict[str, Any]) -> Figure:
    """Approval rate per group with its 95% interval, one panel per attribute; the dashed
    line is the four-fifths bound under the most approved group."""
    attributes = audit["attributes"]
    figure, axes = plt.subplots(
        1, max(len(attributes), 1), figsize=(4.5 * max(len(attributes), 1), 3.6), squeeze=False
    )
    for axis, (name, result) in zip(axes[0], attributes.items(), strict=False):
        rows = result["groups"]
        rates = [r["approval_rate"] or 0.0 for r in rows]
        errors = np.array(
            [
                [
                    rate - (r["approval_rate_ci"][0] or rate),
                    (r["approval_rate_ci"][1] or rate) - rate,
                ]
                for rate, r in zip(rates, rows, strict=True)
            ]
        ).T
        axis.bar([r["group"] for r in rows], rates, yerr=errors, capsize=4, color="#4c72b0")
        best = max((r["approval_rate"] or 0.0 for r in rows if r["audited"]), default=0.0)
        axis.axhline(audit["verdict"]["bounds"]["min_air"] * best, ls="--", color="#c44e52")
        axis.set_title(name)
        axis.set_ylabel("approval rate")
        axis.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    return figure


def log_to_mlflow(audit_result: dict[str, Any]) -> None:
    """The audit in the active MLflow run: JSON, the per-group table, the approval figure,
    a metric per attribute (worst ratio, AUC gap, proxy AUC), the price of exclusion and the
    gate's verdict as a tag."""
    if not audit_result:
        return
    mlflow.log_dict(audit_result, "fairness/fairness.json")
    mlflow.log_table(table(audit_result), "fairness/fairness_groups.json")
    figure = approval_figure(audit_result)
    mlflow.log_figure(figure, "fairness/approval_rates.png")
    plt.close(figure)
    metrics = {}
    for name, result in audit_result["attributes"].items():
        for key in ("min_air", "auc_gap"):
            if result.get(key) is not None:
                metrics[f"fairness_{key}_{name}"] = result[key]
    for name, proxy in audit_result["proxy"].items():
        metrics[f"proxy_cv_auc_{name}"] = proxy["cv_auc"]
    price = audit_result.get("price", {})
    for key in ("cv_auc_without", "cv_auc_with"):
        if price.get(key) is not None:
            metrics[f"{key}_protected"] = price[key]
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
    mlflow.set_tag("fairness_gate", "passed" if audit_result["verdict"]["passed"] else "refused")
