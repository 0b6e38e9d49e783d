"""`make ui`: the credit-officer page, with a scoring service under it.

Uses the service that answers at CREDIT_SERVICE_URL; when none does and the URL is local, starts
`bentoml serve` there for the time the page runs (with the same settings, API key included).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from urllib.parse import urlparse

import httpx
import typer

from credit_scoring.serving import runner
from ui.settings import UISettings

APP = Path(__file__).with_name("app.py")
# The folder that holds the `ui` package: the page imports its siblings as `ui.*`.
UI_HOME = APP.parents[1]
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


def streamlit_env(base: dict[str, str]) -> dict[str, str]:
    """``base`` with the `ui` package importable, whatever the working directory."""
    paths = [str(UI_HOME), base.get("PYTHONPATH", "")]
    return base | {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}{runner.READY_PATH}", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def local_service(url: str, timeout_s: float) -> Iterator[None]:
    """A `bentoml serve` at ``url`` (a local host:port) while the block runs; its log goes to
    this console."""
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS or parsed.port is None:
        raise typer.BadParameter(
            f"no service answers at {url} and it is not a local host:port to start one on"
        )
    typer.echo(f"no service at {url}: starting bentoml serve")
    try:
        with runner.serve(host=parsed.hostname, port=parsed.port, timeout_s=timeout_s):
            yield
    except runner.ServerFailed as error:
        typer.echo(f"bentoml serve: {error}", err=True)
        raise typer.Exit(1) from error


@cli.command()
def main(
    host: str = typer.Option("127.0.0.1", help="address the page listens on"),
    port: int = typer.Option(8501, help="port of the page"),
    ready_timeout: float = typer.Option(90, help="seconds to wait for a started service"),
) -> None:
    """Serve the page on http://HOST:PORT, starting the scoring service if none answers."""
    url = UISettings().service_url
    service = nullcontext() if answers(url) else local_service(url, ready_timeout)
    with service:
        typer.echo(f"scoring service: {url}; page: http://{host}:{port}")
        with suppress(KeyboardInterrupt):
            page = streamlit_command(host, port)
            subprocess.run(page, env=streamlit_env(dict(os.environ)), check=False)


if __name__ == "__main__":
    cli()
