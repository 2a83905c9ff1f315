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
# the registry's crisis tags (issue 14) mapped onto the five functions
REGISTRY_TAGS = {
    "informeren": "communiceren_informeren",
    "ontmoeten": "verbinden_includeren",
    "hulp_bieden": "dienst_verlenen_herstellen",
    "opvang": "dienst_verlenen_herstellen",
    "coordineren": "initieren_mobiliseren",
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


def preparedness(warehouse: str | Path, *, gemeente: str | None = None,
                 walk_range_m: float = 800.0, registry_carriers: list[dict] | None = None,
                 helpers_per_buurt: dict[str, int] | None = None,
                 shapes: str | Path | None = None) -> pd.DataFrame:
    """One row per (buurt, function): carriers, noodsteunpunt candidates, gap flag.

    ``registry_carriers``: dicts with name, x, y (RD) and functions (registry tags or the
    five keys). ``helpers_per_buurt``: counts from the crisis register (no personal data).
    """
    import geopandas as gpd

    buurten, fac = _read(warehouse, gemeente, shapes)
    fac = gpd.GeoDataFrame(fac, geometry=gpd.points_from_xy(fac.x_rd, fac.y_rd), crs="EPSG:28992")
    reg = pd.DataFrame(registry_carriers or [], columns=["name", "x", "y", "functions"])
    reg = gpd.GeoDataFrame(reg, geometry=gpd.points_from_xy(reg.x, reg.y), crs="EPSG:28992")
    zone = buurten.copy()
    zone["geometry"] = buurten.buffer(walk_range_m)
    near = gpd.sjoin(fac, zone[["code", "geometry"]], predicate="within")
    near_reg = gpd.sjoin(reg, zone[["code", "geometry"]], predicate="within") if len(reg) else None
    rows = []
    for b in buurten.itertuples():
        here = near[near.code == b.code]
        cand = here[here["type"].isin(NOODSTEUNPUNT_TYPES)]
        cand_txt = [
            f"{n or t} (capaciteit {_tag(tg, 'capacity') or 'onbekend'}, noodstroom "
            f"{_tag(tg, 'backup_power', 'generator') or 'onbekend'})"
            for n, t, tg in zip(cand["name"], cand["type"], cand["tags"])]
        for key, label in FUNCTIONS.items():
            f_here = here[here["type"].isin(FACILITY_FUNCTIONS[key])]
            names = sorted({str(n or t) for n, t in zip(f_here["name"], f_here["type"])})
            if near_reg is not None:
                r_here = near_reg[near_reg.code == b.code]
                for n, fs in zip(r_here["name"], r_here["functions"]):
                    mapped = {REGISTRY_TAGS.get(f, f) for f in (fs or [])}
                    if key in mapped:
                        names.append(f"{n} (register)")
            helpers = (helpers_per_buurt or {}).get(b.code, 0)
            if key == "observeren_signaleren" and helpers:
                names.append(f"{helpers} buurthelpers (crisisregister)")
            rows.append({
                "buurt_code": b.code, "buurt_name": b.name, "function": key, "function_nl": label,
                "carriers": len(names), "carrier_names": "; ".join(names[:12]),
                "noodsteunpunt_candidates": len(cand), "noodsteunpunt_names": "; ".join(cand_txt[:8]),
                "has_carrier": bool(names), "walk_range_m": walk_range_m,
            })
    return pd.DataFrame(rows)


def write_table(warehouse: str | Path, table: pd.DataFrame) -> None:
    """Replace ``crisis_preparedness`` in the warehouse in one transaction."""
    import duckdb

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("BEGIN")
        con.register("prep", table)
        con.execute("CREATE OR REPLACE TABLE crisis_preparedness AS SELECT * FROM prep")
        con.execute("COMMIT")
    finally:
        con.close()


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
