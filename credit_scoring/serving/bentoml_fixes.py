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
import random
import signal
import socket
import sys
from collections.abc import Callable, Collection
from typing import Any

import bentoml
from starlette.responses import JSONResponse

FIXED_VERSIONS = ("1.4.40",)
API_SERVER_SOCKET = "_bento_api_server"  # BentoML's name for the HTTP socket
# Metric label of every path the service does not route (and the key keeping the real one).
OTHER_ENDPOINT = "other"
_ROUTED_PATH = "credit_scoring.path"
SYSTEM_PATHS = ("/", "/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/schema.json")
STATIC_PREFIX = "/static_content"  # the Swagger page's files: one label for the folder
# A connection must complete a request's headers this soon after it opens (or after its
# previous answer): uvicorn's own keep-alive timeout, 5 s, for a client that started a request.
HEADER_TIMEOUT_S = 5.0
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


def endpoint_label(path: str, routes: Collection[str]) -> str:
    """The metrics' ``endpoint`` label of a request: its path when the service routes it,
    one shared label otherwise, so that requests to made-up paths add no series."""
    if path in routes or path in SYSTEM_PATHS:
        return path
    if path.startswith(STATIC_PREFIX + "/"):
        return STATIC_PREFIX
    return OTHER_ENDPOINT


def _fix_metrics_labels() -> None:
    """The traffic metrics label each request with its raw path, so every made-up path adds
    ~20 series (a histogram's buckets, counters, a gauge) to ``/metrics`` and to the
    multiprocess folder: 18,000 requests to random paths took ``/metrics`` from 122 KB to
    13.3 MB and to a 504. Unrouted paths are counted under ``endpoint="other"``; the app
    behind the middleware still sees the real path.

    Upstream: no issue found (searched BentoML's issues for "metrics endpoint label
    cardinality unknown path" and "prometheus label path 404 series"); Prometheus' own
    instrumentation guides warn against unbounded label values.
    """
    from bentoml._internal.context import server_context
    from bentoml._internal.server.http.instruments import RunnerTrafficMetricsMiddleware

    init = RunnerTrafficMetricsMiddleware.__init__
    call = RunnerTrafficMetricsMiddleware.__call__

    def init_with_real_path(self: Any, app: Any, *args: Any, **kwargs: Any) -> None:
        async def with_real_path(scope: Any, receive: Any, send: Any) -> None:
            if _ROUTED_PATH in scope:
                scope = {**scope, "path": scope[_ROUTED_PATH]}
            await app(scope, receive, send)

        init(self, with_real_path, *args, **kwargs)

    async def call_with_bounded_label(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"].startswith(("http", "websocket")):
            label = endpoint_label(scope["path"], server_context.service_routes)
            if label != scope["path"]:
                scope = {**scope, "path": label, _ROUTED_PATH: scope["path"]}
        await call(self, scope, receive, send)

    RunnerTrafficMetricsMiddleware.__init__ = init_with_real_path  # type: ignore[method-assign]
    RunnerTrafficMetricsMiddleware.__call__ = call_with_bounded_label  # type: ignore[method-assign]


class RequestIdMiddleware:
    """What OpenTelemetry's middleware gives a server that traces nothing: a random 64-bit id
    per request, which BentoML answers as ``X-BentoML-Request-ID`` (the decision record keeps
    it)."""

    def __init__(self, app: Any, **_: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from bentoml._internal.context import trace_context

            trace_context.request_id = random.getrandbits(64) or 1
        await self.app(scope, receive, send)


def tracing_on() -> bool:
    """Whether this server samples any trace (``tracing.sample_rate`` above 0)."""
    from bentoml._internal.container import BentoMLContainer

    return bool(BentoMLContainer.tracing.sample_rate.get())


def _fix_untraced_spans() -> None:
    """With tracing off (BentoML's default sample rate, 0), OpenTelemetry's ASGI middleware
    still opens a span per request and wraps every receive and send: ~10% of a loaded
    worker's CPU on application-only scoring, for spans nobody records. Without sampling it
    is replaced by ``RequestIdMiddleware``, which keeps the request id; any sample rate above
    0 keeps OpenTelemetry.

    Upstream: no issue found (searched BentoML's issues for "OpenTelemetryMiddleware overhead
    sample_rate 0" and "disable tracing middleware performance").
    """
    from _bentoml_impl.server.app import ServiceAppFactory
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware import Middleware

    stock = ServiceAppFactory.middlewares

    def middlewares(self: Any) -> list[Middleware]:
        chain = stock.fget(self)
        if tracing_on():
            return chain
        return [
            Middleware(RequestIdMiddleware) if m.cls is OpenTelemetryMiddleware else m  # type: ignore[arg-type]
            for m in chain
        ]

    ServiceAppFactory.middlewares = property(middlewares)


def _fix_client_error_body() -> None:
    """A ``BentoMLException`` with a 4xx status (``NotFound``: an unknown client id) is
    answered as a one-element *list* holding the error object (a stray comma in BentoML makes
    a tuple of it), while the OpenAPI spec promises the object; and a traceback is logged for
    what is the client's mistake. The object is answered here, and one log line names the
    status, path and exception type (no values: the ids the client sent stay out of logs).

    Upstream: no issue found (searched BentoML's issues for "NotFound response body list
    tuple" and "api_endpoint_wrapper detail tuple").
    """
    from _bentoml_impl.server.app import ServiceAppFactory
    from bentoml.exceptions import BentoMLException

    endpoint = ServiceAppFactory.api_endpoint

    async def api_endpoint(self: Any, name: str, request: Any) -> Any:
        try:
            return await endpoint(self, name, request)
        except BentoMLException as error:
            status = error.error_code.value
            if status in (401, 403) or status >= 500:
                raise  # BentoML's own generic answers for these
            log.warning("%d on %s: %s", status, request.url.path, type(error).__name__)
            return JSONResponse({"error": str(error)}, status_code=status)

    ServiceAppFactory.api_endpoint = api_endpoint


def _fix_header_timeout() -> None:
    """uvicorn times out an idle kept-alive connection, but not one that sent part of a
    request's headers (nor a fresh one that sent nothing): 4,000 such connections stayed
    open, each holding a socket and memory, and BentoML passes no option for it. uvicorn's
    HTTP protocol here (httptools) gets a timer from the connection's start, and from each
    answer on a kept-alive connection, to the end of the next request's headers; a client
    that misses it is disconnected.

    Upstream: https://github.com/Kludex/uvicorn/issues/157 (``--timeout-request-start``,
    "timeout unless request headers complete within this time", open since 2018); BentoML
    passes uvicorn only ``timeout_keep_alive``, which data received resets.
    """
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()

        def on_headers_complete(self) -> None:
            self._headers_done()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_done()
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            self._headers_done()
            self.header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

        def _headers_done(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _too_slow(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    load = uvicorn.Config.load

    def load_with_header_timeout(self: uvicorn.Config) -> None:
        load(self)
        if self.http_protocol_class is HttpToolsProtocol:
            self.http_protocol_class = HeaderTimeoutProtocol

    uvicorn.Config.load = load_with_header_timeout  # type: ignore[method-assign]


def _fix_respawn_in_container() -> None:
    """In a BentoML image (``BENTOML_CONTAINERIZED`` is set) circus does not replace a dead
    worker: its watcher stops, ``bentoml serve`` exits ("No active process found for
    watcher") and one worker's crash restarts the whole container, failing the requests the
    other worker was answering. Outside a container the worker is simply replaced. Workers
    are replaced everywhere now; the container restarts when the server itself dies or its
    liveness probe fails (``deploy/k8s``). Upstream: ``bentoml.serving.create_watcher``,
    ``respawn=not running_inside_container()``."""
    import bentoml.serving

    create_watcher = bentoml.serving.create_watcher

    @functools.wraps(create_watcher)
    def respawning_watcher(*args: Any, **kwargs: Any) -> Any:
        watcher = create_watcher(*args, **kwargs)
        watcher.respawn = True
        return watcher

    bentoml.serving.create_watcher = respawning_watcher  # looked up at each server start


def _fixes() -> dict[str, Callable[[], None]]:
    """The fixes this platform can take, by name."""
    fixes = {
        "timeout_timer": _fix_timeout_timer,
        "media_type_cache": _fix_media_type_cache,
        "local_caller_cache": _fix_local_caller_cache,
        "metrics_labels": _fix_metrics_labels,
        "untraced_spans": _fix_untraced_spans,
        "client_error_body": _fix_client_error_body,
        "header_timeout": _fix_header_timeout,
        "respawn_in_container": _fix_respawn_in_container,
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
