"""Published per-column facts of Home Credit's ``application_train.csv``.

The file ``reference/application_train_columns.txt`` (dtypes, missing rates, quantiles and
category counts of the real 307,511-row table) is the single source for both the Home Credit
input schema and the synthetic generator's marginals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

ID_COLUMN = "SK_ID_CURR"
TARGET_COLUMN = "TARGET"
NAME = "home-credit"  # the profile's name, stored in every schema it builds
# Home Credit's "no date" (1,000 years ahead): DAYS_EMPLOYED of clients not employed (mostly
# pensioners) and the due dates previous_application does not have.
SENTINEL_DAYS = 365243
_NUMBER = re.compile(r"(\w+)=(-?[\d.]+(?:e[+-]?\d+)?)")


@dataclass(frozen=True)
class ColumnFacts:
    """What the real data says about one column."""

    name: str
    dtype: str  # "int64", "float64" or "object", as pandas reads the real CSV
    missing_rate: float
    description: str
    stats: dict[str, float] = field(default_factory=dict)  # min, p25, median, p75, max, mean
    categories: dict[str, int] = field(default_factory=dict)  # value -> count in the real data

    @property
    def is_categorical(self) -> bool:
        return self.dtype == "object"


def _parse_line(line: str) -> ColumnFacts:
    _, name, dtype, missing, values, description = (p.strip() for p in line.split("|", 5))
    rate = re.search(r"\(([\d.]+)%\)", missing)
    if rate is None:
        raise ValueError(f"no missing rate such as '(12.3%)' in the column line: {line!r}")
    missing_rate = float(rate.group(1)) / 100
    stats: dict[str, float] = {}
    categories: dict[str, int] = {}
    if values.startswith("categories:"):
        for item in values.removeprefix("categories:").split(";"):
            value, count = item.strip().rsplit("=", 1)
            categories[value] = int(count)
    else:
        stats = {k: float(v) for k, v in _NUMBER.findall(values)}
    return ColumnFacts(name, dtype, missing_rate, description, stats, categories)


@cache
def application_columns() -> tuple[ColumnFacts, ...]:
    """All 122 columns of ``application_train.csv`` in file order."""
    text = (
        resources.files(__package__)
        .joinpath("reference/application_train_columns.txt")
        .read_text(encoding="utf-8")
    )
    # Column lines read "  idx | name | dtype | missing | stats | description"; the file's
    # trailing notes on the other tables are skipped.
    rows = [ln for ln in text.splitlines() if re.match(r"\s*\d+ \|", ln)]
    return tuple(_parse_line(ln) for ln in rows)
