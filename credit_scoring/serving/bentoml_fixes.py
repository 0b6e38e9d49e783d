"""Fixes for BentoML 1.4.40 found by measurement, applied when the service module loads (in
the arbiter process and in every worker: both import it).

They patch BentoML internals, so they are written for one version only: under any other
version ``apply`` imports none of those internals, logs "fixes skipped" and the service runs
on stock BentoML (slower, never broken by an upgrade). The start-up log event says which.
Each fix's docstring names the upstream issue it belongs to.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import bentoml
from starlette.responses import JSONResponse

FIXED_VERSIONS = ("1.4.40",)
API_SERVER_SOCKET = "_bento_api_server"  # BentoML's name for the HTTP socket
REUSE_PORT = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
log = logging.getLogger("bentoml.credit_scoring")  # under "bentoml": shown by its log config


async def _call_with_cancelled_timer(self: Any, scope: Any, receive: Any, send: Any) -> None:
    """``TimeoutMiddleware.__call__`` as in 1.4.40, plus cancelling its timer at the end."""
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


def _fix_timeout_timer() -> None:
    """``TimeoutMiddleware`` schedules ``loop.call_later(timeout, ...)`` for every request and
    never cancels it, so each request's context and tracing span stay alive for
    ``traffic.timeout`` seconds: the heap grows with req/s x timeout and full garbage
    collections stall the worker (p99 of hundreds of ms). The timer is cancelled when the
    request ends; a request still running at the deadline gets its 504 as before.

    Upstream: no issue found (searched BentoML's issues for "TimeoutMiddleware call_later
    timer never cancelled" and "memory under load, traffic timeout, GC pauses"; #5642 is a
    different TimeoutMiddleware fault, sync handlers running on after their 504).
    """
    from bentoml._internal.server.http import traffic

    # Replacing the method is the fix (mypy rejects assigning to a method).
    traffic.TimeoutMiddleware.__call__ = _call_with_cancelled_timer  # type: ignore[method-assign]


def _fix_media_type_cache() -> None:
    """Every response looks up its media type, and for a list output (``list[Score]``) that
    means generating the output's whole JSON schema again: 13% of a worker's CPU under load
    (py-spy). The media type depends on the class alone, so it is computed once per class.

    Upstream: no issue found (searched BentoML's issues for "mime_type model_json_schema
    every response" and "IOMixin mime_type cache"; #4784, per-response pydantic version
    parsing in 1.1, is the same kind of cost elsewhere).
    """
    from _bentoml_sdk.io_models import IOMixin

    stock = IOMixin.mime_type.__func__  # the classmethod's function, called with the class
    # The cache wrapper takes the class as a hashable argument; typeshed's classmethod wants a
    # callable whose first parameter is typed as a class.
    IOMixin.mime_type = classmethod(functools.cache(stock))  # type: ignore[arg-type]


def _fix_local_caller_cache() -> None:
    """Each request rebuilds the API method's local caller, with an ``inspect.signature``
    call (4% of a worker's CPU): it depends on the method and the service instance only, and
    is built once per pair here.

    Upstream: no issue found (searched BentoML's issues for "APIMethod _local_call
    inspect.signature per request" and "api method local caller rebuilt each request").
    """
    from _bentoml_sdk.method import APIMethod

    build = APIMethod._local_call
    callers: dict[tuple[int, int], Callable[..., Any]] = {}

    def cached_local_call(self: APIMethod, instance: Any) -> Callable[..., Any]:
        key = (id(self), id(instance))
        if key not in callers:
            # The cached caller holds both objects, so neither id can be reused meanwhile.
            callers[key] = build(self, instance)
        return callers[key]

    APIMethod._local_call = cached_local_call


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


def _fix_shared_socket() -> None:
    """All workers accept on one shared listening socket, and uvloop accepts every pending
    connection on one wake-up: which worker gets a client's keep-alive connections is chance
    (64/0 a quarter of the time, measured), so a second worker often idles. Here each worker
    listens on a socket of its own bound with SO_REUSEPORT, and the kernel spreads new
    connections across them. The arbiter only reserves the address (bound, never listening).

    Upstream: https://github.com/bentoml/BentoML/issues/5426 (uneven request distribution
    across workers; an SO_REUSEPORT pull request for it, #5557, was closed unmerged).
    """
    import circus.sockets
    import uvicorn

    init = circus.sockets.CircusSocket.__init__
    run = uvicorn.Server.run

    def reserve_http_socket(self: circus.sockets.CircusSocket, *args: Any, **kwargs: Any) -> None:
        """The HTTP socket as the arbiter holds it: bound with SO_REUSEPORT but not listening,
        so it takes no connections; circus skips binding sockets marked ``so_reuseport``."""
        init(self, *args, **kwargs)
        if self.name == API_SERVER_SOCKET and not self.is_unix:
            self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self.bind((self.host, self.port))
            self.so_reuseport = True

    def run_on_own_sockets(
        self: uvicorn.Server, sockets: list[socket.socket] | None = None
    ) -> None:
        if sockets:
            sockets = [_own_listener(s, self.config.backlog) for s in sockets]
        return run(self, sockets=sockets)

    circus.sockets.CircusSocket.__init__ = reserve_http_socket
    uvicorn.Server.run = run_on_own_sockets  # type: ignore[method-assign]  # the fix: a patch


def _fixes() -> dict[str, Callable[[], None]]:
    """The fixes this platform can take, by name."""
    fixes = {
        "timeout_timer": _fix_timeout_timer,
        "media_type_cache": _fix_media_type_cache,
        "local_caller_cache": _fix_local_caller_cache,
    }
    if REUSE_PORT:
        fixes["shared_socket"] = _fix_shared_socket
    return fixes


@functools.cache
def apply() -> tuple[str, ...]:
    """Patch this BentoML version's known faults, once per process; the names of the fixes
    applied (none under a version they were not written for)."""
    if bentoml.__version__ not in FIXED_VERSIONS:
        log.warning(
            "BentoML %s: fixes skipped (written for %s); serving stock BentoML",
            bentoml.__version__,
            ", ".join(FIXED_VERSIONS),
        )
        return ()
    fixes = _fixes()
    for fix in fixes.values():
        fix()
    log.info("BentoML %s: fixes applied: %s", bentoml.__version__, ", ".join(fixes))
    return tuple(fixes)


def status() -> dict[str, str]:
    """``fixes=applied|skipped`` and the BentoML version, for the start-up log event."""
    return {"fixes": "applied" if apply() else "skipped", "bentoml": bentoml.__version__}
