"""Open exports of the registry's public fields and the snapshot of its counts into the warehouse.

Public means: no account ids, no submission keys, no reporter contact, no signal texts of
single reporters (signals leave only as suppressed counts or, accepted, via Open311).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from weefsel.errors import InputError
from weefsel.registry.ops import KIS_KEYS, PLACE_TYPES, THEMES, OpsStore

#: registry place type -> weefsel typology key (weefsel/sources/typology.yaml), so the places
#: are supply for `weefsel access` and the nearby list like OSM's; unmapped types keep their name
TYPOLOGY = {"buurthuis": "community_centre", "bibliotheek": "library", "sportvereniging": "sports",
            "gebedshuis": "place_of_worship", "cafe": "cafe", "speeltuin": "playground",
            "school": "school", "huisarts": "gp_practice", "zorg": "social_facility",
            "winkel": "supermarket", "park": "park"}
#: the gemeente's public responses to accepted signals (no reporter, no signal text)
RESPONSES_DDL = ("CREATE TABLE IF NOT EXISTS registry_responses (area_code VARCHAR, theme VARCHAR, "
                 "response VARCHAR, response_at VARCHAR)")

PUBLIC = {
    "initiatives": ("id", "gemeente_code", "name", "description", "area_codes", "lat", "lon", "themes",
                    "crisis_functions", "ladder_step", "contact_role", "start_date", "end_date", "status",
                    "source", "created_at"),
    "places": ("id", "gemeente_code", "name", "type", "lat", "lon", "area_code", "opening_hours", "capacity",
               "step_free", "toilet", "kis_veelzijdig", "kis_vanzelfsprekend", "kis_uitnodigend",
               "kis_toegankelijk", "programme", "source", "created_at"),
}


def public_rows(store: OpsStore, what: str) -> list[dict]:
    rows = store.initiatives() if what == "initiatives" else store.places()
    return [{k: r[k] for k in PUBLIC[what]} for r in rows]


def to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def to_geojson(rows: list[dict]) -> dict:
    feats = []
    for r in rows:
        geom = ({"type": "Point", "coordinates": [r["lon"], r["lat"]]}
                if r.get("lat") is not None else None)
        props = {k: v for k, v in r.items() if k not in ("lat", "lon")}
        feats.append({"type": "Feature", "id": r["id"], "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def open311(store: OpsStore, *, service_code: str | None = None, status: str | None = None) -> list[dict]:
    """Accepted signals as GeoReport v2 service requests ('closed' once the gemeente responded)."""
    out = []
    for s in store.signals(status="geaccepteerd"):
        st = "closed" if s["response"] else "open"
        if (service_code and s["theme"] != service_code) or (status and st != status):
            continue
        out.append({"service_request_id": str(s["id"]), "status": st, "status_notes": s["response"] or "",
                    "service_name": s["theme"], "service_code": s["theme"], "description": s["text"],
                    "agency_responsible": s["gemeente_code"], "requested_datetime": s["created_at"],
                    "updated_datetime": s["response_at"] or s["moderated_at"], "address": s["area_code"],
                    "lat": s["lat"], "long": s["lon"]})
    return out


# --- the monitor snapshot ------------------------------------------------------------------------
def _up(code: str) -> list[str]:
    """An area code and the codes above it (buurt → wijk → gemeente)."""
    out = [code]
    if code.startswith("BU"):
        out += ["WK" + code[2:8], "GM" + code[2:6]]
    elif code.startswith("WK"):
        out.append("GM" + code[2:6])
    return out


def counts(store: OpsStore, place_area: dict[int, str] | None = None) -> dict[tuple[str, str], float | None]:
    """(area code, variable) → count, rolled up buurt → wijk → gemeente; signal counts below the
    threshold are None (suppressed, not blurred)."""
    out: dict[tuple[str, str], float | None] = {}

    def add(codes, var):
        for code in {u for c in codes for u in _up(c)}:
            out[(code, var)] = (out.get((code, var)) or 0) + 1

    for i in store.initiatives():
        codes = [c for c in (i["area_codes"] or "").split(",") if c] or [i["gemeente_code"]]
        add(codes, "registry_initiatives")
    for p in store.places():
        code = [p["area_code"] or (place_area or {}).get(p["id"]) or p["gemeente_code"]]
        add(code, "registry_places")
        add(code, f"registry_places_{p['type']}")
        for k in KIS_KEYS:
            if p[f"kis_{k}"] is not None:           # asked: yes or no (NULL = not asked)
                add(code, f"registry_places_kis_{k}_bekend")
            if p[f"kis_{k}"]:
                add(code, f"registry_places_kis_{k}")
    for s in store.signals(status="geaccepteerd"):
        add([s["area_code"]], f"registry_signals_{s['theme']}")
    for key, n in list(out.items()):
        if key[1].startswith("registry_signals_") and n is not None and n < store.suppress_below:
            out[key] = None
    return out


def variable_titles() -> dict[str, tuple[str, str]]:
    """variable → (Dutch title, unit)."""
    v = {"registry_initiatives": ("Bewonersinitiatieven (register)", "aantal"),
         "registry_initiatives_per_1000": ("Bewonersinitiatieven per 1.000 inwoners (register)", "per 1.000 inwoners"),
         "registry_places": ("Ontmoetingsplekken (register)", "aantal")}
    v |= {f"registry_places_{t}": (f"Ontmoetingsplekken: {t} (register)", "aantal") for t in PLACE_TYPES}
    v |= {f"registry_places_kis_{k}": (f"Ontmoetingsplekken die {k} zijn (register, gevraagd)", "aantal")
          for k in KIS_KEYS}
    v |= {f"registry_places_kis_{k}_bekend": (f"Ontmoetingsplekken waarvan bekend is of ze {k} zijn "
                                              "(register)", "aantal") for k in KIS_KEYS}
    v |= {f"registry_signals_{t}": (f"Geaccepteerde signalen over {t} (register)", "aantal") for t in THEMES}
    return v


def snapshot(store: OpsStore, warehouse: str | Path, *, date: dt.date | None = None) -> dict:
    """Write the registry counts into the warehouse in one transaction (replacing the last snapshot).

    observations: source 'registry', period = the snapshot's year (the date itself in
    build_info.registry_snapshot and the variables' description); facilities: the meeting places
    with source 'registry' (supply for the accessibility stage)."""
    import pandas as pd
    from pyproj import Transformer

    from weefsel.warehouse.writer import write_transaction

    path = Path(warehouse)
    if not path.exists():
        raise InputError(f"warehouse {path} bestaat niet; bouw eerst met `weefsel build`")
    day = (date or dt.date.today()).isoformat()
    tr = Transformer.from_crs(4326, 28992, always_xy=True)
    all_places = store.places()
    xy = {p["id"]: tr.transform(p["lon"], p["lat"]) for p in all_places}
    # on a copy swapped in when committed (weefsel/warehouse/writer.py): works while `weefsel serve`
    # holds the warehouse open, and a failure leaves the previous warehouse as it was
    with write_transaction(path) as con:
        known = {r[0] for r in con.execute("SELECT code FROM areas").fetchall()}
        place_area = _place_in_buurt(con, {p["id"]: xy[p["id"]] for p in all_places if not p["area_code"]})
        cnt = counts(store, place_area)
        pop = dict(con.execute(
            "SELECT area_code, arg_max(value, period) FROM observations WHERE variable = 'AantalInwoners' "
            "AND breakdown = '' AND value IS NOT NULL GROUP BY area_code").fetchall())
        rows = [(code, var, val) for (code, var), val in cnt.items() if code in known]
        rows += _zeros(con, store, cnt, known)
        for (code, var), val in cnt.items():
            if var == "registry_initiatives" and code in known and pop.get(code):
                rows.append((code, "registry_initiatives_per_1000", 1000.0 * val / pop[code]))
        obs = pd.DataFrame(rows, columns=["area_code", "variable", "value"])
        # period in the warehouse's own format (a year); the exact date is in build_info/variables
        obs["period"], obs["breakdown"], obs["source"] = day[:4], "", "registry"
        titles = variable_titles()
        var = pd.DataFrame([(k, k, t, u, f"Telling uit het register op {day}", "registry", "register")
                            for k, (t, u) in titles.items()],
                           columns=["variable", "stem", "title", "unit", "description", "source_table", "topic"])
        fac = []
        for p in all_places:
            x, y = xy[p["id"]]
            tags = {k: p[f"kis_{k}"] for k in KIS_KEYS} | {"step_free": p["step_free"], "toilet": p["toilet"]}
            tags["register_type"] = p["type"]
            fac.append((f"registry:{p['id']}", TYPOLOGY.get(p["type"], p["type"]), p["name"], "registry",
                        str(p["id"]), x, y,
                        float(p["capacity"] or 1), p["area_code"] or place_area.get(p["id"]),
                        json.dumps(tags)))
        facdf = pd.DataFrame(fac, columns=["facility_id", "type", "name", "source", "source_id", "x_rd", "y_rd",
                                           "capacity", "area_code", "tags"])
        resp = pd.DataFrame(
            [(x["area_code"], x["theme"], x["response"], x["response_at"])
             for x in store.signals(status="geaccepteerd") if x["response"] and x["area_code"] in known],
            columns=["area_code", "theme", "response", "response_at"])
        _write_rows(con, obs, var, facdf, resp, day, str(store.suppress_below))
    return {"date": day, "observations": len(obs), "facilities": len(facdf),
            "skipped_unknown_areas": sum(1 for (code, _v) in cnt if code not in known)}


def _zeros(con, store: OpsStore, cnt: dict, known: set[str]) -> list[tuple[str, str, float]]:
    """Explicit zeros for counts (not signals) in the areas of the gemeenten the registry covers:
    there, no initiative recorded means 0, not 'unknown'. Elsewhere nothing is written (a gemeente
    that keeps no registry is not a gemeente without initiatives)."""
    from sqlalchemy import select

    from weefsel.registry.ops import users
    with store.engine.connect() as c:     # a gemeente with registry accounts keeps a registry
        covered = {r[0] for r in c.execute(select(users.c.gemeente_code).where(users.c.active)).all()}
    covered |= {code for (code, _v) in cnt if code.startswith("GM")}
    variables = {v for (_c, v) in cnt if not v.startswith("registry_signals_")} | {"registry_initiatives",
                                                                                  "registry_places"}
    if not covered:
        return []
    areas = con.execute("SELECT code FROM areas WHERE level IN ('gemeente', 'wijk', 'buurt') "
                        "AND ('GM' || substr(code, 3, 4)) IN (SELECT unnest(?))", [sorted(covered)]).fetchall()
    return [(code, var, 0.0) for (code,) in areas for var in sorted(variables)
            if code in known and (code, var) not in cnt]


def _place_in_buurt(con, points: dict[int, tuple[float, float]]) -> dict[int, str]:
    """place id → the buurt whose polygon (RD New) contains it, else the wijk; none where no
    polygon is known (the place then counts for its gemeente only)."""
    import shapely
    out: dict[int, str] = {}
    for level in ("buurt", "wijk"):
        ids = [i for i in points if i not in out]
        if not ids:
            break
        rows = con.execute("SELECT code, geom_rd FROM areas WHERE level = ? AND geom_rd IS NOT NULL",
                           [level]).fetchall()
        if not rows:
            continue
        codes = [r[0] for r in rows]
        tree = shapely.STRtree(shapely.from_wkb([bytes(r[1]) for r in rows]))
        hit_pt, hit_geom = tree.query(shapely.points([points[i] for i in ids]), predicate="within")
        for a, b in zip(hit_pt, hit_geom):
            out.setdefault(ids[a], codes[b])
    return out


# --- where signals and indicators diverge --------------------------------------------------------
THEME_VARIABLE = {"eenzaamheid": "Eenzaam", "gezondheid": "ErvarenGezondheidGoedZeerGoed",
                  "veiligheid": "OnveiligInBuurt", "armoede": "HuishoudensMetEenLaagInkomen"}


def divergence(store: OpsStore, warehouse: str | Path, theme: str, variable: str | None = None,
               *, level: str = "wijk", gap: float = 0.5) -> list[dict]:
    """Areas where accepted signals (per 1,000 inhabitants) and an indicator rank far apart.

    Both are turned into percentile ranks over the areas of ``level`` that have the indicator;
    an area is reported when the ranks differ by more than ``gap`` ("veel signalen, indicator
    laag" or the reverse). Counts are not published here: only the direction is."""
    import duckdb

    variable = variable or THEME_VARIABLE.get(theme)
    if not variable:
        raise InputError(f"geen indicator bij thema {theme}; geef er een op", expected="een variabele uit het warehouse")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        ind = con.execute(
            "SELECT o.area_code, arg_max(o.value, o.period) AS value FROM observations o JOIN areas a "
            "ON a.code = o.area_code WHERE o.variable = ? AND o.breakdown = '' AND a.level = ? "
            "AND o.value IS NOT NULL GROUP BY o.area_code", [variable, level]).df()
        pop = dict(con.execute(
            "SELECT area_code, arg_max(value, period) FROM observations WHERE variable='AantalInwoners' "
            "AND breakdown = '' AND value IS NOT NULL GROUP BY area_code").fetchall())
    finally:
        con.close()
    if ind.empty:
        raise InputError(f"indicator {variable} heeft geen waarden op niveau {level} in {warehouse}")
    n: dict[str, int] = {}
    for s in store.signals(status="geaccepteerd"):
        if s["theme"] == theme:
            for code in _up(s["area_code"]):
                n[code] = n.get(code, 0) + 1
    ind["signals_per_1000"] = [1000.0 * n.get(c, 0) / pop[c] if pop.get(c) else None for c in ind["area_code"]]
    ind = ind.dropna(subset=["signals_per_1000"])
    ind["rank_indicator"] = ind["value"].rank(pct=True)
    ind["rank_signals"] = ind["signals_per_1000"].rank(pct=True)
    out = []
    for r in ind.itertuples():
        d = r.rank_signals - r.rank_indicator
        if abs(d) > gap:
            out.append({"area_code": r.area_code, "theme": theme, "variable": variable,
                        "indicator_value": float(r.value), "rank_signals": round(float(r.rank_signals), 2),
                        "rank_indicator": round(float(r.rank_indicator), 2),
                        "direction_nl": ("veel signalen, indicator laag" if d > 0
                                         else "weinig signalen, indicator hoog")})
    return sorted(out, key=lambda x: -abs(x["rank_signals"] - x["rank_indicator"]))


# --- a rebuild keeps the snapshot ----------------------------------------------------------------
def carry_over(previous: str | Path, con) -> dict | None:
    """Re-apply the last registry snapshot of ``previous`` (the warehouse a build replaces) to the
    new warehouse open on ``con``, inside the build, with its own date: a rebuild never drops the
    registry's counts silently. Rows for areas the new build lacks are left out (counted).
    Returns {'date', 'observations', 'facilities', 'dropped'} or None when there was none."""
    import duckdb

    path = Path(previous)
    if not path.is_file():
        return None
    try:
        old = duckdb.connect(str(path), read_only=True)
    except Exception:   # locked or not a warehouse: the build itself says so elsewhere
        return None
    try:
        tables = {r[0] for r in old.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "build_info" not in tables:
            return None
        row = old.execute("SELECT value FROM build_info WHERE key = 'registry_snapshot'").fetchone()
        if not row:
            return None
        below = old.execute("SELECT value FROM build_info WHERE key = 'registry_suppress_below'").fetchone()
        obs = old.execute("SELECT area_code, period, variable, breakdown, value, source FROM observations "
                          "WHERE source = 'registry'").df()
        var = old.execute("SELECT variable, stem, title, unit, description, source_table, topic FROM variables "
                          "WHERE source_table = 'registry'").df()
        fac = old.execute("SELECT facility_id, type, name, source, source_id, x_rd, y_rd, capacity, area_code, "
                          "tags FROM facilities WHERE source = 'registry'").df()
        resp = (old.execute("SELECT area_code, theme, response, response_at FROM registry_responses").df()
                if "registry_responses" in tables else None)
    finally:
        old.close()
    known = {r[0] for r in con.execute("SELECT code FROM areas").fetchall()}
    keep = obs["area_code"].isin(known)
    obs = obs[keep]
    fac.loc[~fac["area_code"].isin(known), "area_code"] = None
    if resp is not None:
        resp = resp[resp["area_code"].isin(known)]
    _write_rows(con, obs, var, fac, resp, row[0], below[0] if below else None)
    return {"date": row[0], "observations": int(keep.sum()), "facilities": len(fac),
            "dropped": int((~keep).sum())}


def _write_rows(con: Any, obs: pd.DataFrame, var: pd.DataFrame, fac: pd.DataFrame,
                resp: pd.DataFrame | None, day: str, suppress_below: str | None) -> None:
    """Replace the warehouse's registry rows (observations, variables, facilities, responses,
    build_info) by these; the caller holds the transaction. One writer for a fresh snapshot and
    for the carry-over into a rebuilt warehouse, so both leave the same tables behind."""
    frames = {"reg_obs": obs, "reg_var": var, "reg_fac": fac, "reg_resp": resp}
    con.execute("DELETE FROM observations WHERE source = 'registry'")
    con.register("reg_obs", obs)
    con.execute("INSERT INTO observations (area_code, period, variable, breakdown, value, source) "
                "SELECT area_code, period, variable, breakdown, value, source FROM reg_obs")
    con.execute("DELETE FROM variables WHERE source_table = 'registry'")
    con.register("reg_var", var)
    con.execute("INSERT INTO variables (variable, stem, title, unit, description, source_table, topic) "
                "SELECT variable, stem, title, unit, description, source_table, topic FROM reg_var")
    con.execute("DELETE FROM facilities WHERE source = 'registry'")
    if len(fac):
        con.register("reg_fac", fac)
        con.execute("INSERT INTO facilities (facility_id, type, name, source, source_id, x_rd, y_rd, "
                    "capacity, area_code, tags) SELECT facility_id, type, name, source, source_id, x_rd, "
                    "y_rd, capacity, area_code, tags FROM reg_fac")
    con.execute(RESPONSES_DDL)
    con.execute("DELETE FROM registry_responses")
    if resp is not None and len(resp):
        con.register("reg_resp", resp)
        con.execute("INSERT INTO registry_responses SELECT area_code, theme, response, response_at FROM reg_resp")
    con.execute("DELETE FROM build_info WHERE key IN ('registry_snapshot', 'registry_suppress_below')")
    con.execute("INSERT INTO build_info VALUES ('registry_snapshot', ?)", [day])
    if suppress_below is not None:
        con.execute("INSERT INTO build_info VALUES ('registry_suppress_below', ?)", [suppress_below])
    for name, frame in frames.items():
        if frame is not None:
            try:
                con.unregister(name)
            except Exception:   # never registered (empty frame): nothing to undo
                pass
