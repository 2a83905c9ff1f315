"""Registry counts in the monitor (issue 14 item 5) and the nearest buurthuis (issue 12 q4).

On the real Flevoland build with visibly labelled TEST entries in the registry (tests/registry_seed.py),
and on the real OSM sample of Amsterdam-Noord with an Amsterdam build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from registry_seed import BUURT, CONTACT, RESPONSE, seed

REG_IDS = {"initiatieven_per_1000", "ontmoetingsplekken_per_1000", "ontmoetingsplekken_buurthuis_per_1000",
           "ontmoetingsplekken_kis_uitnodigend", "ontmoetingsplekken_kis_toegankelijk",
           "signalen_eenzaamheid_per_1000"}


@pytest.fixture(scope="module")
def plain(flevoland_warehouse, tmp_path_factory) -> Path:
    """The Flevoland build without a snapshot, indexed at buurt level."""
    from weefsel.indicators.pipeline import run_index
    path = tmp_path_factory.mktemp("zonder") / "w.duckdb"
    shutil.copy(flevoland_warehouse, path)
    run_index(path, level="buurt", skip_missing=True)
    return path


@pytest.fixture(scope="module")
def snapped(flevoland_warehouse, tmp_path_factory) -> Path:
    """The same build with the TEST registry entries snapshotted, then indexed."""
    from weefsel.indicators.pipeline import run_index
    d = tmp_path_factory.mktemp("met")
    path = d / "w.duckdb"
    shutil.copy(flevoland_warehouse, path)
    seed(f"sqlite:///{d / 'reg.sqlite'}", path)
    for level in ("buurt", "gemeente"):
        run_index(path, level=level, skip_missing=True)
    return path


def _indicators(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT DISTINCT indicator FROM indicator_values "
                                          "WHERE value IS NOT NULL").fetchall()}
    finally:
        con.close()


def test_catalogue_entries_absent_without_snapshot(plain):
    assert not (_indicators(plain) & REG_IDS)


def test_catalogue_entries_present_after_snapshot(snapped):
    assert REG_IDS <= _indicators(snapped)
    con = duckdb.connect(str(snapped), read_only=True)
    got = dict(con.execute("SELECT indicator, value FROM indicator_values WHERE area_code = ?",
                           [BUURT]).fetchall())
    pop = con.execute("SELECT arg_max(value, period) FROM observations WHERE area_code = ? "
                      "AND variable = 'AantalInwoners' AND breakdown = ''", [BUURT]).fetchone()[0]
    # two test places lie in the buurt (the library lies elsewhere in Lelystad)
    assert got["ontmoetingsplekken_per_1000"] == pytest.approx(2 * 1000 / pop)
    assert got["initiatieven_per_1000"] == pytest.approx(1000 / pop)
    assert got["signalen_eenzaamheid_per_1000"] == pytest.approx(6 * 1000 / pop)
    # KIS share over places where the key was asked: toegankelijk ja 1, nee 1 -> 50 %
    assert got["ontmoetingsplekken_kis_toegankelijk"] == pytest.approx(50.0)
    # wonen: 2 signals, below the threshold -> no value anywhere
    assert "signalen_wonen_per_1000" not in _indicators(snapped)
    # elsewhere in Lelystad no initiative was entered: 0, not unknown; in Almere: unknown
    zero = con.execute("SELECT count(*) FROM indicator_values WHERE indicator = 'initiatieven_per_1000' "
                       "AND area_code LIKE 'BU0995%' AND value = 0").fetchone()[0]
    almere = con.execute("SELECT count(value) FROM indicator_values WHERE indicator = 'initiatieven_per_1000' "
                         "AND area_code LIKE 'BU0034%'").fetchone()[0]
    # the meeting places are supply typed by the weefsel typology
    types = {r[0] for r in con.execute("SELECT type FROM facilities WHERE source = 'registry'").fetchall()}
    con.close()
    assert zero > 50 and almere == 0
    assert types == {"community_centre", "playground", "library"}


def test_map_layer_source_date_and_export(snapped, tmp_path):
    from weefsel.web.api import create_app
    app = create_app(snapped)
    try:
        c = TestClient(app)
        vals = c.get("/api/map/buurt/values", params={"indicator": "ontmoetingsplekken_per_1000"})
        assert vals.status_code == 200, vals.text
        body = vals.json()
        assert body["values"][BUURT] > 0
        lay = app.state.data.layers["signalen_eenzaamheid_per_1000"]
        assert lay.direction == "context"                  # signals are context, not good/bad
        assert "momentopname 2026-11-30" in lay.source
    finally:
        app.state.data.close()
    out = tmp_path / "buurten.csv"
    r = subprocess.run([sys.executable, "-m", "weefsel", "export", "--warehouse", str(snapped),
                        "--level", "buurt", "--format", "csv", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    head = out.read_text(encoding="utf-8").splitlines()[0]
    assert "ontmoetingsplekken_per_1000" in head and "initiatieven_per_1000" in head


def test_profile_register_section(snapped, plain):
    from weefsel.web.api import create_app
    app = create_app(snapped)
    try:
        html = TestClient(app).get(f"/api/areas/{BUURT}/profile", params={"format": "html"}).text
    finally:
        app.state.data.close()
    sec = html[html.index('id="h-register"'):]
    sec = sec[:sec.index("</section>")]
    assert "momentopname van het register van 30-11-2026" in sec
    assert "Bewonersinitiatieven: <strong>1</strong>" in sec
    assert "Ontmoetingsplekken: <strong>2</strong>" in sec
    assert "<td class=\"num\">6</td>" in sec                          # eenzaamheid: 6 shown
    assert "minder dan 5" in sec                                       # wonen: 2, suppressed
    assert RESPONSE in sec                                             # the gemeente's response
    assert CONTACT not in html and "TEST signaal" not in html          # no reporter, no signal text
    app = create_app(plain)
    try:
        html = TestClient(app).get(f"/api/areas/{BUURT}/profile", params={"format": "html"}).text
    finally:
        app.state.data.close()
    assert "Geen momentopname van het register" in html


def test_nearby_on_registry_places(snapped):
    from weefsel.web.data import WebData
    from weefsel.web.profile_registry import nearby
    d = WebData(snapped)
    try:
        nb = nearby(d, BUURT)
        assert nb["nearest_community_centre"]["name"].startswith("TEST buurthuis")
        assert nb["nearest_community_centre"]["source"] == "registry"
        assert nb["detour"] == 1.3 and "geometrisch" in nb["centre_nl"]
        assert nb["within_count"] == len([w for w in nb["within"]]) or nb["within_count"] > 10
        assert all(w["walk_m"] <= 500 for w in nb["within"])
        assert {"TEST buurthuis De Proefzolder (testgegeven)", "TEST speeltuin Zandbak (testgegeven)"} \
            <= {w["name"] for w in nb["within"]}
        gm = nearby(d, "GM0995")
        assert "bevolkingsgewogen" in gm["centre_nl"]
    finally:
        d.close()


def test_nearby_gap_without_meeting_places(tmp_path):
    import pandas as pd

    from weefsel.web.data import WebData
    from weefsel.web.profile import build_profile, render_fragment
    from weefsel.warehouse.writer import create_warehouse
    path = create_warehouse(tmp_path / "w.duckdb", areas=pd.DataFrame(
        {"code": ["GM0034", "BU00340101"], "level": ["gemeente", "buurt"], "name": ["Almere", "Stad"],
         "gemeente_code": ["GM0034", "GM0034"]}))
    d = WebData(path)
    try:
        html = render_fragment(build_profile(d, "BU00340101"))
    finally:
        d.close()
    assert "geen ontmoetingsplekken in deze bouw: voeg ze toe via het register of laad osm" in html.lower()


def test_nearby_on_the_real_osm_sample(data_dir, tmp_path):
    """Amsterdam build: the real OSM sample of Amsterdam-Noord (2 community centres)."""
    out = tmp_path / "ams.duckdb"
    r = subprocess.run([sys.executable, "-m", "weefsel", "build", "--region", "amsterdam", "--data",
                        str(data_dir), "--out", str(out), "--quiet"], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path, env={**os.environ, "WEEFSEL_REGISTRY": ""})
    assert r.returncode == 0, r.stdout + r.stderr
    from weefsel.web.data import WebData
    from weefsel.web.profile_registry import nearby
    d = WebData(out)
    try:
        cc = d.sql("SELECT source_id, area_code FROM facilities WHERE type = 'community_centre' "
                   "AND source = 'osm' AND area_code LIKE 'BU%' ORDER BY source_id")
        assert len(cc) >= 2          # the sample's community/social centres (no names in the sample)
        nb = nearby(d, cc["area_code"].iloc[0])
        near = nb["nearest_community_centre"]
        assert near["source"] == "osm" and near["name"].startswith("buurthuis zonder naam (OpenStreetMap ")
        assert near["name"].split()[-1].rstrip(")") in set(cc["source_id"])
        assert near["walk_m"] < 2000 and "geometrisch" in nb["centre_nl"]
        assert nb["within_count"] >= 1 and any(w["source"] == "osm" for w in nb["within"])
    finally:
        d.close()


def test_rebuild_keeps_the_snapshot(data_dir, tmp_path):
    """A rebuild carries the last snapshot over (same date); with a registry configured it takes
    a fresh one. Both told in one line."""
    out = tmp_path / "lelystad.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "WEEFSEL_REGISTRY"}

    def build(extra_env=None):
        r = subprocess.run([sys.executable, "-m", "weefsel", "build", "--region", "lelystad", "--data",
                            str(data_dir), "--out", str(out)], capture_output=True, text=True,
                           timeout=600, cwd=tmp_path, env={**env, **(extra_env or {})})
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def state():
        con = duckdb.connect(str(out), read_only=True)
        try:
            day = con.execute("SELECT value FROM build_info WHERE key = 'registry_snapshot'").fetchone()
            n = con.execute("SELECT count(*) FROM observations WHERE source = 'registry'").fetchone()[0]
            f = con.execute("SELECT count(*) FROM facilities WHERE source = 'registry'").fetchone()[0]
            return (day[0] if day else None), n, f
        finally:
            con.close()

    build()
    assert state() == (None, 0, 0)
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    seed(url, out)
    before = state()
    assert before[0] == "2026-11-30" and before[1] > 0 and before[2] == 3
    text = build()                                    # no registry configured: carried over
    assert state() == before
    assert "overgenomen" in " ".join(text.split())
    text = build({"WEEFSEL_REGISTRY": url})           # registry configured: a fresh snapshot
    day, n, f = state()
    assert day != "2026-11-30" or n == before[1]
    assert f == 3 and n == before[1]
    assert "nieuwe momentopname" in " ".join(text.split())
