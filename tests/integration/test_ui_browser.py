"""The page in a real headless Chromium (Debian's), served by a real `streamlit run` against a
real `bentoml serve`: score a reference client, then a new application, and keep the
screenshot of the first for the README (docs/ui.png). Run with `make ui-screenshot`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from credit_scoring.serving import runner
from tests.integration.conftest import Pipeline, free_port
from ui.launch import UI_HOME, streamlit_command, streamlit_env

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",  # runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = UI_HOME / "docs" / "ui.png"
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="module")
def page_url(pipeline: Pipeline, service_url: str) -> Iterator[str]:
    port = free_port()
    with runner.running(
        streamlit_command("127.0.0.1", port),
        f"http://127.0.0.1:{port}",
        ready_path="/_stcore/health",
        env=streamlit_env(pipeline.env | {"CREDIT_SERVICE_URL": service_url}),
        log_file=pipeline.home / "streamlit.log",
        timeout_s=60,
    ) as page:
        yield page.url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        yield context
        context.close()


def wait_for_charts(page, count: int) -> None:
    """Vega charts draw after the page settles; wait until each has its canvas."""
    page.wait_for_function(
        f"document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= {count}",
        timeout=30_000,
    )
    page.wait_for_timeout(500)  # last layout pass of the charts


def test_score_a_client_in_chromium_and_keep_a_screenshot(browser, page_url):
    page = browser.new_page()
    page.goto(page_url)
    page.get_by_role("button", name="Score client").click(timeout=60_000)
    page.get_by_text("Probability of default", exact=True).wait_for(timeout=30_000)
    wait_for_charts(page, 3)  # gauge, waterfall, global importance

    assert page.get_by_text("Granted").or_(page.get_by_text("Refused")).count() >= 1
    assert page.locator("[data-testid='stException']").count() == 0
    # Streamlit scrolls inside its main pane, so a "full page" shot would stop at the
    # viewport: make the viewport as tall as that pane's content instead.
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    wait_for_charts(page, 3)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    # A palette PNG is a fifth of the size and reads the same.
    Image.open(SCREENSHOT).convert("RGB").quantize(colors=128).save(SCREENSHOT, optimize=True)
    assert Image.open(SCREENSHOT).size[0] == VIEWPORT["width"]


def test_score_a_new_application_in_chromium(browser, page_url):
    page = browser.new_page()
    page.goto(page_url)
    page.get_by_text("New application").click(timeout=60_000)
    page.get_by_role("button", name="Score application").click(timeout=30_000)
    page.get_by_text("Probability of default", exact=True).wait_for(timeout=30_000)
    wait_for_charts(page, 3)  # gauge, waterfall, global importance
    assert page.get_by_text("Application as sent to the service").count() == 1
    assert page.locator("[data-testid='stException']").count() == 0
