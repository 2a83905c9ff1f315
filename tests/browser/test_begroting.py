"""The burgerbegroting as organiser and resident use it, in headless Chromium: create a
process, propose, check, issue codes, open the vote, vote with an issued code, check the
receipt, close and read the results."""

from __future__ import annotations

import csv
import io
import re
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.browser


def _serve(app):
    """uvicorn in a thread on a free loopback port; returns (server, thread, url)."""
    import uvicorn
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture()
def begroting_server(tmp_path):
    """The full web app (dashboard + participation routers) with a fresh registry."""
    from weefsel.participation import web
    from weefsel.registry import Registry
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    web.set_registry(Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}"))
    app = create_app(make_demo_warehouse(tmp_path / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
    server, thread, url = _serve(app)
    yield url
    server.should_exit = True
    thread.join(10)
    app.state.data.close()
    web.set_registry(None)


def submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.locator(f"{form_selector} button[type=submit]").click()


def test_vote_end_to_end_with_an_issued_code(page, begroting_server, shots):
    base = begroting_server
    page.goto(base + "/api/begroting/")
    assert page.locator("html").get_attribute("lang") == "nl"

    # organiser: a process with a Dutch budget
    page.fill("#naam", "Buurtbudget Stedenwijk")
    page.fill("#budget", "€ 10.000")
    page.fill("#max", "2")
    submit(page, 'form[action="/api/begroting/nieuw"]')
    token = page.locator("#organisatiecode").inner_text()
    page.get_by_role("link", name="naar de pagina").click()
    assert "€ 10.000" in page.content()
    process_url = page.url
    pid = re.search(r"/p/(\d+)$", process_url).group(1)

    # residents propose, in Dutch notation
    for title, cost in (("Bankjes bij de speeltuin", "4.000"), ("Moestuin", "7.000,50"), ("Kunstgras", "2.500")):
        page.fill("#titel", title)
        page.fill("#kosten", cost)
        submit(page, f'form[action="/api/begroting/p/{pid}/voorstel"]')
    assert "€ 7.000,50" in page.content()

    # organiser checks and opens the vote
    page.select_option("#f-fase", "controle")
    page.fill("#f-code", token)
    submit(page, f'form[action="/api/begroting/p/{pid}/fase"]')
    for project in ("1", "2", "3"):
        page.fill("#c-project", project)
        page.select_option("#c-status", "on_ballot")
        page.fill("#c-code", token)
        submit(page, f'form[action="/api/begroting/p/{pid}/controle"]')
    page.select_option("#f-fase", "stemmen")
    page.fill("#f-code", token)
    submit(page, f'form[action="/api/begroting/p/{pid}/fase"]')
    assert "stemcode uit een brief" in page.locator("#stemrecht").inner_text()
    assert "verborgen" in page.locator("#zichtbaarheid").inner_text()

    # organiser issues codes as a CSV download
    page.fill("#k-aantal", "3")
    page.select_option("#k-formaat", "csv")
    page.fill("#k-code", token)
    with page.expect_download() as dl:
        page.locator(f'form[action="/api/begroting/p/{pid}/codes"] button[type=submit]').click()
    with open(dl.value.path(), encoding="utf-8") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    codes = [r["stemcode"] for r in rows]
    assert len(codes) == 3 and rows[0]["adres"].endswith(f"/api/begroting/p/{pid}")

    # printable letters render one per page
    page.goto(process_url)
    page.fill("#k-aantal", "2")
    page.select_option("#k-formaat", "brieven")
    page.fill("#k-code", token)
    submit(page, f'form[action="/api/begroting/p/{pid}/codes"]')
    assert page.locator("section.brief").count() == 2
    page.screenshot(path=str(shots / "begroting_brief.png"))

    # a resident votes with an issued code
    page.goto(process_url)
    assert page.locator("#code").is_visible()
    page.screenshot(path=str(shots / "begroting_stemmen.png"), full_page=True)
    page.get_by_label("Bankjes bij de speeltuin").check()
    page.get_by_label("Kunstgras").check()
    page.fill("#code", codes[0].lower())        # typed loosely: still accepted
    submit(page, f'form[action="/api/begroting/p/{pid}/stem"]')
    receipt = page.locator("#ontvangstbewijs").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", receipt)
    page.screenshot(path=str(shots / "begroting_ontvangstbewijs.png"))

    # the same code again is refused, in Dutch
    page.goto(process_url)
    page.get_by_label("Moestuin").check()
    page.fill("#code", codes[0])
    submit(page, f'form[action="/api/begroting/p/{pid}/stem"]')
    assert "stemcode onbekend of al gebruikt" in page.get_by_role("alert").inner_text()

    # a second resident, then results are still hidden
    page.goto(process_url)
    page.get_by_label("Moestuin").check()
    page.fill("#code", codes[1])
    submit(page, f'form[action="/api/begroting/p/{pid}/stem"]')
    resp = page.goto(f"{base}/api/begroting/p/{pid}/uitslag")
    assert resp.status == 403 and "verborgen" in page.content()

    # the voter checks the receipt
    page.goto(f"{base}/api/begroting/p/{pid}/bewijs")
    page.fill("#bewijs", receipt)
    submit(page, f'form[action="/api/begroting/p/{pid}/bewijs"]')
    assert page.locator("#uitkomst").inner_text().startswith("Ja")

    # organiser closes; results and the .pb appear
    page.goto(process_url)
    page.select_option("#f-fase", "gesloten")
    page.fill("#f-code", token)
    submit(page, f'form[action="/api/begroting/p/{pid}/fase"]')
    page.get_by_role("link", name="Uitslag").click()
    table = page.locator("table").inner_text()
    assert "Bankjes bij de speeltuin" in table and "ja" in table
    assert "€ 7.001" in table or "€ 7.000" in table or "7.000,50" in table
    page.screenshot(path=str(shots / "begroting_uitslag.png"), full_page=True)
    text = page.request.get(f"{base}/api/begroting/processes/{pid}/export.pb").text()
    assert "num_votes;2" in text and receipt.replace("-", "") not in text and receipt not in text
    assert not page.page_errors
