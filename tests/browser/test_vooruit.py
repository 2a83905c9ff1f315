"""The Vooruitblik page in headless Chromium: timeline, gap bands, first-year map, gap list,
scenario comparison, all drawn from a real stored run, inside the dashboard's house
(one header, navigation, footer and style) and without axe violations on desktop and phone."""

from __future__ import annotations


import pytest
from conftest import AXE, ServerThread, free_port

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe(page) -> list:
    page.add_script_tag(path=str(AXE))
    res = page.evaluate("async (t) => await axe.run(document, {runOnly: {type: 'tag', values: t}})", WCAG)
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in res["violations"]]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def forward_server(tmp_path_factory):
    from weefsel.forward.demo import make_demo_forward_warehouse
    from weefsel.web.api import create_app
    path = make_demo_forward_warehouse(tmp_path_factory.mktemp("vooruit") / "demo.duckdb", draws=60)
    app = create_app(path)
    with ServerThread(app, free_port()) as srv:
        yield srv
    app.state.data.close()


def test_vooruit_page_draws_everything(page, forward_server, shots):
    page.set_default_timeout(90000)   # a shared 2-core machine under load
    page.goto(forward_server.url + "/vooruit")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Geladen')")
    assert page.locator("h1").inner_text() == "Vooruitblik: voorzieningen bij groei"
    assert "voorbeeldscenario" in page.locator("#voorbeeld").inner_text()
    assert page.locator("#tijdlijn path").count() >= 7          # 5 age bands + 2 interval bands
    assert page.locator("#tekortkaart circle").count() == 3
    assert page.locator("#norm option").count() >= 2
    page.select_option("#gebied", "BU00340103")
    page.select_option("#norm", "basisschool")
    page.wait_for_function("document.getElementById('tekort-zin').textContent.length > 0")
    zin = page.locator("#tekort-zin").inner_text()
    assert "basisschoolplaatsen" in zin
    # the comparison table is filled after the first view: wait for it
    page.wait_for_function("document.querySelectorAll('#vergelijk tbody tr').length >= 2")
    rows = page.locator("#vergelijk tbody tr")
    assert rows.count() == 2                                     # basis and vertraging
    assert "demo" in rows.first.inner_text()
    page.select_option("#variant", "vertraging")
    page.wait_for_function("document.getElementById('status').textContent.includes('vertraging')")
    page.screenshot(path=str(shots / "vooruit.png"), full_page=True)
    assert not page.page_errors


def test_vooruit_page_reports_unknown_api_errors_in_dutch(page, forward_server):
    r = page.request.get(forward_server.url + "/api/vooruit/bestaat-niet/gaplist")
    assert r.status == 404 and "Onbekend scenario: bestaat-niet" in r.json()["detail"]
    r = page.request.post(forward_server.url + "/api/vooruit/demo/wat-als",
                          data={"changes": [{"action": "remove", "facility_id": "demo:gp1"}], "draws": 20})
    assert r.status == 200
    gains = r.json()["gains"]
    assert gains and {g["change"] for g in gains if g["norm"] == "huisarts"} == {"verliest"}


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_vooruit_page_in_the_house_without_axe_violations(page, forward_server, width, height):
    page.set_default_timeout(90000)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(forward_server.url + "/vooruit")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Geladen')")
    page.wait_for_function("document.querySelectorAll('#vergelijk tbody tr').length >= 2")
    # the house: the same skip link, header, main navigation (Vooruit current) and footer
    assert page.locator("a.skiplink").get_attribute("href") == "#inhoud"
    nav = page.locator('nav[aria-label="Hoofdmenu"] a')
    assert nav.count() == 7 and nav.first.get_attribute("href") == "/#/kaart"
    assert page.locator('nav[aria-label="Hoofdmenu"] a[aria-current="page"]').inner_text() == "Vooruit"
    assert page.locator("footer.voet").count() == 1
    assert page.locator("link[href='/static/style.css']").count() == 1
    assert page.locator("main#inhoud h1").inner_text() == "Vooruitblik: voorzieningen bij groei"
    # no page wider than the screen (wide tables scroll inside their box)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe(page) == []
    assert not page.page_errors
