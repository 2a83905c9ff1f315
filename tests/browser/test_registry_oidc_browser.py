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
