"""The dashboard as a person uses it, in headless Chromium: map, indicator and level
switch, click a buurt, read its profile, download CSV, search, keyboard, axe-core."""

from __future__ import annotations

import csv
import io

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser
RENDERED = 'body[data-map-rendered="true"]'
AXE = Path(__file__).with_name("axe.min.js")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def wait_map(page, timeout=15000):
    page.wait_for_selector(RENDERED, timeout=timeout)


def switch(page, selector, value):
    page.evaluate("document.body.dataset.mapRendered = 'false'")
    page.select_option(selector, value)
    wait_map(page)


def centroid(server_url: str, level: str, code: str) -> tuple[float, float]:
    fc = httpx.get(f"{server_url}/api/map/{level}", params={"zoom": 12}).json()
    f = next(f for f in fc["features"] if f["properties"]["code"] == code)
    ring = f["geometry"]["coordinates"][0]
    xs, ys = [p[0] for p in ring[:-1]], [p[1] for p in ring[:-1]]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def click_area(page, lonlat):
    page.locator("#kaart").evaluate("el => el.scrollIntoView({block: 'start'})")
    x, y = page.evaluate("([lon, lat]) => { const p = window.weefselMap.project([lon, lat]);"
                         " return [p.x, p.y]; }", list(lonlat))
    box = page.locator("#kaart canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [{"id": v["id"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def test_map_indicator_level_click_profile(page, demo_server, shots):
    page.goto(demo_server.url + "/")
    wait_map(page)
    assert page.locator("html").get_attribute("lang") == "nl"
    assert "Eenzaam (18+)" in page.locator("#legenda").inner_text()

    switch(page, "#indicator", "vrijwilligerswerk")
    legend = page.locator("#legenda").inner_text()
    assert "Doet vrijwilligerswerk" in legend and "RIVM/GGD Gezondheidsmonitor" in legend \
        and "2020" in legend
    assert "50090NED" in page.locator("#legenda span[title]").first.get_attribute("title")
    assert "cijfers uit" not in legend      # data year = reference period: nothing to add

    switch(page, "#niveau", "buurt")
    status = page.locator("#kaartstatus").inner_text()
    assert "11 buurten op de kaart" in status and "1 zonder grenzen" in status
    page.screenshot(path=str(shots / "kaart_buurt.png"))

    click_area(page, centroid(demo_server.url, "buurt", "BU00340101"))
    panel = page.locator("#selectie")
    panel.get_by_text("Almere Stad Centrum").first.wait_for()
    assert "Doet vrijwilligerswerk" in panel.inner_text()
    panel.get_by_role("link", name="Bekijk het profiel").click()

    page.wait_for_selector("article.profiel")
    assert page.locator("h1").first.inner_text().startswith("Almere Stad Centrum")
    table = page.locator("table.indicatoren")
    heads = table.locator("thead th").all_inner_texts()
    assert heads[2:6] == ["Almere Stad Centrum", "Almere", "Flevoland", "Nederland"]
    assert "Eenzaam (18+)" in table.inner_text()
    assert page.locator("svg.interval").count() == 1
    assert "90%-interval" in page.locator("svg.interval").get_attribute("aria-label")
    assert page.locator("svg.trendlijn").count() >= 2             # trend lines, with margins
    assert page.locator("svg.referentie").count() >= 2            # bars against the levels above
    assert "Gestapelde kwetsbaarheid" in page.locator("#h-vlag").inner_text()
    page.screenshot(path=str(shots / "profiel.png"), full_page=True)
    assert page.page_errors == []


def test_legend_names_older_data_years(page, demo_server):
    """Reference period 2024, the publisher's figures from 2022 and 2023 (demo data_period)."""
    page.goto(demo_server.url + "/")
    wait_map(page)
    switch(page, "#indicator", "laag_inkomen")
    assert "Jaar: 2024 (cijfers uit 2022–2023)" in page.locator("#legenda").inner_text()
    assert page.page_errors == []


def test_suppressed_area_is_marked(page, demo_server):
    page.goto(demo_server.url + "/#/gebied/BU00340103")
    page.wait_for_selector("article.profiel")
    assert "geheim" in page.locator("table.indicatoren").inner_text()


def test_table_sort_filter_and_csv_download(page, demo_server, shots):
    page.goto(demo_server.url + "/#/tabel")
    page.wait_for_selector("#datatabel")
    page.select_option("#t-niveau", "buurt")
    page.wait_for_function("document.querySelector('#datatabel caption')"
                           ".textContent.startsWith('Buurten')")
    assert "12 van 12" in page.locator("#datatabel caption").inner_text()
    page.fill("#t-filter", "lelystad")
    assert "6 van 12" in page.locator("#datatabel caption").inner_text()
    page.fill("#t-filter", "")
    page.locator("button.sorteer[data-key='eenzaamheid']").click()
    th = page.locator("th[aria-sort='ascending']")
    assert "Eenzaam" in th.inner_text()
    first = page.locator("#datatabel tbody tr").first.locator("td.num").first.inner_text()
    assert first == "38,2"                      # lowest value first, Dutch decimal comma
    page.screenshot(path=str(shots / "tabel.png"), full_page=True)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download CSV").click()
    text = open(dl.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))   # Dutch Excel
    assert len(rows) == 12 and "eenzaamheid" in rows[0]
    assert {r["eenzaamheid|onderdrukt"] for r in rows} == {"ja", "nee"}
    assert any("," in r["eenzaamheid"] for r in rows)               # decimal comma


def test_compare_view(page, demo_server, shots):
    page.goto(demo_server.url + "/#/vergelijk?codes=BU00340101,WK003401,GM0995")
    page.wait_for_selector("#v-uitkomst table")
    heads = page.locator("#v-uitkomst thead th").all_inner_texts()
    assert any("Almere Stad Centrum" in h for h in heads) and any("Lelystad" in h for h in heads)
    page.fill("#v-code", "BU09950101")
    page.get_by_role("button", name="Toevoegen").click()
    page.wait_for_function("document.querySelectorAll('#v-uitkomst thead th').length === 6")
    page.screenshot(path=str(shots / "vergelijk.png"), full_page=True)


def test_search_by_name_and_keyboard(page, demo_server):
    page.goto(demo_server.url + "/")
    wait_map(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skiplink"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "inhoud"
    page.fill("#zoekveld", "Lelystad Noord")
    page.keyboard.press("Enter")
    link = page.locator("#zoekresultaten a").first
    link.wait_for()
    assert page.evaluate("document.activeElement.closest('#zoekresultaten') !== null")
    page.keyboard.press("Enter")
    page.wait_for_selector("article.profiel")
    assert page.locator("h1").first.inner_text().startswith("Lelystad Noord")


def test_map_area_chosen_with_the_keyboard(page, demo_server, shots):
    """Tab to the map, and Enter picks the area under the crosshair (WCAG 2.1.1)."""
    page.goto(demo_server.url + "/#/kaart?niveau=buurt")
    wait_map(page)
    lon, lat = centroid(demo_server.url, "buurt", "BU09950101")
    page.evaluate("([lon, lat]) => window.weefselMap.jumpTo({center: [lon, lat], zoom: 13})",
                  [lon, lat])
    wait_map(page)
    page.locator("#kaart canvas").focus()
    assert page.evaluate("document.activeElement.tagName") == "CANVAS"
    assert page.locator("#kaart .kruisje").is_visible()
    page.screenshot(path=str(shots / "kaart_toetsenbord.png"))
    page.keyboard.press("Enter")
    panel = page.locator("#selectie")
    panel.get_by_text("Lelystad Centrum").first.wait_for()
    assert "BU09950101" in panel.inner_text()
    # focus moved to the profile link, so Enter again opens the profile
    page.keyboard.press("Enter")
    page.wait_for_selector("article.profiel")
    assert page.locator("h1").first.inner_text().startswith("Lelystad Centrum")


def test_indicator_switch_reuses_the_tiles_and_the_address_keeps_the_view(page, demo_server):
    tiles: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if "/api/tiles/" in r.url else None)
    page.goto(demo_server.url + "/#/kaart?niveau=buurt&indicator=vrijwilligerswerk")
    wait_map(page)
    assert page.locator("#niveau").input_value() == "buurt"
    assert page.locator("#indicator").input_value() == "vrijwilligerswerk"
    assert "Doet vrijwilligerswerk" in page.locator("#legenda").inner_text()
    assert tiles, "the map loads its boundaries as vector tiles"
    n = len(tiles)
    switch(page, "#indicator", "eenzaamheid")
    assert len(tiles) == n                     # same boundaries: no tile fetched again
    assert "Eenzaam (18+)" in page.locator("#legenda").inner_text()
    assert "indicator=eenzaamheid" in page.evaluate("location.hash")
    switch(page, "#niveau", "wijk")
    assert len(tiles) > n                      # another level: its own tiles
    assert "niveau=wijk" in page.evaluate("location.hash")
    page.reload()
    wait_map(page)
    assert page.locator("#niveau").input_value() == "wijk"
    assert page.locator("#indicator").input_value() == "eenzaamheid"
    assert page.page_errors == []


def test_unknown_area_shows_dutch_message(page, demo_server):
    page.goto(demo_server.url + "/#/gebied/XX")
    page.wait_for_selector("[role=alert]")
    assert "Onbekende gebiedscode: XX" in page.locator("[role=alert]").inner_text()


@pytest.mark.parametrize("route", ["/", "/#/gebied/BU00340101", "/#/tabel",
                                   "/#/vergelijk?codes=BU00340101,GM0995"])
def test_axe_wcag21_aa(page, demo_server, shots, route):
    page.goto(demo_server.url + route)
    if route == "/":
        wait_map(page)
    else:
        page.wait_for_selector("table")
    violations = axe_violations(page)
    assert violations == [], violations


def test_printable_profile_axe(page, demo_server):
    page.goto(demo_server.url + "/profiel/BU00340101")
    assert axe_violations(page) == []


def test_real_flevoland_dashboard(page, flevoland_warehouse, shots):
    """The real Flevoland build: the wijk map draws all 103 wijken, a profile opens, and
    the page still has no WCAG 2.1 AA violations."""
    from tests.browser.conftest import ServerThread, free_port
    from weefsel.web.api import create_app
    app = create_app(flevoland_warehouse)
    try:
        with ServerThread(app, free_port()) as srv:
            page.goto(srv.url + "/#/kaart")
            wait_map(page, timeout=60000)
            assert page.locator("#niveau").input_value() == "wijk"
            assert page.locator("#kaartstatus").inner_text().startswith("103 wijken")
            page.screenshot(path=str(shots / "flevoland_kaart.png"))
            assert axe_violations(page) == []
            page.goto(srv.url + "/#/gebied/GM0034")
            page.wait_for_selector("article.profiel")
            assert page.locator("h1").first.inner_text().startswith("Almere")
            assert page.locator("table.indicatoren tbody tr").count() > 10
            page.screenshot(path=str(shots / "flevoland_almere.png"), full_page=True)
    finally:
        app.state.data.close()
