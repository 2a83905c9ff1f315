"""Crisis mode end to end in headless Chromium: registration → consent → assignment →
printed lists → activation → viewing needs → end of crisis → deletion, with synthetic
people in real Amsterdam-Noord buurten; a viewer cannot read needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.browser.conftest import ServerThread, free_port

pytestmark = pytest.mark.browser
NOORD = Path("/work/shared/data/boundaries/buurt_amsterdam_gemeente_2022_2024.geojson")


@pytest.fixture()
def crisis_server(tmp_path, monkeypatch):
    if not NOORD.exists():
        pytest.skip("shared Amsterdam buurt polygons not on this machine")
    from weefsel.crisis import web
    from weefsel.crisis.demo import seed
    from weefsel.crisis.store import CrisisStore, Principal
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse

    monkeypatch.setenv("WEEFSEL_CRISIS_LISTS", str(tmp_path / "lijsten"))
    key = Fernet.generate_key()
    monkeypatch.setenv("WEEFSEL_CRISIS_KEY", key.decode())     # mounts the crisis router
    store = CrisisStore(tmp_path / "crisis.sqlite", key=key)
    seed(store, NOORD, gemeente="GM0363", prefix="BU0363N", buurten=2, residents=5, helpers=4)
    code = store.grant(Principal("beheer", "admin"), "coco", "coordinator")
    web.set_store(store)
    app = create_app(make_demo_warehouse(tmp_path / "w.duckdb"), catalogue=DEMO_CATALOGUE)
    with ServerThread(app, free_port()) as srv:
        yield srv, store, code
    web.set_store(None)
    app.state.data.close()
    store.close()


def test_crisis_flow_in_browser(crisis_server, browser):
    srv, store, code = crisis_server
    ctx = browser.new_context(locale="nl-NL", accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # registration with explicit consent per purpose and a need as a category
    page.goto(f"{srv.url}/crisis/")
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
    # a viewer (not signed in) cannot read needs
    page.goto(f"{srv.url}/crisis/behoeften")
    assert "alleen zichtbaar voor de coördinator" in page.content()
    assert "stroom nodig" not in page.locator("main").inner_text()
    # the coordinator signs in, assigns, prints lists
    page.goto(f"{srv.url}/crisis/coordinator")
    page.get_by_label("Code van de coördinator").fill(code)
    page.get_by_role("button", name="Inloggen").click()
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
    pdf = dl.value.path()
    assert Path(pdf).read_bytes()[:4] == b"%PDF"
    # needs stay closed until a crisis is declared
    page.goto(f"{srv.url}/crisis/behoeften")
    assert "afgekondigde crisis" in page.content()
    page.goto(f"{srv.url}/crisis/coordinator")
    page.locator("#afkondigen").click()
    assert "Crisis afgekondigd" in page.content()
    page.goto(f"{srv.url}/crisis/behoeften")
    table = page.locator("#behoeftetabel").inner_text()
    assert "apparaat heeft stroom nodig" in table and "synthetisch" in table
    page.goto(f"{srv.url}/crisis/audit")
    assert "view_need" in page.locator("#audit").inner_text()
    # end of crisis: needs erased, with proof in the audit log
    page.goto(f"{srv.url}/crisis/coordinator")
    page.locator("#beeindigen").click()
    assert "behoeften gewist" in page.locator("main").inner_text()
    page.goto(f"{srv.url}/crisis/audit")
    assert "delete_need" in page.locator("#audit").inner_text()
    # withdrawal deletes the registration
    page.goto(f"{srv.url}/crisis/intrekken")
    page.get_by_label("Uw code").fill(receipt)
    page.get_by_role("button", name="Alles intrekken en wissen").click()
    assert "gewist" in page.locator("main").inner_text()
    assert b"Browser Bewoner" not in store.path.read_bytes()
    assert not errors
    ctx.close()
