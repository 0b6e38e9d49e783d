"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.integration.schemathesis_hooks): generated
bodies get the one rule JSON Schema cannot state, that a child history row refers to a parent
row of the same application (a ``bureau_balance`` month to one of its ``bureau`` credits) and
parent rows have distinct keys. Without it, nearly every generated body with such rows is a
"schema-valid request rejected"; the refusal itself is tested in test_histories.

The repair only adds rows and renumbers well-formed keys: it never removes what makes a
deliberately invalid (negative) case invalid."""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

from credit_scoring.core.json_fields import MAX_JSON_INTEGER
from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import MAX_HISTORY_ROWS as MAX_ROWS
from credit_scoring.profiles.home_credit import home_credit_schema

SCHEMA = home_credit_schema()
TABLES = get_profile(SCHEMA.profile).history_tables(SCHEMA.tables)
LINKS = [(t.link.parent, name, t.link.key) for name, t in TABLES.items() if t.link.parent]


def _well_formed(key: Any) -> bool:
    return isinstance(key, int) and not isinstance(key, bool) and 0 <= key < MAX_JSON_INTEGER


def _rows(value: Any) -> list[dict] | None:
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return value
    return None


def link(application: dict, parent: str, child: str, key: str) -> None:
    """Distinct well-formed parent keys; a parent row for each child's orphan key."""
    children = _rows(application.get(child)) or []
    if application.get(parent) is None and children:
        application[parent] = []
    parents = _rows(application.get(parent))
    if parents is None:
        return  # the parent table is itself malformed: a negative case already
    seen: set[int] = set()
    for row in parents:
        if _well_formed(row.get(key)) and row[key] in seen:
            row[key] = next(i for i in itertools.count() if i not in seen)
        if _well_formed(row.get(key)):
            seen.add(row[key])
    for row in children:
        if _well_formed(row.get(key)) and row[key] not in seen and len(parents) < MAX_ROWS:
            parents.append({key: row[key]})
            seen.add(row[key])


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    applications = body.get("applications") if isinstance(body, dict) else None
    for application in applications if isinstance(applications, list) else []:
        if isinstance(application, dict):
            for parent, child, key in LINKS:
                link(application, parent, child, key)
    return body
