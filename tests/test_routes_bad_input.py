"""Every route of the app with bad input: a 4xx answer whose ``detail`` is one Dutch line
that does not echo the (huge) input, and never a traceback or a 5xx (issue 16, item 5)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from weefsel.web.api import create_app
from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse

HUGE = "A" * 7000


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from weefsel.participation import web as pweb
    from weefsel.registry import Registry
    d = tmp_path_factory.mktemp("routes")
    pweb.set_registry(Registry(f"sqlite:///{d / 'r.sqlite'}"))
    a = create_app(make_demo_warehouse(d / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
    yield a
    a.state.data.close()
    pweb.set_registry(None)


def _api_routes(routes):
    """APIRoutes, also inside included routers (newer FastAPI keeps those wrapped)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _requests(app):
    """(method, url, kwargs) per route: path and query parameters huge or of the wrong type,
    and bodies that are garbage."""
    for route in _api_routes(app.routes):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            for bad in (HUGE, "-1"):
                path = route.path_format
                for p in route.dependant.path_params:
                    path = path.replace("{" + p.name + "}", bad)
                query = {p.alias: bad for p in route.dependant.query_params}
                kwargs = {"params": query}
                if method != "GET":
                    kwargs["data"] = {"x": HUGE}
                yield method, path, kwargs


def test_every_route_answers_bad_input_with_one_line(app):
    client = TestClient(app, raise_server_exceptions=False)
    seen, bad = 0, []
    for method, url, kwargs in _requests(app):
        r = client.request(method, url, **kwargs)
        seen += 1
        where = f"{method} {url[:60]} -> {r.status_code}"
        if r.status_code >= 500 or "Traceback" in r.text:
            bad.append(where + " " + r.text[:200])
            continue
        if r.status_code < 400:
            continue  # a lenient route may accept it (a search for "AAAA…" finds nothing)
        if r.headers.get("content-type", "").startswith("application/json"):
            detail = r.json().get("detail")
            if not isinstance(detail, str) or "\n" in detail or len(detail) > 300 \
                    or HUGE[:200] in detail:
                bad.append(where + f" detail {str(detail)[:200]!r}")
            if any(w in (detail or "") for w in ("Input should", "Field required", "String should")):
                bad.append(where + f" English pydantic text {detail[:120]!r}")
        elif HUGE[:500] in r.text:
            bad.append(where + " echoes the input")
    assert seen > 30
    assert not bad, "\n".join(bad)


def test_422_is_dutch_and_names_the_field(app):
    r = TestClient(app).get("/api/areas", params={"limit": "veel", "q": HUGE})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("Ongeldige invoer") and "limit" in detail and "geheel getal" in detail
    assert HUGE[:100] not in detail and set(r.json()) == {"detail"}


def test_404_keeps_the_real_reason(app):
    r = TestClient(app).get("/api/areas/XX99/profile")
    assert r.status_code == 404 and "XX99" in r.json()["detail"]
    assert r.json()["detail"] != "Niet gevonden"


def test_error_answers_are_in_the_openapi_schema(app):
    schema = TestClient(app).get("/openapi.json").json()
    op = schema["paths"]["/api/areas/{code}/profile"]["get"]
    for status in ("404", "422", "429", "503"):
        assert status in op["responses"], status
    err = op["responses"]["422"]["content"]["application/json"]["schema"]
    assert err["required"] == ["detail"] and err["properties"]["detail"]["type"] == "string"
