"""Decisions reach the record only with a 2xx answer (the middleware, on a real ASGI app)."""

from __future__ import annotations

import asyncio

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
