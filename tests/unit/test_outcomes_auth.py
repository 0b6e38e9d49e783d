"""/outcomes has a key of its own: the scoring key's middleware leaves it alone, the outcomes
key's guards it, and without an outcomes key it is closed."""

from __future__ import annotations

import asyncio

from credit_scoring.serving.auth import (
    BearerTokenMiddleware,
    ClosedPathMiddleware,
    outcomes_path,
    scoring_path,
)


async def _app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _status(app, path: str, token: str | None = None) -> int:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path, "headers": headers}, None, send))
    return sent[0]["status"]


def test_the_scoring_key_neither_guards_nor_opens_outcomes():
    assert scoring_path("/predict") and not scoring_path("/outcomes")
    scoring = BearerTokenMiddleware(_app, token="scoring")
    guarded = BearerTokenMiddleware(
        scoring, token="loans", guarded=outcomes_path, what="outcomes key"
    )
    assert _status(guarded, "/outcomes", "scoring") == 401
    assert _status(guarded, "/outcomes") == 401
    assert _status(guarded, "/outcomes", "loans") == 200
    assert _status(guarded, "/predict", "loans") == 401  # the outcomes key scores nothing
    assert _status(guarded, "/predict", "scoring") == 200


def test_outcomes_are_closed_without_their_key():
    closed = ClosedPathMiddleware(_app, closed=outcomes_path, message="closed")
    assert _status(closed, "/outcomes", "anything") == 403
    assert _status(closed, "/predict") == 200
