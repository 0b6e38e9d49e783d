"""Probability calibration applied after the model's raw log-odds, stored as plain JSON.

The model's trees (and so its SHAP contributions) stay in log-odds; calibration only maps the
raw score to the probability that is reported and compared with the decision threshold.
Monotone maps keep the ranking (ROC AUC) and make the probabilities honest, which matters
when defaulters were up-weighted in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Method = Literal["none", "platt", "isotonic"]


def sigmoid(raw_score: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(raw_score, float)))


@dataclass(frozen=True)
class Calibration:
    """``none``: sigmoid(raw). ``platt``: sigmoid(a * raw + b). ``isotonic``: a step function of
    sigmoid(raw), given by its knots (x ascending), interpolated linearly between them."""

    method: Method = "none"
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, raw_score: np.ndarray) -> np.ndarray:
        if self.method == "none":
            return sigmoid(raw_score)
        if self.method == "platt":
            return sigmoid(self.params["a"] * np.asarray(raw_score, float) + self.params["b"])
        if self.method == "isotonic":
            x, y = np.asarray(self.params["x"], float), np.asarray(self.params["y"], float)
            return np.interp(sigmoid(raw_score), x, y)
        raise ValueError(f"unknown calibration method {self.method!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **self.params}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Calibration:
        if not raw:
            return cls()
        raw = dict(raw)
        method = raw.pop("method")
        params = {k: (list(v) if isinstance(v, list | tuple) else float(v)) for k, v in raw.items()}
        return cls(method, params)
