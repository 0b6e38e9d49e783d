"""Only answered requests reach the decision record.

A batched request's rows are scored in batches shared with other requests, and BentoML may
still answer that request 503 afterwards (a 1,000-row request split over several batches is
cancelled when its last part would wait too long), or its client may have gone. So scoring
does not write the record: each row's decision waits in its request's ``Pending`` list, and
this middleware writes the list when, and only when, the request's answer is a 2xx to a client
still connected: just before the status line goes out, so a client that got its answer will
find it in the record, even if the server is killed a moment later.

Requests answered at the same time share one transaction (``GroupCommit``): a request whose
rows are ready while another write runs waits for the next one, which takes every request
queued meanwhile. One transaction per request had capped a worker at the record's commit rate
(the other worker holding the write lock half the time); grouped, each answer still leaves
only after its own rows are committed.

The list travels with the request: the middleware puts it in a context variable, which the
request's validation (run in the request's own task) attaches to each application it builds;
batches built from applications of many requests thus know where each row's decision goes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from contextlib import suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, PrivateAttr

from credit_scoring.core.request_log import LoggedDecision, RequestLog

REQUEST_ID_HEADER = b"x-bentoml-request-id"  # set by BentoML on every API answer

Pending = list[LoggedDecision]
_PENDING: ContextVar[Pending | None] = ContextVar("pending_decisions", default=None)


CHECKPOINT_EVERY_S = 1.0  # the journal grows by ~1 MB/s at 50 typical clients a second


@functools.cache
def open_record(path: Path) -> RequestLog:
    """The process's one handle on the record at ``path`` (the service and this middleware
    share it)."""
    return RequestLog(path, checkpoint_every_s=CHECKPOINT_EVERY_S)


def pending() -> Pending | None:
    """The current request's list of decisions waiting for its answer (None outside one)."""
    return _PENDING.get()


def carrying_pending(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` whose instances remember the pending list of the request that sent them
    (a subclass of the same name, so the OpenAPI page reads the same)."""
    namespace = {
        "__module__": model.__module__,
        "__annotations__": {"_pending": Pending | None},
        "_pending": PrivateAttr(default_factory=pending),
    }
    return type(model.__name__, (model,), namespace)


def pending_of(application: BaseModel) -> Pending | None:
    return getattr(application, "_pending", None)


class GroupCommit:
    """Appends the rows of the requests queued meanwhile in one transaction, one at a time
    (the event loop's side of the record: ``append`` returns once the rows are committed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queued: list[tuple[Pending, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, rows: Pending) -> None:
        written = asyncio.get_running_loop().create_future()
        self._queued.append((rows, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_queued())
        await written

    async def _write_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            await self._write(group)

    async def _write(self, group: list[tuple[Pending, asyncio.Future[None]]]) -> None:
        """One transaction for the group; when it fails, each request alone, so that one
        request's bad row fails that request only."""
        try:
            await _append(self.path, [row for rows, _ in group for row in rows])
        except Exception as error:
            if len(group) > 1:
                for one in group:
                    await self._write([one])
                return
            _settle(group, error)
        else:
            _settle(group, None)


async def _append(path: Path, rows: Pending) -> None:
    await anyio.to_thread.run_sync(open_record(path).append, rows)


def _settle(group: list[tuple[Pending, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, written in group:
        if written.done():  # its request was cancelled meanwhile
            continue
        if error is None:
            written.set_result(None)
        else:
            written.set_exception(error)


class RecordAnswered:
    """ASGI middleware: writes a request's pending decisions when its answer is a 2xx to a
    client still connected, with the request id BentoML answers in its header."""

    def __init__(self, app: Any, path: Path) -> None:
        self.app = app
        self.group = GroupCommit(path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        decisions: Pending = []
        gone = asyncio.Event()
        watcher: asyncio.Task | None = None
        answered = False

        async def receive_and_watch() -> Any:
            nonlocal watcher
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
            return message

        async def send_after_recording(message: Any) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and decisions:
                if 200 <= message["status"] < 300 and not gone.is_set():
                    request_id = dict(message.get("headers", ())).get(REQUEST_ID_HEADER)
                    await self._write(decisions, request_id)
                decisions.clear()
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True

        token = _PENDING.set(decisions)
        try:
            await self.app(scope, receive_and_watch, send_after_recording)
        finally:
            _PENDING.reset(token)
            # Once the answer is sent, the server's receive returns "http.disconnect" (ASGI):
            # the watcher ends by itself, without a CancelledError and its traceback.
            if watcher is not None and not answered:
                watcher.cancel()
            # The watcher's context holds the request, whose receive is the closure holding
            # the watcher: a cycle of ~60 objects per request that only the garbage collector
            # frees (under load, full collections of 60-100 ms, the typical client's p99).
            watcher = None

    async def _write(self, decisions: Pending, request_id: bytes | None) -> None:
        rid = request_id.decode("latin-1") if request_id else None
        await self.group.append([dataclasses.replace(d, request_id=rid) for d in decisions])


async def _watch_disconnect(receive: Any, gone: asyncio.Event) -> None:
    """Once the body is read, the next message can only be the client's disconnect (or the
    server's own end of the response, when it no longer matters)."""
    with suppress(Exception):
        if (await receive())["type"] == "http.disconnect":
            gone.set()
