"""What the service does at the HTTP level against whoever connects: made-up paths add no
metric series, stalled headers are cut off, and the Swagger page loads nothing from outside."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest

from credit_scoring.serving.bentoml_fixes import HEADER_TIMEOUT_S

pytestmark = pytest.mark.integration
FLOOD = 500


def series(metrics: str) -> int:
    """Series in a Prometheus text exposition: one per sample line."""
    return sum(1 for line in metrics.splitlines() if line and not line.startswith("#"))


def test_requests_to_unknown_paths_add_no_metric_series(service_url):
    with httpx.Client(base_url=service_url, timeout=10) as client:
        assert client.get("/no-such-path").status_code == 404  # the shared label's series
        before = client.get("/metrics").text
        for i in range(FLOOD):
            client.get(f"/probe-{i}")
        after = client.get("/metrics").text
    assert series(after) == series(before)
    assert "probe-" not in after
    counted = r'request_total\{endpoint="other",http_response_code="404".*\} (\S+)'
    assert float(re.findall(counted, after)[0]) - float(re.findall(counted, before)[0]) == FLOOD


def test_a_connection_that_never_finishes_its_headers_is_closed(service_url):
    host, port = service_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=HEADER_TIMEOUT_S + 10) as stalled:
        stalled.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: applica")
        started = time.monotonic()
        assert stalled.recv(1024) == b""  # closed by the server, not by our timeout
        waited = time.monotonic() - started
    assert HEADER_TIMEOUT_S - 0.5 <= waited <= HEADER_TIMEOUT_S + 3


def test_the_swagger_page_loads_nothing_from_outside(service_url):
    page = httpx.get(f"{service_url}/", timeout=10)
    assert page.status_code == 200 and "swagger-ui" in page.text
    loaded = re.findall(r'<(?:script|link|img|iframe)[^>]*\b(?:src|href)="([^"]+)"', page.text)
    assert loaded and all(not re.match(r"(https?:)?//", url) for url in loaded), loaded
    assert "googletagmanager" not in page.text
    assert 'validatorUrl: "none"' in page.text  # Swagger UI would send the spec's URL out
    for url in loaded:
        assert httpx.get(f"{service_url}/{url.removeprefix('./')}").status_code == 200, url
