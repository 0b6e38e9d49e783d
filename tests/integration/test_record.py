"""The decision record through a real served process: only answered requests are recorded,
and a client's error reaches the server log as one line without the values it sent."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from credit_scoring.core.request_log import read_log, verify
from tests.integration.test_pipeline import applicants, post

pytestmark = pytest.mark.integration


def server_log(pipeline, url: str) -> str:
    return (pipeline.home / f"serve-{urlsplit(url).port}.log").read_text()


def rejected_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if '"event": "rejected"' in line]


def test_a_client_error_is_one_log_line_naming_the_field_never_the_value(pipeline, service_url):
    before = len(rejected_lines(server_log(pipeline, service_url)))
    secret = 4711424242  # a number where a category belongs: refused (an unseen text is scored)
    bad = {**applicants(pipeline, 1, offset=50)[0], "NAME_CONTRACT_TYPE": secret}
    response = post(service_url, "predict", {"applications": [bad]})
    assert response.status_code == 400
    time.sleep(0.5)  # the worker's log line reaches the file
    text = server_log(pipeline, service_url)
    assert str(secret) not in text
    assert str(bad["AMT_CREDIT"]) not in text  # nor any other value of the application
    (line,) = rejected_lines(text)[before:]
    event, _ = json.JSONDecoder().raw_decode(line[line.index("{") :])  # then BentoML's trace
    assert event["status"] == 400 and event["path"] == "/predict"
    assert event["errors"] == [
        {"field": "applications.0.NAME_CONTRACT_TYPE", "type": "string_type"}
    ]


def send_and_hang_up(url: str, path: str, body: bytes) -> None:
    """A whole request, then the connection closed at once: a client that gave up."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )


def test_a_request_whose_client_hung_up_leaves_no_row(pipeline, service_url):
    """1,000 applications to score, the client gone before they are: no row of them in the
    record; the request after it, answered, is recorded."""
    log_path = Path(pipeline.env["CREDIT_REQUEST_LOG"])
    before = len(read_log(log_path)) if log_path.exists() else 0
    abandoned = applicants(pipeline, 1000, offset=2000)
    send_and_hang_up(service_url, "/score", json.dumps({"applications": abandoned}).encode())
    time.sleep(0.2)  # queued first: the answered request below waits for it
    answered = applicants(pipeline, 2, offset=3500)
    assert post(service_url, "score", {"applications": answered}).status_code == 200
    logged = set(read_log(log_path)["client_id"].iloc[before:])
    assert {a["SK_ID_CURR"] for a in answered} <= logged
    assert not {a["SK_ID_CURR"] for a in abandoned} & logged
    assert verify(log_path).rows >= 2
