"""``weefsel registry`` as a subprocess, and the snapshot of counts into a warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from argon2 import PasswordHasher
from registry_backends import pg_server, registry_url  # noqa: F401

from weefsel.registry.export import snapshot
from weefsel.registry.ops import OpsStore

SCHEMA = Path(__file__).resolve().parents[1] / "weefsel" / "warehouse" / "schema.sql"


def _cli(*args, env=None, url=None):
    e = {**os.environ, **(env or {})}
    if url:
        e["WEEFSEL_REGISTRY"] = url
    return subprocess.run([sys.executable, "-m", "weefsel", "registry", *args], capture_output=True,
                          text=True, env=e, timeout=120)


def test_cli_migrate_reports_versions(registry_url):
    """One store: ``registry migrate`` applies registry and burgerbegroting migrations and lists them."""
    r = _cli("migrate", "--url", registry_url)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("nu toegepast: 1, 2, 3")
    listed = [int(x.split()[0]) for x in lines[1:]]
    assert listed[:3] == [1, 2, 3] and listed == sorted(listed)
    assert "burgerbegroting" in lines[3]
    r = _cli("migrate", url=registry_url)               # WEEFSEL_REGISTRY, read at run time
    assert r.returncode == 0 and r.stdout.startswith("nu toegepast: geen"), r.stdout + r.stderr
    from weefsel.registry import Registry
    reg = Registry(registry_url)                        # the begroting needs nothing more
    assert reg.create_process("Na migrate", "100")[0] == 1
    reg.engine.dispose()


def test_cli_first_admin_import_export(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    r = _cli("create-admin", "beheer", "GM0034", env={"WEEFSEL_ADMIN_PASSWORD": "lang-genoeg-1"}, url=url)
    assert r.returncode == 0, r.stderr
    assert "beheerder beheer aangemaakt" in r.stdout
    r = _cli("create-admin", "tweede", "GM0034", env={"WEEFSEL_ADMIN_PASSWORD": "lang-genoeg-1"}, url=url)
    assert r.returncode == 2 and "alleen een beheerder" in r.stderr and "Traceback" not in r.stderr
    csv_file = tmp_path / "plekken.csv"
    csv_file.write_text("naam,lat,lon\nBuurthuis A,52.37,5.21\nBuurthuis a,52.3701,5.2101\nBieb,52.38,5.22\n",
                        encoding="utf-8")
    r = _cli("import-places", str(csv_file), "--as", "beheer", "--type", "buurthuis",
             env={"WEEFSEL_PASSWORD": "lang-genoeg-1"}, url=url)
    assert r.returncode == 0, r.stderr
    assert "2 plekken toegevoegd, 1 dubbel" in r.stdout
    bad = tmp_path / "fout.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}, "properties": {"name": "x"}}]}))
    r = _cli("import-places", str(bad), "--as", "beheer", "--type", "park",
             env={"WEEFSEL_PASSWORD": "lang-genoeg-1"}, url=url)
    assert r.returncode == 2 and "geen punt-geometrie" in r.stderr
    out = tmp_path / "plekken.geojson"
    r = _cli("export", "places", str(out), url=url)
    assert r.returncode == 0 and len(json.loads(out.read_text())["features"]) == 2
    gpkg = tmp_path / "plekken.gpkg"
    r = _cli("export", "places", str(gpkg), url=url)
    assert r.returncode == 0, r.stderr
    import pyogrio
    df = pyogrio.read_dataframe(gpkg)
    assert sorted(df["name"]) == ["Bieb", "Buurthuis A"] and "created_by" not in df.columns


def _warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute(SCHEMA.read_text())
    con.execute("INSERT INTO areas (code, level, name, gemeente_code) VALUES "
                "('GM0034','gemeente','Almere','GM0034'), ('WK003401','wijk','Stad','GM0034'), "
                "('BU00340101','buurt','A','GM0034'), ('BU00340102','buurt','B','GM0034')")
    con.execute("INSERT INTO observations (area_code, period, variable, value, source) VALUES "
                "('BU00340101','2024','AantalInwoners',2000,'85984NED'), "
                "('GM0034','2024','AantalInwoners',220000,'85984NED')")
    con.close()
    return path


def test_snapshot_counts_into_warehouse(registry_url, tmp_path):
    s = OpsStore(registry_url, suppress_below=2, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    s.create_user("beheer", "geheim-wachtwoord", "admin", "GM0034")
    u = s.session_user(s.login("beheer", "geheim-wachtwoord")[0])
    for name in ("Moestuin", "Repaircafé", "Taalmaatjes"):
        s.add_initiative(u, {"name": name, "area_codes": "BU00340101"})
    s.add_place(u, {"name": "De Schakel", "type": "buurthuis", "lat": 52.37, "lon": 5.21,
                    "area_code": "BU00340101", "kis_uitnodigend": "ja", "capacity": 40})
    for i in range(3):
        sid, _ = s.add_signal(None, {"area_code": "BU00340101", "theme": "eenzaamheid", "text": f"s{i}"})
        s.moderate(u, sid, "geaccepteerd")
    sid, _ = s.add_signal(None, {"area_code": "BU00340102", "theme": "eenzaamheid", "text": "een"})
    s.moderate(u, sid, "geaccepteerd")
    wh = _warehouse(tmp_path / "w.duckdb")
    import datetime as dt
    res = snapshot(s, wh, date=dt.date(2026, 11, 30))
    res2 = snapshot(s, wh, date=dt.date(2026, 11, 30))  # replaces, never doubles
    assert res == res2
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT DISTINCT period FROM observations WHERE source='registry'").fetchall() == [("2026",)]
    got = {(a, v): val for a, v, val in con.execute(
        "SELECT area_code, variable, value FROM observations WHERE source='registry'").fetchall()}
    assert got[("BU00340101", "registry_initiatives_per_1000")] == pytest.approx(1.5)
    assert got[("GM0034", "registry_initiatives")] == 3
    assert got[("WK003401", "registry_places_kis_uitnodigend")] == 1
    assert got[("BU00340101", "registry_signals_eenzaamheid")] == 3
    assert got[("BU00340102", "registry_signals_eenzaamheid")] is None  # suppressed, not blurred
    assert got[("GM0034", "registry_signals_eenzaamheid")] == 4
    fac = con.execute("SELECT facility_id, type, source, capacity, x_rd FROM facilities").fetchall()
    assert fac[0][:4] == ("registry:1", "community_centre", "registry", 40.0) and 140_000 < fac[0][4] < 160_000
    assert con.execute("SELECT value FROM build_info WHERE key='registry_snapshot'").fetchone()[0] == "2026-11-30"
    assert con.execute("SELECT count(*) FROM observations WHERE source='85984NED'").fetchone()[0] == 2
    con.close()


def test_snapshot_while_a_server_holds_the_warehouse(registry_url, tmp_path):
    """`weefsel serve` keeps the warehouse open read-only in its own process; a snapshot then
    writes a copy and swaps it in, like `weefsel index` (a direct write would hit DuckDB's lock)."""
    import subprocess
    import sys
    s = OpsStore(registry_url, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    s.create_user("beheer", "geheim-wachtwoord", "admin", "GM0034")
    u = s.session_user(s.login("beheer", "geheim-wachtwoord")[0])
    s.add_initiative(u, {"name": "Moestuin", "area_codes": "BU00340101"})
    wh = _warehouse(tmp_path / "w.duckdb")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               "c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); "
                               "time.sleep(60)", str(wh)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        snapshot(s, wh)
    finally:
        holder.kill()
        holder.wait()
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT value FROM observations WHERE source='registry' AND area_code='GM0034' "
                       "AND variable='registry_initiatives'").fetchone()[0] == 1
    con.close()


def test_divergence_report(tmp_path):
    from weefsel.registry.export import divergence
    s = OpsStore(f"sqlite:///{tmp_path / 'r.sqlite'}", password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    s.create_user("beheer", "geheim-wachtwoord", "admin", "GM0034")
    u = s.session_user(s.login("beheer", "geheim-wachtwoord")[0])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(SCHEMA.read_text())
    rows = [(f"WK0034{i:02d}", 30.0 + i) for i in range(1, 11)]  # loneliness rises with the wijk number
    con.executemany("INSERT INTO areas (code, level, gemeente_code) VALUES (?, 'wijk', 'GM0034')", [[c] for c, _ in rows])
    con.executemany("INSERT INTO observations (area_code, period, variable, value, source) VALUES (?, '2020', 'Eenzaam', ?, 'x')", rows)
    con.executemany("INSERT INTO observations (area_code, period, variable, value, source) VALUES (?, '2024', 'AantalInwoners', 1000, 'x')", [[c] for c, _ in rows])
    con.close()
    for i in range(6):  # many loneliness signals in the wijk with the least loneliness
        sid, _ = s.add_signal(None, {"area_code": "WK003401", "theme": "eenzaamheid", "text": f"alleen {i}"})
        s.moderate(u, sid, "geaccepteerd")
    out = divergence(s, tmp_path / "w.duckdb", "eenzaamheid")
    assert out[0]["area_code"] == "WK003401" and out[0]["direction_nl"] == "veel signalen, indicator laag"
    assert all(r["area_code"] != "WK003405" for r in out)
    with pytest.raises(Exception, match="geen indicator"):
        divergence(s, tmp_path / "w.duckdb", "jeugd")
