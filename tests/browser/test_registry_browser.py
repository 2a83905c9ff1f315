"""The registry in a real browser: login → add initiative → report a signal → moderate,
with axe-core (WCAG 2.1 A/AA) on every form page."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from conftest import ServerThread, free_port

pytestmark = pytest.mark.browser
AXE = Path(__file__).with_name("axe.min.js")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
STATIC = Path(__file__).resolve().parents[2] / "weefsel" / "web" / "static"


def _axe(page) -> list:
    page.add_script_tag(path=str(AXE))
    res = page.evaluate("async (t) => await axe.run(document, {runOnly: {type: 'tag', values: t}})", WCAG)
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in res["violations"]]


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory):
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from weefsel.registry.ops import OpsStore
    from weefsel.web.registry_web import make_router
    db = tmp_path_factory.mktemp("reg") / "r.sqlite"
    store = OpsStore(f"sqlite:///{db}", area_codes={"GM0034", "WK003401", "BU00340101"}, suppress_below=1,
                     password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    aid = store.create_user("beheer", "geheim-wachtwoord", "admin", "GM0034")
    store.create_user("moderator", "geheim-wachtwoord", "moderator", "GM0034",
                      actor={"id": aid, "role": "admin", "gemeente_code": "GM0034"})
    app = FastAPI()
    app.include_router(make_router(lambda: store))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    port = free_port()
    with ServerThread(app, port) as srv:
        srv.url = f"http://localhost:{port}"  # Secure cookies are kept for localhost over http
        srv.store = store
        yield srv


def _login(page, url, name):
    page.goto(url + "/registratie")
    page.get_by_label("Gebruikersnaam").fill(name)
    page.get_by_label("Wachtwoord").fill("geheim-wachtwoord")
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_text("Ingelogd als").wait_for()


def test_login_initiative_signal_moderate(page, registry_server):
    url = registry_server.url
    _login(page, url, "beheer")
    assert _axe(page) == []
    page.goto(url + "/registratie/initiatief")
    assert _axe(page) == []
    page.get_by_label("Naam").fill("Buurtkamer De Wei")
    page.get_by_label("Gebied(en): CBS-code").fill("BU00340101")
    page.get_by_label("Thema's").select_option(["ontmoeting", "ouderen"])
    page.get_by_label("Trede op de participatieladder").select_option("4")
    page.get_by_role("button", name="Initiatief opslaan").click()
    page.get_by_text("is opgeslagen").wait_for()
    assert registry_server.store.initiatives()[0]["themes"] == "ontmoeting,ouderen"

    page.goto(url + "/registratie/signaal")
    assert _axe(page) == []
    page.get_by_label("Buurt of wijk (CBS-code)").fill("BU00340101")
    page.get_by_label("Thema").select_option("eenzaamheid")
    page.get_by_label("Wat ziet of merkt u?").fill("Ouderen in de flat komen de deur niet uit")
    page.get_by_role("button", name="Signaal versturen").click()
    page.get_by_text("Uw signaal heeft nummer").wait_for()
    reporter_link = page.get_by_role("link", name="reactie bekijken").get_attribute("href")

    page.goto(url + "/registratie/moderatie")
    assert _axe(page) == []
    page.get_by_label("Besluit").select_option("geaccepteerd")
    page.get_by_label("Reactie van de gemeente (optioneel)").fill("De buurtcoach gaat langs")
    page.get_by_role("button", name="Opslaan").click()
    page.get_by_text("is beoordeeld").wait_for()
    page.goto(url + reporter_link)
    assert "geaccepteerd" in page.content() and "De buurtcoach gaat langs" in page.content()
    assert _axe(page) == []
    assert page.page_errors == []


def test_bad_input_shows_one_dutch_line(page, registry_server):
    page.goto(registry_server.url + "/registratie/signaal")
    page.get_by_label("Buurt of wijk (CBS-code)").fill("BU99999999")
    page.get_by_label("Thema").select_option("wonen")
    page.get_by_label("Wat ziet of merkt u?").fill("Geen plek om elkaar te zien")
    page.get_by_role("button", name="Signaal versturen").click()
    alert = page.get_by_role("alert")
    assert "onbekende gebiedscode BU99999999" in alert.inner_text()
    assert _axe(page) == []


def test_roles_and_audit_in_the_browser(page, registry_server):
    """An admin creates a contributor; the contributor adds a place but is refused moderation;
    the admin's log shows who did what, with ids and actions only, never what was written."""
    url = registry_server.url
    _login(page, url, "beheer")
    page.goto(url + "/registratie/gebruikers")
    assert _axe(page) == []
    page.get_by_label("Gebruikersnaam").fill("buurtwerker")
    page.get_by_label("Tijdelijk wachtwoord (minstens 10 tekens)").fill("geheim-wachtwoord")
    page.get_by_label("Rol").select_option("contributor")
    page.get_by_role("button", name="Account aanmaken").click()
    page.get_by_text("is aangemaakt").wait_for()
    page.goto(url + "/registratie")
    page.get_by_role("button", name="Uitloggen").click()

    _login(page, url, "buurtwerker")
    page.goto(url + "/registratie/moderatie")
    assert "Alleen moderatoren en beheerders" in page.content()
    assert _axe(page) == []
    page.goto(url + "/registratie/gebruikers")
    assert "Alleen beheerders" in page.content()
    assert page.get_by_role("button", name="Account aanmaken").count() == 0
    page.goto(url + "/registratie")
    page.get_by_role("button", name="Uitloggen").click()

    _login(page, url, "beheer")
    page.goto(url + "/registratie/gebruikers")
    log = page.get_by_role("region", name="Logboek").inner_text()
    assert "user_created" in log and "login" in log
    from sqlalchemy import select

    from weefsel.registry.ops import users
    with registry_server.store.engine.connect() as c:
        role = c.execute(select(users.c.role).where(users.c.username == "buurtwerker")).scalar_one()
    assert role == "contributor"
    # content never reaches the log: not the signal text, the response or a password
    for secret in ("Ouderen in de flat", "De buurtcoach gaat langs", "geheim-wachtwoord"):
        assert secret not in log
    assert _axe(page) == []
    assert page.page_errors == []
