"""Optional bearer tokens: one in front of the scoring endpoints, one in front of ``/metrics``,
and one in front of ``/outcomes`` (the lender's loan system writes outcomes; a scoring client's
key cannot, and without ``CREDIT_OUTCOMES_KEY`` nobody can: 403).

Health probes and the OpenAPI page stay open so that probes need no secret; ``/metrics`` is
open too unless it has a token of its own (``CREDIT_METRICS_TOKEN``): a scraper then holds
that token, never the API key.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

OPEN_PATHS = ("/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/static_content")
METRICS_PATH = "/metrics"
OUTCOMES_PATH = "/outcomes"
SCHEME = b"bearer"  # compared case-insensitively: HTTP auth schemes are (RFC 9110, 11.1)


def scoring_path(path: str) -> bool:
    """Whether the API key guards this path: everything but probes, metrics and the docs."""
    return path != "/" and not path.startswith(OPEN_PATHS) and not outcomes_path(path)


def outcomes_path(path: str) -> bool:
    return path == OUTCOMES_PATH


def metrics_path(path: str) -> bool:
    return path == METRICS_PATH


def bearer_token(authorization: bytes) -> bytes | None:
    """The credentials of an ``Authorization: Bearer <token>`` header, whatever the scheme's
    case and the spaces around the token; None for any other scheme or a malformed header."""
    scheme, _, token = authorization.strip().partition(b" ")
    token = token.strip()
    if scheme.lower() != SCHEME or not token:
        return None
    return token


class BearerTokenMiddleware:
    """Answers 401 to a request for a ``guarded`` path without ``Authorization: Bearer
    <token>``; ``what`` names the secret in the message (the API key, the metrics token)."""

    def __init__(
        self,
        app,
        token: str,
        guarded: Callable[[str], bool] = scoring_path,
        what: str = "API key",
    ) -> None:
        self.app = app
        self.expected = token.encode()
        self.guarded = guarded
        self.body = json.dumps(
            {"error": f"missing or wrong {what}: send 'Authorization: Bearer <key>'"}
        ).encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.guarded(scope.get("path", "")):
            return await self.app(scope, receive, send)
        sent = bearer_token(dict(scope.get("headers", [])).get(b"authorization", b""))
        if sent is not None and hmac.compare_digest(sent, self.expected):
            return await self.app(scope, receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


class ClosedPathMiddleware:
    """Answers 403 with ``message`` to every request for a ``closed`` path: an endpoint that
    needs a secret the server was not given (``/outcomes`` without an outcomes key)."""

    def __init__(self, app, closed: Callable[[str], bool], message: str) -> None:
        self.app = app
        self.closed = closed
        self.body = json.dumps({"error": message}).encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.closed(scope.get("path", "")):
            return await self.app(scope, receive, send)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
