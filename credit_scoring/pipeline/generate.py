"""Generate the synthetic Home Credit table (cached per rows and seed) and describe it."""

from __future__ import annotations

import json

from credit_scoring.core.settings import CoreSettings
from credit_scoring.profiles.home_credit.data import load_synthetic


def generate(settings: CoreSettings, rows: int, seed: int) -> str:
    """Write data/generated/<rows>-<seed>/ (once) and return its facts: size, default rate
    and the Bayes ROC AUC (what the true risk achieves, the bar for any model)."""
    dataset = load_synthetic(settings.generated_dir, rows, seed)
    folder = settings.generated_dir / f"{rows}-{seed}"
    manifest = json.loads((folder / "manifest.json").read_text())
    table = dataset.applications
    return (
        f"{folder}: {len(table)} clients x {table.shape[1]} columns, "
        f"default rate {table[dataset.schema.target_column].mean():.2%}, "
        f"Bayes ROC AUC {manifest['bayes_auc']:.4f}"
    )
