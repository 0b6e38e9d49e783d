"""Fixes for BentoML 1.4.40 found by measurement, applied when the service module loads (in
the arbiter process and in every worker: both import it).

They patch BentoML internals, so they are written for one version only: under any other
version ``apply`` imports none of those internals, logs "fixes skipped" and the service runs
on stock BentoML (slower, never broken by an upgrade). The start-up log event says which.
Each fix's docstring names the upstream issue it belongs to.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import bentoml
from starlette.responses import JSONResponse

FIXED_VERSIONS = ("1.4.40",)
API_SERVER_SOCKET = "_bento_api_server"  # BentoML's name for the HTTP socket
REUSE_PORT = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
PR_SET_PDEATHSIG = 1  # linux/prctl.h
log = logging.getLogger("bentoml.credit_scoring")  # under "bentoml": shown by its log config


def die_with_arbiter(arbiter_pid: int) -> None:
    """Make this worker die (SIGKILL) the moment its arbiter does.

    Circus starts each worker in a session of its own, so a killed ``bentoml serve`` left its
    workers running with parent 1, still answering on the port, beside a restarted server.
    The kernel sends the signal when the parent exits; a parent already gone before the call
    (``getppid`` is no longer the arbiter) ends the worker here. Not for BentoML's internals:
    applied under any version. Linux only: elsewhere the worker keeps the stock behaviour.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != arbiter_pid:
        os.kill(os.getpid(), signal.SIGKILL)


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


def _refuse_a_taken_port(host: str, port: int, family: int) -> None:
    """Fail loudly when anything already holds the address, as stock BentoML does: SO_REUSEPORT
    would otherwise let a second server (or orphaned workers) share the port in silence."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as circus binds
        try:
            probe.bind((host, port))  # without SO_REUSEPORT: refused by any holder of the port
        except OSError as error:
            raise OSError(
                error.errno, f"cannot serve on {host}:{port}: {error.strerror}"
            ) from error


def _slot_listener(reserved: socket.socket, backlog: int) -> socket.socket:
    """A listening socket on the reserved address, in its SO_REUSEPORT group."""
    listener = socket.socket(reserved.family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(reserved.getsockname())
    listener.listen(backlog)
    listener.set_inheritable(True)
    return listener


def _fix_shared_socket() -> None:
    """All workers accept on one shared listening socket, and uvloop accepts every pending
    connection on one wake-up: which worker gets a client's keep-alive connections is chance
    (64/0 a quarter of the time, measured), so a second worker often idles. Here the arbiter
    holds one listening socket per worker slot, bound with SO_REUSEPORT, and the kernel spreads
    new connections across them; worker ``wid`` accepts on slot ``(wid - 1) % workers``.

    The arbiter keeps every slot listening for its whole life, so a connection that arrives
    while a slot's worker restarts waits in that slot's backlog for the new worker instead of
    being refused (sockets owned by the workers, the previous design, closed with them: 5,501
    connections refused while both workers restarted). The arbiter's own socket only reserves
    the address (bound, never listening).

    Upstream: https://github.com/bentoml/BentoML/issues/5426 (uneven request distribution
    across workers; an SO_REUSEPORT pull request for it, #5557, was closed unmerged).
    """
    import circus.process
    import circus.sockets

    init = circus.sockets.CircusSocket.__init__
    sockets_fds = circus.process.Process._get_sockets_fds
    slots: dict[int, socket.socket] = {}  # slot -> listening socket, kept for the arbiter's life

    def reserve_http_socket(self: circus.sockets.CircusSocket, *args: Any, **kwargs: Any) -> None:
        """The HTTP socket as the arbiter holds it: bound with SO_REUSEPORT but not listening,
        so it takes no connections; circus skips binding sockets marked ``so_reuseport``."""
        init(self, *args, **kwargs)
        if self.name == API_SERVER_SOCKET and not self.is_unix:
            _refuse_a_taken_port(self.host, self.port, self.family)
            self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self.bind((self.host, self.port))
            self.so_reuseport = True

    def slot_sockets_fds(self: circus.process.Process) -> dict[str, int] | None:
        """The sockets a new worker inherits: the HTTP one is its slot's listener. (Circus's
        own SO_REUSEPORT mode makes a new socket per worker, closed when the worker exits.)"""
        reserved = self.watcher.sockets.get(API_SERVER_SOCKET) if self.watcher else None
        if reserved is None or not reserved.so_reuseport:
            return sockets_fds(self)
        fds = self.watcher._get_sockets_fds()
        slot = (self.wid - 1) % self.watcher.numprocesses
        if slot not in slots:
            slots[slot] = _slot_listener(reserved, reserved.backlog)
        fds[API_SERVER_SOCKET] = slots[slot].fileno()
        return fds

    circus.sockets.CircusSocket.__init__ = reserve_http_socket
    circus.process.Process._get_sockets_fds = slot_sockets_fds


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
