"""The dashboard under its real Content-Security-Policy (no Playwright bypass): the map is
drawn, a profile opens, and the browser reports no CSP violation; another site cannot frame
the page."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser


def poll(page, expr: str, timeout: float = 20.0):
    """Wait with page.evaluate (CDP, not eval in the page: allowed under the CSP)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = page.evaluate(expr)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expr}")


def test_dashboard_works_under_csp(browser, demo_server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.on("pageerror", lambda e: messages.append(str(e)))
    resp = page.goto(demo_server.url + "/")
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    poll(page, "document.body.dataset.mapRendered === 'true'")
    page.goto(demo_server.url + "/#/kaart?niveau=gemeente")
    poll(page, "document.body.dataset.mapRendered === 'true'")
    violations = [m for m in messages if "Content Security Policy" in m or "CSP" in m]
    assert not violations, violations
    ctx.close()


def test_another_site_cannot_frame_the_page(browser, demo_server):
    """A page of another origin (a data: URL) framing the dashboard gets an empty frame."""
    ctx = browser.new_context()
    page = ctx.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text))
    page.set_content(f'<iframe id="f" src="{demo_server.url}/api/begroting/"></iframe>')
    time.sleep(1.5)
    frame = page.frame_locator("#f")
    # the framed document never loads: no element of the voting pages is inside
    assert frame.locator("main").count() == 0
    ctx.close()
