"""Crisis mode on the registry over HTTP: one login (the registry's session), crisis roles
granted by a registry admin of the same gemeente, every crisis action and every view of
needs in the registry's audit log (ids, never content). On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from registry_backends import pg_server, registry_url  # noqa: F401
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from weefsel.crisis import web
from weefsel.registry.ops import OpsStore, audit

PW = "geheim-wachtwoord"
NAME, ADDRESS = "Zyxwvu Geheimnaam", "Kwartelstraat 77"


@pytest.fixture()
def env(tmp_path, monkeypatch, registry_url):  # noqa: F811 - both backends (SQLite, PostgreSQL)
    from weefsel.web.registry_web import make_router

    monkeypatch.setenv("WEEFSEL_CRISIS_GEMEENTE", "GM0363")
    ops = OpsStore(registry_url,
                   password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    aid = ops.create_user("beheer", PW, "admin", "GM0363")
    admin = {"id": aid, "role": "admin", "gemeente_code": "GM0363"}
    for name, role in (("kijker", "viewer"), ("bijdrager", "contributor"),
                       ("moderator", "moderator"), ("coco", "viewer"), ("reg", "contributor")):
        ops.create_user(name, PW, role, "GM0363", actor=admin)
    store = web.open_store(tmp_path / "crisis.sqlite", ops, key=Fernet.generate_key())
    rid = store.register("resident", name=NAME, address=ADDRESS, lat=52.39, lon=4.92,
                         x=122000, y=489000, buurt_code="BU0363NA01",
                         consents=["bezoek", "lijst", "behoefte"], needs=["stroom_apparaat"])
    web.set_store(store, ops)
    app = FastAPI()
    app.include_router(make_router(lambda: ops))
    app.include_router(web.crisis_router)
    yield app, ops, store, rid
    web.set_store(None, None)
    store.close()


def _client(app, user: str | None = None) -> TestClient:
    c = TestClient(app, base_url="https://testserver")   # the session cookie is Secure
    if user:
        page = c.get("/registratie").text
        tok = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = c.post("/registratie/inloggen", data={"csrf": tok, "username": user, "password": PW},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
    return c


def _csrf(c: TestClient, path: str = "/crisis/coordinator") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def _grant(app, user: str, role: str):
    admin = _client(app, "beheer")
    r = admin.post("/crisis/rollen", data={"csrf": _csrf(admin, "/crisis/rollen"),
                                           "gebruiker": user, "rol": role})
    assert r.status_code == 200, r.text


def _audit(ops) -> list[dict]:
    with ops.engine.connect() as c:
        return [dict(r) for r in c.execute(select(audit).order_by(audit.c.id)).mappings()]


def _declare(app) -> None:
    _grant(app, "coco", "coordinator")
    coco = _client(app, "coco")
    assert coco.post("/crisis/afkondigen", data={"csrf": _csrf(coco), "reden": "storing"}
                     ).status_code == 200


@pytest.mark.parametrize("user", [None, "kijker", "bijdrager", "moderator", "beheer"])
def test_registry_roles_cannot_read_needs(env, user):
    app, ops, store, _ = env
    _declare(app)
    c = _client(app, user)
    for path in ("/api/crisis/needs", "/crisis/behoeften"):
        r = c.get(path)
        assert r.status_code == 403 and NAME not in r.text and "stroom" not in r.text
    denied = [a for a in _audit(ops) if a["action"] == "crisis_needs_denied"]
    assert denied and all(NAME not in (a["detail"] or "") for a in denied)
    if user:
        uid = ops.session_user(c.cookies.get("weefsel_sessie"))["id"]
        assert any(a["user_id"] == uid for a in denied)


def test_coordinator_reads_needs_only_during_crisis_and_views_are_audited(env):
    app, ops, store, rid = env
    _grant(app, "coco", "coordinator")
    coco = _client(app, "coco")
    assert coco.get("/api/crisis/needs").status_code == 403          # no crisis yet
    tok = _csrf(coco)
    assert coco.post("/crisis/afkondigen", data={"reden": "storing"}).status_code == 403  # no CSRF
    assert store.active() is None
    assert coco.post("/crisis/afkondigen", data={"csrf": tok, "reden": "storing"}).status_code == 200
    r = coco.get("/api/crisis/needs")
    assert r.status_code == 200 and r.json()[0]["needs_nl"] == ["apparaat heeft stroom nodig"]
    uid = ops.session_user(coco.cookies.get("weefsel_sessie"))["id"]
    rows = _audit(ops)
    views = [a for a in rows if a["action"] == "crisis_view_need"]
    assert [(v["user_id"], v["entity"], v["entity_id"], v["gemeente_code"]) for v in views] == \
        [(uid, "crisis_person", rid, "GM0363")]
    assert any(a["action"] == "crisis_grant" and a["detail"] == "role=coordinator" for a in rows)
    assert any(a["action"] == "crisis_declare" and a["user_id"] == uid for a in rows)
    # the audit page reads the registry's log
    page = coco.get("/crisis/audit").text
    assert "crisis_view_need" in page and 'id="keten">intact' in page.replace("'", '"')
    assert coco.post("/crisis/beeindigen", data={"csrf": tok}).status_code == 200
    assert coco.get("/api/crisis/needs").status_code == 403          # crisis over
    text = " ".join(str(v) for a in _audit(ops) for v in a.values())
    assert NAME not in text and "Kwartelstraat" not in text and "stroom" not in text
    assert store.audit_log.verify_chain()


def test_only_an_admin_of_the_same_gemeente_grants(env):
    app, ops, store, _ = env
    mod = _client(app, "moderator")
    r = mod.post("/crisis/rollen", data={"csrf": _csrf(mod, "/registratie"),
                                         "gebruiker": "moderator", "rol": "coordinator"})
    assert r.status_code == 403
    from weefsel.crisis.roles import grant
    from weefsel.crisis.store import Forbidden
    other = {"id": 999, "role": "admin", "gemeente_code": "GM0034", "username": "x"}
    with pytest.raises(Forbidden):
        grant(ops, other, "coco", "coordinator")
    # the moderator is still no coordinator
    assert mod.get("/crisis/coordinator").text.count('id="toewijzen"') == 0


def test_coordinator_role_of_another_gemeente_does_not_count(env, monkeypatch):
    app, ops, store, _ = env
    _grant(app, "coco", "coordinator")
    monkeypatch.setenv("WEEFSEL_CRISIS_GEMEENTE", "GM0034")       # this register: Almere
    coco = _client(app, "coco")
    assert 'id="afkondigen"' not in coco.get("/crisis/coordinator").text


def test_registrar_enters_paper_form_but_reads_no_needs(env):
    app, ops, store, _ = env
    _grant(app, "reg", "registrar")
    reg = _client(app, "reg")
    tok = _csrf(reg, "/crisis/papier")
    form = {"soort": "resident", "naam": "Papier Persoon", "adres": "Papierweg 2",
            "lat": "52.39", "lon": "4.93", "toestemming": ["bezoek", "behoefte"],
            "behoefte": ["alleen"], "bron": "papier", "csrf": tok}
    assert reg.post("/crisis/aanmelden", data=form).status_code == 200
    uid = ops.session_user(reg.cookies.get("weefsel_sessie"))["id"]
    entry = [a for a in _audit(ops) if a["action"] == "crisis_register"][-1]
    assert entry["user_id"] == uid and entry["entity"] == "crisis_person"
    # a paper entry without the role (or without CSRF) is refused
    kijker = _client(app, "kijker")
    bad = dict(form, csrf=_csrf(kijker, "/registratie"))
    assert kijker.post("/crisis/aanmelden", data=bad).status_code == 403
    _declare(app)
    assert reg.get("/api/crisis/needs").status_code == 403


def test_anonymous_self_registration_is_audited_without_content(env):
    app, ops, store, _ = env
    c = _client(app)
    r = c.post("/crisis/aanmelden", data={"soort": "helper", "naam": "Hulp Heleen",
                                          "adres": "Hulpweg 9", "lat": "52.39", "lon": "4.93",
                                          "toestemming": ["helpen"], "capaciteit": "3"})
    assert r.status_code == 200 and 'id="bewaardatum"' in r.text
    entry = [a for a in _audit(ops) if a["action"] == "crisis_register"][-1]
    assert entry["user_id"] is None and "actor=self" in entry["detail"]
    assert "Heleen" not in entry["detail"]


def test_registry_initiatives_and_places_become_carriers(env):
    from weefsel.crisis.prepare import registry_carriers

    _, ops, _, _ = env
    u = ops.session_user(ops.login("reg", PW)[0])
    ops.add_initiative(u, {"name": "Buurtapp", "area_codes": "BU03630000",
                           "crisis_functions": "informeren,coordineren"})
    ops.add_initiative(u, {"name": "Zonder crisisrol", "area_codes": "BU03630000"})
    ops.add_initiative(u, {"name": "Buurtpreventie", "lat": 52.39, "lon": 4.92,
                           "crisis_functions": "signaleren"})
    ops.add_place(u, {"name": "Het Anker", "type": "buurthuis", "lat": 52.39, "lon": 4.92,
                      "capacity": "80"})
    got = {c["name"]: c for c in registry_carriers(ops, "GM0363")}
    assert set(got) == {"Buurtapp", "Het Anker", "Buurtpreventie"}
    from weefsel.crisis.prepare import FUNCTIONS, REGISTRY_TAGS
    from weefsel.registry.ops import CRISIS_FUNCTIONS
    # every registry tag maps onto one of the five, and every one of the five can be tagged
    assert {REGISTRY_TAGS[t] for t in CRISIS_FUNCTIONS} == set(FUNCTIONS)
    assert got["Buurtapp"]["area_codes"] == ["BU03630000"] and got["Buurtapp"]["x"] != got["Buurtapp"]["x"]
    anker = got["Het Anker"]
    assert anker["noodsteunpunt"] and anker["capacity"] == 80 and 120_000 < anker["x"] < 125_000
    assert "verbinden_includeren" in anker["functions"]
