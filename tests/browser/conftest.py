"""Browser-test fixtures: the dashboard served from a hand-made warehouse on a free
loopback port, and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
AXE = Path(__file__).with_name("axe.min.js")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn in a thread, stopped cleanly at the end of the session."""

    def __init__(self, app, port: int):
        import uvicorn
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    path = make_demo_warehouse(tmp_path_factory.mktemp("browser") / "demo.duckdb")
    app = create_app(path, catalogue=DEMO_CATALOGUE)
    with ServerThread(app, free_port()) as srv:
        yield srv
    app.state.data.close()


def missing(reason: str) -> None:
    """Skip on a developer's machine, but fail in CI (env ``CI`` set): a CI run without a
    browser must not pass the browser tests by skipping them."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        missing("/usr/bin/chromium missing: apt-get install chromium (scripts/test.sh does)")
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        missing("playwright (pip) not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    # bypass_csp: Playwright's wait_for_function compiles its predicate with eval, which the
    # app's strict CSP forbids; the CSP itself is checked in test_csp.py without the bypass
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL",
                              accept_downloads=True, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.page_errors = errors
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
