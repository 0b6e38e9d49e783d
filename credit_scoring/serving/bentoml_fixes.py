"""Fixes for BentoML 1.4.40 found by measurement, applied when the service module loads (in
the arbiter process and in every worker: both import it).

1. ``TimeoutMiddleware`` schedules ``loop.call_later(timeout, ...)`` for every request and never
   cancels it, so each request's context stays alive for ``traffic.timeout`` seconds: the heap
   grows with req/s x timeout and full garbage collections stall the worker (p99 of hundreds
   of ms). This version cancels the timer when the request ends.
2. All workers accept on one shared listening socket, and uvloop accepts every pending
   connection on one wake-up: which worker gets a client's keep-alive connections is chance
   (64/0 a quarter of the time, measured), so a second worker often idles. Here each worker
   listens on a socket of its own bound with SO_REUSEPORT, and the kernel spreads new
   connections across them. The arbiter only reserves the address (bound, never listening).
3. Every response looks up its media type, and for a list output (``list[Score]``) that means
   generating the output's whole JSON schema again: 13% of a worker's CPU under load
   (py-spy). The media type depends on the class alone, so it is computed once per class.
4. Each request rebuilds the API method's local caller, with an ``inspect.signature`` call
   (4% of a worker's CPU): it depends on the method and the service instance only, and is
   built once per pair here.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import sys
from typing import Any

import bentoml
import circus.sockets
import uvicorn
from _bentoml_sdk.io_models import IOMixin
from _bentoml_sdk.method import APIMethod
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


API_SERVER_SOCKET = "_bento_api_server"  # BentoML's name for the HTTP socket
REUSE_PORT = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


_circus_socket_init = circus.sockets.CircusSocket.__init__


def _reserve_http_socket(self: circus.sockets.CircusSocket, *args: Any, **kwargs: Any) -> None:
    """The HTTP socket as the arbiter holds it: bound with SO_REUSEPORT but not listening, so
    it takes no connections; circus skips binding sockets marked ``so_reuseport``."""
    _circus_socket_init(self, *args, **kwargs)
    if self.name == API_SERVER_SOCKET and not self.is_unix:
        self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.bind((self.host, self.port))
        self.so_reuseport = True


def _own_listener(inherited: socket.socket, backlog: int) -> socket.socket:
    """This worker's listening socket on the reserved address (the inherited one otherwise)."""
    reserved = (
        inherited.family in (socket.AF_INET, socket.AF_INET6)
        and inherited.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        and not inherited.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    )
    if not reserved:
        return inherited
    own = socket.socket(inherited.family, socket.SOCK_STREAM)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    own.bind(inherited.getsockname())
    own.listen(backlog)
    return own


_uvicorn_run = uvicorn.Server.run


def _run_on_own_sockets(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
    if sockets:
        sockets = [_own_listener(s, self.config.backlog) for s in sockets]
    return _uvicorn_run(self, sockets=sockets)


_local_callers: dict[tuple[int, int], Any] = {}  # (API method, service instance) -> caller
_build_local_call = APIMethod._local_call


def _cached_local_call(self: APIMethod, instance: Any) -> Any:
    key = (id(self), id(instance))
    if key not in _local_callers:
        # Both live as long as the worker: their ids are never reused while it runs.
        _local_callers[key] = _build_local_call(self, instance)
    return _local_callers[key]


def apply() -> bool:
    """Patch this BentoML version's known faults; True when applied."""
    if bentoml.__version__ not in FIXED_VERSIONS:
        return False
    traffic.TimeoutMiddleware.__call__ = _call_with_cancelled_timer
    IOMixin.mime_type = classmethod(functools.cache(IOMixin.mime_type.__func__))
    APIMethod._local_call = _cached_local_call
    if REUSE_PORT:
        circus.sockets.CircusSocket.__init__ = _reserve_http_socket
        uvicorn.Server.run = _run_on_own_sockets
    return True
