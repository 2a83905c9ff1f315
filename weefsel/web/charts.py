"""Server-side SVG charts for the area page and the printed profile (issue 12 item 2).

Every chart is plain inline SVG (no script: it prints on A4 and works without JavaScript)
with ``role="img"``, a ``<title>`` and an ``aria-label`` that carry the numbers, and the
page beside it shows the same numbers as text or a table. Inputs follow the API contract of
docs/dashboard.md (``trend`` = ``{points: [{period, value, lower, upper}], ...}``,
``reference`` = ``[{code, name, level, value, lower, upper}]``); older shapes (a list of
points, ``comparators`` code -> value) are accepted too, so the charts work before and
after the reference levels land.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable

from weefsel.web.classing import fmt_nl

#: advance of ASCII 32..126 in DejaVu Sans (the PDF's and most Linux browsers' font), in
#: hundredths of an em, regular and bold; other characters count as 0.7 em. A label that
#: would not fit its column is shortened with "…" here instead of being cut off at the
#: chart's edge (the whole name stays in the text alternative and the table).
_ADV = ([32, 40, 47, 84, 64, 96, 78, 28, 39, 39, 50, 85, 32, 36, 32, 34] + [64] * 10 +
        [34, 34, 84, 85, 84, 53, 100, 71, 69, 70, 77, 63, 58, 78, 75, 29, 29, 65, 56, 86, 75,
         79, 60, 79, 70, 64, 60, 73, 68, 99, 69, 61, 68, 39, 34, 39, 84, 50, 50, 62, 63, 56,
         64, 62, 34, 64, 63, 28, 28, 58, 28, 97, 63, 61, 63, 64, 40, 52, 39, 63, 59, 82, 59,
         59, 52, 63, 34, 64, 84])
_ADV_BOLD = ([35, 46, 53, 84, 70, 100, 87, 32, 47, 47, 52, 85, 38, 41, 38, 37] + [70] * 10 +
             [40, 40, 84, 85, 84, 59, 100, 77, 76, 73, 82, 68, 68, 82, 83, 36, 37, 77, 64, 99,
              83, 85, 73, 85, 77, 68, 71, 80, 77, 110, 77, 72, 73, 46, 37, 46, 84, 50, 50, 68,
              71, 59, 71, 68, 40, 71, 71, 33, 33, 66, 33, 104, 71, 68, 71, 71, 49, 60, 47, 71,
              65, 92, 65, 65, 58, 71, 37, 72, 85])


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated width in px of ``text`` at font-size ``size`` (DejaVu Sans metrics)."""
    adv = _ADV_BOLD if bold else _ADV
    return size * sum(adv[o - 32] if 32 <= (o := ord(c)) <= 126 else 70 for c in text) / 100


def fit(text: str, px: float, size: float = 12, bold: bool = False) -> str:
    """``text`` shortened with "…" so that it fits in ``px`` pixels (never cut off)."""
    if text_width(text, size, bold) <= px:
        return text
    cut = text
    while cut and text_width(cut.rstrip() + "…", size, bold) > px:
        cut = cut[:-1]
    return cut.rstrip() + "…"


INK = "#1a1a1a"
MUTED = "#4a4a4a"
AREA = "#154273"          # the area itself
REF = "#8fcae7"           # reference levels
BAND = "#cfe6f3"
LEVEL_NL = {"land": "Nederland", "provincie": "provincie", "gemeente": "gemeente",
            "wijk": "wijk", "buurt": "buurt"}
AGE_BANDS = [("k_0Tot15Jaar", "0 tot 15 jaar"), ("k_15Tot25Jaar", "15 tot 25 jaar"),
             ("k_25Tot45Jaar", "25 tot 45 jaar"), ("k_45Tot65Jaar", "45 tot 65 jaar"),
             ("k_65JaarOfOuder", "65 jaar of ouder")]
THEME_NL = {"sociale_basis": "Sociale basis", "eenzaamheid_welzijn": "Eenzaamheid en welzijn",
            "bestaanszekerheid": "Bestaanszekerheid", "demografie": "Bevolking",
            "voorzieningen": "Voorzieningen"}


def e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _ok(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def trend_points(ind: dict) -> list[dict]:
    """The trend's points whatever shape the profile carries."""
    t = ind.get("trend")
    pts = t.get("points", []) if isinstance(t, dict) else (t or [])
    return [p for p in pts if _ok(p.get("value"))]


def trend_chart(ind: dict, width: int = 240, height: int = 110) -> str:
    """A trend line with its published margins (a band and whiskers), the years on the axis."""
    pts = trend_points(ind)
    if len(pts) < 2:
        return ""
    d = int(ind.get("decimals") if ind.get("decimals") is not None else 1)
    lows = [p["lower"] if _ok(p.get("lower")) else p["value"] for p in pts]
    highs = [p["upper"] if _ok(p.get("upper")) else p["value"] for p in pts]
    lo, hi = min(lows), max(highs)
    pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    L, R, T, B = 44, 22, 10, 22
    w, h = width - L - R, height - T - B

    def x(i: int) -> float:
        return L + w * i / (len(pts) - 1)

    def y(v: float) -> float:
        return T + h * (1 - (v - lo) / (hi - lo))

    parts = [f'<line x1="{L}" y1="{T + h}" x2="{L + w}" y2="{T + h}" stroke="#767676"/>']
    parts.append(f'<text x="{L - 4}" y="{y(hi - pad) + 4:.1f}" font-size="11" text-anchor="end" '
                 f'fill="{MUTED}">{e(fmt_nl(hi - pad, d))}</text>')
    parts.append(f'<text x="{L - 4}" y="{y(lo + pad) + 4:.1f}" font-size="11" text-anchor="end" '
                 f'fill="{MUTED}">{e(fmt_nl(lo + pad, d))}</text>')
    if any(_ok(p.get("lower")) for p in pts):
        up = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(highs))
        down = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(lows))))
        parts.append(f'<polygon points="{up} {down}" fill="{BAND}" stroke="none"/>')
        for i, (a, b) in enumerate(zip(lows, highs)):
            parts.append(f'<line x1="{x(i):.1f}" y1="{y(a):.1f}" x2="{x(i):.1f}" y2="{y(b):.1f}" '
                         f'stroke="{AREA}" stroke-width="1"/>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(p['value']):.1f}"
                    for i, p in enumerate(pts))
    parts.append(f'<path d="{path}" fill="none" stroke="{AREA}" stroke-width="2"/>')
    for i, p in enumerate(pts):
        parts.append(f'<circle class="trendpunt" cx="{x(i):.1f}" cy="{y(p["value"]):.1f}" r="3.5" '
                     f'fill="{AREA}"/>')
        parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
                     f'fill="{INK}">{e(p["period"])}</text>')
    desc = trend_text(ind)
    return (f'<svg class="trendlijn" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" aria-label="{e(desc)}"><title>{e(desc)}</title>'
            + "".join(parts) + "</svg>")


def trend_text(ind: dict) -> str:
    """The trend in words: every point, the change and whether it exceeds the margin."""
    pts = trend_points(ind)
    d = int(ind.get("decimals") if ind.get("decimals") is not None else 1)
    bits = []
    for p in pts:
        s = f"{p['period']}: {fmt_nl(p['value'], d)}"
        if _ok(p.get("lower")) and _ok(p.get("upper")):
            s += f" (marge {fmt_nl(p['lower'], d)} tot {fmt_nl(p['upper'], d)})"
        bits.append(s)
    text = f"Verloop van {ind.get('title', '')}: " + "; ".join(bits) + "."
    t = ind.get("trend") if isinstance(ind.get("trend"), dict) else {}
    if t.get("exceeds_margin") is True:
        text += " De verandering is groter dan de onzekerheidsmarge."
    elif t.get("exceeds_margin") is False:
        text += " De verandering valt binnen de onzekerheidsmarge."
    elif t.get("margin_nl"):
        text += f" {t['margin_nl'][0].upper()}{t['margin_nl'][1:]}."
    return text


def references(ind: dict, comparators: list[dict]) -> list[dict]:
    """Reference entries (gemeente, provincie, Nederland) from the contract's ``reference``
    or, before it exists, from ``comparators`` (code -> value)."""
    ref = ind.get("reference")
    if isinstance(ref, list) and ref:
        return ref
    comp = ind.get("comparators") or {}
    return [{"code": c["code"], "name": c["name"], "level": c.get("level"),
             "value": comp.get(c["code"]), "lower": None, "upper": None}
            for c in comparators]


def reference_bars(ind: dict, area_name: str, comparators: list[dict],
                   width: int = 300) -> str:
    """Horizontal bars: the area beside its gemeente, provincie and Nederland, with the
    published interval as a whisker; a level without a number says so instead of a bar."""
    rows = [{"name": area_name, "value": None if ind.get("suppressed") else ind.get("value"),
             "lower": ind.get("lower"), "upper": ind.get("upper"), "own": True,
             "reason": ind.get("missing_reason_nl")}]
    for r in references(ind, comparators):
        rows.append({"name": r.get("name") or r.get("code"), "value": r.get("value"),
                     "lower": r.get("lower"), "upper": r.get("upper"), "own": False,
                     "reason": r.get("missing_reason_nl")})
    vals = [v for r in rows for v in (r["value"], r["upper"]) if _ok(v)]
    if not any(_ok(r["value"]) for r in rows):
        return ""
    d = int(ind.get("decimals") if ind.get("decimals") is not None else 1)
    lo = min(0.0, min(vals))
    hi = max(vals) or 1.0
    bar_h, gap, L, Rm = 14, 6, 110, 50
    height = len(rows) * (bar_h + gap) + 4
    w = width - L - Rm

    def x(v: float) -> float:
        return L + w * (v - lo) / ((hi - lo) or 1)

    parts = []
    words = []
    for i, r in enumerate(rows):
        top = 2 + i * (bar_h + gap)
        name = fit(str(r["name"]), L - 6, 12, bold=r["own"])
        weight = ' font-weight="bold"' if r["own"] else ""
        parts.append(f'<text x="{L - 4}" y="{top + bar_h - 3}" font-size="12" text-anchor="end" '
                     f'fill="{INK}"{weight}>{e(name)}</text>')
        if _ok(r["value"]):
            parts.append(f'<rect class="{"balk-eigen" if r["own"] else "balk-ref"}" x="{x(lo):.1f}" '
                         f'y="{top}" width="{max(x(r["value"]) - x(lo), 1):.1f}" height="{bar_h}" '
                         f'fill="{AREA if r["own"] else REF}"/>')
            if _ok(r["lower"]) and _ok(r["upper"]):
                parts.append(f'<line x1="{x(r["lower"]):.1f}" y1="{top + bar_h / 2}" '
                             f'x2="{x(r["upper"]):.1f}" y2="{top + bar_h / 2}" stroke="{INK}" '
                             f'stroke-width="1.5"/>')
            parts.append(f'<text x="{x(max(r["value"], r["upper"] or r["value"])) + 4:.1f}" '
                         f'y="{top + bar_h - 3}" font-size="12" fill="{INK}">'
                         f'{e(fmt_nl(r["value"], d))}</text>')
            s = f"{r['name']} {fmt_nl(r['value'], d)}"
            if _ok(r["lower"]) and _ok(r["upper"]):
                s += f" (marge {fmt_nl(r['lower'], d)} tot {fmt_nl(r['upper'], d)})"
            words.append(s)
        else:
            parts.append(f'<text x="{L + 2}" y="{top + bar_h - 3}" font-size="11" '
                         f'font-style="italic" fill="{MUTED}">geen cijfer</text>')
            words.append(f"{r['name']} geen cijfer" + (f" ({r['reason']})" if r["reason"] else ""))
    desc = f"{ind.get('title', '')}: " + "; ".join(words) + "."
    return (f'<svg class="referentie" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" aria-label="{e(desc)}"><title>{e(desc)}</title>'
            + "".join(parts) + "</svg>")


def rank_chart(comp: dict, width: int = 420, height: int = 64) -> str:
    """The composite's rank as a 90% interval on 1..N, the central rank as a tick."""
    n = comp.get("n_areas") or 0
    mid = comp.get("rank") if comp.get("rank") is not None else comp.get("rank_median")
    if not n or mid is None:
        return ""
    p05 = comp.get("rank_p05") if comp.get("rank_p05") is not None else mid
    p95 = comp.get("rank_p95") if comp.get("rank_p95") is not None else mid
    L, R = 20, width - 20

    def x(r: float) -> float:
        return L + (R - L) * ((r - 1) / max(n - 1, 1))

    lvl = LEVEL_NL.get(comp.get("level", ""), "gebieden")
    label = (f"Rang {fmt_nl(mid, 0)} van {n} ({lvl}); 90%-interval: met 90% zekerheid tussen "
             f"rang {fmt_nl(p05, 0)} en {fmt_nl(p95, 0)}; rang 1 is de hoogste score.")
    return (f'<svg class="interval" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" aria-label="{e(label)}"><title>{e(label)}</title>'
            f'<line x1="{L}" y1="26" x2="{R}" y2="26" stroke="#767676"/>'
            f'<rect x="{x(p05):.1f}" y="16" width="{max(x(p95) - x(p05), 3):.1f}" height="20" '
            f'fill="{REF}" stroke="{AREA}" rx="3"/>'
            f'<line x1="{x(mid):.1f}" y1="10" x2="{x(mid):.1f}" y2="42" stroke="{AREA}" '
            f'stroke-width="3"/>'
            f'<text x="{L}" y="58" font-size="12" fill="{INK}">1 (hoogste score)</text>'
            f'<text x="{R}" y="58" font-size="12" fill="{INK}" text-anchor="end">{n}</text></svg>')


def age_pyramid(bands: list[tuple[str, float]], area_name: str, width: int = 300) -> str:
    """The age make-up from the KWB bands as horizontal bars (share of the inhabitants);
    CBS publishes the bands for men and women together, so one side only."""
    total = sum(v for _, v in bands if _ok(v))
    if not bands or total <= 0:
        return ""
    bar_h, gap, L = 16, 5, 110
    height = len(bands) * (bar_h + gap) + 4
    w = width - L - 50
    top_share = max(v / total for _, v in bands)
    parts, words = [], []
    for i, (label, v) in enumerate(reversed(bands)):
        share = v / total
        top = 2 + i * (bar_h + gap)
        parts.append(f'<text x="{L - 4}" y="{top + bar_h - 4}" font-size="12" text-anchor="end" '
                     f'fill="{INK}">{e(fit(str(label), L - 6))}</text>')
        parts.append(f'<rect x="{L}" y="{top}" width="{w * share / top_share:.1f}" '
                     f'height="{bar_h}" fill="{AREA}"/>')
        parts.append(f'<text x="{L + w * share / top_share + 4:.1f}" y="{top + bar_h - 4}" '
                     f'font-size="12" fill="{INK}">{e(fmt_nl(share * 100, 0))}%</text>')
        words.append(f"{label} {fmt_nl(share * 100, 0)}%")
    desc = f"Leeftijdsopbouw van {area_name}: " + "; ".join(reversed(words)) + "."
    return (f'<svg class="piramide" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" aria-label="{e(desc)}"><title>{e(desc)}</title>'
            + "".join(parts) + "</svg>")


def theme_scores(indicators: Iterable[dict]) -> list[dict]:
    """Per theme: the share of its indicators on which the area is at least as favourable as
    the reference above it (provincie, else gemeente, else Nederland), 0-100. A plain,
    explainable score: 'better than the province on 3 of 5'."""
    out: dict[str, dict] = {}
    for ind in indicators:
        theme = ind.get("theme") or ""
        dirn = ind.get("direction") or ""
        v = ind.get("value")
        if dirn not in ("hoger is beter", "hoger is slechter") or not _ok(v) or not theme:
            continue
        refs = [r for r in (ind.get("reference") or []) if _ok(r.get("value"))]
        if not refs:
            comp = ind.get("comparators") or {}
            refs = [{"value": val} for val in comp.values() if _ok(val)]
        if not refs:
            continue
        ref = refs[len(refs) // 2]["value"] if len(refs) > 2 else refs[-1]["value"]
        better = v >= ref if dirn == "hoger is beter" else v <= ref
        t = out.setdefault(theme, {"theme": theme, "name": THEME_NL.get(theme, theme),
                                   "n": 0, "better": 0})
        t["n"] += 1
        t["better"] += int(better)
    return list(out.values())


def theme_chart(scores: list[dict], width: int = 300) -> str:
    if not scores:
        return ""
    bar_h, gap, L = 16, 5, 150
    height = len(scores) * (bar_h + gap) + 4
    w = width - L - 40
    parts, words = [], []
    for i, s in enumerate(scores):
        top = 2 + i * (bar_h + gap)
        share = s["better"] / s["n"]
        parts.append(f'<text x="{L - 4}" y="{top + bar_h - 4}" font-size="12" text-anchor="end" '
                     f'fill="{INK}">{e(fit(str(s["name"]), L - 6))}</text>')
        parts.append(f'<rect x="{L}" y="{top}" width="{w}" height="{bar_h}" fill="#e6e6e6"/>')
        parts.append(f'<rect x="{L}" y="{top}" width="{w * share:.1f}" height="{bar_h}" '
                     f'fill="{AREA}"/>')
        parts.append(f'<text x="{L + w + 4}" y="{top + bar_h - 4}" font-size="12" fill="{INK}">'
                     f'{s["better"]}/{s["n"]}</text>')
        words.append(f"{s['name']}: {s['better']} van {s['n']}")
    desc = ("Aantal indicatoren per thema waarop het gebied even gunstig of gunstiger is dan "
            "het gebied erboven: " + "; ".join(words) + ".")
    return (f'<svg class="themas" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" aria-label="{e(desc)}"><title>{e(desc)}</title>'
            + "".join(parts) + "</svg>")


def age_bands(data: Any, code: str) -> list[tuple[str, float]]:
    """The KWB age bands of one area (latest period), [] when the warehouse lacks them."""
    if "observations" not in data.tables:
        return []
    rows = data.cursor().execute(
        "SELECT variable, value FROM observations WHERE area_code = ? AND breakdown = '' AND "
        "variable IN (SELECT unnest(?)) QUALIFY row_number() OVER (PARTITION BY variable "
        "ORDER BY period DESC) = 1", [code, [k for k, _ in AGE_BANDS]]).fetchall()
    got = {k: v for k, v in rows if _ok(v)}
    if len(got) < len(AGE_BANDS):
        return []
    return [(label, float(got[k])) for k, label in AGE_BANDS]


SOURCE_NAMES = {
    "50090NED": "RIVM/GGD Gezondheidsmonitor",
    "85984NED": "CBS Kerncijfers wijken en buurten",
    "85618NED": "CBS Kerncijfers wijken en buurten",
    "85146NED": "CBS Veiligheidsmonitor",
    "85900NED": "CBS sociaaleconomische status (SES-WOA)",
    "85231NED": "CBS Nabijheid voorzieningen",
    "weefsel index": "weefsel (eigen berekening)",
    "weefsel index (SVI)": "weefsel (eigen berekening)",
    "weefsel access": "weefsel (eigen berekening)",
}


def source_name(raw: Any) -> str:
    """Publisher names instead of table codes ('50090NED' -> 'RIVM/GGD Gezondheidsmonitor');
    the code stays available in a tooltip where the page wants it."""
    parts = [p.strip() for p in str(raw or "").split(",") if p.strip()]
    names = []
    for p in parts:
        n = SOURCE_NAMES.get(p, p)
        if n not in names:
            names.append(n)
    return ", ".join(names)


def fallback_trends(data: Any, code: str, indicators: list[dict]) -> None:
    """Until the reference levels land (docs/dashboard.md ``trend``): an indicator that is
    one published figure (catalogue formula = one variable) gets the publisher's own series
    of that variable for this area as its trend, with the published margins. Only for
    gemeenten, provincies and Nederland, whose codes do not change between indelingen."""
    area = data.area(code)
    if area.get("level") not in ("gemeente", "provincie", "land"):
        return
    try:
        from weefsel.web.data import load_catalogue
        cat = {str(c["id"]): c for c in load_catalogue()}
    except Exception:
        return
    want: dict[str, str] = {}
    for ind in indicators:
        if isinstance(ind.get("trend"), dict) and ind["trend"].get("points"):
            continue
        c = cat.get(ind["id"])
        if not c or "/" in str(c.get("formula", "")) or "+" in str(c.get("formula", "")):
            continue
        var = str(c.get("formula", "")).strip()
        bd = str(c.get("breakdown") or "")
        lid = f"var:{var}" + (f"@{bd}" if bd else "")
        if lid in data.layers:
            want[ind["id"]] = lid
    if not want:
        return
    rows = data.rows_many([code], list(set(want.values())))
    series: dict[str, list[dict]] = {}
    for lid, _, period, value, suppressed, lower, upper in rows:
        if value is None or suppressed:
            continue
        series.setdefault(lid, []).append({"period": str(period), "value": value,
                                           "lower": lower, "upper": upper})
    for ind in indicators:
        pts = sorted(series.get(want.get(ind["id"], ""), []), key=lambda p: p["period"])
        if len(pts) >= 2:
            first, last = pts[0], pts[-1]
            exceeds = None
            if all(_ok(p.get(k)) for p in (first, last) for k in ("lower", "upper")):
                exceeds = last["lower"] > first["upper"] or last["upper"] < first["lower"]
            ind["trend"] = {"indeling": None, "points": pts,
                            "first_period": first["period"], "last_period": last["period"],
                            "change": last["value"] - first["value"], "exceeds_margin": exceeds,
                            "margin_nl": None if exceeds is not None else
                            "geen marge gepubliceerd (modelschatting)"}
