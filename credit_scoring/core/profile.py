"""A dataset profile: what one kind of dataset adds to the generic core.

Home Credit is one profile (seven tables, engineered ratios, a sentinel), a user's single table
another (nothing to add). A schema names its profile, so a stored model finds its history
tables, feature blocks and sentinels by that name. Profiles register under the entry-point
group ``credit_scoring.profiles`` (see pyproject.toml), so the core imports none of them and an
installed package can add one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points

import numpy as np
import pandas as pd

from credit_scoring.core.reasons import ReasonSpec
from credit_scoring.core.tables import Histories, HistoryTable

ENTRY_POINT_GROUP = "credit_scoring.profiles"


@dataclass
class FeatureBlocks:
    """Named feature columns kept as NumPy blocks and joined once: a pandas concat of frames
    cost more than computing the features (a served request builds ~300 columns)."""

    names: list[str] = field(default_factory=list)
    blocks: list[np.ndarray] = field(default_factory=list)

    def add(self, columns: Mapping[str, np.ndarray | pd.Series]) -> None:
        self.names += list(columns)
        self.blocks += [np.asarray(values, dtype=float) for values in columns.values()]

    def add_frame(self, frame: pd.DataFrame) -> None:
        self.names += list(frame.columns)
        self.blocks.append(frame.to_numpy(float))

    def extend(self, other: FeatureBlocks) -> None:
        self.names += other.names
        self.blocks += other.blocks

    def column(self, name: str) -> np.ndarray:
        """One named column (a view of its block)."""
        position = self.names.index(name)
        for block in self.blocks:
            width = 1 if block.ndim == 1 else block.shape[1]
            if position < width:
                return block if block.ndim == 1 else block[:, position]
            position -= width
        raise KeyError(name)

    def matrix(self) -> np.ndarray:
        """The columns as one (rows x columns) matrix."""
        return np.column_stack(self.blocks)

    def repeated(self, rows: int) -> FeatureBlocks:
        """These columns of one row, as ``rows`` identical rows (a new set: a cached one stays
        as it is)."""
        return FeatureBlocks(list(self.names), [np.repeat(self.matrix(), rows, axis=0)])


# The encoded raw fields: name -> a float column (a view of the model matrix).
EncodedFields = Mapping[str, np.ndarray]

# (encoded raw fields, raw applications, history rows or None, the schema's history tables)
# -> the profile's extra columns. The hook may rewrite a raw field's column in place (a
# sentinel that is not a measurement, blanked), before it is read.
FeatureHook = Callable[
    [EncodedFields, pd.DataFrame, Histories | None, tuple[str, ...]], FeatureBlocks
]


# model feature names -> the profile's reason catalogue entries (core.reasons) for those it knows
ReasonCatalogue = Callable[[Sequence[str]], Mapping[str, ReasonSpec]]


def no_reasons(features: Sequence[str]) -> Mapping[str, ReasonSpec]:
    """A profile without a catalogue: fields and features get the readable defaults."""
    return {}


def no_features(
    encoded: EncodedFields,
    applications: pd.DataFrame,
    histories: Histories | None,
    tables: tuple[str, ...],
) -> FeatureBlocks:
    """A profile whose features are its raw fields."""
    return FeatureBlocks()


@dataclass(frozen=True)
class Profile:
    name: str
    tables: Mapping[str, HistoryTable] = field(default_factory=dict)  # none: a single table
    features: FeatureHook = no_features
    # Column -> the value that means "not a measurement" (drift compares the measurements).
    sentinels: Mapping[str, float] = field(default_factory=dict)
    # Protected column -> its values as readable audit groups (age bands from a birth date);
    # a column without one is grouped by category, or by quartile when numeric.
    audit_groups: Mapping[str, Callable[[pd.Series], pd.Series]] = field(default_factory=dict)
    reasons: ReasonCatalogue = no_reasons  # each feature's plain statement, unit and sources

    def history_tables(self, names: tuple[str, ...]) -> dict[str, HistoryTable]:
        """The specs of these tables, in that order."""
        return {name: self.tables[name] for name in names}


class UnknownProfile(LookupError):
    """No installed profile has this name."""


@cache
def get_profile(name: str) -> Profile:
    """The profile registered under ``name`` (loaded once per process)."""
    found = {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in found:
        raise UnknownProfile(
            f"unknown dataset profile {name!r}: installed profiles are {sorted(found)}"
        )
    profile = found[name].load()
    if not isinstance(profile, Profile) or profile.name != name:
        raise UnknownProfile(f"entry point {name!r} of {ENTRY_POINT_GROUP} is not its Profile")
    return profile
