"""Crisis mode through its interfaces: the CLI as a subprocess, the web routes (who may
read needs), and preparedness per buurt on a hand-made warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient

from weefsel.crisis import web

NOORD = Path(__file__).resolve().parents[1].parent / "shared/data/boundaries/buurt_amsterdam_gemeente_2022_2024.geojson"
if not NOORD.exists():
    NOORD = Path("/work/shared/data/boundaries/buurt_amsterdam_gemeente_2022_2024.geojson")


def _cli(*args, env, check=True):
    r = subprocess.run([sys.executable, "-m", "weefsel", "crisis", *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.mark.skipif(not NOORD.exists(), reason="shared Amsterdam buurt polygons not on this machine")
def test_cli_end_to_end_on_amsterdam_noord(tmp_path):
    env = dict(os.environ, WEEFSEL_CRISIS_KEY_FILE=str(tmp_path / "keys" / "crisis.key"),
               WEEFSEL_REGISTRY=f"sqlite:///{tmp_path / 'reg.sqlite'}")
    env.pop("WEEFSEL_CRISIS_GEMEENTE", None)
    db = tmp_path / "crisis.sqlite"
    _cli("keygen", tmp_path / "keys" / "crisis.key", env=env)
    assert (tmp_path / "keys" / "crisis.key").stat().st_mode & 0o077 == 0
    out = _cli("demo", "--store", db, "--warehouse", NOORD, "--prefix", "BU0363N",
               "--buurten", 2, "--residents", 6, "--helpers", 5, env=env).stdout
    assert '"residents": 12' in out and "BU0363N" in out
    out = _cli("assign", "--store", db, env=env).stdout
    assert '"short": 0' in out
    out = _cli("lists", "--store", db, "--out", tmp_path / "lijsten", "--no-pdf", env=env).stdout
    assert "controlegetal" in out
    page = next((tmp_path / "lijsten").glob("bellijst_BU0363N*.html"))
    assert "synthetisch" in page.read_text().lower()
    assert _cli("verify", page, "--store", db, env=env).returncode == 0
    page.write_text(page.read_text().replace("Demo-helper", "Demo-hulp", 1))
    bad = _cli("verify", page, env=env, check=False)
    assert bad.returncode == 1 and "AFWIJKING" in bad.stdout
    # no traceback and one Dutch line without a key
    nokey = {k: v for k, v in env.items() if not k.startswith("WEEFSEL_CRISIS_KEY")}
    r = _cli("assign", "--store", db, env=nokey, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "sleutel" in r.stderr
    # roles come from the registry: an admin grants, a viewer cannot declare; names never printed
    from weefsel.registry.ops import OpsStore
    ops = OpsStore(env["WEEFSEL_REGISTRY"])
    aid = ops.create_user("beheer", "geheim-wachtwoord", "admin", "GM0363")
    ops.create_user("coco", "geheim-wachtwoord", "viewer", "GM0363",
                    actor={"id": aid, "role": "admin", "gemeente_code": "GM0363"})
    env["WEEFSEL_PASSWORD"] = "geheim-wachtwoord"
    r = _cli("declare", "storing", "--store", db, "--as", "coco", env=env, check=False)
    assert r.returncode == 2 and "coördinator" in r.stderr and "Traceback" not in r.stderr
    r = _cli("grant", "coco", "coordinator", "--as", "coco", env=env, check=False)
    assert r.returncode == 2 and "admin" in r.stderr
    grant_out = _cli("grant", "coco", "coordinator", "--as", "beheer", env=env)
    _cli("declare", "storing", "--store", db, "--as", "coco", env=env)
    end = _cli("end", "--store", db, "--as", "coco", env=env).stdout
    assert "behoeften gewist" in end
    assert "Demo-bewoner" not in out + end + grant_out.stdout
    actions = [a["action"] for a in ops.audit_log(500)]
    assert {"crisis_grant", "crisis_declare", "crisis_end", "crisis_assign",
            "crisis_print_list", "crisis_delete_need"} <= set(actions)


def test_cross_origin_form_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WEEFSEL_REGISTRY", f"sqlite:///{tmp_path / 'reg.sqlite'}")
    store = web.open_store(tmp_path / "c.sqlite", __import__("weefsel.registry.ops", fromlist=["x"])
                           .OpsStore(), key=Fernet.generate_key())
    web.set_store(store, None)
    app = FastAPI()
    app.include_router(web.crisis_router)
    c = TestClient(app, base_url="http://testserver")
    r = c.post("/crisis/aanmelden", data={"soort": "resident", "naam": "X", "adres": "Y 1",
                                          "lat": "52.39", "lon": "4.9", "toestemming": ["bezoek"]},
               headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and store.conn.execute("SELECT count(*) FROM crisis_people"
                                                       ).fetchone()[0] == 0
    r = c.post("/crisis/aanmelden", data={"soort": "resident", "naam": "Form Persoon",
                                          "adres": "Formstraat 3", "lat": "52,39", "lon": "4.93",
                                          "toestemming": ["bezoek"], "bewaren": "30"})
    assert r.status_code == 200 and 'id="bewaardatum"' in r.text and 'class="skiplink"' in r.text
    code = r.text.split('id="bewijscode">')[1].split("<")[0]
    r = c.post("/crisis/intrekken", data={"code": code})
    assert r.status_code == 200 and "gewist" in r.text
    assert c.post("/crisis/intrekken", data={"code": code}).status_code == 400
    r = c.post("/crisis/aanmelden", data={"soort": "resident", "naam": "X", "adres": "Y 1",
                                          "lat": "10", "lon": "4.9", "toestemming": ["bezoek"]})
    assert r.status_code == 400 and "Nederland" in r.text and "Traceback" not in r.text
    web.set_store(None, None)
    store.close()


def test_preparedness_finds_carrier_and_gap(tmp_path):
    from shapely import wkb

    from weefsel.crisis.prepare import export, preparedness, write_table
    from weefsel.web.demo import make_demo_warehouse

    w = make_demo_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(w))
    (code, g), *rest = con.execute("SELECT code, geom_rd FROM areas WHERE level='buurt' AND "
                                   "geom_rd IS NOT NULL ORDER BY code").fetchall()
    pt = wkb.loads(bytes(g)).representative_point()
    con.execute("DELETE FROM facilities")
    con.execute("INSERT INTO facilities (facility_id, type, name, source, x_rd, y_rd, tags) "
                "VALUES ('t:1', 'community_centre', 'Buurthuis De Test', 'test', ?, ?, "
                "'{\"backup_power\": \"ja\"}')", [pt.x, pt.y])
    con.close()
    t = preparedness(w, walk_range_m=300)
    row = t[(t.buurt_code == code) & (t.function == "communiceren_informeren")].iloc[0]
    assert row.has_carrier and "Buurthuis De Test" in row.carrier_names
    assert row.noodsteunpunt_candidates == 1 and "noodstroom ja" in row.noodsteunpunt_names
    assert not t[(t.buurt_code == code) & (t.function == "observeren_signaleren")].iloc[0].has_carrier
    # registry: a tagged initiative (by buurt code, no point) and a buurthuis with capacity
    (code2, g2) = rest[0]
    p2 = wkb.loads(bytes(g2)).representative_point()
    reg = [{"name": "Buurtapp Noord", "x": float("nan"), "y": float("nan"),
            "functions": ["informeren", "coordineren"], "area_codes": [code2]},
           {"name": "Het Anker", "x": p2.x, "y": p2.y, "functions": ["verbinden_includeren"],
            "area_codes": [], "noodsteunpunt": True, "capacity": 80}]
    t = preparedness(w, walk_range_m=300, registry_carriers=reg)
    r2 = t[t.buurt_code == code2].set_index("function")
    assert "Buurtapp Noord (register)" in r2.loc["communiceren_informeren"].carrier_names
    assert r2.loc["initieren_mobiliseren"].has_carrier
    assert "Het Anker (register)" in r2.loc["verbinden_includeren"].carrier_names
    assert "Het Anker (register; capaciteit 80, noodstroom onbekend)" in \
        r2.loc["verbinden_includeren"].noodsteunpunt_names
    assert not r2.loc["observeren_signaleren"].has_carrier
    write_table(w, t)
    con = duckdb.connect(str(w), read_only=True)
    assert con.execute("SELECT count(*) FROM crisis_preparedness").fetchone()[0] == len(t)
    n_gap = con.execute("SELECT functions_without_carrier FROM crisis_buurt WHERE area_code=?",
                        [code2]).fetchone()[0]
    con.close()
    assert n_gap == int((~r2.has_carrier).sum()) == 2
    # the map layer and the area profile section ("Crisisfuncties")
    from weefsel.web.data import WebData
    from weefsel.web.profile import build_profile, render_fragment
    data = WebData(w)
    layer = data.layers["crisis:functies_zonder_drager"]
    vals = data.values(layer).set_index("area_code").value
    assert vals[code2] == 2 and layer.direction == "hoger is slechter"
    html_ = render_fragment(build_profile(data, code2))
    sec = html_[html_.index('id="h-crisis"'):]
    assert "Buurtapp Noord" in sec and "capaciteit 80" in sec
    assert "Zonder drager: Observeren en signaleren, Dienst verlenen en herstellen." in sec
    gm = build_profile(data, data.area(code2)["gemeente_code"])["crisis"]
    assert gm["level"] == "gemeente" and gm["functions"][0]["buurten"] >= 2
    data.close()
    assert export(t, w, tmp_path / "p.geojson").stat().st_size > 0
    assert "dienst_verlenen_herstellen" in export(t, w, tmp_path / "p.csv").read_text()


def test_router_mounted_only_when_configured(monkeypatch):
    monkeypatch.delenv("WEEFSEL_CRISIS_KEY", raising=False)
    monkeypatch.delenv("WEEFSEL_CRISIS_KEY_FILE", raising=False)
    from weefsel.errors import InputError
    with pytest.raises(InputError):
        web.router
    monkeypatch.setenv("WEEFSEL_CRISIS_KEY", Fernet.generate_key().decode())
    assert web.router is web.crisis_router
