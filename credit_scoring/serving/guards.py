"""Guards in front of the API: refuse what BentoML would choke on, with a clear 4xx.

- bodies above a size limit: 413, before they are read into memory or parsed;
- bodies that are not JSON (form data, text): 415, instead of BentoML's 500.
"""

from __future__ import annotations

import json

JSON_TYPES = (b"application/json", b"application/problem+json")


def _json_response(status: int, payload: dict):
    body = json.dumps(payload).encode()
    return (
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        },
        {"type": "http.response.body", "body": body},
    )


class JsonContentTypeMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            declared = dict(scope.get("headers", [])).get(b"content-type")
            if declared is not None and declared.split(b";")[0].strip().lower() not in JSON_TYPES:
                start, body = _json_response(
                    415,
                    {
                        "error": f"unsupported content type {declared.decode(errors='replace')!r}: "
                        "send JSON with 'Content-Type: application/json'"
                    },
                )
                await send(start)
                return await send(body)
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                return await self._refuse(send)
            return await self.app(scope, receive, send)
        # A chunked body declares no length: read it here, up to the limit, then replay it.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)  # client left: let the app see it
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(send)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        start, body = _json_response(
            413, {"error": f"request body larger than {self.max_bytes} bytes"}
        )
        await send(start)
        await send(body)
