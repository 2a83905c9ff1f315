"""Two area-profile sections about places and people's entries (issue 14 item 5, issue 12 q4).

* ``registry_section``: what the registry snapshot in the warehouse says about an area
  (initiatives, meeting places with the KIS keys known/unknown, accepted signals per theme
  suppressed below the threshold, the gemeente's responses), dated by the snapshot. It reads the
  warehouse, not the live store, so the dashboard page and the printed profile agree and a
  cached profile never mixes two moments.
* ``nearby``: the nearest buurthuis and the meeting places within 500 m walking of the area's
  centre, from the warehouse's ``facilities`` (OSM, lists, the registry).
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: straight line x this = walking distance (as weefsel access, docs/accessibility.md)
DETOUR = 1.3
RADIUS_M = 500.0
SUPPRESS_BELOW = 5
NO_PLACES_NL = ("Geen ontmoetingsplekken in deze bouw: voeg ze toe via het register of laad OSM "
                "(OpenStreetMap).")
PLACEMENT_NL = {"exact": "exacte locatie", "pc6": "midden van de postcode (6 tekens)",
                "pc4": "midden van het postcodegebied (4 cijfers)"}
SOURCE_NL = {"osm": "OpenStreetMap", "registry": "register"}
THEME_NL = {"anders": "overige onderwerpen"}


def e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


@lru_cache(maxsize=1)
def typology() -> dict[str, dict]:
    """typology key -> entry of weefsel/sources/typology.yaml."""
    import yaml
    path = Path(__file__).resolve().parents[1] / "sources" / "typology.yaml"
    try:
        return dict((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("types") or {})
    except Exception:   # wording only: never take the profile down
        return {}


def _nl_number(n: float, decimals: int = 0) -> str:
    from weefsel.web.classing import fmt_nl
    return fmt_nl(n, decimals)


# -- the registry section ----------------------------------------------------------------------
def registry_section(data: Any, code: str) -> dict[str, Any]:
    """Counts of the last registry snapshot for ``code`` (None fields where not recorded)."""
    day = (data.build or {}).get("registry_snapshot")
    if not day or "observations" not in data.tables:
        return {"snapshot": None}
    rows = data.sql("SELECT variable, value FROM observations WHERE source = 'registry' "
                    "AND area_code = ? AND breakdown = ''", [code])
    vals = {str(r.variable): (None if r.value is None or np.isnan(r.value) else float(r.value))
            for r in rows.itertuples()}
    themes = sorted({str(v)[len("registry_signals_"):] for (v,) in data.cursor().execute(
        "SELECT DISTINCT variable FROM observations WHERE source = 'registry' "
        "AND variable LIKE 'registry_signals_%'").fetchall()})
    from weefsel.registry.ops import KIS_KEYS, PLACE_TYPES
    places = vals.get("registry_places")
    kis = []
    for k in KIS_KEYS:
        yes, known = vals.get(f"registry_places_kis_{k}"), vals.get(f"registry_places_kis_{k}_bekend")
        kis.append({"key": k, "ja": int(yes or 0), "bekend": int(known or 0),
                    "onbekend": int((places or 0) - (known or 0))})
    try:   # the threshold the snapshot suppressed with (the store's setting)
        below = int((data.build or {}).get("registry_suppress_below") or SUPPRESS_BELOW)
    except ValueError:
        below = SUPPRESS_BELOW
    signals = []
    for t in themes:
        n = vals.get(f"registry_signals_{t}")
        shown = n is not None and n >= below
        signals.append({"theme": t, "count": int(n) if shown else None, "suppressed": not shown,
                        "text_nl": _nl_number(n) if shown else f"minder dan {below}"})
    responses = []
    if "registry_responses" in data.tables or _has_table(data, "registry_responses"):
        digits = code[2:] if code[:2] in ("GM", "WK", "BU") else None
        if digits:
            rr = data.sql("SELECT area_code, theme, response, response_at FROM registry_responses "
                          "WHERE substr(area_code, 3) LIKE ? ORDER BY response_at DESC LIMIT 10",
                          [digits + "%"])
            responses = [{"area_code": r.area_code, "theme": r.theme, "response": r.response,
                          "date": str(r.response_at or "")[:10]} for r in rr.itertuples()]
    return {"snapshot": day, "initiatives": _int(vals.get("registry_initiatives")),
            "places": _int(places),
            "place_types": {t: int(vals[f"registry_places_{t}"]) for t in PLACE_TYPES
                            if vals.get(f"registry_places_{t}")},
            "kis": kis, "signals": signals, "responses": responses,
            "suppress_below": below}


def _has_table(data: Any, name: str) -> bool:
    return bool(data.cursor().execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                      [name]).fetchone()[0])


def _int(v: float | None) -> int | None:
    return None if v is None else int(round(v))


def render_registry(sec: dict[str, Any] | None) -> str:
    out = ['<section aria-labelledby="h-register"><h2 id="h-register">Register</h2>']
    if not sec or not sec.get("snapshot"):
        out.append('<p>Geen momentopname van het register in deze bouw. Een beheerder maakt er een met '
                   '<code>weefsel registry snapshot</code>; een nieuwe bouw neemt de laatste over.</p>'
                   '</section>')
        return "\n".join(out)
    day = sec["snapshot"]
    out.append(f'<p class="toelichting">Bron: momentopname van het register van {e(_date_nl(day))}. '
               'Het register telt wat bewoners, initiatieven en de gemeente hebben ingevoerd, niet alles '
               'wat er is.</p>')
    if sec["initiatives"] is None and sec["places"] is None and not sec["signals"]:
        out.append('<p>Voor dit gebied houdt niemand het register bij (geen gemeente met een registeraccount).'
                   '</p></section>')
        return "\n".join(out)
    out.append('<ul class="register">')
    out.append(f'<li>Bewonersinitiatieven: <strong>{e(_count(sec["initiatives"]))}</strong></li>')
    types = ", ".join(f"{e(t)} {n}" for t, n in sec["place_types"].items())
    out.append(f'<li>Ontmoetingsplekken: <strong>{e(_count(sec["places"]))}</strong>'
               f'{" (" + types + ")" if types else ""}</li></ul>')
    if sec["places"]:
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="KIS-sleutels">'
                   '<table class="register-kis"><caption>De vier KIS-sleutels van de ontmoetingsplekken '
                   '(nagevraagd, niet geraden)</caption><thead><tr><th scope="col">Sleutel</th>'
                   '<th scope="col" class="num">Ja</th><th scope="col" class="num">Bekend (ja of nee)</th>'
                   '<th scope="col" class="num">Onbekend</th></tr></thead><tbody>')
        for k in sec["kis"]:
            out.append(f'<tr><th scope="row">{e(k["key"])}</th><td class="num">{k["ja"]}</td>'
                       f'<td class="num">{k["bekend"]}</td><td class="num">{k["onbekend"]}</td></tr>')
        out.append('</tbody></table></div>')
    if sec["signals"]:
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Signalen per thema">'
                   '<table class="register-signalen"><caption>Geaccepteerde signalen per thema</caption>'
                   '<thead><tr><th scope="col">Thema</th><th scope="col" class="num">Aantal</th></tr>'
                   '</thead><tbody>')
        for s in sec["signals"]:
            out.append(f'<tr><th scope="row">{e(THEME_NL.get(s["theme"], s["theme"]))}</th>'
                       f'<td class="num">{e(s["text_nl"])}</td></tr>')
        out.append('</tbody></table></div>')
        out.append(f'<p class="toelichting">Aantallen onder {sec["suppress_below"]} staan er als '
                   f'“minder dan {sec["suppress_below"]}”, zodat niemand herkenbaar wordt.</p>')
    else:
        out.append('<p>Geen geaccepteerde signalen in het register.</p>')
    if sec["responses"]:
        out.append('<h3>Wat de gemeente met signalen deed</h3><ul class="reacties">')
        for r in sec["responses"]:
            out.append(f'<li><strong>{e(THEME_NL.get(r["theme"], r["theme"]))}</strong> '
                       f'({e(_date_nl(r["date"]))}): {e(r["response"])}</li>')
        out.append('</ul>')
    out.append('</section>')
    return "\n".join(out)


def _count(n: int | None) -> str:
    return "niet bijgehouden" if n is None else _nl_number(n)


def _date_nl(day: str) -> str:
    try:
        y, m, d = str(day)[:10].split("-")
        return f"{int(d)}-{int(m)}-{y}"
    except ValueError:
        return str(day)


# -- nearest buurthuis and meeting places within 500 m -----------------------------------------
def _inner_point(geom_wkb: Any) -> tuple[float, float]:
    """The centroid, or a point on the surface where the centroid falls outside (a crescent)."""
    import shapely
    g = shapely.from_wkb(bytes(geom_wkb))
    c = g.centroid if g.contains(g.centroid) else g.point_on_surface()
    return c.x, c.y


def _own_point(data: Any, code: str) -> tuple[float, float] | None:
    row = data.cursor().execute("SELECT geom_rd FROM areas WHERE code = ? AND geom_rd IS NOT NULL",
                                [code]).fetchone()
    return _inner_point(row[0]) if row else None


def _centre(data: Any, code: str, level: str) -> tuple[tuple[float, float] | None, str]:
    """(x, y) in RD New and how it was chosen (Dutch)."""
    if level == "buurt":
        xy = _own_point(data, code)
        return (xy, "het midden van de buurt (geometrisch)") if xy else (None, "")
    col = {"wijk": "wijk_code", "gemeente": "gemeente_code"}.get(level)
    if col is None:
        return None, ""
    rows = data.cursor().execute(
        f"SELECT a.geom_rd, p.value FROM areas a LEFT JOIN (SELECT area_code, arg_max(value, period) AS value "
        f"FROM observations WHERE variable = 'AantalInwoners' AND breakdown = '' AND value IS NOT NULL "
        f"GROUP BY area_code) p ON p.area_code = a.code WHERE a.level = 'buurt' AND a.{col} = ? "
        f"AND a.geom_rd IS NOT NULL", [code]).fetchall()
    pts = [_inner_point(geom) for geom, _pop in rows]
    w = [float(pop or 0) for _geom, pop in rows]
    if pts and sum(w) > 0:
        xy = np.average(np.asarray(pts), axis=0, weights=np.asarray(w))
        return (float(xy[0]), float(xy[1])), (f"het bevolkingsgewogen midden van de {level} "
                                              "(buurtmiddens gewogen naar inwoners)")
    xy = _own_point(data, code)
    if xy is None:
        return None, ""
    return xy, f"het midden van de {level} (geometrisch; geen inwonertallen per buurt)"


def nearby(data: Any, code: str) -> dict[str, Any] | None:
    """Nearest buurthuis and meeting places within 500 m walking of the area's centre."""
    area = data.area(code)
    if area["level"] not in ("buurt", "wijk", "gemeente") or "facilities" not in data.tables:
        return None
    types = typology()
    meeting = [k for k, v in types.items() if v.get("meeting_place")]
    cols = data.columns.get("facilities", [])
    placement = "placement" if "placement" in cols else "NULL"
    fac = data.sql(f"SELECT type, name, source, source_id, x_rd, y_rd, {placement} AS placement FROM facilities "
                   "WHERE type IN (SELECT unnest(?))", [meeting])
    base = {"detour": DETOUR, "radius_m": RADIUS_M}
    if fac.empty:
        return {**base, "empty": True, "gap_nl": NO_PLACES_NL}
    centre, how = _centre(data, code, area["level"])
    if centre is None:
        return {**base, "empty": False, "gap_nl": "Dit gebied heeft in deze bouw geen grens op de kaart, "
                "dus geen midden om vanaf te meten."}
    walk = np.hypot(fac["x_rd"].to_numpy() - centre[0], fac["y_rd"].to_numpy() - centre[1]) * DETOUR
    fac = fac.assign(walk_m=walk).sort_values("walk_m")

    def text(v: Any) -> str | None:   # pandas gives NaN for NULL
        return v.strip() if isinstance(v, str) and v.strip() else None

    def item(r) -> dict[str, Any]:
        t = types.get(r.type, {})
        src, sid, placed = text(r.source) or "", text(r.source_id), text(r.placement)
        place = PLACEMENT_NL.get(placed or "", "punt zoals ingevoerd in het register"
                                 if src == "registry" else "punt zoals de bron het gaf")
        unnamed = f"{t.get('label_nl', r.type)} zonder naam" + (
            f" ({SOURCE_NL.get(src, src)} {sid})" if sid else "")
        return {"name": text(r.name) or unnamed, "type": r.type,
                "type_nl": t.get("label_nl", r.type), "walk_m": float(r.walk_m),
                "source": src, "placement": placed,
                "source_nl": SOURCE_NL.get(src) or ("lijst " + src[4:].replace("_", " ")
                                                    if src.startswith("csv:") else src),
                "placement_nl": place}
    cc = fac[fac["type"] == "community_centre"]
    within = fac[fac["walk_m"] <= RADIUS_M]
    return {**base, "empty": False, "centre_nl": how,
            "nearest_community_centre": item(next(cc.itertuples())) if len(cc) else None,
            "within_count": int(len(within)),
            "within": [item(r) for r in within.head(10).itertuples()],
            "types_counted_nl": ", ".join(sorted(str(types[k].get("label_nl", k)) for k in meeting))}


def _m(v: float) -> str:
    return f"{_nl_number(round(v / 10) * 10)} m" if v < 10_000 else f"{_nl_number(v / 1000, 1)} km"


def render_nearby(nb: dict[str, Any] | None) -> str:
    if nb is None:
        return ""
    out = ['<section aria-labelledby="h-nabij"><h2 id="h-nabij">Buurthuis en ontmoetingsplekken dichtbij'
           '</h2>']
    if nb.get("empty") or nb.get("gap_nl"):
        out.append(f'<p class="melding">{e(nb["gap_nl"])}</p></section>')
        return "\n".join(out)
    d = _nl_number(nb["detour"], 1)
    out.append(f'<p class="toelichting">Gemeten vanaf {e(nb["centre_nl"])}. Loopafstand = hemelsbreed × '
               f'omwegfactor {d} (een schatting, geen route).</p>')
    cc = nb["nearest_community_centre"]
    if cc:
        out.append(f'<p class="nabij-buurthuis">Dichtstbijzijnde buurthuis: <strong>{e(cc["name"])}</strong>, '
                   f'ongeveer <strong>{e(_m(cc["walk_m"]))}</strong> lopen (bron: {e(cc["source_nl"])}; '
                   f'ligging: {e(cc["placement_nl"])}).</p>')
    else:
        out.append('<p class="nabij-buurthuis">Geen buurthuis in deze bouw. Voeg het toe via het register '
                   'of laad OSM (OpenStreetMap).</p>')
    n = nb["within_count"]
    out.append(f'<p class="nabij-aantal">Ontmoetingsplekken binnen {_nl_number(nb["radius_m"])} m lopen: '
               f'<strong>{n}</strong>.</p>')
    if nb["within"]:
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Ontmoetingsplekken dichtbij">'
                   f'<table class="nabij"><caption>Ontmoetingsplekken binnen {_nl_number(nb["radius_m"])} m'
                   f'{" (de eerste 10)" if n > 10 else ""}</caption><thead><tr><th scope="col">Naam</th>'
                   '<th scope="col">Soort</th><th scope="col" class="num">Lopen</th><th scope="col">Bron</th>'
                   '<th scope="col">Ligging</th></tr></thead><tbody>')
        for r in nb["within"]:
            out.append(f'<tr><th scope="row">{e(r["name"])}</th><td>{e(r["type_nl"])}</td>'
                       f'<td class="num">{e(_m(r["walk_m"]))}</td><td>{e(r["source_nl"])}</td>'
                       f'<td>{e(r["placement_nl"])}</td></tr>')
        out.append('</tbody></table></div>')
    out.append(f'<p class="toelichting">Als ontmoetingsplek tellen: {e(nb["types_counted_nl"])}.</p>')
    out.append('</section>')
    return "\n".join(out)

