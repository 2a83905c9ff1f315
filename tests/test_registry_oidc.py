"""OIDC single sign-on for registry accounts, through the real HTTP flow against a local provider
(tests/oidc_provider.py), on SQLite and on PostgreSQL."""

from __future__ import annotations

import html
import logging
import re

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, Serving, new_key
from registry_backends import pg_server, registry_url  # noqa: F401
from sqlalchemy import func, select

from weefsel.errors import InputError
from weefsel.registry import oidc
from weefsel.registry.ops import ROLES, OpsStore, audit, sessions, users
from weefsel.web.registry_web import RateLimit, make_router

AREAS = {"GM0034", "GM0363", "WK003401", "BU00340101"}
BASE = "https://testserver"


@pytest.fixture(scope="module")
def provider_server():
    p = Provider()
    with Serving(p.app, p.port):
        yield p


@pytest.fixture
def provider(provider_server):
    p = provider_server
    first = p.keys["k1"]
    p.keys, p.active, p.tamper, p.codes, p.client_secret = {"k1": first}, "k1", {}, {}, CLIENT_SECRET
    p.claims = {"sub": "medewerker-1", "email": "piet@almere.example", "name": "Piet Jansen",
                "groups": ["weefsel:GM0034:moderator"]}
    return p


def _cfg(provider, secret: str = CLIENT_SECRET, **kw) -> oidc.OidcConfig:
    return oidc.OidcConfig(issuer=provider.issuer, client_id=CLIENT_ID, client_secret=secret,
                           redirect_url=BASE + oidc.CALLBACK_PATH, label="Gemeente Almere-account",
                           jwks_refresh_s=0, **kw)


@pytest.fixture
def store(registry_url):
    s = OpsStore(registry_url, area_codes=AREAS, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    s.create_user("moderator", "geheim-wachtwoord", "moderator", "GM0034")
    yield s
    s.engine.dispose()


def _client(store, cfg):
    app = FastAPI()
    app.include_router(make_router(lambda: store, oidc=cfg, login_limit=RateLimit(1000, 60)))
    return TestClient(app, base_url=BASE)


def _to_provider_and_back(c, start: httpx.Response) -> tuple[httpx.Response, str]:
    """The browser's part: follow the redirect (or the page's refresh) to the provider (real
    HTTP) and come back."""
    if start.status_code == 200:  # linking: a page that goes on to the provider
        url = html.unescape(re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', start.text).group(1))
    else:
        assert start.status_code == 303, start.text
        url = start.headers["location"]
    at_idp = httpx.get(url, follow_redirects=False)
    assert at_idp.status_code == 302
    back = at_idp.headers["location"]
    assert back.startswith(BASE + oidc.CALLBACK_PATH)
    return c.get(back[len(BASE):], follow_redirects=False), back[len(BASE):]


def _sso(c) -> httpx.Response:
    return _to_provider_and_back(c, c.get("/registratie/oidc/start", follow_redirects=False))[0]


def _count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _audit(store) -> list[dict]:
    return list(reversed(store.audit_log(100)))


def _sso_user(store) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(oidc.oidc_users).where(oidc.oidc_users.c.username.like("sso-%")))
                    .mappings().one())


def test_login_page_offers_gemeente_account(store, provider):
    page = _client(store, _cfg(provider)).get("/registratie").text
    assert 'href="/registratie/oidc/start">Inloggen met Gemeente Almere-account</a>' in page
    assert "Inloggen met" not in _client(store, None).get("/registratie").text  # off without configuration


def test_round_trip_creates_user_and_registry_session(store, provider, caplog):
    caplog.set_level(logging.DEBUG)
    c = _client(store, _cfg(provider))
    r = _sso(c)
    assert r.status_code == 200 and "U bent ingelogd" in r.text and "als moderator (GM0034)" in r.text
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("weefsel_sessie="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=strict" in cookie.lower()
    home = c.get("/registratie").text
    assert "Ingelogd als <strong>sso-" in home and "moderator" in home
    u = _sso_user(store)
    assert (u["oidc_issuer"], u["oidc_subject"], u["role"], u["gemeente_code"]) == \
        (provider.issuer, "medewerker-1", "moderator", "GM0034")
    assert u["password_hash"] == oidc.NO_PASSWORD
    with pytest.raises(InputError):  # no password login for an SSO account
        store.login(u["username"], oidc.NO_PASSWORD)
    # the same session as a password login: its CSRF token lets the user write
    page = c.get("/registratie/initiatief").text
    form = {"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1), "name": "Buurtkamer",
            "area_codes": "BU00340101"}
    assert "is opgeslagen" in c.post("/registratie/initiatieven", data=form).text
    # second login: same user; a changed group changes the role (audited)
    provider.claims["groups"] = ["weefsel:GM0034:viewer", "iets-anders"]
    assert _sso(_client(store, _cfg(provider))).status_code == 200
    assert _count(store, users) == 2 and _sso_user(store)["role"] == "viewer"
    log = _audit(store)
    acts = [(a["action"], a["detail"]) for a in log if a["action"] not in ("initiative_added", "denied")]
    assert ("user_created", "role=moderator,via=oidc") in acts
    assert [d for a, d in acts if a == "login"] == ["via=oidc", "via=oidc"]
    assert ("role_changed", "moderator->viewer,via=oidc") in acts
    everything = " ".join(str(v) for a in log for v in a.values()) + caplog.text
    for secret in ("piet@almere.example", "Piet Jansen", "medewerker-1", "eyJ"):
        assert secret not in everything


TAMPER = [
    ({"aud": "een-andere-app"}, "wrong_audience", "niet voor weefsel bestemd"),
    ({"iss": "http://127.0.0.1:1"}, "wrong_issuer", "niet van de ingestelde inlogdienst"),
    ({"exp": -600}, "expired", "verlopen"),
    ({"sign_with": new_key()}, "bad_signature", "handtekening"),
    ({"alg": "PS256"}, "bad_signature", "de sleutel is voor RS256"),
    ({"nonce": "niet-deze"}, "nonce", "nonce"),
    ({"kid": "onbekend"}, "unknown_kid", "onbekende sleutel"),
    ({"azp": "een-andere-app"}, "azp", "andere toepassing"),
]


@pytest.mark.parametrize("tamper,reason,words", TAMPER, ids=[t[1] for t in TAMPER])
def test_bad_id_token_refused_nothing_written(store, provider, caplog, tamper, reason, words):
    caplog.set_level(logging.DEBUG)
    provider.tamper = dict(tamper)
    before = _count(store, users)
    c = _client(store, _cfg(provider))
    r = _sso(c)
    _refused(r, words)
    assert "weefsel_sessie" not in c.cookies
    assert _count(store, users) == before and _count(store, sessions) == 0
    assert _audit(store)[-1]["action"] == "oidc_refused" and _audit(store)[-1]["detail"] == f"reason={reason}"
    assert "eyJ" not in caplog.text and "piet@" not in caplog.text and "Traceback" not in caplog.text


def _refused(r: httpx.Response, words: str) -> None:
    assert r.status_code == 400, r.text
    alerts = re.findall(r'<p role="alert">(.*?)</p>', r.text)
    assert len(alerts) == 1 and "lukte niet" in alerts[0] and words in alerts[0], alerts
    assert "Traceback" not in r.text


@pytest.mark.parametrize("groups,reason", [(["weefsel:GM0034:baas", "andere-groep"], "unmapped"),
                                           (["weefsel:GM0034:viewer", "weefsel:GM0363:admin"], "multi_gemeente"),
                                           (["weefsel:GM9999:admin"], "unknown_gemeente")])
def test_unmapped_or_ambiguous_groups_refused(store, provider, groups, reason):
    provider.claims["groups"] = groups
    r = _sso(_client(store, _cfg(provider)))
    _refused(r, "gemeente")
    assert _count(store, users) == 1 and _audit(store)[-1]["detail"] == f"reason={reason}"


def test_unmapped_gets_default_viewer_when_configured(store, provider):
    provider.claims["groups"] = []
    assert _sso(_client(store, _cfg(provider, unmapped="viewer:GM0034"))).status_code == 200
    assert _sso_user(store)["role"] == "viewer"


def test_state_mismatched_replayed_or_other_browser(store, provider):
    cfg = _cfg(provider)
    c = _client(store, cfg)
    r, back = _to_provider_and_back(c, c.get("/registratie/oidc/start", follow_redirects=False))
    assert r.status_code == 200
    _refused(c.get(back), "hoort niet bij deze browser")  # replayed: the state cookie is gone
    c.cookies.set(oidc.STATE_COOKIE, re.search(r"state=([^&]+)", back).group(1))  # even with it
    _refused(c.get(back), "al gebruikt")  # the pending login is gone (single use)
    c2 = _client(store, cfg)
    start = c2.get("/registratie/oidc/start", follow_redirects=False)
    at_idp = httpx.get(start.headers["location"], follow_redirects=False).headers["location"][len(BASE):]
    _refused(_client(store, cfg).get(at_idp), "hoort niet bij deze browser")  # another browser
    _refused(c2.get(re.sub(r"state=[^&]+", "state=verzonnen", at_idp)), "state")  # forged state
    assert _count(store, sessions) == 1
    assert [a["detail"] for a in _audit(store) if a["action"] == "oidc_refused"] == ["reason=state"] * 4


def test_key_rotation_refreshes_jwks_once(store, provider):
    cfg = _cfg(provider)
    c = _client(store, cfg)
    assert _sso(c).status_code == 200
    fetched = provider.jwks_fetches
    assert _sso(c).status_code == 200 and provider.jwks_fetches == fetched  # cached
    provider.rotate("k2")
    assert _sso(c).status_code == 200 and provider.jwks_fetches == fetched + 1  # refreshed for the new kid


def test_client_secret_encoded_and_wrong_secret_refused(store, provider):
    provider.client_secret = "ge:he%im+/ 1"
    _refused(_sso(_client(store, _cfg(provider))), "nam de inlogcode niet aan")
    assert _count(store, sessions) == 0 and _audit(store)[-1]["detail"] == "reason=token_endpoint"
    assert _sso(_client(store, _cfg(provider, secret="ge:he%im+/ 1"))).status_code == 200


def test_provider_error_and_unreachable_provider(store, provider):
    c = _client(store, _cfg(provider))
    _refused(c.get(oidc.CALLBACK_PATH + "?error=access_denied&state=x"), "access_denied")
    dead = oidc.OidcConfig(issuer="http://127.0.0.1:9", client_id="x", client_secret="y",
                           redirect_url=BASE + oidc.CALLBACK_PATH)
    r = _client(store, dead).get("/registratie/oidc/start", follow_redirects=False)
    assert r.status_code == 502 and "niet bereikbaar" in r.text
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(oidc.pending)).scalar() == 0


def test_link_local_account(store, provider):
    c = _client(store, _cfg(provider))
    page = c.get("/registratie").text
    tok = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    c.post("/registratie/inloggen", data={"csrf": tok, "submission_key": "k", "username": "moderator",
                                          "password": "geheim-wachtwoord"})
    page = c.get("/registratie").text
    assert "Koppel dit account aan uw Gemeente Almere-account" in page
    tok = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert c.post("/registratie/oidc/koppelen", data={"csrf": "vals"}).status_code == 403
    r, _ = _to_provider_and_back(c, c.post("/registratie/oidc/koppelen", data={"csrf": tok},
                                           follow_redirects=False))
    assert r.status_code == 200 and "gekoppeld" in r.text
    assert "Koppel dit account" not in c.get("/registratie").text
    other = _client(store, _cfg(provider))
    assert _sso(other).status_code == 200
    assert "Ingelogd als <strong>moderator</strong>" in other.get("/registratie").text
    assert _count(store, users) == 1
    assert [(a["action"], a["detail"]) for a in _audit(store)][-3:] == [
        ("login", ""), ("oidc_linked", ""), ("login", "via=oidc")]


def test_config_from_env_and_toml(tmp_path, monkeypatch):
    assert oidc.OidcConfig.from_env({}) is None
    with pytest.raises(InputError, match="WEEFSEL_OIDC_CLIENT_SECRET"):
        oidc.OidcConfig.from_env({"WEEFSEL_OIDC_ISSUER": "https://login.almere.example",
                                  "WEEFSEL_OIDC_CLIENT_ID": "w", "WEEFSEL_OIDC_REDIRECT_URL": "https://w.example/cb"})
    f = tmp_path / "oidc.toml"
    f.write_text('[oidc]\nissuer = "https://login.almere.example/"\nclient_id = "weefsel"\n'
                 'redirect_url = "https://weefsel.almere.example/registratie/oidc/callback"\n'
                 'scopes = ["openid", "groups"]\nlabel = "Almere-account"\n'
                 '[oidc.groups]\n"6f1c-guid" = "GM0034:admin"\n')
    cfg = oidc.OidcConfig.from_env({"WEEFSEL_OIDC_CONFIG": str(f), "WEEFSEL_OIDC_CLIENT_SECRET": "s"})
    assert cfg.issuer == "https://login.almere.example" and cfg.scopes == ("openid", "groups")
    assert oidc.map_claims({"groups": ["6f1c-guid"]}, cfg) == ("GM0034", "admin")
    f.write_text(f.read_text().replace('label = "Almere-account"', 'client_secret = "nee"'))
    with pytest.raises(InputError, match="niet in het bestand"):
        oidc.OidcConfig.from_env({"WEEFSEL_OIDC_CONFIG": str(f), "WEEFSEL_OIDC_CLIENT_SECRET": "s"})
    base = {"WEEFSEL_OIDC_ISSUER": "http://login.almere.example", "WEEFSEL_OIDC_CLIENT_ID": "w",
            "WEEFSEL_OIDC_REDIRECT_URL": "https://w.example/cb", "WEEFSEL_OIDC_CLIENT_SECRET": "s"}
    with pytest.raises(InputError, match="https"):
        oidc.OidcConfig.from_env(base)
    with pytest.raises(InputError, match="alleen viewer"):
        oidc.OidcConfig.from_env({**base, "WEEFSEL_OIDC_ISSUER": "https://l.example",
                                  "WEEFSEL_OIDC_UNMAPPED": "admin:GM0034"})
    monkeypatch.setenv("WEEFSEL_OIDC_ISSUER", "https://l.example")
    assert oidc.config_from_env_or_off() is None  # half configured: off, with a warning


CFG = oidc.OidcConfig(issuer="https://l.example", client_id="c", client_secret="s", redirect_url="https://w.example/cb")
GROUP = st.one_of(st.builds(lambda gm, r: f"weefsel:{gm}:{r}", st.sampled_from(["GM0034", "GM0363"]),
                            st.sampled_from(ROLES + ("baas", "Admin"))),
                  st.text(max_size=30))


@given(st.lists(GROUP, max_size=6))
def test_map_claims_highest_role_of_one_gemeente_or_refused(groups):
    valid = [g.split(":")[1:] for g in groups if re.fullmatch(r"weefsel:GM\d{4}:(viewer|contributor|moderator|admin)", g)]
    try:
        gm, role = oidc.map_claims({"groups": groups}, CFG)
    except oidc.OidcRefused as exc:
        assert (exc.reason == "unmapped" and not valid) or (exc.reason == "multi_gemeente"
                                                            and len({v[0] for v in valid}) > 1)
        return
    assert {v[0] for v in valid} == {gm}
    assert role == max((v[1] for v in valid), key=ROLES.index)


def _cli(env: dict):
    import os
    import subprocess
    import sys
    e = {k: v for k, v in os.environ.items() if not k.startswith("WEEFSEL_OIDC_")} | env
    return subprocess.run([sys.executable, "-m", "weefsel", "registry", "oidc-check"], capture_output=True,
                          text=True, env=e, timeout=120)


def test_cli_oidc_check(provider):
    env = {"WEEFSEL_OIDC_ISSUER": provider.issuer, "WEEFSEL_OIDC_CLIENT_ID": CLIENT_ID,
           "WEEFSEL_OIDC_CLIENT_SECRET": CLIENT_SECRET, "WEEFSEL_OIDC_REDIRECT_URL": BASE + oidc.CALLBACK_PATH}
    r = _cli(env)
    assert r.returncode == 0, r.stderr
    assert "bereikbaar, 1 ondertekeningssleutel" in r.stdout and BASE + oidc.CALLBACK_PATH in r.stdout
    assert CLIENT_SECRET not in r.stdout + r.stderr
    r = _cli({**env, "WEEFSEL_OIDC_ISSUER": "http://127.0.0.1:9"})
    assert r.returncode != 0 and "niet bereikbaar" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli({k: v for k, v in env.items() if k != "WEEFSEL_OIDC_CLIENT_SECRET"})
    assert r.returncode != 0 and "WEEFSEL_OIDC_CLIENT_SECRET" in r.stderr and "Traceback" not in r.stderr


def test_same_first_login_twice_at_once_one_user(store, provider):
    """Two browsers of one person finishing their first login together: one user, no 500."""
    from concurrent.futures import ThreadPoolExecutor
    cfg = _cfg(provider)
    clients = [_client(store, cfg) for _ in range(2)]
    backs = []
    for c in clients:
        start = c.get("/registratie/oidc/start", follow_redirects=False)
        backs.append(httpx.get(start.headers["location"], follow_redirects=False).headers["location"][len(BASE):])
    with ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda cb: cb[0].get(cb[1]), zip(clients, backs)))
    assert sorted(r.status_code for r in rs) in ([200, 200], [200, 400])
    assert _count(store, users) == 2  # the local moderator and one SSO user
