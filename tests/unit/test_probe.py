"""credit_scoring/serving/probe.py, the liveness probe's command, against a real HTTP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from credit_scoring.serving import probe


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/livez" else 503)
        self.end_headers()

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_200_passes_anything_else_fails_with_the_cause(port, monkeypatch, capsys):
    assert probe.probe("/livez", str(port)) is None
    assert "503" in (probe.probe("/readyz", str(port)) or "")
    monkeypatch.setenv("BENTOML_PORT", str(port))
    assert probe.main(["probe", "/livez"]) == 0
    assert probe.main(["probe", "/readyz"]) == 1
    assert "GET /readyz" in capsys.readouterr().err


def test_no_server_fails():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        free = unused.getsockname()[1]
    assert probe.probe("/livez", str(free), timeout=1) is not None
