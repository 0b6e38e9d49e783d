"""The model card: what a reviewer, an auditor or a credit officer reads about one model.

Generated from the template ``templates/model_card.md.j2`` and the scorer's own record
(metrics, parameters, data fingerprint, fairness audit, promotion decision): at training into
the run's scorer bundle, and again at promote with the gate's decision, into the model folder
the service serves at ``GET /model_card``. Markdown, plus the same as an HTML page.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt

from credit_scoring.core.scorer import CARD_HTML, CARD_MD, Scorer

__all__ = ["CARD_HTML", "CARD_MD", "log", "render", "write"]
_ENV = Environment(
    loader=PackageLoader("credit_scoring.pipeline", "templates"),
    undefined=StrictUndefined,  # a field the record lacks is a bug, not an empty cell
    keep_trailing_newline=True,
    autoescape=False,  # Markdown; the renderer below escapes any HTML in it
)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _promotion_text(promotion: dict[str, Any] | None) -> str:
    if not promotion:
        return "Not promoted yet: this card was written at training."
    gate = promotion["gate"]
    failures = "; ".join(gate["failures"])
    bounds = gate["bounds"]
    rule = (
        f"bounds: adverse impact ratio >= {bounds['min_air']}, ROC AUC gap <= "
        f"{bounds['max_auc_gap']}"
    )
    if gate["passed"]:
        return f"Promoted on {promotion['time']}: the fairness gate passed ({rule})."
    return (
        f"Promoted on {promotion['time']} **despite the fairness gate** ({rule}), which "
        f"refused: {failures}.\n\nOverride by **{promotion['reviewer']}**, justification: "
        f'"{promotion["justification"]}"'
    )


def context(scorer: Scorer, model_tag: str | None = None) -> dict[str, Any]:
    """The template's fields, from the scorer's stored record."""
    meta = scorer.metadata
    audit = meta.get("fairness") or {}
    schema = scorer.schema
    attributes = audit.get("attributes", {})
    return {
        "dataset": schema.name,
        "model_tag": model_tag,
        "run_id": meta.get("mlflow_run_id"),
        "code_version": meta.get("code_version"),
        "family": meta.get("family", "lightgbm"),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "stage": "promotion" if meta.get("promotion") else "training",
        "target_meaning": f"the target `{schema.target_column}` (1 = default)",
        "threshold": scorer.threshold,
        "protected": schema.protected,
        "data": meta.get("data", {"source": "n/a", "sha256_16": "n/a", "rows": {}}),
        "params": meta.get("params", {}),
        "validation": meta.get("validation", "not recorded"),
        "metrics": meta.get("metrics", {}),
        "costs": scorer.costs,
        "n_features": len(scorer.feature_names),
        "included": audit.get("included_as_inputs", []),
        "left_out": audit.get("left_out_features", []),
        "rows_test": audit.get("rows", 0),
        "overall": audit.get("overall", _EMPTY_ROW),
        "attributes": attributes,
        "price": audit.get("price"),
        "proxy": audit.get("proxy", {}),
        "alternatives": audit.get("alternatives", []),
        "bounds": audit.get("verdict", {}).get("bounds", {"min_air": 0.8}),
        "min_group_rows": audit.get("min_group_rows", 0),
        "bootstrap": audit.get("bootstrap", 0),
        "too_small": [
            f"{n}: {', '.join(r['too_small'])}" for n, r in attributes.items() if r["too_small"]
        ],
        "synthetic": "bayes_roc_auc" in meta.get("metrics", {}),
        "promotion_text": _promotion_text(meta.get("promotion")),
        "num": _num,
        "pct": _pct,
    }


_EMPTY_ROW: dict[str, Any] = {
    key: None for key in ("auc", "approval_rate", "tpr", "fpr", "mean_predicted", "target_rate")
} | {f"{key}_ci": [None, None] for key in ("auc", "approval_rate", "tpr", "fpr")}


def render(scorer: Scorer, model_tag: str | None = None) -> tuple[str, str]:
    """The card as (Markdown, HTML)."""
    markdown = _ENV.get_template("model_card.md.j2").render(**context(scorer, model_tag))
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = html.escape(f"Model card: {scorer.schema.name}")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
        f"</style></head><body>{body}</body></html>"
    )
    return markdown, page


def write(folder: Path, scorer: Scorer, model_tag: str | None = None) -> None:
    """Write ``model_card.md`` and ``model_card.html`` into a model folder."""
    markdown, page = render(scorer, model_tag)
    (folder / CARD_MD).write_text(markdown, "utf-8")
    (folder / CARD_HTML).write_text(page, "utf-8")


def log(folder: Path) -> None:
    """Log a folder's card files to the active MLflow run (``model_card/``)."""
    for name in (CARD_MD, CARD_HTML):
        mlflow.log_artifact(str(folder / name), artifact_path="model_card")
