"""`make ui`: the credit-officer page, with a scoring service under it.

Uses the service that answers at CREDIT_SERVICE_URL; when none does and the URL is local, starts
`bentoml serve` there for the time the page runs (with the same settings, API key included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import typer

from credit_scoring.serving.settings import ClientSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout this tool runs from

APP = Path(__file__).with_name("app.py")
LOCAL_HOSTS = ("127.0.0.1", "localhost")

cli = typer.Typer(add_completion=False, help=__doc__)


def streamlit_command(host: str, port: int) -> list[str]:
    """Headless: no browser is opened, no usage statistics are sent, and officers see the
    viewer's menu, not the developer's (deploy, rerun on save)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
    ]


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def start_service(url: str, timeout_s: float) -> subprocess.Popen:
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS or parsed.port is None:
        raise typer.BadParameter(
            f"no service answers at {url} and it is not a local host:port to start one on"
        )
    typer.echo(f"no service at {url}: starting bentoml serve")
    process = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "credit_scoring.serving.service:CreditScoring",
            ),
            *("--host", str(parsed.hostname), "--port", str(parsed.port)),
        ],
        cwd=PROJECT_ROOT,
        start_new_session=True,  # its own process group: stopped with all its workers
    )
    deadline = time.monotonic() + timeout_s
    while not answers(url):
        if process.poll() is not None:
            typer.echo(f"bentoml serve exited with code {process.returncode}", err=True)
            raise typer.Exit(1)
        if time.monotonic() > deadline:
            stop(process)
            typer.echo(f"bentoml serve not ready at {url} after {timeout_s:.0f} s", err=True)
            raise typer.Exit(1)
        time.sleep(0.5)
    return process


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@cli.command()
def main(
    host: str = typer.Option("127.0.0.1", help="address the page listens on"),
    port: int = typer.Option(8501, help="port of the page"),
    ready_timeout: float = typer.Option(90, help="seconds to wait for a started service"),
) -> None:
    """Serve the page on http://HOST:PORT, starting the scoring service if none answers."""
    url = ClientSettings().service_url.rstrip("/")
    service = None if answers(url) else start_service(url, ready_timeout)
    typer.echo(f"scoring service: {url}; page: http://{host}:{port}")
    try:
        subprocess.run(streamlit_command(host, port), cwd=PROJECT_ROOT, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        if service is not None:
            stop(service)


if __name__ == "__main__":
    cli()
