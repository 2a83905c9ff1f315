"""The area profile (wijkprofiel): one function builds the data, one renders it as HTML.

The dashboard's area page and the printable document (``weefsel profile``) use the same
renderer, so what a wijkteam prints is what they saw on screen. Charts are inline SVG
with a text alternative, so the page needs no script and prints on A4.
"""

from __future__ import annotations

import html
import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from weefsel.web.charts import (age_bands, age_pyramid, fallback_trends, rank_chart,
                                reference_bars, source_name, theme_chart, theme_scores,
                                trend_chart, trend_points)
from weefsel.web.classing import fmt_nl, layer_decimals
from weefsel.analysis.trends import summarise as summarise_trend
from weefsel.indicators.reference import MISSING_NL
from weefsel.web.data import LEVEL_LABELS, WebData, clean_records
from weefsel.web.profile_registry import nearby, registry_section, render_nearby, render_registry

LEVEL_NAME = {"land": "land", "provincie": "provincie", "gemeente": "gemeente",
              "wijk": "wijk", "buurt": "buurt"}
METHOD_LINKS = [
    ("Hoe de cijfers en de index zijn gemaakt (methode)", "/methode"),
    ("CBS Kerncijfers wijken en buurten", "https://www.cbs.nl/nl-nl/reeksen/kerncijfers-wijken-en-buurten"),
    ("RIVM/GGD Gezondheidsmonitor (50090NED)", "https://statline.rivm.nl/"),
]


def build_profile(data: WebData, code: str) -> dict[str, Any]:
    """Everything the area page shows, as JSON-safe data (fields: docs/dashboard.md)."""
    area = data.area(code)
    level = area["level"]
    parents = data.parents(code)
    comparators = [p for p in parents if p["level"] in ("gemeente", "provincie", "land")]
    codes = [code] + [c["code"] for c in comparators]
    layer_ids = [lid for lid, lay in data.layers.items()
                 if lay.kind in ("indicator", "toegankelijkheid")]
    if not layer_ids:
        layer_ids = [lid for lid, lay in data.layers.items() if lay.kind == "variabele"]
    rows = data.rows_many(codes, layer_ids)
    # layer -> area -> period -> row
    grid: dict[str, dict[str, dict[str, tuple]]] = {}
    for r in rows:
        grid.setdefault(r[0], {}).setdefault(r[1], {})[str(r[2])] = r
    extra = _indicator_extra(data, codes)
    series = _trend_series(data, codes)
    indicators = []
    for lid in layer_ids:
        per_area = grid.get(lid) or {}
        mine = per_area.get(code)
        if not mine:
            continue
        lay = data.layers[lid]
        periods = sorted(p for p, r in mine.items() if r[3] is not None or r[4])
        period = periods[-1] if periods else max(mine)
        last = mine[period]
        own = extra.get((lid, code, period), {})
        value = None if last[4] else _num(last[3])
        reason = None
        if value is None:
            reason = "suppressed" if last[4] else (own.get("missing_reason") or "not_published")
        reference, comp = [], {}
        for c in comparators:
            r = per_area.get(c["code"], {}).get(period)
            ex = extra.get((lid, c["code"], period), {})
            v = None if r is None or r[4] else _num(r[3])
            comp[c["code"]] = v
            ref_reason = None
            if v is None:
                ref_reason = "suppressed" if (r is not None and r[4]) else (
                    ex.get("missing_reason") or ("not_in_build" if r is None else "not_published"))
            pts = series.get((lid, c["code"]))
            reference.append({
                "code": c["code"], "name": c["name"], "level": c["level"], "value": v,
                "lower": None if r is None else _num(r[5]),
                "upper": None if r is None else _num(r[6]),
                "period": period, "data_period": ex.get("data_period") or period,
                "suppressed": bool(r is not None and r[4]),
                "basis": ex.get("basis") if v is not None else None,
                "basis_nl": _basis_nl(ex.get("basis"), ex.get("coverage"), c["name"])
                if v is not None else None,
                "coverage": _num(ex.get("coverage")) if v is not None else None,
                "missing_reason": ref_reason, "missing_reason_nl": MISSING_NL.get(ref_reason),
                "points": [{"period": p["period"], "value": p["value"]} for p in pts[0]]
                if pts else []})
        pts = series.get((lid, code))
        if pts is None:   # a warehouse without indicator_trends: the layer's own periods
            pts = ([{"period": p, "value": _num(r[3]), "lower": _num(r[5]), "upper": _num(r[6])}
                    for p, r in sorted(mine.items()) if not r[4] and r[3] is not None],
                   area.get("vintage"))
        trend = summarise_trend(pts[0], lay.unit)
        if trend is not None:
            trend = {"indeling": _int(pts[1]), **trend}
        indicators.append({
            **data._public[lid], "period": period,
            "value": value, "suppressed": bool(last[4]),
            "lower": _num(last[5]), "upper": _num(last[6]),
            "basis": own.get("basis") if value is not None else None,
            "missing_reason": reason, "missing_reason_nl": MISSING_NL.get(reason),
            "comparators": comp, "reference": reference,
            "rank": data.rank_of(lay, level, period, code) if value is not None else None,
            "trend": trend,
        })
    _add_data_periods(data, code, indicators)
    dec = layer_decimals(data)
    for i in indicators:
        i.setdefault("decimals", dec.get(i["id"]))
    fallback_trends(data, code, indicators)
    flags = []
    flag_ids = [lid for lid, lay in data.layers.items() if lay.kind == "flag"]
    flag_rows: dict[str, dict[str, tuple]] = {}
    for r in (data.rows_many([code], flag_ids) if flag_ids else []):
        flag_rows.setdefault(r[0], {})[str(r[2])] = r
    flag_scope = _flag_scope(data, level)
    for lid in flag_ids:
        if lid not in flag_rows:
            continue
        lay = data.layers[lid]
        period = max(flag_rows[lid])
        value = _num(flag_rows[lid][period][3])
        flags.append({"id": lid, "title": lay.title, "period": period, "value": value,
                      "is_flag": lay.unit.startswith("vlag"), "unit": lay.unit,
                      "raised": bool((value or 0) > 0), "scope_nl": flag_scope})
    sources = sorted({i["source"] for i in indicators if i["source"]})
    prov_list = _provenance(data)
    return {
        "area": {k: area.get(k) for k in ("code", "name", "level", "gemeente_code", "wijk_code",
                                          "provincie_code", "vintage")},
        "parents": parents,
        "comparators": comparators,
        "indicators": indicators,
        "composite": _composite(data, code),
        "flags": flags,
        "sources": sources,
        "provenance": prov_list,
        "method_links": [{"title": t, "href": h} for t, h in METHOD_LINKS],
        "age_bands": age_bands(data, code),
        "build": data.build,
        "crisis": _crisis(data, code, level),
        "nearby": nearby(data, code),
        "register": registry_section(data, code),
    }


def _crisis(data: WebData, code: str, level: str) -> dict[str, Any] | None:
    """The "Crisisfuncties" section (weefsel crisis prepare; docs/crisis.md)."""
    from weefsel.crisis.prepare import area_section
    return area_section(data, code, level)


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _basis_nl(basis: str | None, coverage: Any, name: str) -> str | None:
    """How a reference value was obtained, in plain Dutch."""
    if basis == "published":
        return f"eigen cijfer van {name} (niet opgeteld uit de gemeenten)"
    if basis == "counts":
        cov = _num(coverage)
        part = f" ({cov:.0%} van de inwoners)".replace(".", ",") \
            if cov is not None and cov < 0.995 else ""
        return f"berekend uit de aantallen van de gemeenten in {name}{part}"
    return None


def _indicator_extra(data: WebData, codes: list[str]) -> dict[tuple, dict[str, Any]]:
    """(indicator, area, period) -> basis, coverage, missing_reason, data_period from
    indicator_values (columns feature-detected: older warehouses lack them)."""
    cols = data.columns.get("indicator_values", [])
    want = [c for c in ("basis", "coverage", "missing_reason", "data_period") if c in cols]
    if not want:
        return {}
    sel = ", ".join(f"CAST({c} AS VARCHAR)" if c != "coverage" else c for c in want)
    rows = data.cursor().execute(
        f"SELECT indicator, area_code, CAST(period AS VARCHAR), {sel} FROM indicator_values "
        "WHERE area_code IN (SELECT unnest(?))", [list(codes)]).fetchall()
    return {(r[0], r[1], r[2]): dict(zip(want, r[3:])) for r in rows}


def _trend_series(data: WebData, codes: list[str]
                  ) -> dict[tuple[str, str], tuple[list[dict], Any]]:
    """(indicator, area) -> (points, indeling) from indicator_trends (weefsel index)."""
    if "indicator_trends" not in data.tables:
        return {}
    cols = data.columns["indicator_trends"]
    ind = "indeling" if "indeling" in cols else "NULL"
    rows = data.cursor().execute(
        f"SELECT indicator, area_code, CAST(period AS VARCHAR), value, lower, upper, "
        f"coalesce(CAST(suppressed AS BOOLEAN), false), {ind} FROM indicator_trends "
        "WHERE area_code IN (SELECT unnest(?)) ORDER BY 1, 2, 3", [list(codes)]).fetchall()
    out: dict[tuple[str, str], tuple[list[dict], Any]] = {}
    for lid, c, per, v, lo, up, sup, indeling in rows:
        pts, _ = out.setdefault((lid, c), ([], indeling))
        if sup or _num(v) is None:
            continue
        pts.append({"period": per, "value": _num(v), "lower": _num(lo), "upper": _num(up)})
    return out


def _flag_scope(data: WebData, level: str) -> str:
    """The flags' reference in words: against which areas the 10% is counted."""
    from weefsel.indicators.reference import LEVEL_PLURAL, scope_name
    _, _, place = scope_name(data.areas, level)
    ref_where, ref_params = data._reference_filter("svi_results") \
        if "svi_results" in data.tables else ("", ())
    if ref_params and ref_params[0] == "province":
        place = "in de eigen provincie"
    return (f"vlag = bij de 10% meest kwetsbare {LEVEL_PLURAL.get(level, level)} {place} "
            "(percentielrang ≥ 0,90)")


def _add_data_periods(data: WebData, code: str, indicators: list[dict]) -> None:
    """indicator_values.data_period: the year the publisher's figure is from, which can be
    older than the reference period (health 2020 in a 2024 run)."""
    for i in indicators:
        i["data_period"] = i["period"]
    if "data_period" not in data.columns.get("indicator_values", []):
        return
    rows = data.cursor().execute(
        "SELECT indicator, CAST(period AS VARCHAR), CAST(data_period AS VARCHAR) "
        "FROM indicator_values WHERE area_code = ?", [code]).fetchall()
    known = {(ind, per): dp for ind, per, dp in rows if dp}
    for i in indicators:
        i["data_period"] = known.get((i["id"], i["period"]), i["period"])


def _provenance(data: WebData) -> list[dict[str, Any]]:
    """Publishers and licences of the warehouse (same for every area: computed once)."""
    if "provenance" not in data.tables:
        return []
    key = ("_provenance",)
    if key not in data.response_cache:
        prov = data.sql("SELECT DISTINCT publisher, licence, table_id FROM provenance "
                        "WHERE publisher IS NOT NULL ORDER BY 1, 3")
        data.response_cache[key] = clean_records(prov)
    return data.response_cache[key]


def _composite(data: WebData, code: str) -> dict[str, Any] | None:
    if "index_results" not in data.tables:
        return None
    cols = data.columns["index_results"]
    ref_where, ref_params = data._reference_filter("index_results")
    ref = f" AND {ref_where}" if ref_where else ""
    cur = data.cursor().execute(
        f"SELECT * FROM index_results WHERE area_code = ?{ref} ORDER BY period DESC LIMIT 1",
        [code, *ref_params])
    names = [d[0] for d in cur.description]
    hit = cur.fetchone()
    if hit is None:
        return None
    row = dict(zip(names, hit))
    level = data.area(code)["level"]
    if row.get("n_ranked"):
        n = int(row["n_ranked"])
    else:
        n = data.cursor().execute(
            f"SELECT count(*) FROM index_results WHERE CAST(period AS VARCHAR) = ?"
            f" AND area_code IN (SELECT code FROM areas WHERE level = ?){ref}",
            [str(row.get("period")), level, *ref_params]).fetchone()[0]
    out = {k: _num(row.get(k)) for k in ("composite", "rank", "rank_median", "rank_p05",
                                         "rank_p95", "n_draws") if k in cols}
    out["period"] = row.get("period")
    out["period"] = str(out.get("period"))
    out["n_areas"] = int(n)
    out["level"] = level
    out["ranked"] = out.get("rank") is not None
    reason = row.get("unranked_reason")
    out["unranked_reason"] = reason if isinstance(reason, str) else (
        None if out["ranked"] else "too_little_input")
    nl = row.get("unranked_reason_nl")
    out["unranked_reason_nl"] = nl if isinstance(nl, str) else (
        None if out["ranked"] else "niet gerangschikt: te weinig eigen cijfers")
    out["coverage"] = _num(row.get("coverage"))
    from weefsel.analysis.composite import MIN_COMPOSITE_COVERAGE
    out["min_coverage"] = round(MIN_COMPOSITE_COVERAGE, 3)
    rests = row.get("rests_on")
    out["rests_on"] = [r for r in str(rests).split(",") if r] if isinstance(rests, str) else []
    titles = {lid: lay.title for lid, lay in data.layers.items()}
    out["rests_on_titles"] = [titles.get(r, r) for r in out["rests_on"]]
    in_index = _index_indicators(data, level, out["period"])
    out["missing"] = [i for i in in_index if i not in out["rests_on"]] \
        if isinstance(rests, str) else []
    out["missing_titles"] = [titles.get(r, r) for r in out["missing"]]
    lay = data.layers.get("index:composite")
    out["rank_scope"] = data.rank_of(lay, level, out["period"], code) if lay else None
    return out


def _index_indicators(data: WebData, level: str, period: str) -> list[str]:
    """The indicators the composite of this level was built from (the union of rests_on)."""
    key = ("_index_inds", level, period)
    if key not in data.response_cache:
        ids: list[str] = []
        if "rests_on" in data.columns.get("index_results", []):
            for (r,) in data.cursor().execute(
                    "SELECT DISTINCT rests_on FROM index_results WHERE level = ? AND "
                    "CAST(period AS VARCHAR) = ?", [level, period]).fetchall():
                for i in str(r or "").split(","):
                    if i and i not in ids:
                        ids.append(i)
        order = list(data.layers)
        data.response_cache[key] = sorted(ids, key=lambda i: order.index(i) if i in order else 1e9)
    return data.response_cache[key]


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# -- formatting -------------------------------------------------------------------------------

def fmt(v: float | None, unit: str = "") -> str:
    """Dutch number formatting: decimal comma, dot for thousands."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    a = abs(v)
    if a >= 1000 or float(v).is_integer():
        s = f"{v:,.0f}"
    elif a >= 10:
        s = f"{v:,.1f}"
    else:
        s = f"{v:,.2f}".rstrip("0").rstrip(".") if a < 1 else f"{v:,.1f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".")


def e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def sparkline(trend: list[dict], unit: str, title: str, width: int = 110,
              height: int = 44) -> str:
    """A small line chart of a trend, with the numbers in its text alternative."""
    pts = [(t["period"], t["value"]) for t in trend if t["value"] is not None]
    if len(pts) < 2:
        return ""
    vals = [v for _, v in pts]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    pad_l, pad_r, pad_t, pad_b = 4, 4, 6, 14
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    xy = [(pad_l + w * i / (len(pts) - 1), pad_t + h * (1 - (v - lo) / span))
          for i, (_, v) in enumerate(pts)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy))
    desc = "; ".join(f"{p}: {fmt(v)}" for p, v in pts)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in xy)
    return (
        f'<svg class="trend" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Trend {e(title)}: {e(desc)} {e(unit)}">'
        f'<title>Trend {e(title)}: {e(desc)}</title>'
        f'<path d="{path}" fill="none" stroke="#01689b" stroke-width="2"/>'
        f'<g fill="#01689b">{dots}</g>'
        f'<text x="{pad_l}" y="{height - 2}" font-size="10" fill="#333">{e(pts[0][0])}</text>'
        f'<text x="{width - pad_r}" y="{height - 2}" font-size="10" fill="#333" '
        f'text-anchor="end">{e(pts[-1][0])}</text></svg>')


def interval_chart(comp: dict[str, Any], width: int = 480, height: int = 70) -> str:
    """The composite rank as a 90% interval on the axis 1..N (not a point)."""
    n = comp.get("n_areas") or 0
    p05, p95 = comp.get("rank_p05"), comp.get("rank_p95")
    mid = comp.get("rank") if comp.get("rank") is not None else comp.get("rank_median")
    if not n or mid is None:
        return ""
    p05 = mid if p05 is None else p05
    p95 = mid if p95 is None else p95
    left, right = 20, width - 20

    def x(r: float) -> float:
        return left + (right - left) * ((r - 1) / max(n - 1, 1))

    lvl = LEVEL_LABELS.get(comp.get("level", ""), "gebieden").lower()
    label = (f"Rang {fmt(mid)} van {n} {lvl} (90%-interval {fmt(p05)} tot {fmt(p95)}); "
             f"rang 1 is de hoogste score.")
    return (
        f'<svg class="interval" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{e(label)}"><title>{e(label)}</title>'
        f'<line x1="{left}" y1="30" x2="{right}" y2="30" stroke="#767676" stroke-width="1"/>'
        f'<rect x="{x(p05):.1f}" y="20" width="{max(x(p95) - x(p05), 3):.1f}" height="20" '
        f'fill="#8fcae7" stroke="#01689b" stroke-width="1.5" rx="3"/>'
        f'<line x1="{x(mid):.1f}" y1="14" x2="{x(mid):.1f}" y2="46" stroke="#154273" '
        f'stroke-width="3"/>'
        f'<text x="{left}" y="62" font-size="12" fill="#333">1 (hoogste score)</text>'
        f'<text x="{right}" y="62" font-size="12" fill="#333" text-anchor="end">{n}</text>'
        f'</svg>')


#: short Dutch labels for an empty cell (the API's missing_reason)
REASON_SHORT = {"not_published": "niet gepubliceerd", "suppressed": "geheim",
                "other_indeling": "andere indeling", "not_in_build": "niet in dit bestand",
                "not_at_level": "niet op dit niveau", "too_little_input": "te weinig gegevens"}


def _cell(value: float | None, reason: str | None, marker: str = "",
          decimals: int | None = None) -> str:
    if value is not None:
        return _f(value, decimals) + marker
    if reason == "suppressed":
        return '<span class="onderdrukt">geheim</span>'
    label = REASON_SHORT.get(reason or "")
    return f'– <span class="reden">{e(label)}</span>' if label else "–"


def _composite_html(c: dict[str, Any] | None) -> list[str]:
    out = ['<section aria-labelledby="h-index"><h2 id="h-index">Samengestelde index</h2>']
    if not c:
        out.append('<p>Voor dit gebied is (nog) geen samengestelde index berekend '
                   '(<code>weefsel index</code>).</p></section>')
        return out
    rests = c.get("rests_on_titles") or []
    missing = c.get("missing_titles") or []
    if c.get("ranked", c.get("rank") is not None):
        scope = (c.get("rank_scope") or {}).get("scope_nl") or \
            f"rang {fmt(c.get('rank'))} van {c.get('n_areas')}"
        out.append(
            f'<p>Score {fmt(c.get("composite"))} in {e(c.get("period"))}: {e(scope)}, met een '
            f'90%-onzekerheidsinterval van rang {fmt(c.get("rank_p05"))} tot '
            f'{fmt(c.get("rank_p95"))} ({fmt(c.get("n_draws"))} trekkingen). Het interval, niet '
            'de losse rang, is de uitkomst.</p>')
        out.append(rank_chart(c))
    else:
        out.append(f'<p class="ongerangschikt"><strong>{e(c.get("unranked_reason_nl") or "Niet gerangschikt.")}'
                   '</strong>. Een gebied krijgt alleen een score en een rang als het eigen '
                   'cijfers heeft voor minstens '
                   f'{fmt(round((c.get("min_coverage") or 2 / 3) * 100))}% van het gewicht; '
                   'ontbrekende cijfers worden niet ingevuld met een gemiddelde.</p>')
    if rests or missing:
        cov = c.get("coverage")
        rows = [f'<tr><th scope="row">Eigen cijfers ({len(rests)}'
                + (f'; {fmt(round(cov * 100))}% van het gewicht' if cov is not None else "")
                + f')</th><td>{e(", ".join(rests)) or "geen"}</td></tr>']
        if missing:
            rows.append(f'<tr><th scope="row">Zonder eigen cijfer ({len(missing)})</th>'
                        f'<td>{e(", ".join(missing))}</td></tr>')
        out.append('<table class="basis"><caption>Waar de score op rust</caption><tbody>'
                   + "".join(rows) + '</tbody></table>')
    out.append('</section>')
    return out


def _trend_html(p: dict[str, Any]) -> list[str]:
    from weefsel.analysis.trends import change_text
    rows = [i for i in p["indicators"] if i.get("trend")]
    out = ['<section aria-labelledby="h-trend"><h2 id="h-trend">Ontwikkeling</h2>']
    if not rows:
        out.append('<p>Voor dit gebied zijn geen reeksen met twee of meer jaren.</p></section>')
        return out
    indeling = next((i["trend"].get("indeling") for i in rows if i["trend"].get("indeling")), None)
    cap = "Ontwikkeling per indicator" + (f", alle jaren op de gebiedsindeling {indeling}"
                                          if indeling else "")
    out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Ontwikkeling">'
               f'<table class="trends"><caption>{e(cap)}</caption><thead><tr>'
               '<th scope="col">Indicator</th><th scope="col">Waarden per jaar</th>'
               '<th scope="col">Verandering</th><th scope="col">Marge</th></tr></thead><tbody>')
    for i in rows:
        t = i["trend"]
        pts = " · ".join(
            f'{e(x["period"])}: {fmt(x["value"])}'
            + (f' ({fmt(x["lower"])}–{fmt(x["upper"])})' if x.get("lower") is not None
               and x.get("upper") is not None else "") for x in t["points"])
        change = change_text(t, i.get("unit", "")).split(";")[0]
        mark = {True: "buiten de marge", False: "binnen de marge", None: "geen marge"}[
            t.get("exceeds_margin")]
        out.append(f'<tr><th scope="row">{e(i["title"])}</th><td>{pts}</td>'
                   f'<td>{e(change)}</td><td>{e(t.get("margin_nl") or mark)}</td></tr>')
    out.append('</tbody></table></div>')
    out.append('<p class="toelichting">Verandering = laatste min eerste jaar; per jaar = gedeeld '
               'door het aantal jaren ertussen. “Groter dan de marge”: het verschil is groter dan '
               'de gecombineerde 95%-marges van beide jaren. De RIVM-gezondheidscijfers zijn '
               'modelschattingen zonder gepubliceerde marge.</p></section>')
    return out


def render_fragment(p: dict[str, Any]) -> str:
    """The area page body (headings from h1 down), shared by dashboard and print."""
    a = p["area"]
    lvl = LEVEL_NAME.get(a["level"], a["level"])
    crumbs = " › ".join(
        f'<a href="/#/gebied/{e(c["code"])}">{e(c["name"])}</a>' for c in reversed(p["parents"]))
    out = [f'<article class="profiel" data-code="{e(a["code"])}">',
           f'<h1>{e(a["name"])} <span class="code">({e(lvl)} {e(a["code"])})</span></h1>']
    if crumbs:
        out.append(f'<p class="kruimel">Ligt in: {crumbs}</p>')
    comps = p["comparators"]

    out += _composite_html(p.get("composite"))

    # flags
    out.append('<section aria-labelledby="h-vlag"><h2 id="h-vlag">Gestapelde kwetsbaarheid</h2>')
    if p["flags"]:
        out.append('<ul class="vlaggen">')
        for f in p["flags"]:
            if f["value"] is None:
                state = "onbekend"
            elif f["is_flag"]:
                state = "ja" if f["raised"] else "nee"
            else:
                state = fmt(f['value'])
            out.append(f'<li class="vlag vlag-{state}"><span class="vlag-teken" aria-hidden="true">'
                       f'{"▲" if f["raised"] else "○"}</span> {e(f["title"])}: <strong>{state}'
                       f'</strong> ({e(f["period"])})</li>')
        out.append('</ul>')
        scope = next((f.get("scope_nl") for f in p["flags"] if f.get("scope_nl")), None)
        if scope:
            out.append(f'<p class="toelichting">{e(scope[0].upper() + scope[1:])}.</p>')
    else:
        out.append('<p>Geen kwetsbaarheidsvlaggen beschikbaar voor dit gebied.</p>')
    out.append('</section>')

    out.append(_charts_section(p))
    out.append(render_nearby(p.get("nearby")))
    out.append(render_registry(p.get("register")))

    # indicators
    out.append('<section aria-labelledby="h-ind"><h2 id="h-ind">Indicatoren in een tabel</h2>')
    if p["indicators"]:
        heads = "".join(f'<th scope="col" class="num">{e(x["name"])}</th>' for x in comps)
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Indicatoren">'
                   '<table class="indicatoren"><caption>Indicatoren van '
                   f'{e(a["name"])} naast {", ".join(e(x["name"]) for x in comps) or "—"}'
                   '</caption><thead><tr><th scope="col">Indicator</th><th scope="col">Jaar</th>'
                   f'<th scope="col" class="num">{e(a["name"])}</th>{heads}'
                   '<th scope="col" class="num">Rang</th>'
                   '<th scope="col">Trend</th><th scope="col">Bron</th></tr></thead><tbody>')
        counted = False
        scopes: list[str] = []
        for i in p["indicators"]:
            d = i.get("decimals")
            if i["suppressed"]:
                own = '<span class="onderdrukt">geheim</span>'
            elif i.get("value") is None:
                own = '–' + (f'<br><span class="reden">{e(i["missing_reason_nl"])}</span>'
                             if i.get("missing_reason_nl") else "")
            else:
                own = _cell(i["value"], i.get("missing_reason"), decimals=d)
                if i["value"] is not None and i.get("lower") is not None \
                        and i.get("upper") is not None:
                    own += f' <span class="marge">({_f(i["lower"], d)}–{_f(i["upper"], d)})</span>'
            refs = {r["code"]: r for r in i.get("reference") or []}
            cells = []
            for x in comps:
                r = refs.get(x["code"])
                if r is None:
                    cells.append(f'<td class="num">{fmt(i["comparators"].get(x["code"]))}</td>')
                    continue
                star = "*" if r.get("basis") == "counts" else ""
                counted = counted or bool(star)
                other_year = r.get("value") is not None and r.get("data_period") and \
                    str(r["data_period"]) != str(i.get("data_period") or i["period"])
                year = f' <span class="reden">({e(r["data_period"])})</span>' if other_year else ""
                cells.append(f'<td class="num">{_cell(r.get("value"), r.get("missing_reason"), star, d)}'
                             f'{year}</td>')
            rank = i.get("rank")
            rank_cell = (f'<span title="{e(rank["scope_nl"])}">{rank["rank"]} van {rank["of"]}</span>'
                         if rank else "–")
            if rank and rank.get("scope_name") and rank["scope_name"] not in scopes:
                scopes.append(rank["scope_name"])
            unit = f' <span class="eenheid">({e(i["unit"])})</span>' if i["unit"] else ""
            dirn = f'<br><span class="richting">{e(_direction(i["direction"]))}</span>' \
                if i.get("direction") else ""
            pts = (i.get("trend") or {}).get("points") or []
            out.append(f'<tr><th scope="row">{e(i["title"])}{unit}{dirn}</th>'
                       f'<td>{e(i.get("data_period") or i["period"])}</td>'
                       f'<td class="num">{own}</td>{"".join(cells)}'
                       f'<td class="num">{rank_cell}</td>'
                       f'<td>{sparkline(pts, i["unit"], i["title"])}</td>'
                       f'<td class="bron" title="{e(i["source"])}">{e(source_name(i["source"]))}</td></tr>')
        out.append('</tbody></table></div>')
        notes = ['“geheim”: door de bron onderdrukt (te weinig waarnemingen); “–”: geen waarde, '
                 'met de reden erbij. Tussen haakjes: de gepubliceerde onzekerheidsmarge, of het jaar '
                 'van een vergelijkingscijfer uit een ander jaar.']
        if counted:
            notes.append('*: berekend uit de aantallen (tellers en noemers) van de gemeenten in '
                         'dat gebied; zonder * het eigen cijfer van de bron.')
        lv_plural = {"buurt": "buurten", "wijk": "wijken", "gemeente": "gemeenten",
                     "provincie": "provincies"}.get(a["level"], "gebieden")
        if scopes:
            notes.append(f'Rang: onder de {lv_plural} in {", ".join(e(x) for x in scopes)} met '
                         'een waarde voor die indicator; 1 = gunstigst (bij indicatoren zonder '
                         'richting: 1 = hoogste waarde).')
        out.append('<p class="toelichting">' + " ".join(notes) + '</p>')
    else:
        out.append('<p>Geen indicatoren voor dit gebied.</p>')
    out.append('</section>')

    out += _trend_html(p)

    from weefsel.crisis.prepare import section_html
    out += section_html(p.get("crisis"))

    # sources
    out.append('<section aria-labelledby="h-bron"><h2 id="h-bron">Bronnen en methode</h2><ul>')
    for pr in p["provenance"]:
        tid = str(pr.get("table_id") or "")
        name = source_name(tid) if tid else ""
        label = name if name and name != tid else f'{pr.get("publisher") or ""} {tid}'.strip()
        out.append(f'<li><span title="{e(tid)}">{e(label)}</span> — licentie '
                   f'{e(pr.get("licence") or "onbekend")}</li>')
    for m in p["method_links"]:
        out.append(f'<li><a href="{e(m["href"])}">{e(m["title"])}</a></li>')
    out.append('</ul>')
    b = p.get("build") or {}
    if b:
        when = str(b.get("built_at") or b.get("created_at") or "")[:10]
        out.append(f'<p class="toelichting">Cijfers samengesteld{" op " + e(when) if when else ""}'
                   f'{" voor " + e(b.get("region")) if b.get("region") else ""}.</p>')
    out.append('</section></article>')
    return "\n".join(out)


PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-right { content: "pagina " counter(page) " van " counter(pages); font-size: 8pt;
                  font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; color: #444; } }
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 10pt; color: #1a1a1a; }
h1 { font-size: 18pt; color: #154273; margin: 0 0 4pt; }
h1 .code { font-size: 11pt; color: #444; font-weight: normal; }
h2 { font-size: 13pt; color: #154273; border-bottom: 1.5pt solid #154273; padding-bottom: 2pt;
     margin-top: 14pt; break-after: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
caption { text-align: left; font-style: italic; padding-bottom: 3pt; }
th, td { border-bottom: 0.5pt solid #bbb; padding: 2pt 3pt; vertical-align: top; text-align: left; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr { break-inside: avoid; }
/* print: numbers stay whole, but headings and "– niet gepubliceerd" may wrap, so the
   table fits the A4 width instead of running past the right margin */
@media print { th.num, td.num .reden, td.num .toelichting { white-space: normal; } }
.richting, .eenheid, .marge, .toelichting, .bron, .kruimel, .reden { color: #444; font-size: 8pt; }
.onderdrukt { background: repeating-linear-gradient(45deg,#ddd 0 3px,#fff 3px 6px); padding: 0 3pt; }
a { color: #154273; }
.vlaggen { list-style: none; padding: 0; } .vlag-ja { font-weight: bold; color: #8b1a1a; }
header.kop { border-bottom: 3pt solid #154273; margin-bottom: 8pt; padding-bottom: 4pt; }
header.kop p { margin: 0; color: #444; }
.grafieken { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6pt; }
.grafiek { border: 0.5pt solid #bbb; padding: 4pt; margin: 0; break-inside: avoid; }
.grafiek h3 { font-size: 9pt; margin: 0 0 2pt; color: #154273; }
.grafiek svg { max-width: 100%; height: auto; }
.reden { color: #444; font-style: italic; font-size: 8pt; }
.visueel-verborgen { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
svg { max-width: 100%; height: auto; }
.tabel-wrap { overflow-x: auto; }
p, li { overflow-wrap: anywhere; }
@media screen and (max-width: 40rem) { body { margin: 0 8px; } .grafieken { grid-template-columns: 1fr; } }
"""


def render_document(p: dict[str, Any]) -> str:
    """A standalone printable HTML page (A4)."""
    a = p["area"]
    today = date.today().isoformat()
    return (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
        f'<title>Wijkprofiel {e(a["name"])} ({e(a["code"])})</title>'
        f'<style>{PRINT_CSS}</style></head><body>'
        '<header class="kop"><p>weefsel — wijkprofiel sociaal weefsel · '
        f'gemaakt op {today}</p></header><main>{render_fragment(p)}</main></body></html>')


def write_profile(data: WebData, code: str, out_path: str) -> str:
    """Write the profile as .html or .pdf; returns the engine used ('html', 'weasyprint', 'chromium')."""
    from pathlib import Path
    out = Path(out_path)
    doc = render_document(build_profile(data, code))
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(doc, encoding="utf-8")
        return "html"
    if out.suffix.lower() != ".pdf":
        from weefsel.errors import InputError
        raise InputError(f"Onbekend uitvoerformaat: {out.suffix or '(geen)'}",
                         where=str(out), expected=".pdf of .html")
    tmp = out.with_name(out.name + ".tmp")
    try:
        try:
            from weasyprint import HTML
            HTML(string=doc).write_pdf(str(tmp))
            engine = "weasyprint"
        except (ImportError, OSError):
            _chromium_pdf(doc, tmp)
            engine = "chromium"
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return engine


def _chromium_pdf(doc: str, target) -> None:
    """Fallback when WeasyPrint cannot load: headless Chromium --print-to-pdf."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    if not Path(exe).exists():
        from weefsel.errors import WeefselError
        raise WeefselError("PDF maken lukt niet: WeasyPrint en Chromium ontbreken; "
                           "gebruik -o profiel.html en druk af vanuit de browser.")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "profiel.html"
        src.write_text(doc, encoding="utf-8")
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", f"--user-data-dir={d}/u",
                        "--no-pdf-header-footer", f"--print-to-pdf={target}", src.as_uri()],
                       check=True, capture_output=True, timeout=120)


def _f(v: float | None, decimals: int | None) -> str:
    return fmt(v) if decimals is None else fmt_nl(v, decimals)


def _direction(d: str) -> str:
    return {"context": "achtergrondkenmerk: hoger is niet beter of slechter"}.get(d, d)


def _trend_words(i: dict) -> str:
    pts = trend_points(i)
    if len(pts) < 2:
        return "–"
    d = i.get("decimals")
    return " → ".join(f"{p['period']}: {_f(p['value'], d)}" for p in pts)


def _charts_section(p: dict[str, Any]) -> str:
    """Charts where a person would rather look than read: each has its numbers in its text
    alternative, and the table below holds them all."""
    a = p["area"]
    out = ['<section aria-labelledby="h-beeld"><h2 id="h-beeld">In beeld</h2>',
           '<div class="grafieken">']
    themes = theme_scores(p["indicators"])
    if themes:
        ref = next((c["name"] for c in p["comparators"] if c["level"] == "provincie"), None) or \
            next((c["name"] for c in p["comparators"]), "het gebied erboven")
        out.append(f'<figure class="grafiek"><h3>Thema\'s</h3>{theme_chart(themes)}'
                   f'<figcaption class="toelichting">Op hoeveel indicatoren per thema '
                   f'{e(a["name"])} even gunstig of gunstiger is dan {e(ref)}.</figcaption></figure>')
    if p.get("age_bands"):
        out.append(f'<figure class="grafiek"><h3>Leeftijdsopbouw</h3>'
                   f'{age_pyramid(p["age_bands"], a["name"])}'
                   '<figcaption class="toelichting">Aandeel van de inwoners per leeftijdsgroep '
                   '(CBS Kerncijfers wijken en buurten).</figcaption></figure>')
    out.append('</div>')
    cards = []
    for i in p["indicators"]:
        bars = reference_bars(i, a["name"], p["comparators"])
        trend = trend_chart(i)
        if not bars and not trend and not i.get("missing_reason_nl"):
            continue
        unit = f'<span class="eenheid">{e(i["unit"])}</span>' if i.get("unit") else ""
        body = bars or (f'<p class="reden">Geen cijfer: {e(i["missing_reason_nl"])}</p>'
                        if i.get("missing_reason_nl") else "")
        if trend:
            body += f'<p class="toelichting">Verloop</p>{trend}'
        rank = i.get("rank") or {}
        if rank.get("scope_nl"):
            body += f'<p class="toelichting">{e(rank["scope_nl"])}</p>'
        cards.append(f'<figure class="grafiek" data-indicator="{e(i["id"])}"><h3>{e(i["title"])}</h3>'
                     f'{unit}{body}</figure>')
    if cards:
        out.append('<h3 class="visueel-verborgen">Per indicator</h3>')
        out.append('<div class="grafieken">' + "".join(cards) + '</div>')
    out.append('</section>')
    return "\n".join(out)
