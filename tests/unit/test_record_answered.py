"""Decisions reach the record only with a 2xx answer (the middleware, on a real ASGI app)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from credit_scoring.core.request_log import read_log
from credit_scoring.serving import record
from tests.unit.test_request_log import decision


def app_answering(status: int, path) -> Starlette:
    async def score(request):
        await request.body()
        record.pending().append(decision(42))  # what scoring does, in the request's context
        await asyncio.sleep(0)
        response = JSONResponse({}, status_code=status)
        response.headers["X-BentoML-Request-ID"] = "00ff"
        return response

    app = Starlette(routes=[Route("/score", score, methods=["POST"])])
    app.add_middleware(record.RecordAnswered, path=path)
    return app


@pytest.mark.parametrize(("status", "rows"), [(200, 1), (503, 0), (504, 0), (400, 0)])
def test_only_answered_requests_are_recorded(tmp_path, status, rows):
    path = tmp_path / "requests.sqlite"
    record.open_record(path)  # as the service does at start
    with TestClient(app_answering(status, path)) as client:
        assert client.post("/score", json={}).status_code == status
    logged = read_log(path)
    assert len(logged) == rows
    if rows:
        assert logged["request_id"].tolist() == ["00ff"]


def app_answering_together(path, requests: int) -> Starlette:
    """Every request's answer is ready at the same moment (as in a shared batch); the request
    whose id is "bad" carries a row the record cannot take."""
    ready = asyncio.Barrier(requests)

    async def score(request):
        client = (await request.json())["client"]
        inputs = {"AMT_CREDIT": object()} if client == "bad" else {"AMT_CREDIT": 1.0}
        record.pending().append(replace(decision(client), inputs=inputs))
        await ready.wait()
        response = JSONResponse({"client": client})
        response.headers["X-BentoML-Request-ID"] = f"id-{client}"
        return response

    app = Starlette(routes=[Route("/score", score, methods=["POST"])])
    app.add_middleware(record.RecordAnswered, path=path)
    return app


async def _post_together(app: Starlette, clients: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.post("/score", json={"client": c}) for c in clients))


def _transactions(path) -> int:
    """One append is one transaction, and stamps all its rows with the same time."""
    return read_log(path)["logged_at"].nunique()


def test_requests_answered_together_share_one_transaction(tmp_path):
    path = tmp_path / "requests.sqlite"
    clients = [str(i) for i in range(20)]
    answers = asyncio.run(_post_together(app_answering_together(path, 20), clients))
    assert [a.status_code for a in answers] == [200] * 20
    logged = read_log(path)
    assert sorted(logged["request_id"]) == sorted(f"id-{c}" for c in clients)
    assert _transactions(path) <= 2  # one per request before: the commit rate capped a worker


def test_a_bad_row_fails_its_own_request_only(tmp_path):
    path = tmp_path / "requests.sqlite"
    clients = ["1", "bad", "2", "3"]
    answers = asyncio.run(_post_together(app_answering_together(path, 4), clients))
    assert [a.status_code for a in answers] == [200, 500, 200, 200]
    assert sorted(read_log(path)["request_id"]) == ["id-1", "id-2", "id-3"]
