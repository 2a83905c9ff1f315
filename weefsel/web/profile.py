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
from weefsel.web.data import LEVEL_LABELS, WebData, clean_records

LEVEL_NAME = {"land": "land", "provincie": "provincie", "gemeente": "gemeente",
              "wijk": "wijk", "buurt": "buurt"}
METHOD_LINKS = [
    ("Hoe de cijfers en de index zijn gemaakt (methode)", "/methode"),
    ("CBS Kerncijfers wijken en buurten", "https://www.cbs.nl/nl-nl/reeksen/kerncijfers-wijken-en-buurten"),
    ("RIVM/GGD Gezondheidsmonitor (50090NED)", "https://statline.rivm.nl/"),
]


def build_profile(data: WebData, code: str) -> dict[str, Any]:
    """Everything the area page shows, as JSON-safe data."""
    area = data.area(code)
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
    indicators = []
    for lid in layer_ids:
        per_area = grid.get(lid)
        mine = per_area.get(code) if per_area else None
        if not mine:
            continue
        periods = sorted(p for p, r in mine.items() if r[3] is not None or r[4])
        if not periods:
            continue
        lay = data.layers[lid]
        period = periods[-1]
        last = mine[period]
        comp = {}
        for c in comparators:
            r = per_area.get(c["code"], {}).get(period)
            comp[c["code"]] = None if r is None or r[4] else _num(r[3])
        trend = [{"period": p, "value": _num(mine[p][3])} for p in sorted(mine)
                 if mine[p][3] is not None]
        indicators.append({
            **data._public[lid], "period": period,
            "value": None if last[4] else _num(last[3]), "suppressed": bool(last[4]),
            "lower": _num(last[5]), "upper": _num(last[6]),
            "comparators": comp, "trend": trend if len(trend) > 1 else [],
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
    for lid in flag_ids:
        if lid not in flag_rows:
            continue
        lay = data.layers[lid]
        period = max(flag_rows[lid])
        value = _num(flag_rows[lid][period][3])
        flags.append({"id": lid, "title": lay.title, "period": period, "value": value,
                      "is_flag": lay.unit.startswith("vlag"), "unit": lay.unit,
                      "raised": bool((value or 0) > 0)})
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
    }


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
    return out


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
    mid = comp.get("rank_median") if comp.get("rank_median") is not None else comp.get("rank")
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

    # composite
    out.append('<section aria-labelledby="h-index"><h2 id="h-index">Samengestelde index</h2>')
    c = p.get("composite")
    if c:
        out.append(
            f'<p>Score {fmt(c.get("composite"))} in {e(c.get("period"))}. '
            f'Rang {fmt(c.get("rank_median") if c.get("rank_median") is not None else c.get("rank"))} '
            f'van {c.get("n_areas")} met een 90%-onzekerheidsinterval van rang '
            f'{fmt(c.get("rank_p05"))} tot {fmt(c.get("rank_p95"))} '
            f'({fmt(c.get("n_draws"))} trekkingen). Het interval, niet de losse rang, is de uitkomst.</p>')
        out.append(rank_chart(c))
        if c.get("rests_on_titles") or c.get("rests_on"):
            out.append('<p class="toelichting">De index rust op: '
                       f'{e(", ".join(c.get("rests_on_titles") or c.get("rests_on")))}.</p>')
        if c.get("unranked_reason_nl"):
            out.append(f'<p class="reden">{e(c["unranked_reason_nl"])}</p>')
    else:
        out.append('<p>Voor dit gebied is (nog) geen samengestelde index berekend '
                   '(<code>weefsel index</code>).</p>')
    out.append('</section>')

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
    else:
        out.append('<p>Geen kwetsbaarheidsvlaggen beschikbaar voor dit gebied.</p>')
    out.append('</section>')

    out.append(_charts_section(p))

    # indicators
    out.append('<section aria-labelledby="h-ind"><h2 id="h-ind">Indicatoren in een tabel</h2>')
    if p["indicators"]:
        heads = "".join(f'<th scope="col" class="num">{e(x["name"])}</th>' for x in comps)
        out.append('<div class="tabel-wrap" tabindex="0" role="region" aria-label="Indicatoren">'
                   '<table class="indicatoren"><caption>Indicatoren van '
                   f'{e(a["name"])} naast {", ".join(e(x["name"]) for x in comps) or "—"}'
                   '</caption><thead><tr><th scope="col">Indicator</th><th scope="col">Jaar</th>'
                   f'<th scope="col" class="num">{e(a["name"])}</th>{heads}'
                   '<th scope="col">Trend</th><th scope="col">Bron</th></tr></thead><tbody>')
        for i in p["indicators"]:
            d = i.get("decimals")
            if i["suppressed"]:
                own = '<span class="onderdrukt">geheim</span>'
            elif i.get("value") is None:
                own = '–' + (f'<br><span class="reden">{e(i["missing_reason_nl"])}</span>'
                             if i.get("missing_reason_nl") else "")
            else:
                own = _f(i["value"], d)
                if i.get("lower") is not None and i.get("upper") is not None:
                    own += f' <span class="marge">({_f(i["lower"], d)}–{_f(i["upper"], d)})</span>'
            cells = "".join(f'<td class="num">{_f(i["comparators"].get(x["code"]), d)}</td>'
                            for x in comps)
            unit = f' <span class="eenheid">({e(i["unit"])})</span>' if i["unit"] else ""
            dirn = f'<br><span class="richting">{e(_direction(i["direction"]))}</span>' \
                if i.get("direction") else ""
            out.append(f'<tr><th scope="row">{e(i["title"])}{unit}{dirn}</th>'
                       f'<td>{e(i.get("data_period") or i["period"])}</td>'
                       f'<td class="num">{own}</td>{cells}'
                       f'<td>{e(_trend_words(i))}</td>'
                       f'<td class="bron" title="{e(i["source"])}">{e(source_name(i["source"]))}</td></tr>')
        out.append('</tbody></table></div>')
        out.append('<p class="toelichting">“geheim”: door de bron onderdrukt (te weinig '
                   'waarnemingen); “–”: geen waarde. Tussen haakjes: de gepubliceerde '
                   'onzekerheidsmarge.</p>')
    else:
        out.append('<p>Geen indicatoren voor dit gebied.</p>')
    out.append('</section>')

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
  @bottom-right { content: "pagina " counter(page) " van " counter(pages); font-size: 9pt; } }
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
.richting, .eenheid, .marge, .toelichting, .bron, .kruimel { color: #444; font-size: 8pt; }
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
