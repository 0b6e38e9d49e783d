"""A dataset is a profile: generic code knows no Home Credit name, profiles are found by the
name a schema stores, and a schema stored without one is refused with what to do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from credit_scoring.core.profile import UnknownProfile, get_profile
from credit_scoring.core.schema import InputSchema, ModelBundleError
from credit_scoring.profiles import home_credit
from credit_scoring.profiles.home_credit.reference import SENTINEL_DAYS, application_columns
from credit_scoring.profiles.home_credit.tables import history_tables

PACKAGE = Path(__file__).resolve().parents[2] / "credit_scoring"
PROFILE_FOLDER = PACKAGE / "profiles" / "home_credit"


def _specific(name: str) -> bool:
    """A column name only Home Credit uses: long, and with an underscore or capitals."""
    return len(name) > 4 and ("_" in name or name != name.lower())


def home_credit_names() -> set[str]:
    """Its table names, the sentinel, and every specific column of its seven tables."""
    columns = {c.name for c in application_columns()}
    columns |= {c for table in history_tables().values() for c in table.columns}
    tables = {*history_tables(), "application_train", "application_test"}
    return {c for c in columns if _specific(c)} | tables | {str(SENTINEL_DAYS)}


def mentions(names: set[str], root: Path, skip: Path) -> list[str]:
    """``file:line: name`` for each name found as a whole word in a source file."""
    word = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len)[::-1]) + r")\b")
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(skip):
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            found += [f"{path}:{number}: {m}" for m in word.findall(line)]
    return found


def test_generic_code_names_nothing_of_home_credit():
    assert mentions(home_credit_names(), PACKAGE, PROFILE_FOLDER) == []


def test_the_check_reports_file_and_line(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "leak.py").write_text('OK = 1\nX = frame["DAYS_EMPLOYED"] == 365243\n')
    found = mentions(home_credit_names(), tmp_path, tmp_path / "profiles")
    assert found == [
        f"{tmp_path / 'core' / 'leak.py'}:2: DAYS_EMPLOYED",
        f"{tmp_path / 'core' / 'leak.py'}:2: 365243",
    ]


def test_profiles_are_found_by_name_through_entry_points():
    assert get_profile("home-credit") is home_credit.PROFILE
    assert get_profile("home-credit").sentinels == {"DAYS_EMPLOYED": SENTINEL_DAYS}
    own = get_profile("own-table")
    assert own.tables == {} and own.sentinels == {}


def test_an_unknown_profile_names_the_installed_ones():
    with pytest.raises(UnknownProfile, match=r"'loans'.*\['home-credit', 'own-table'\]"):
        get_profile("loans")


def test_a_schema_stored_without_a_profile_asks_for_a_new_model(schema):
    old = json.loads(schema.to_json())
    del old["profile"]
    with pytest.raises(ModelBundleError, match="retrain and promote"):
        InputSchema.from_json(json.dumps(old))


def test_the_home_credit_schema_names_its_profile_and_tables(schema):
    assert (schema.profile, schema.name, schema.id_column) == ("home-credit",) * 2 + ("SK_ID_CURR",)
    assert schema.tables == tuple(history_tables())
