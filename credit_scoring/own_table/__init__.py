"""A user's single table as a dataset profile: no history tables, no extra features (its
features are its columns), no sentinels."""

from __future__ import annotations

from credit_scoring.core.profile import Profile

NAME = "own-table"
PROFILE = Profile(name=NAME)
