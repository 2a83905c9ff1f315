"""Preparedness per buurt: who can carry each of the five crisis functions.

The five functions of social infrastructure in a crisis (Erasmus Universiteit, in seed
002 §1 and §2.4). A carrier is a facility from the warehouse (typology key) or a
registered initiative / meeting place tagged with the function, within walking range of
the buurt. Noodsteunpunt candidates are community centres, libraries, schools and places
of worship within range; capacity and backup power are shown where the source records them
(tags ``capacity``, ``backup_power``/``generator``), else "onbekend". Where a function has
no carrier, the row says so: that is the gap the veiligheidsregio wants to see.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from weefsel.errors import InputError

FUNCTIONS = {
    "communiceren_informeren": "Communiceren en informeren",
    "observeren_signaleren": "Observeren en signaleren",
    "verbinden_includeren": "Verbinden en includeren",
    "initieren_mobiliseren": "Initiëren en mobiliseren",
    "dienst_verlenen_herstellen": "Dienst verlenen en herstellen",
}
# which facility types can take a function on (weefsel typology keys)
FACILITY_FUNCTIONS = {
    "communiceren_informeren": ("community_centre", "library", "school", "place_of_worship"),
    "observeren_signaleren": ("gp_practice", "pharmacy", "social_facility", "elderly_care"),
    "verbinden_includeren": ("community_centre", "place_of_worship", "sports", "cafe",
                             "arts_culture", "community_garden"),
    "initieren_mobiliseren": ("community_centre", "social_facility"),
    "dienst_verlenen_herstellen": ("supermarket", "pharmacy", "gp_practice", "social_facility",
                                   "elderly_care"),
}
NOODSTEUNPUNT_TYPES = ("community_centre", "library", "school", "place_of_worship")
# registry meeting-place types (weefsel.registry.ops.PLACE_TYPES) -> functions they can carry
PLACE_FUNCTIONS = {
    "buurthuis": ("communiceren_informeren", "verbinden_includeren", "initieren_mobiliseren"),
    "bibliotheek": ("communiceren_informeren", "verbinden_includeren"),
    "gebedshuis": ("communiceren_informeren", "verbinden_includeren"),
    "school": ("communiceren_informeren",),
    "sportvereniging": ("verbinden_includeren",),
    "cafe": ("verbinden_includeren",),
    "huisarts": ("observeren_signaleren", "dienst_verlenen_herstellen"),
    "zorg": ("observeren_signaleren", "dienst_verlenen_herstellen"),
    "winkel": ("dienst_verlenen_herstellen",),
}
NOODSTEUNPUNT_PLACES = ("buurthuis", "bibliotheek", "school", "gebedshuis")
# the registry's crisis tags (issue 14) mapped onto the five functions
REGISTRY_TAGS = {
    "informeren": "communiceren_informeren",
    "ontmoeten": "verbinden_includeren",
    "hulp_bieden": "dienst_verlenen_herstellen",
    "opvang": "dienst_verlenen_herstellen",
    "coordineren": "initieren_mobiliseren",
    "signaleren": "observeren_signaleren",
}


def _shapes(path: str | Path, gemeente: str | None):
    """Buurt polygons from a GeoJSON (statcode/cbsCode, statnaam/naam), in RD."""
    import geopandas as gpd

    p = Path(path)
    if not p.is_file():
        raise InputError("buurtbestand niet gevonden", where=str(p))
    g = gpd.read_file(p)
    code = next((c for c in ("statcode", "cbsCode", "code") if c in g.columns), None)
    if code is None:
        raise InputError("geen buurtcode-kolom (statcode/cbsCode)", where=str(p))
    name = next((c for c in ("statnaam", "naam", "name") if c in g.columns), code)
    g = g[g[code].astype(str).str.startswith("BU" + (gemeente or "GM")[2:] if gemeente else "BU")]
    g = g[g.geometry.notna()].to_crs("EPSG:28992")
    return gpd.GeoDataFrame({"code": g[code].astype(str).values, "name": g[name].astype(str).values,
                             "gemeente_code": gemeente}, geometry=g.geometry.values, crs="EPSG:28992")


def _read(warehouse: str | Path, gemeente: str | None, shapes: str | Path | None = None):
    import duckdb
    import geopandas as gpd
    from shapely import wkb

    p = Path(warehouse)
    if not p.is_file():
        raise InputError("warehouse niet gevonden (eerst weefsel build)", where=str(p))
    con = duckdb.connect(str(p), read_only=True)
    try:
        q = "SELECT code, name, gemeente_code, geom_rd FROM areas WHERE level='buurt' AND geom_rd IS NOT NULL"
        args: list = []
        if gemeente:
            q += " AND gemeente_code=?"
            args.append(gemeente)
        areas = con.execute(q, args).fetchdf()
        fac = con.execute("SELECT facility_id, type, name, x_rd, y_rd, capacity, tags "
                          "FROM facilities").fetchdf()
    finally:
        con.close()
    if shapes is not None:
        return _shapes(shapes, gemeente), fac
    if areas.empty:
        raise InputError("geen buurten met een vorm in dit warehouse"
                         + (f" voor {gemeente}" if gemeente else "")
                         + "; geef buurtvormen met --shapes (bv. ../shared/geo/"
                         "buurt_2024_benaderd_national.geojson)", where=str(p))
    geoms = [wkb.loads(bytes(b)) for b in areas.pop("geom_rd")]
    return gpd.GeoDataFrame(areas, geometry=geoms, crs="EPSG:28992"), fac


def _tag(tags, *keys) -> str | None:
    try:
        t = json.loads(tags) if isinstance(tags, str) and tags else {}
    except ValueError:
        return None
    for k in keys:
        if k in t and t[k] not in (None, ""):
            return str(t[k])
    return None


def registry_carriers(ops, gemeente: str | None = None) -> list[dict]:
    """Initiatives (tagged with crisis functions) and meeting places of the registry as
    carriers: name, x, y (RD), functions, area_codes, and for meeting places of a
    noodsteunpunt type ``noodsteunpunt`` with the registered capacity (backup power is not
    registered: "onbekend"). Public fields only; no contact data."""
    import numpy as np

    from weefsel.sources.coords import wgs84_to_rd

    out: list[dict] = []
    for i in ops.initiatives(gemeente):
        if i.get("status") == "gestopt" or not i.get("crisis_functions"):
            continue
        out.append({"name": i["name"], "lat": i.get("lat"), "lon": i.get("lon"),
                    "functions": i["crisis_functions"].split(","),
                    "area_codes": [c for c in (i.get("area_codes") or "").split(",") if c]})
    for pl in ops.places(gemeente):
        out.append({"name": pl["name"], "lat": pl["lat"], "lon": pl["lon"],
                    "functions": list(PLACE_FUNCTIONS.get(pl["type"], ())),
                    "area_codes": [pl["area_code"]] if pl.get("area_code") else [],
                    "noodsteunpunt": pl["type"] in NOODSTEUNPUNT_PLACES,
                    "capacity": pl.get("capacity")})
    pts = [(k, r) for k, r in enumerate(out) if r["lat"] is not None and r["lon"] is not None]
    for r in out:
        r["x"] = r["y"] = np.nan
    if pts:
        x, y = wgs84_to_rd([r["lon"] for _, r in pts], [r["lat"] for _, r in pts])
        for (k, _), xi, yi in zip(pts, np.asarray(x), np.asarray(y)):
            out[k]["x"], out[k]["y"] = float(xi), float(yi)
    return out


def preparedness(warehouse: str | Path, *, gemeente: str | None = None,
                 walk_range_m: float = 800.0, registry_carriers: list[dict] | None = None,
                 helpers_per_buurt: dict[str, int] | None = None,
                 shapes: str | Path | None = None) -> pd.DataFrame:
    """One row per (buurt, function): carriers, noodsteunpunt candidates, gap flag.

    ``registry_carriers``: dicts with name, x, y (RD, may be NaN), functions (registry tags
    or the five keys), optionally area_codes (a carrier for those buurten even without a
    point), noodsteunpunt and capacity (see :func:`registry_carriers`).
    ``helpers_per_buurt``: counts from the crisis register (no personal data).
    """
    import geopandas as gpd

    buurten, fac = _read(warehouse, gemeente, shapes)
    fac = gpd.GeoDataFrame(fac, geometry=gpd.points_from_xy(fac.x_rd, fac.y_rd), crs="EPSG:28992")
    reg = pd.DataFrame(registry_carriers or [],
                       columns=["name", "x", "y", "functions", "area_codes", "noodsteunpunt",
                                "capacity"])
    reg["rid"] = range(len(reg))
    located = reg[reg.x.notna() & reg.y.notna()]
    reg_pts = gpd.GeoDataFrame(located, geometry=gpd.points_from_xy(located.x, located.y),
                               crs="EPSG:28992")
    zone = buurten.copy()
    zone["geometry"] = buurten.buffer(walk_range_m)
    near = gpd.sjoin(fac, zone[["code", "geometry"]], predicate="within")
    # registry entries near a buurt: within walking range of its polygon, or tagged with its code
    pairs = set()
    if len(reg_pts):
        j = gpd.sjoin(reg_pts, zone[["code", "geometry"]], predicate="within")
        pairs |= set(zip(j["rid"], j["code"]))
    for rid, codes in zip(reg["rid"], reg["area_codes"]):
        pairs |= {(rid, c) for c in (codes if isinstance(codes, list) else [])}
    reg_by_buurt: dict[str, list[int]] = {}
    for rid, c in sorted(pairs):
        reg_by_buurt.setdefault(c, []).append(rid)
    rows = []
    for b in buurten.itertuples():
        here = near[near.code == b.code]
        cand = here[here["type"].isin(NOODSTEUNPUNT_TYPES)]
        cand_txt = [
            f"{n or t} (capaciteit {_tag(tg, 'capacity') or 'onbekend'}, noodstroom "
            f"{_tag(tg, 'backup_power', 'generator') or 'onbekend'})"
            for n, t, tg in zip(cand["name"], cand["type"], cand["tags"])]
        mine = reg.iloc[reg_by_buurt.get(b.code, [])]
        for n, nsp, cap in zip(mine["name"], mine["noodsteunpunt"], mine["capacity"]):
            if nsp is True:
                cap_txt = "onbekend" if cap is None or pd.isna(cap) else str(int(cap))
                cand_txt.append(f"{n} (register; capaciteit {cap_txt}, noodstroom onbekend)")
        for key, label in FUNCTIONS.items():
            f_here = here[here["type"].isin(FACILITY_FUNCTIONS[key])]
            names = sorted({str(n or t) for n, t in zip(f_here["name"], f_here["type"])})
            for n, fs in zip(mine["name"], mine["functions"]):
                mapped = {REGISTRY_TAGS.get(f, f) for f in (fs or [])}
                if key in mapped:
                    names.append(f"{n} (register)")
            helpers = (helpers_per_buurt or {}).get(b.code, 0)
            if key == "observeren_signaleren" and helpers:
                names.append(f"{helpers} buurthelpers (crisisregister)")
            rows.append({
                "buurt_code": b.code, "buurt_name": b.name, "function": key, "function_nl": label,
                "carriers": len(names), "carrier_names": "; ".join(names[:12]),
                "noodsteunpunt_candidates": len(cand_txt),
                "noodsteunpunt_names": "; ".join(cand_txt[:8]),
                "has_carrier": bool(names), "walk_range_m": walk_range_m,
            })
    return pd.DataFrame(rows)


def per_buurt(table: pd.DataFrame) -> pd.DataFrame:
    """One row per buurt for the map: how many of the five functions lack a carrier, and
    how many noodsteunpunt candidates lie within walking distance (table ``crisis_buurt``)."""
    t = table.assign(gap=(~table.has_carrier.astype(bool)).astype(int))
    g = t.groupby("buurt_code", as_index=False).agg(
        functions_without_carrier=("gap", "sum"),
        noodsteunpunt_candidates=("noodsteunpunt_candidates", "first"))
    return g.rename(columns={"buurt_code": "area_code"}).astype(
        {"functions_without_carrier": int, "noodsteunpunt_candidates": int})


def write_table(warehouse: str | Path, table: pd.DataFrame) -> None:
    """Replace ``crisis_preparedness`` and the map's ``crisis_buurt`` in one transaction."""
    from weefsel.warehouse.writer import write_transaction

    # on a copy swapped in when committed: works while `weefsel serve` holds the warehouse open
    with write_transaction(warehouse) as con:
        con.register("prep", table)
        con.register("prep_buurt", per_buurt(table))
        con.execute("CREATE OR REPLACE TABLE crisis_preparedness AS SELECT * FROM prep")
        con.execute("CREATE OR REPLACE TABLE crisis_buurt AS SELECT * FROM prep_buurt")


def map_layers(layer_cls) -> dict:
    """Map layers over ``crisis_buurt`` (the dashboard's WebData adds them when the table is
    there): functions without a carrier (0-5, higher is worse) and noodsteunpunt candidates."""
    src = "weefsel crisis prepare (register, voorzieningen)"
    return {
        "crisis:functies_zonder_drager": layer_cls(
            id="crisis:functies_zonder_drager",
            title="Crisisfuncties zonder drager (van de vijf)", unit="aantal functies (0-5)",
            unit_en="number of crisis functions (0-5) without a carrier",
            direction="hoger is slechter", source=src, theme="crisis", kind="crisis",
            table="crisis_buurt", column="functions_without_carrier"),
        "crisis:noodsteunpunten": layer_cls(
            id="crisis:noodsteunpunten",
            title="Kandidaat-noodsteunpunten op loopafstand", unit="aantal plekken",
            unit_en="number of noodsteunpunt candidates within walking range",
            direction="hoger is beter", source=src, theme="crisis", kind="crisis",
            table="crisis_buurt", column="noodsteunpunt_candidates"),
    }


def area_section(data, code: str, level: str) -> dict | None:
    """The "Crisisfuncties" section of an area profile from ``crisis_preparedness``: for a
    buurt the carriers, candidates and gaps per function; for a wijk or gemeente how many of
    its buurten lack a carrier per function. None when no preparedness was computed."""
    if "crisis_preparedness" not in getattr(data, "tables", ()):
        return None
    if level == "buurt":
        df = data.sql("SELECT * FROM crisis_preparedness WHERE buurt_code = ? ORDER BY function",
                      [code])
        if df.empty:
            return None
        order = list(FUNCTIONS)
        df = df.assign(o=df.function.map(order.index)).sort_values("o")
        return {"level": "buurt", "walk_range_m": float(df.walk_range_m.iloc[0]),
                "noodsteunpunten": str(df.noodsteunpunt_names.iloc[0] or ""),
                "noodsteunpunt_count": int(df.noodsteunpunt_candidates.iloc[0]),
                "functions": [{"function": r.function, "function_nl": r.function_nl,
                               "carriers": int(r.carriers), "carrier_names": r.carrier_names or "",
                               "has_carrier": bool(r.has_carrier)} for r in df.itertuples()]}
    col = {"wijk": "wijk_code", "gemeente": "gemeente_code"}.get(level)
    if col is None:
        return None
    df = data.sql(f"SELECT p.function, p.function_nl, count(*) AS buurten, "
                  f"sum(CASE WHEN p.has_carrier THEN 0 ELSE 1 END) AS zonder "
                  f"FROM crisis_preparedness p JOIN areas a ON a.code = p.buurt_code "
                  f"WHERE a.{col} = ? GROUP BY 1, 2", [code])
    if df.empty:
        return None
    order = list(FUNCTIONS)
    df = df.assign(o=df.function.map(order.index)).sort_values("o")
    return {"level": level, "functions": [
        {"function": r.function, "function_nl": r.function_nl, "buurten": int(r.buurten),
         "without": int(r.zonder)} for r in df.itertuples()]}


def section_html(sec: dict | None) -> list[str]:
    """HTML of the section for the area page and the printed profile (Dutch, plain)."""
    from html import escape as esc

    if not sec:
        return []
    out = ['<section aria-labelledby="h-crisis"><h2 id="h-crisis">Crisisfuncties</h2>',
           '<p class="toelichting">Wie kan bij een lange stroom- of telefoonstoring de vijf '
           'functies van de sociale infrastructuur dragen (Erasmus Universiteit; bron: '
           'voorzieningen en het register van initiatieven en ontmoetingsplekken).</p>']
    if sec["level"] == "buurt":
        rng = int(sec["walk_range_m"])
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Crisisfuncties">'
                   '<table><thead><tr><th scope="col">Functie</th><th scope="col">Dragers '
                   f'(binnen {rng} m)</th></tr></thead><tbody>')
        for f in sec["functions"]:
            who = esc(f["carrier_names"]) if f["has_carrier"] else \
                '<strong>geen drager</strong>'
            out.append(f'<tr><th scope="row">{esc(f["function_nl"])}</th><td>{who}</td></tr>')
        out.append('</tbody></table></div>')
        gaps = [f["function_nl"] for f in sec["functions"] if not f["has_carrier"]]
        out.append("<p>Zonder drager: " + (esc(", ".join(gaps)) if gaps else "geen") + ".</p>")
        nsp = sec["noodsteunpunten"] or "geen bekend"
        out.append(f'<p>Kandidaat-noodsteunpunten op loopafstand ({sec["noodsteunpunt_count"]}): '
                   f'{esc(nsp)}. Capaciteit en noodstroom staan er bij als de bron ze noemt, '
                   f'anders "onbekend".</p>')
    else:
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Crisisfuncties">'
                   '<table><thead><tr><th scope="col">Functie</th><th scope="col" class="num">'
                   'Buurten zonder drager</th></tr></thead><tbody>')
        for f in sec["functions"]:
            out.append(f'<tr><th scope="row">{esc(f["function_nl"])}</th><td class="num">'
                       f'{f["without"]} van {f["buurten"]}</td></tr>')
        out.append('</tbody></table></div>')
    out.append('</section>')
    return out


def export(table: pd.DataFrame, warehouse: str | Path, out: str | Path,
           shapes: str | Path | None = None) -> Path:
    """CSV or GeoJSON (buurt polygons in WGS84, one feature per buurt, a column per function)."""
    p = Path(out)
    if p.suffix.lower() == ".csv":
        table.to_csv(p, index=False)
        return p
    if p.suffix.lower() not in (".geojson", ".json"):
        raise InputError("exporteer naar .csv of .geojson", where=str(p))
    buurten, _ = _read(warehouse, None, shapes)
    wide = table.pivot_table(index="buurt_code", columns="function", values="carriers",
                             aggfunc="first").add_prefix("carriers_")
    gaps = table[~table.has_carrier].groupby("buurt_code").function.apply(lambda s: ",".join(s))
    g = buurten.merge(wide, left_on="code", right_index=True)
    g["gaps"] = g.code.map(gaps).fillna("")
    g["noodsteunpunt_candidates"] = g.code.map(
        table.groupby("buurt_code").noodsteunpunt_candidates.first())
    g.to_crs("EPSG:4326").to_file(p, driver="GeoJSON")
    return p
