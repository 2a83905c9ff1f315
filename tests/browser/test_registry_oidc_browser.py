"""Single sign-on in a real browser: the whole dashboard (``create_app``, its security middleware,
OIDC switched on by ``WEEFSEL_OIDC_*``) on localhost, the local test provider on 127.0.0.1 (another
site, as a gemeente's provider would be): click "Inloggen met …", come back logged in as the
mapped role; an unmapped account gets one Dutch line. axe (WCAG 2.1 AA) on the pages."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import ServerThread, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the local provider
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, Serving  # noqa: E402

pytestmark = pytest.mark.browser
AXE = Path(__file__).with_name("axe.min.js")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _axe(page) -> list:
    page.add_script_tag(path=str(AXE))
    res = page.evaluate("async (t) => await axe.run(document, {runOnly: {type: 'tag', values: t}})", WCAG)
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in res["violations"]]


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory):
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    provider = Provider()
    port = free_port()
    tmp = tmp_path_factory.mktemp("sso")
    env = {"WEEFSEL_REGISTRY": f"sqlite:///{tmp / 'r.sqlite'}", "WEEFSEL_OIDC_ISSUER": provider.issuer,
           "WEEFSEL_OIDC_CLIENT_ID": CLIENT_ID, "WEEFSEL_OIDC_CLIENT_SECRET": CLIENT_SECRET,
           "WEEFSEL_OIDC_REDIRECT_URL": f"http://localhost:{port}/registratie/oidc/callback",
           "WEEFSEL_OIDC_LABEL": "Almere-account"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from argon2 import PasswordHasher

        from weefsel.registry.ops import OpsStore
        store = OpsStore(area_codes={"GM0034"}, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        store.create_user("lokaal.beheer", "geheim-wachtwoord", "admin", "GM0034")  # a local account
        store.engine.dispose()
        app = create_app(make_demo_warehouse(tmp / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
        with Serving(provider.app, provider.port), ServerThread(app, port) as srv:
            srv.url = f"http://localhost:{port}"  # Secure cookies are kept for localhost over http
            srv.provider = provider
            yield srv
        app.state.data.close()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_sso_login_lands_as_mapped_role(page, sso_server):
    sso_server.provider.claims = {"sub": "ambtenaar-7", "groups": ["weefsel:GM0034:moderator"]}
    page.goto(sso_server.url + "/registratie")
    assert _axe(page) == []
    page.get_by_role("link", name="Inloggen met Almere-account").click()
    page.get_by_text("Ingelogd als").wait_for()
    assert page.url == sso_server.url + "/registratie"
    assert "(moderator, GM0034)" in page.content()
    assert _axe(page) == []
    page.goto(sso_server.url + "/registratie/moderatie")
    assert "Geen nieuwe signalen" in page.content()  # a moderator's page, not the refusal
    assert page.page_errors == []


def test_unmapped_account_gets_one_dutch_line(page, sso_server):
    sso_server.provider.claims = {"sub": "ambtenaar-8", "groups": ["afdeling-sociaal-domein"]}
    page.goto(sso_server.url + "/registratie")
    page.get_by_role("link", name="Inloggen met Almere-account").click()
    alert = page.get_by_role("alert")
    assert "geen rol in weefsel" in alert.inner_text()
    assert "Ingelogd als" not in page.content()
    assert _axe(page) == []


def test_link_local_account_under_the_real_csp(browser, sso_server):
    """A local admin links the account; then logs in through the provider with the mapped role.
    Linking starts from a form and the app's CSP (form-action 'self') must not stop the way to
    the provider, so this runs without Playwright's CSP bypass."""
    sso_server.provider.claims = {"sub": "ambtenaar-9", "groups": ["weefsel:GM0034:contributor"]}
    ctx = browser.new_context(locale="nl-NL")
    page = ctx.new_page()
    page.goto(sso_server.url + "/registratie")
    page.get_by_label("Gebruikersnaam").fill("lokaal.beheer")
    page.get_by_label("Wachtwoord").fill("geheim-wachtwoord")
    page.get_by_role("button", name="Inloggen", exact=True).click()
    page.get_by_text("Ingelogd als").wait_for()
    with page.expect_navigation(url="**/registratie/oidc/callback?**", wait_until="commit"):
        page.get_by_role("button", name="Koppel dit account aan uw Almere-account").click()
    page.wait_for_url(sso_server.url + "/registratie")
    _wait_linked("lokaal.beheer")
    assert "Ingelogd als lokaal.beheer" in page.inner_text("main")
    assert "Koppel dit account" not in page.content()
    ctx.close()
    ctx = browser.new_context(locale="nl-NL")  # a fresh browser, also under the real CSP
    page = ctx.new_page()
    page.goto(sso_server.url + "/registratie")
    page.get_by_role("link", name="Inloggen met Almere-account").click()
    page.get_by_text("Ingelogd als").wait_for()
    assert "Ingelogd als lokaal.beheer (contributor, GM0034)" in page.inner_text("main")
    ctx.close()



def _wait_linked(username: str, seconds: float = 15) -> None:
    import time

    from sqlalchemy import create_engine, select

    from weefsel.registry.oidc import oidc_users
    eng = create_engine(os.environ["WEEFSEL_REGISTRY"])
    try:
        deadline = time.time() + seconds
        while time.time() < deadline:
            with eng.connect() as c:
                if c.execute(select(oidc_users.c.oidc_subject).where(oidc_users.c.username == username)).scalar():
                    return
            time.sleep(0.1)
        raise AssertionError(f"{username} not linked after {seconds} s")
    finally:
        eng.dispose()
