"""Crisis mode end to end in headless Chromium, logged in through the registry:
registration → consent → a registry admin grants the coordinator role → assignment →
printed lists (PDF, checksum) → activation → audited needs view → end of crisis →
withdrawal, with synthetic people in real Amsterdam-Noord buurten. Every crisis page is in
the dashboard's house: axe-core (WCAG 2.1 A/AA) finds nothing, and a phone (390×844)
scrolls no page sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from tests.browser.conftest import AXE, ServerThread, free_port

pytestmark = pytest.mark.browser
NOORD = Path("/work/shared/data/boundaries/buurt_amsterdam_gemeente_2022_2024.geojson")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PW = "geheim-wachtwoord"


@pytest.fixture()
def crisis_server(tmp_path, monkeypatch):
    if not NOORD.exists():
        pytest.skip("shared Amsterdam buurt polygons not on this machine")
    from weefsel.crisis import web
    from weefsel.crisis.demo import seed
    from weefsel.registry.ops import OpsStore
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse

    monkeypatch.setenv("WEEFSEL_CRISIS_LISTS", str(tmp_path / "lijsten"))
    monkeypatch.setenv("WEEFSEL_CRISIS_GEMEENTE", "GM0363")
    monkeypatch.setenv("WEEFSEL_REGISTRY", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    key = Fernet.generate_key()
    monkeypatch.setenv("WEEFSEL_CRISIS_KEY", key.decode())     # mounts the crisis router
    ops = OpsStore(password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    aid = ops.create_user("beheer", PW, "admin", "GM0363")
    ops.create_user("coco", PW, "viewer", "GM0363",
                    actor={"id": aid, "role": "admin", "gemeente_code": "GM0363"})
    store = web.open_store(tmp_path / "crisis.sqlite", ops, key=key)
    seed(store, NOORD, gemeente="GM0363", prefix="BU0363N", buurten=2, residents=5, helpers=4)
    web.set_store(store, ops)
    from weefsel.crisis.prepare import preparedness, write_table
    w = make_demo_warehouse(tmp_path / "w.duckdb")
    write_table(w, preparedness(w))                             # the paraatheid page has rows
    app = create_app(w, catalogue=DEMO_CATALOGUE)
    port = free_port()
    with ServerThread(app, port) as srv:
        srv.url = f"http://localhost:{port}"   # Secure session cookies are kept for localhost
        yield srv, store, ops
    web.set_store(None, None)
    app.state.data.close()
    store.close()


def _axe(page) -> list:
    page.add_script_tag(path=str(AXE))
    res = page.evaluate("async (t) => await axe.run(document, {runOnly: {type: 'tag', values: t}})",
                        WCAG)
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in res["violations"]]


def _login(page, url: str, name: str) -> None:
    page.goto(url + "/registratie")
    page.get_by_label("Gebruikersnaam").fill(name)
    page.get_by_label("Wachtwoord").fill(PW)
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_text("Ingelogd als").wait_for()


def _logout(page, url: str) -> None:
    page.goto(url + "/registratie")
    page.get_by_role("button", name="Uitloggen").click()


def test_crisis_flow_in_browser(crisis_server, browser):
    srv, store, ops = crisis_server
    ctx = browser.new_context(locale="nl-NL", accept_downloads=True, bypass_csp=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # registration with explicit consent per purpose and a need as a category
    page.goto(f"{srv.url}/crisis/")
    assert _axe(page) == []
    page.get_by_label("Naam").fill("Browser Bewoner (synthetisch)")
    page.get_by_label("Adres (straat en huisnummer)").fill("Demo-adres 1")
    page.get_by_label("Buurtcode").fill("BU0363NA01")
    page.get_by_label("Breedtegraad").fill("52.3895")
    page.get_by_label("Lengtegraad").fill("4.9210")
    page.get_by_label("bij een crisis bezocht worden door buren").check()
    page.get_by_label("mijn behoefte tonen aan de coördinator tijdens een crisis").check()
    page.get_by_label("op een papieren lijst staan voor de helpers").first.check()
    page.get_by_label("apparaat heeft stroom nodig").check()
    page.get_by_role("button", name="Aanmelden").click()
    assert page.locator("#bewaardatum").inner_text()[:2] == "20"
    receipt = page.locator("#bewijscode").inner_text()
    # not signed in, and then as a plain registry viewer: no needs
    page.goto(f"{srv.url}/crisis/behoeften")
    assert "alleen zichtbaar voor de coördinator" in page.content()
    _login(page, srv.url, "coco")
    page.goto(f"{srv.url}/crisis/behoeften")
    assert "stroom nodig" not in page.locator("main").inner_text()
    _logout(page, srv.url)
    # a registry admin of the same gemeente grants the crisis role
    _login(page, srv.url, "beheer")
    page.goto(f"{srv.url}/crisis/rollen")
    assert _axe(page) == []
    page.get_by_label("Gebruikersnaam (account van GM0363)").fill("coco")
    page.get_by_label("Crisisrol", exact=True).select_option("coordinator")
    page.get_by_role("button", name="Opslaan").click()
    assert "coco is nu coördinator" in page.locator("main").inner_text()
    _logout(page, srv.url)
    # the coordinator, logged in through the registry, assigns and prints lists
    _login(page, srv.url, "coco")
    page.goto(f"{srv.url}/crisis/coordinator")
    assert _axe(page) == []
    page.locator("#toewijzen").click()
    assert "hebben 2 helpers" in page.locator("main").inner_text()
    page.goto(f"{srv.url}/crisis/coordinator")
    page.locator("#lijsten").click()
    assert "bellijsten gemaakt" in page.locator("main").inner_text()
    page.goto(f"{srv.url}/crisis/coordinator")
    links = page.locator("#bellijsten a")
    assert links.count() >= 2
    with page.expect_download() as dl:
        links.first.click()
    assert Path(dl.value.path()).read_bytes()[:4] == b"%PDF"
    assert page.locator("#bellijsten code").first.inner_text()   # the checksum on the page
    # needs stay closed until a crisis is declared
    page.goto(f"{srv.url}/crisis/behoeften")
    assert "afgekondigde crisis" in page.content()
    page.goto(f"{srv.url}/crisis/coordinator")
    page.locator("#afkondigen").click()
    assert "Crisis afgekondigd" in page.content()
    page.goto(f"{srv.url}/crisis/behoeften")
    table = page.locator("#behoeftetabel").inner_text()
    assert "apparaat heeft stroom nodig" in table and "synthetisch" in table
    assert _axe(page) == []
    page.goto(f"{srv.url}/crisis/audit")
    log = page.locator("#audit").inner_text()
    assert "crisis_view_need" in log and "coco" in log
    assert page.locator("#keten").inner_text() == "intact"
    # end of crisis: needs erased, with proof in the registry's audit log
    page.goto(f"{srv.url}/crisis/coordinator")
    page.locator("#beeindigen").click()
    assert "behoeften gewist" in page.locator("main").inner_text()
    page.goto(f"{srv.url}/crisis/audit")
    assert "crisis_delete_need" in page.locator("#audit").inner_text()
    # withdrawal deletes the registration
    page.goto(f"{srv.url}/crisis/intrekken")
    page.get_by_label("Uw code").fill(receipt)
    page.get_by_role("button", name="Alles intrekken en wissen").click()
    assert "gewist" in page.locator("main").inner_text()
    assert b"Browser Bewoner" not in store.path.read_bytes()
    actions = {a["action"] for a in ops.audit_log(1000)}
    assert {"crisis_register", "crisis_assign", "crisis_print_list", "crisis_download_list",
            "crisis_declare", "crisis_view_need", "crisis_end", "crisis_delete"} <= actions
    assert not errors
    ctx.close()


def test_crisis_pages_fit_a_phone(crisis_server, browser):
    srv, _, _ = crisis_server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-NL",
                              bypass_csp=True)
    page = ctx.new_page()
    for path in ("/crisis/", "/crisis/intrekken", "/crisis/coordinator", "/crisis/paraatheid"):
        page.goto(srv.url + path)
        assert page.locator("a.skiplink").count() == 1, path          # the dashboard's house
        w = page.evaluate("document.documentElement.scrollWidth")
        assert w <= 390, (path, w)
        assert _axe(page) == [], path
    assert page.locator("#paraatheid tbody tr").count() > 0
    ctx.close()
