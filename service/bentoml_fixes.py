"""A fix for BentoML 1.4.40 found by measurement, applied when the service module loads.

``TimeoutMiddleware`` schedules ``loop.call_later(timeout, ...)`` for every request and never
cancels it, so each request's context stays alive for ``traffic.timeout`` seconds: the heap
grows with req/s x timeout and full garbage collections stall the worker (p99 of hundreds of
ms). This version cancels the timer when the request ends; behaviour is otherwise identical.
"""

from __future__ import annotations

import asyncio
from typing import Any

import bentoml
from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse

FIXED_VERSIONS = ("1.4.40",)


async def _call_with_cancelled_timer(self, scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message: Any) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    fut = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    try:
        await waiter
    except TimeoutError:
        if fut.cancel():
            body = {"error": f"Not able to process the request in {self.timeout} seconds"}
            await JSONResponse(body, status_code=504)(scope, receive, send)
    else:
        await fut
    finally:
        timer.cancel()


def apply() -> bool:
    """Patch the middleware if this BentoML version has the leak; True when applied."""
    if bentoml.__version__ not in FIXED_VERSIONS:
        return False
    traffic.TimeoutMiddleware.__call__ = _call_with_cancelled_timer
    return True
