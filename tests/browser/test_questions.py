"""The four questions of issue 12, asked of the real Flevoland build as a planner would, each in
a few actions, asserting what the person sees; axe-core on every page at desktop and phone
size; no horizontal overflow at 360 px.

1. Which wijken in Almere stack the most vulnerability?  (map of flagged themes, one click)
2. How does Lelystad compare with Almere and Nederland on loneliness?  (compare view, area page)
3. How did loneliness move over 2012/2016/2020?  (trend on the area page)
4. Where is the nearest buurthuis, how many meeting places within 500 m?  (map + reasons)
"""

from __future__ import annotations

import shutil

import pytest

from conftest import ServerThread, free_port

from test_dashboard import AXE, WCAG, wait_map

pytestmark = pytest.mark.browser


def _indexed_server(path):
    """`weefsel index` at buurt, wijk and gemeente on ``path``, then serve it on a free port."""
    from weefsel.indicators.pipeline import run_index
    from weefsel.web.api import create_app
    for level in ("buurt", "wijk", "gemeente"):
        run_index(path, level=level, skip_missing=True)
    app = create_app(path)
    with ServerThread(app, free_port()) as srv:
        srv.data = app.state.data
        yield srv
    app.state.data.close()


@pytest.fixture(scope="module")
def flevoland_server(flevoland_warehouse, tmp_path_factory):
    """The real Flevoland build with `weefsel index` (buurt, wijk, gemeente). The build holds
    no facility lists for Flevoland yet, so `weefsel access` has nothing to compute: question 4
    checks that the buurthuis measures are offered when present and that gaps carry reasons."""
    path = tmp_path_factory.mktemp("vragen") / "flevoland.duckdb"
    shutil.copy(flevoland_warehouse, path)
    yield from _indexed_server(path)


def axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def point_of(server, level: str, code: str) -> tuple[float, float]:
    import httpx
    labels = httpx.get(f"{server.url}/api/map/{level}/labels").json()
    hit = next(a for a in labels if a["code"] == code)
    return hit["lon"], hit["lat"]


def click_lonlat(page, lonlat, zoom: float | None = None):
    if zoom is not None:
        page.evaluate("async ([lon, lat, z]) => { const m = window.weefselMap;"
                      " const idle = new Promise((r) => m.once('idle', r));"
                      " m.jumpTo({center: [lon, lat], zoom: z}); await idle; }", [*lonlat, zoom])
    page.locator("#kaart").evaluate("el => el.scrollIntoView({block: 'start'})")
    x, y = page.evaluate("([lon, lat]) => { const p = window.weefselMap.project([lon, lat]);"
                         " return [p.x, p.y]; }", list(lonlat))
    box = page.locator("#kaart canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_q1_almere_wijken_stacking_vulnerability(page, flevoland_server, shots):
    import httpx
    srv = flevoland_server
    vals = httpx.get(f"{srv.url}/api/map/wijk/values",
                     params={"indicator": "svi:themes_flagged"}).json()
    almere = {c: v for c, v in vals["values"].items() if c.startswith("WK0034")}
    assert almere, "no SVI values for Almere's wijken"
    top = max(almere, key=lambda c: (almere[c], c))
    # action 1: open the map on the stacked-vulnerability layer
    page.goto(srv.url + "/#/kaart?niveau=wijk&indicator=svi:themes_flagged")
    wait_map(page)
    legend = page.locator("#legenda").inner_text()
    assert "tot en met" not in legend.split("geen waarde")[0]   # one class per number of themes
    assert "Donkerder is ongunstiger" in legend
    # action 2: click the wijk
    click_lonlat(page, point_of(srv, "wijk", top), zoom=12)
    name = srv.data.area(top)["name"]
    page.locator("#selectie").get_by_text(name).first.wait_for()
    # the distribution beside the map marks it, and says so in words
    marked = page.locator("#verdeling svg circle.gekozen")
    assert marked.count() == 1 and marked.get_attribute("data-code") == top
    assert name in page.locator("#verdeling-tekst").inner_text()
    # hover gives name and value
    page.mouse.move(*_centre_of_canvas(page))
    page.screenshot(path=str(shots / "vraag1_almere_kwetsbaarheid.png"))
    assert page.page_errors == []


def _centre_of_canvas(page):
    box = page.locator("#kaart canvas").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_q2_lelystad_beside_almere_and_nederland(page, flevoland_server, shots):
    srv = flevoland_server
    # action 1: the comparison, straight from the address (or via "Voeg toe aan vergelijking")
    page.goto(srv.url + "/#/vergelijk?codes=GM0995,GM0034,NL00")
    page.wait_for_selector("#v-uitkomst table")
    heads = page.locator("#v-uitkomst thead th").all_inner_texts()
    assert [h.split("\n")[0] for h in heads[2:5]] == ["Lelystad", "Almere", "Nederland"]
    row = page.locator("#v-uitkomst tbody tr", has_text="Eenzaam (18+)").first
    assert row.count() == 1
    # action 2: Lelystad's page shows loneliness beside its provincie and Nederland, with margins
    page.goto(srv.url + "/#/gebied/GM0995")
    page.wait_for_selector("article.profiel")
    card = page.locator('figure[data-indicator="eenzaam_18"]')
    bars = card.locator("svg.referentie")
    assert bars.count() == 1
    label = bars.get_attribute("aria-label")
    assert "Lelystad" in label and "Nederland" in label
    page.screenshot(path=str(shots / "vraag2_lelystad_nederland.png"), full_page=True)


def test_q3_loneliness_trend_has_three_points(page, flevoland_server, shots):
    srv = flevoland_server
    page.goto(srv.url + "/#/gebied/GM0995")
    page.wait_for_selector("article.profiel")
    card = page.locator('figure[data-indicator="eenzaam_18"]')
    trend = card.locator("svg.trendlijn")
    assert trend.count() == 1
    assert trend.locator("circle.trendpunt").count() == 3
    label = trend.get_attribute("aria-label")
    assert all(y in label for y in ("2012", "2016", "2020"))
    # the text alternative says whether the change exceeds the margin or that none is published
    assert "marge" in label
    row = page.locator("table.indicatoren tr", has_text="Eenzaam (18+)").first
    assert "2012" in row.inner_text()                       # the table holds the same numbers


def test_q4_meeting_places_and_reasons_for_gaps(page, flevoland_server, shots):
    srv = flevoland_server
    access = [lay.title for lid, lay in srv.data.layers.items()
              if lid.startswith("access") and lay.kind in ("indicator", "toegankelijkheid")]
    page.goto(srv.url + "/#/kaart?niveau=buurt")
    wait_map(page)
    options = page.locator("#indicator option").all_inner_texts()
    if access:   # the build's facility lists give reach measures: the map offers them
        assert any(t in " ".join(options) for t in access)
    # a buurt level never silently shows the wijk map: it is drawn, or the page says why not
    status = page.locator("#kaartstatus").inner_text()
    has_buurt_polygons = bool(srv.data.areas.loc[srv.data.areas["level"] == "buurt",
                                                 "has_geom"].any())
    if has_buurt_polygons:
        assert "buurten op de kaart" in status
    else:
        assert "wijken op de kaart" in status
        note = page.locator(".melding.niveau").inner_text()
        assert "Buurten hebben in deze database geen grenzen" in note
    # every gap is explained in the legend, by its reason
    page.evaluate("document.body.dataset.mapRendered = 'false'")
    page.select_option("#indicator", "eenzaam_18")
    wait_map(page)
    legend = page.locator("#legenda").inner_text()
    assert "geen waarde" in legend
    reasons = ("gepubliceerd", "onderdrukt", "indeling", "database", "niveau", "te weinig")
    assert any(r in legend.split("geen waarde", 1)[1] for r in reasons)
    # ... and on the area page beside the missing number
    body = srv.data
    vals = __import__("httpx").get(f"{srv.url}/api/map/buurt/values",
                                   params={"indicator": "eenzaam_18"}).json()
    missing = [c for c in body.areas.loc[body.areas["level"] == "buurt", "code"]
               if c not in vals["values"]]
    assert missing
    page.goto(srv.url + f"/#/gebied/{missing[0]}")
    page.wait_for_selector("article.profiel")
    text = page.locator("article.profiel").inner_text()
    assert "geen cijfer" in text.lower() or "geen waarde" in text.lower() or \
        "–" in page.locator("table.indicatoren").inner_text()
    page.screenshot(path=str(shots / "vraag4_reden.png"), full_page=True)


@pytest.fixture(scope="module")
def registry_server(flevoland_warehouse, tmp_path_factory):
    """The real Flevoland build after a gemeente entered meeting places in the registry: the
    visibly labelled TEST entries of tests/registry_seed.py (Lelystad), snapshotted and indexed.
    ../shared/data has no meeting-place list for Flevoland; this is the path a gemeente takes."""
    from registry_seed import seed

    d = tmp_path_factory.mktemp("vraag4")
    path = d / "flevoland.duckdb"
    shutil.copy(flevoland_warehouse, path)
    seed(f"sqlite:///{d / 'reg.sqlite'}", path)
    yield from _indexed_server(path)


def test_q4_nearest_buurthuis_and_places_within_500m(page, registry_server, shots):
    """Question 4 in three actions: the map of buurthuizen (register), a click on the buurt, its
    profile. Answered from meeting places entered through the registry (TEST entries)."""
    from registry_seed import BUURT
    srv = registry_server
    # action 1: the map offers the registry's layer
    page.goto(srv.url + "/#/kaart?niveau=buurt&indicator=ontmoetingsplekken_buurthuis_per_1000")
    wait_map(page)
    options = " ".join(page.locator("#indicator option").all_inner_texts())
    assert "Ontmoetingsplekken: buurthuizen per 1.000 inwoners (register)" in options
    # action 2: click the buurt; action 3: open its profile
    click_lonlat(page, point_of(srv, "buurt", BUURT), zoom=14)
    name = srv.data.area(BUURT)["name"]
    link = page.locator("#selectie a", has_text="Bekijk het profiel")
    link.wait_for()
    assert name in page.locator("#selectie").inner_text()
    link.click()
    page.wait_for_selector("article.profiel #h-nabij")
    nabij = page.locator("section:has(#h-nabij)").inner_text()
    assert "Dichtstbijzijnde buurthuis: TEST buurthuis De Proefzolder (testgegeven)" in nabij
    assert "m lopen" in nabij and "omwegfactor 1,3" in nabij
    assert "het midden van de buurt (geometrisch)" in nabij
    assert "punt zoals ingevoerd in het register" in nabij             # placement precision
    count = int(page.locator(".nabij-aantal strong").inner_text())
    rows = page.locator("table.nabij tbody tr")
    assert count >= 2 and rows.count() == min(count, 10)
    assert "TEST speeltuin Zandbak (testgegeven)" in page.locator("table.nabij").inner_text()
    register = page.locator("section:has(#h-register)").inner_text()
    assert "momentopname van het register van 30-11-2026" in register
    assert "minder dan 5" in register
    page.screenshot(path=str(shots / "vraag4_buurthuis_register.png"), full_page=True)
    assert axe(page) == []
    assert page.page_errors == []


PAGES = [("kaart", "/#/kaart", 'body[data-map-rendered="true"]'),
         ("gebied", "/#/gebied/GM0995", "article.profiel"),
         ("vergelijken", "/#/vergelijk?codes=GM0995,GM0034,NL00", "#v-uitkomst table"),
         ("tabel", "/#/tabel", "#datatabel"),
         ("methode", "/methode", "main h1"),
         ("technisch", "/docs/method.md", "main h1"),
         ("profiel", "/profiel/GM0995", "article.profiel"),
         ("burgerberaad", "/api/beraad/", "main h1"),
         ("burgerbegroting", "/api/begroting/", "main h1")]


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "telefoon"])
def test_axe_every_page(browser, flevoland_server, size):
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="nl-NL",
                              bypass_csp=True)  # axe is injected as an inline script
    page = ctx.new_page()
    try:
        failures = {}
        for name, path, sel in PAGES:
            page.goto(flevoland_server.url + path)
            page.wait_for_selector(sel, timeout=20000)
            v = axe(page)
            if v:
                failures[name] = v
        assert failures == {}
    finally:
        ctx.close()


def test_no_horizontal_overflow_at_360(browser, flevoland_server):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="nl-NL")
    page = ctx.new_page()
    try:
        wide = {}
        for name, path, sel in PAGES:
            page.goto(flevoland_server.url + path)
            page.wait_for_selector(sel, timeout=20000)
            w = page.evaluate("document.documentElement.scrollWidth")
            if w > 360:
                wide[name] = w
        assert wide == {}
        # map, legend and the chosen area all reachable without sideways scrolling
        page.goto(flevoland_server.url + "/#/kaart")
        wait_map(page)
        assert page.locator("#selectie").bounding_box()["width"] <= 360
    finally:
        ctx.close()
