"""Scorecard points and risk bands: how a credit team reads a probability of default.

Points are a linear map of the log-odds of repaying, fixed by two numbers a credit team sets:
the points at given odds (600 points where good:bad odds are 19:1, i.e. a 5% probability of
default) and the points that double those odds (PDO 50). More points, less risk. Bands cut the
points into letters (A the best) at configurable lower bounds. Both are stored with the model
(``scorer.json``), so the service and the report agree on them.
"""

from __future__ import annotations

import math
import string
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Probabilities are clipped this far from 0 and 1, so a certain-looking model still gives
# finite points (about +-1,500 points at PDO 50).
EPSILON = 1e-12
DEFAULT_CUTOFFS = (650.0, 600.0, 550.0, 500.0)  # A >= 650 > B >= 600 > ... > E


@dataclass(frozen=True)
class PointsScale:
    """``points`` at good:bad odds of ``odds`` to 1; ``pdo`` more points double those odds.
    ``cutoffs`` are the bands' lower bounds in points, best band first (A, B, ...); below the
    last one is the last band."""

    points: float = 600.0
    odds: float = 19.0
    pdo: float = 50.0
    cutoffs: tuple[float, ...] = field(default=DEFAULT_CUTOFFS)

    def __post_init__(self) -> None:
        if self.odds <= 0 or self.pdo <= 0:
            raise ValueError(f"points scale: odds and pdo must be > 0, not {self.odds}, {self.pdo}")
        if list(self.cutoffs) != sorted(set(self.cutoffs), reverse=True) or not self.cutoffs:
            raise ValueError(
                f"band cut-offs must be distinct points, highest first, e.g. 650,600,550,500; "
                f"not {list(self.cutoffs)}"
            )
        if len(self.cutoffs) >= len(string.ascii_uppercase):
            raise ValueError(f"at most 25 band cut-offs, not {len(self.cutoffs)}")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.points - self.factor * math.log(self.odds)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(string.ascii_uppercase[: len(self.cutoffs) + 1])

    def points_of(self, probability: np.ndarray) -> np.ndarray:
        """Points of probabilities of default: offset + factor * ln(good:bad odds)."""
        p = np.clip(np.asarray(probability, dtype=float), EPSILON, 1 - EPSILON)
        return self.offset + self.factor * np.log((1 - p) / p)

    def probability_at(self, points: float) -> float:
        """The probability of default that scores exactly ``points`` (a band's edge)."""
        return 1 / (1 + math.exp((points - self.offset) / self.factor))

    def bands_of(self, points: np.ndarray) -> list[str]:
        """Each score's band: A at or above the first cut-off, B at or above the second..."""
        below = np.searchsorted(-np.asarray(self.cutoffs), -np.asarray(points), side="left")
        return [self.labels[i] for i in below]

    def bands(self) -> list[dict[str, Any]]:
        """The bands as a reviewer reads them: points and probability-of-default ranges."""
        edges = [math.inf, *self.cutoffs, -math.inf]
        return [
            {
                "band": label,
                "min_points": None if math.isinf(low) else low,
                "max_points": None if math.isinf(high) else high,
                "max_probability": round(self.probability_at(low), 6) if low > -math.inf else 1.0,
            }
            for label, high, low in zip(self.labels, edges, edges[1:], strict=False)
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"cutoffs": list(self.cutoffs)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> PointsScale:
        """The stored scale; the defaults for a model saved before points existed."""
        if not raw:
            return cls()
        return cls(**{**raw, "cutoffs": tuple(raw.get("cutoffs", DEFAULT_CUTOFFS))})
