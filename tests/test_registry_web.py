"""Registry forms and open endpoints through HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from registry_backends import pg_server, registry_url  # noqa: F401

from weefsel.registry.ops import OpsStore
from weefsel.web.registry_web import RateLimit, make_router

AREAS = {"GM0034", "WK003401", "BU00340101", "BU00340102"}


@pytest.fixture
def store(registry_url):
    s = OpsStore(registry_url, area_codes=AREAS, suppress_below=2,
                 password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    admin_id = s.create_user("beheer", "geheim-wachtwoord", "admin", "GM0034")
    admin = {"id": admin_id, "role": "admin", "gemeente_code": "GM0034"}
    s.create_user("bijdrager", "geheim-wachtwoord", "contributor", "GM0034", actor=admin)
    s.create_user("moderator", "geheim-wachtwoord", "moderator", "GM0034", actor=admin)
    yield s
    s.engine.dispose()


def _client(store, **limits):
    app = FastAPI()
    app.include_router(make_router(lambda: store, **limits))
    return TestClient(app, base_url="https://testserver")


def _csrf(page: str) -> dict:
    return {"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1),
            "submission_key": re.search(r'name="submission_key" value="([^"]+)"', page).group(1)}


def _login(c, name):
    r = c.post("/registratie/inloggen", data={**_csrf(c.get("/registratie").text), "username": name,
                                              "password": "geheim-wachtwoord"})
    assert r.status_code == 200 and "Ingelogd als" in r.text, r.text
    assert "weefsel_sessie" in c.cookies


def _labels_ok(page: str) -> None:
    assert '<html lang="nl">' in page
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
        assert f'for="{field_id}"' in page, field_id


def test_session_cookie_flags(store):
    c = _client(store)
    r = c.post("/registratie/inloggen", data={**_csrf(c.get("/registratie").text), "username": "bijdrager",
                                              "password": "geheim-wachtwoord"}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_login_initiative_signal_moderate_cycle(store):
    c = _client(store)
    _login(c, "bijdrager")
    page = c.get("/registratie/initiatief").text
    _labels_ok(page)
    form = {**_csrf(page), "name": "Buurtkamer", "area_codes": "BU00340101", "themes": "ontmoeting",
            "crisis_functions": "ontmoeten", "ladder_step": "3", "contact_role": "coördinator"}
    r = c.post("/registratie/initiatieven", data=form)
    assert r.status_code == 200 and "is opgeslagen" in r.text
    r = c.post("/registratie/initiatieven", data=form)  # the same form twice
    assert len(store.initiatives()) == 1
    anon = _client(store)
    page = anon.get("/registratie/signaal").text
    _labels_ok(page)
    r = anon.post("/registratie/signalen", data={**_csrf(page), "area_code": "BU00340101", "theme": "eenzaamheid",
                                                 "text": "Ouderen vereenzamen in de flat"})
    assert r.status_code == 200
    sid, key = re.search(r"nummer (\d+)", r.text).group(1), re.search(r"<code>([^<]+)</code>", r.text).group(1)
    # a contributor cannot moderate
    r = c.post(f"/registratie/signalen/{sid}/beoordeling", data={**_csrf(c.get("/registratie").text),
                                                                 "status": "geaccepteerd"})
    assert r.status_code == 403 and "moderator" in r.text
    m = _client(store)
    _login(m, "moderator")
    page = m.get("/registratie/moderatie").text
    _labels_ok(page)
    assert "Ouderen vereenzamen" in page
    r = m.post(f"/registratie/signalen/{sid}/beoordeling",
               data={**_csrf(page), "status": "geaccepteerd", "response": "Buurtcoach neemt contact op",
                     "text_shown": "Ouderen vereenzamen"})
    assert r.status_code == 200 and "beoordeeld" in r.text
    r = anon.get(f"/registratie/signaal/{sid}", params={"code": key})
    assert "geaccepteerd" in r.text and "Buurtcoach" in r.text
    reqs = anon.get("/open311/v2/requests.json").json()
    assert reqs[0]["service_code"] == "eenzaamheid" and reqs[0]["status"] == "closed"
    assert reqs[0]["description"] == "Ouderen vereenzamen"  # the moderated text, not the original
    assert store.signal(int(sid))["original_text"] == "Ouderen vereenzamen in de flat"
    assert "reporter" not in str(reqs)
    counts = anon.get("/api/registry/signal-counts").json()["counts"]
    assert counts == [{"area_code": "BU00340101", "theme": "eenzaamheid", "count": None, "suppressed": True}]
    prof = anon.get("/api/registry/areas/BU00340101").json()
    assert prof["initiatives"][0]["name"] == "Buurtkamer"
    assert prof["responses"] == [{"theme": "eenzaamheid", "response": "Buurtcoach neemt contact op",
                                  "response_at": prof["responses"][0]["response_at"]}]
    assert "vereenzamen" not in str(prof)  # the reporter's words stay out of the profile


def test_forged_or_missing_csrf_is_refused_and_nothing_written(store):
    c = _client(store)
    _login(c, "bijdrager")
    for token in ("vervalst-token-van-elders", ""):
        r = c.post("/registratie/initiatieven", data={"csrf": token, "name": "X", "area_codes": "BU00340101"})
        assert r.status_code == 403 and "CSRF" in r.text
    anon = _client(store)
    r = anon.post("/registratie/signalen", data={"csrf": "x" * 30, "area_code": "BU00340101",
                                                 "theme": "wonen", "text": "t"})
    assert r.status_code == 403
    assert store.initiatives() == [] and store.signals() == []


@pytest.mark.parametrize("field, value, msg", [
    ("text", "<script>alert(1)</script>", "HTML of script"),
    ("area_code", "BU12345678", "onbekende gebiedscode"),
    ("text", "x" * 1200, "te lang"),
    ("theme", "ufo", "thema ufo onbekend"),
])
def test_bad_signal_one_dutch_line(store, field, value, msg):
    anon = _client(store)
    form = {**_csrf(anon.get("/registratie/signaal").text), "area_code": "BU00340101", "theme": "wonen",
            "text": "Er is geen plek om elkaar te zien"}
    r = anon.post("/registratie/signalen", data={**form, field: value})
    assert r.status_code == 400 and msg in r.text and "Traceback" not in r.text
    assert "<script>alert" not in r.text
    assert store.signals() == []


def test_login_rate_limited(store):
    c = _client(store, login_limit=RateLimit(3, 60))
    tok = _csrf(c.get("/registratie").text)
    codes = [c.post("/registratie/inloggen", data={**tok, "username": "bijdrager", "password": "fout"}).status_code
             for _ in range(5)]
    assert codes[:3] == [400, 400, 400] and codes[3:] == [429, 429]


def test_open_exports_public_fields_only(store):
    u = store.session_user(store.login("bijdrager", "geheim-wachtwoord")[0])
    store.add_place(u, {"name": "Bieb", "type": "bibliotheek", "lat": 52.37, "lon": 5.21, "kis_uitnodigend": "ja"})
    store.add_initiative(u, {"name": "Moestuin", "area_codes": "BU00340102"}, submission_key="geheime-sleutel")
    c = _client(store)
    gj = c.get("/api/registry/places.geojson").json()
    assert gj["features"][0]["geometry"] == {"type": "Point", "coordinates": [5.21, 52.37]}
    assert gj["features"][0]["properties"]["kis_uitnodigend"] is True
    csv_text = c.get("/api/registry/initiatives.csv").text
    assert "Moestuin" in csv_text and "geheime-sleutel" not in csv_text and "created_by" not in csv_text
    assert c.get("/api/registry/users.csv").status_code == 404


def test_place_form_and_viewer_refused(store):
    admin = store.session_user(store.login("beheer", "geheim-wachtwoord")[0])
    store.create_user("kijker", "geheim-wachtwoord", "viewer", "GM0034", actor=admin)
    c = _client(store)
    _login(c, "bijdrager")
    page = c.get("/registratie/plek").text
    _labels_ok(page)
    r = c.post("/registratie/plekken", data={**_csrf(page), "name": "Buurthuis", "type": "buurthuis",
                                             "lat": "52.37", "lon": "5.21", "kis_toegankelijk": "ja",
                                             "step_free": "", "capacity": "60"})
    assert r.status_code == 200 and "is opgeslagen" in r.text
    p = store.places()[0]
    assert p["kis_toegankelijk"] is True and p["step_free"] is None and p["capacity"] == 60
    r = c.post("/registratie/plekken", data={**_csrf(c.get("/registratie/plek").text), "name": "X",
                                             "type": "buurthuis", "lat": "48.0", "lon": "2.3"})
    assert r.status_code == 400 and "ligt niet in Nederland" in r.text
    v = _client(store)
    _login(v, "kijker")
    r = v.post("/registratie/plekken", data={**_csrf(v.get("/registratie/plek").text), "name": "Y",
                                             "type": "park", "lat": "52.37", "lon": "5.21"})
    assert r.status_code == 403 and "contributor" in r.text
    assert len(store.places()) == 1


def test_mounted_in_the_dashboard_app(tmp_path, monkeypatch):
    """create_app mounts the registry and validates codes against the served warehouse."""
    from weefsel.web import registry_web
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    monkeypatch.setattr(registry_web, "OpsStore",
                        lambda area_codes=None: OpsStore(f"sqlite:///{tmp_path / 'r.sqlite'}", area_codes=area_codes))
    path = make_demo_warehouse(tmp_path / "demo.duckdb")
    with TestClient(create_app(path, catalogue=DEMO_CATALOGUE), base_url="https://testserver") as c:
        page = c.get("/registratie/signaal").text
        form = {**_csrf(page), "theme": "wonen", "text": "Geen plek om elkaar te zien"}
        r = c.post("/registratie/signalen", data={**form, "area_code": "BU99990101"})
        assert r.status_code == 400 and "onbekende gebiedscode BU99990101" in r.text  # not in the demo
        r = c.post("/registratie/signalen", data={**form, "area_code": "BU00340101"})
        assert r.status_code == 200 and "nummer 1" in r.text
        c.app.state.data.close()


def test_admin_creates_account_through_form_and_sees_log(store):
    c = _client(store)
    _login(c, "beheer")
    page = c.get("/registratie/gebruikers").text
    _labels_ok(page)
    assert "user_created" in page and "login" in page
    r = c.post("/registratie/gebruikers", data={**_csrf(page), "username": "wijkteam.noord",
                                                "password": "heel-geheim-1", "role": "contributor"})
    assert r.status_code == 200 and "is aangemaakt" in r.text
    store.login("wijkteam.noord", "heel-geheim-1")
    m = _client(store)
    _login(m, "moderator")
    page = m.get("/registratie/gebruikers").text
    assert "Alleen beheerders" in page
    r = m.post("/registratie/gebruikers", data={**_csrf(m.get("/registratie").text), "username": "indringer",
                                                "password": "heel-geheim-1", "role": "admin"})
    assert r.status_code == 403
    assert "heel-geheim" not in str(store.audit_log())


def test_signal_answer_names_similar_signals(store):
    c = _client(store)
    for expected in (None, "nr. 1"):
        page = c.get("/registratie/signaal").text
        r = c.post("/registratie/signalen", data={**_csrf(page), "area_code": "BU00340101", "theme": "wonen",
                                                  "text": "Lekkage in de portiekflat"})
        assert r.status_code == 200 and "nummer" in r.text
        assert (expected in r.text) if expected else ("vergelijkbare" not in r.text)


def test_resubmitted_signal_form_gives_the_same_number_and_a_working_code(store):
    c = _client(store)
    form = {**_csrf(c.get("/registratie/signaal").text), "area_code": "BU00340101", "theme": "wonen",
            "text": "Schimmel in de portiek"}
    answers = [c.post("/registratie/signalen", data=form).text for _ in range(2)]  # the answer was lost once
    numbers = [re.search(r"nummer (\d+)", a).group(1) for a in answers]
    codes = [re.search(r"<code>([^<]+)</code>", a).group(1) for a in answers]
    assert numbers[0] == numbers[1] and codes[0] == codes[1] and len(store.signals()) == 1
    r = c.get(f"/registratie/signaal/{numbers[0]}?code={codes[1]}")
    assert r.status_code == 200 and "Schimmel in de portiek" in r.text
