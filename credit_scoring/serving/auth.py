"""Optional bearer-token check in front of the scoring endpoints.

Health, metrics and the OpenAPI page stay open so that probes and scrapers need no secret.
"""

from __future__ import annotations

import hmac
import json

OPEN_PATHS = ("/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/static_content")


class BearerTokenMiddleware:
    def __init__(self, app, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(OPEN_PATHS):
            return await self.app(scope, receive, send)
        sent = dict(scope.get("headers", [])).get(b"authorization", b"")
        if hmac.compare_digest(sent, self.expected):
            return await self.app(scope, receive, send)
        body = json.dumps({"error": "missing or wrong API key: send 'Authorization: Bearer <key>'"})
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
        await send({"type": "http.response.body", "body": body.encode()})
