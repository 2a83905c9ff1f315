"""The first map after start-up (issue 12 item 6): the first view is made before the app is
handed to the server, the other levels only after ``warm_after`` lets them; static files
come gzipped from memory under content-hash URLs that may be cached for good."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient

from weefsel.web.api import create_app
from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    return make_demo_warehouse(tmp_path_factory.mktemp("first") / "demo.duckdb")


def _values_levels(cache: dict) -> set[str]:
    return {k[1] for k in cache if isinstance(k, tuple) and k and k[0] == "values"}


def test_first_view_is_made_before_the_app_returns_and_the_rest_waits(demo_path):
    gate = threading.Event()
    asked = threading.Event()

    def warm_after() -> None:
        asked.set()
        gate.wait(30)

    app = create_app(demo_path, catalogue=DEMO_CATALOGUE, warm_after=warm_after)
    data = app.state.data
    try:
        cache = data.response_cache
        # made already: the page with /api/info in it, the indicator list, the first level
        assert ("index",) in cache and ("indicators", None) in cache
        first = _values_levels(cache)
        assert first == {"wijk"}, first
        assert ("labels", "wijk") in cache
        assert asked.wait(10)            # the background thread is waiting for its turn …
        assert _values_levels(cache) == {"wijk"}   # … and has not warmed anything else
        gate.set()
        for t in data.background:
            t.join(60)
        assert _values_levels(cache) > {"wijk"}    # now the other levels too
        # the first page and the first values are answered from what was made
        with TestClient(app) as client:
            page = client.get("/")
            assert page.status_code == 200 and 'id="weefsel-info"' in page.text
            info = client.get("/api/info").json()
            r = client.get(f"/api/map/{info['default_level']}/values")
            assert r.status_code == 200 and r.json()["meta"]["level"] == "wijk"
    finally:
        gate.set()
        data.close()


def test_static_files_gzipped_versioned_and_cacheable(demo_path):
    app = create_app(demo_path, catalogue=DEMO_CATALOGUE)
    try:
        with TestClient(app) as client:
            page = client.get("/").text
            src = re.search(r'src="(/static/vendor/maplibre-gl\.js\?v=([0-9a-f]{16}))"', page)
            assert src, "the page names MapLibre with its content hash"
            assert re.search(r'src="/static/app\.js\?v=[0-9a-f]{16}"', page)
            assert re.search(r'href="/static/style\.css\?v=[0-9a-f]{16}"', page)
            raw = client.get(src.group(1), headers={"Accept-Encoding": "identity"})
            gz = client.get(src.group(1), headers={"Accept-Encoding": "gzip"})
            assert raw.status_code == gz.status_code == 200
            assert raw.headers["content-type"].startswith("text/javascript")
            assert "immutable" in gz.headers["cache-control"]
            assert gz.headers["content-encoding"] == "gzip"
            assert int(gz.headers["content-length"]) < len(raw.content) / 2   # ~0.29 of 1.06 MB
            assert gz.content == raw.content   # httpx took the gzip off again
            # without (or with an old) version: revalidate, and 304 on a matching ETag
            plain = client.get("/static/app.js")
            assert plain.headers["cache-control"] == "no-cache"
            again = client.get("/static/app.js", headers={"If-None-Match": plain.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
            for bad in ("/static/../api.py", "/static/.hidden.js", "/static/nope.js",
                        "/static/vendor/", "/static/%2e%2e/api.py"):
                assert client.get(bad).status_code == 404, bad
            assert client.post("/static/app.js").status_code == 405
    finally:
        app.state.data.close()


def test_prime_asks_for_the_first_view_as_the_page_spells_it(demo_path):
    """`weefsel serve` primes these requests in-process before it listens: every one of them
    answers 200, and the values URL is spelled like the page's URLSearchParams (':' as %3A),
    so the browser's request is the same cache key."""
    from weefsel.web.startup import first_view_paths, prime
    app = create_app(demo_path, catalogue=DEMO_CATALOGUE)
    try:
        paths = first_view_paths(app)
        assert paths[0] == "/" and "/api/indicators" in paths
        assert any(p.startswith("/static/vendor/maplibre-gl.js?v=") for p in paths)
        values = [p for p in paths if p.startswith("/api/map/wijk/values?indicator=")]
        assert len(values) == 1 and ":" not in values[0].split("?", 1)[1]
        assert prime(app, "127.0.0.1", 8000, paths) == len(paths)
    finally:
        app.state.data.close()


def test_first_zooms_are_what_a_screen_asks_for():
    """Flevoland on a 1440x900 page was drawn from zoom-8 tiles (seen in Chromium); the whole
    country needs only coarse zooms, a small town finer ones; a bigger screen never less."""
    from weefsel.web.api import first_zooms
    flevo = first_zooms([5.12244, 52.25281, 6.01356, 52.84404])
    assert 8 in flevo and len(flevo) <= 4
    nl = first_zooms([3.3, 50.7, 7.3, 53.6])
    assert max(nl) <= 7 and min(nl) >= 4
    town = first_zooms([5.1, 52.3, 5.3, 52.4])
    assert min(town) > max(nl)
    assert list(first_zooms([0, 0, 1e-12, 1e-12])) == [14]   # a point: clamped, no error
