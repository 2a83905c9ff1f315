"""Map classes and colours that fit the data (issue 12 item 1).

Quintiles are a poor default for what the warehouse holds: yes/no flags and small counts
collapse into one class ("0 tot en met 1"), zero-heavy measures give "0 tot 0", and one blue
ramp cannot say whether dark is good or bad. ``classify`` picks, per layer and level:

* **one class per value** when the values are whole numbers with few distinct values
  (flags, number of flagged themes);
* **a class of its own** for a value that a fifth or more of the areas share (often 0), the
  rest classed as below;
* **quantile breaks rounded to the layer's precision**, and when those collapse (two equal
  breaks) **fixed, evenly spaced "nice" breaks** (1, 2, 2.5 or 5 times a power of ten);
* **breaks around a meaningful centre** for scores centred on 0 (SES-WOA).

Colours follow the layer's direction: sequential with the dark end on the unfavourable side
(the legend says so), diverging around the centre, or a neutral palette for context
variables that have no good or bad direction. Palettes are ColorBrewer (OrRd, PuOr) and
viridis, all colour-blind safe; the lightest class is taken one step in from the palette's
end so it stays visibly different from the white map background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

#: ColorBrewer OrRd (7 classes) without its lightest step: light (favourable) -> dark (unfavourable)
SEQUENTIAL = ["#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000"]
#: viridis, light to dark, for context variables (no good or bad direction)
NEUTRAL = ["#fde725", "#7ad151", "#22a884", "#2a788e", "#414487", "#440154"]
#: ColorBrewer PuOr without its white centre: unfavourable side (orange) ... favourable (purple)
DIVERGING_LOW = ["#b35806", "#e08214", "#fdb863"]
DIVERGING_HIGH = ["#b2abd2", "#8073ac", "#542788"]
#: values without a number: grey (no value) and white with hatching (suppressed)
MISSING_COLOUR = "#bdbdbd"
SUPPRESSED_COLOUR = "#ffffff"
MAP_BACKGROUND = "#ffffff"
MAX_CLASSES = 6
POINT_SHARE = 0.2          # a value shared by this share of areas gets a class of its own
POINT_MIN = 3              # ... and by at least this many areas
PER_VALUE_MAX = 7          # whole numbers with at most this many distinct values: one class each

DIRECTION_BETTER = "hoger is beter"
DIRECTION_WORSE = "hoger is slechter"
CONTEXT = "context"


@dataclass
class Klass:
    """One legend entry: ``lower <= v < upper`` (the last one includes ``upper``); a point
    class (lower == upper) holds exactly that value."""

    lower: float
    upper: float
    label: str = ""
    color: str = ""
    n: int = 0

    @property
    def point(self) -> bool:
        return self.lower == self.upper


@dataclass
class Classing:
    scheme: str                          # sequential | diverging | neutral | per_value
    classes: list[Klass] = field(default_factory=list)
    decimals: int = 0
    method_nl: str = ""                  # how the classes were made, in plain Dutch
    colour_note_nl: str = ""             # what dark means
    centre: float | None = None

    def public(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "decimals": self.decimals, "method_nl": self.method_nl,
                "colour_note_nl": self.colour_note_nl, "centre": self.centre,
                "classes": [{"lower": k.lower, "upper": k.upper, "label": k.label,
                             "color": k.color, "n": k.n, "point": k.point}
                            for k in self.classes]}

    def index_of(self, v: float) -> int:
        """Class index of one value (the same rule the page applies)."""
        last = len(self.classes) - 1
        for i, k in enumerate(self.classes):
            if k.point:
                if v == k.lower:
                    return i
                continue
            if k.lower <= v and (v < k.upper or (i == last and v <= k.upper)):
                return i
        return last if v > self.classes[-1].upper else 0


# -- formatting ---------------------------------------------------------------------------------

def fmt_nl(v: float | None, decimals: int = 0) -> str:
    """Dutch number: decimal comma, dot for thousands, fixed ``decimals``."""
    if v is None or not math.isfinite(v):
        return "–"
    s = f"{v:,.{max(0, decimals)}f}"
    if s.startswith("-") and float(s.replace(",", "")) == 0:
        s = s[1:]
    return s.replace(",", "_").replace(".", ",").replace("_", ".")


def decimals_for(values: Sequence[float], unit: str = "") -> int:
    """One precision per layer: the fewest decimals (0-2) that show nearly all values as
    published, capped by magnitude (no decimals above 100, at most one above 10)."""
    vals = [abs(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return 0
    vals.sort()
    median = vals[len(vals) // 2]
    cap = 0 if median >= 100 else 1 if median >= 10 else 2
    for d in range(0, cap + 1):
        ok = sum(1 for v in vals if abs(v - round(v, d)) < 1e-9 * max(1.0, v))
        if ok >= 0.95 * len(vals):
            return d
    return cap


def _nice_step(span: float, n: int) -> float:
    raw = span / max(n, 1)
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _round_to(v: float, decimals: int) -> float:
    return round(v, decimals)


# -- the choice ---------------------------------------------------------------------------------

def direction_of(direction: str, display: str = "") -> str:
    """'hoger is beter' | 'hoger is slechter' | 'context'."""
    if (display or "").strip().lower() == CONTEXT:
        return CONTEXT
    d = (direction or "").strip().lower()
    if d in (DIRECTION_BETTER, DIRECTION_WORSE):
        return d
    return CONTEXT


def is_centred(unit: str, title: str, values: Sequence[float]) -> float | None:
    """The centre of a diverging scale: 0 for scores around a national mean of 0."""
    text = f"{unit} {title}".lower()
    if ("gemiddelde ongeveer 0" in text or "ses-woa" in text) and values:
        if min(values) < 0 < max(values):
            return 0.0
    return None


def classify(values: Sequence[float], *, direction: str = "", unit: str = "", title: str = "",
             display: str = "", k: int = 5, decimals: int | None = None) -> Classing:
    """Classes and colours for one map layer (``values``: the numbers of the areas drawn)."""
    vals = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    dirn = direction_of(direction, display)
    dec = decimals_for(vals, unit) if decimals is None else decimals
    if not vals:
        return Classing(scheme="sequential", decimals=dec, method_nl="geen waarden")
    distinct = sorted(set(vals))
    whole = all(float(v).is_integer() for v in distinct)
    centre = is_centred(unit, title, vals)
    if whole and len(distinct) <= PER_VALUE_MAX:
        classes = [Klass(v, v) for v in distinct]
        method = "één klasse per waarde"
        scheme = "per_value"
    elif centre is not None:
        classes = _centred(vals, centre, dec)
        method = f"vaste grenzen rond {fmt_nl(centre, 0)}"
        scheme = "diverging"
    else:
        classes, method = _breaks(vals, dec, k, whole)
        scheme = "sequential"
    for c in classes:
        c.n = 0
    cl = Classing(scheme=scheme, classes=classes, decimals=dec, method_nl=method, centre=centre)
    for v in vals:
        cl.classes[cl.index_of(v)].n += 1
    cl.classes = [c for c in cl.classes if c.n > 0] or cl.classes[:1]
    _label(cl, whole)
    shown = cl.decimals
    while collapsed(cl) and cl.decimals < shown + 4:
        cl.decimals += 1            # the spread is finer than the indicator's precision
        _label(cl, whole)
    if collapsed(cl):               # values that differ below any sensible precision
        cl.decimals = shown
        _label(cl, whole)
        for c in cl.classes:
            if fmt_nl(c.lower, shown) == fmt_nl(c.upper, shown):
                c.label = f"ongeveer {fmt_nl(c.lower, shown)}"
        merged: list[Klass] = []
        for c in cl.classes:        # neighbours that read the same become one class
            if merged and merged[-1].label == c.label:
                merged[-1] = Klass(merged[-1].lower, c.upper, c.label, "", merged[-1].n + c.n)
            else:
                merged.append(c)
        cl.classes = merged
    _colour(cl, dirn)
    return cl


def _point_values(vals: list[float]) -> list[float]:
    """Values shared by at least POINT_SHARE of the areas (e.g. many zeros)."""
    counts: dict[float, int] = {}
    for v in vals:
        counts[v] = counts.get(v, 0) + 1
    return sorted(v for v, n in counts.items()
                  if n >= POINT_SHARE * len(vals) and n >= POINT_MIN)


def _breaks(vals: list[float], dec: int, k: int, whole: bool) -> tuple[list[Klass], str]:
    points = _point_values(vals)
    rest = [v for v in vals if v not in points]
    lo, hi = vals[0], vals[-1]
    n_rest_classes = max(1, k - len(points))
    step_unit = 1.0 if whole else 10 ** -dec
    breaks: list[float] = []
    method = "kwantielen (evenveel gebieden per klasse)"
    if rest:
        qs = [rest[min(len(rest) - 1, (i * len(rest)) // n_rest_classes)]
              for i in range(1, n_rest_classes)]
        breaks = sorted({_round_to(q, dec) for q in qs})
        breaks = [b for b in breaks if rest[0] < b <= rest[-1]]
        if len(breaks) < min(n_rest_classes - 1, len(set(rest)) - 1) or \
                any(b2 - b1 < step_unit for b1, b2 in zip(breaks, breaks[1:])):
            # quantiles collapse: evenly spaced, rounded ("nice") breaks over the range
            span = rest[-1] - rest[0]
            step = max(_nice_step(span, n_rest_classes), step_unit)
            if whole:
                step = float(math.ceil(step))
            start = math.floor(rest[0] / step) * step
            breaks = []
            b = start + step
            while b < rest[-1] and len(breaks) < MAX_CLASSES:
                if b > rest[0]:
                    breaks.append(_round_to(b, max(dec, 2)))
                b += step
            method = "vaste, gelijke stappen (kwantielen vielen samen)"
    edges = [lo] + breaks + [hi]
    classes: list[Klass] = []
    for a, b in zip(edges, edges[1:]):
        classes.append(Klass(a, b))
    if not classes:
        classes = [Klass(lo, hi)]
    # point classes split the range classes they fall in
    for p in points:
        out: list[Klass] = []
        for c in classes:
            if c.point or not (c.lower <= p <= c.upper):
                out.append(c)
                continue
            if c.lower < p:
                out.append(Klass(c.lower, p))
            out.append(Klass(p, p))
            if p < c.upper:
                out.append(Klass(p, c.upper))
        classes = out
    if points:
        method += "; een veelvoorkomende waarde heeft een eigen klasse"
    return classes, method


def _centred(vals: list[float], centre: float, dec: int) -> list[Klass]:
    span = max(abs(vals[0] - centre), abs(vals[-1] - centre))
    step = _nice_step(span, 3)
    edges = [centre + i * step for i in range(-3, 4)]
    edges = [e for e in edges if vals[0] - step < e < vals[-1] + step]
    edges = sorted({_round_to(e, max(dec, 2)) for e in edges} | {centre})
    lo, hi = vals[0], vals[-1]
    inner = [e for e in edges if lo < e < hi]
    bounds = [lo] + inner + [hi]
    return [Klass(a, b) for a, b in zip(bounds, bounds[1:])]


def _label(cl: Classing, whole: bool) -> None:
    """Dutch labels that never overlap: whole numbers as "3 tot en met 5" (or one number),
    other numbers as "minder dan a", "a tot b", "b of meer"; a range right after a point
    class of the same value starts with "meer dan"."""
    d = cl.decimals
    n = len(cl.classes)
    for i, c in enumerate(cl.classes):
        after_point = i > 0 and cl.classes[i - 1].point and cl.classes[i - 1].lower == c.lower
        if c.point:
            c.label = fmt_nl(c.lower, 0 if whole else d)
        elif whole:
            low = c.lower + 1 if after_point else c.lower
            top = c.upper if i == n - 1 else c.upper - 1
            c.label = fmt_nl(low, 0) if low >= top else \
                f"{fmt_nl(low, 0)} tot en met {fmt_nl(top, 0)}"
        elif after_point:
            low = fmt_nl(c.lower, d)
            c.label = (f"meer dan {low}" if i == n - 1
                       else f"meer dan {low} tot {fmt_nl(c.upper, d)}")
        elif i == 0 and n > 1:
            c.label = f"minder dan {fmt_nl(c.upper, d)}"
        elif i == n - 1 and n > 1:
            c.label = f"{fmt_nl(c.lower, d)} of meer"
        else:
            c.label = f"{fmt_nl(c.lower, d)} tot {fmt_nl(c.upper, d)}"


def _pick(palette: list[str], n: int) -> list[str]:
    """n colours spread over a light-to-dark palette."""
    if n <= 0:
        return []
    if n == 1:
        return [palette[len(palette) // 2]]
    if n >= len(palette):
        return palette[:n] + [palette[-1]] * (n - len(palette))
    return [palette[round(i * (len(palette) - 1) / (n - 1))] for i in range(n)]


def _colour(cl: Classing, dirn: str) -> None:
    n = len(cl.classes)
    if cl.scheme == "diverging" and cl.centre is not None:
        below = [c for c in cl.classes if c.upper <= cl.centre]
        above = [c for c in cl.classes if c.upper > cl.centre]
        low_pal, high_pal = DIVERGING_LOW, DIVERGING_HIGH
        if dirn == DIRECTION_WORSE:      # orange stays on the unfavourable side
            low_pal, high_pal = [c for c in reversed(DIVERGING_HIGH)], \
                [c for c in reversed(DIVERGING_LOW)]
        cols_low = _pick(low_pal, len(below)) if len(below) <= len(low_pal) else \
            _pick(low_pal, len(low_pal))
        cols_low = low_pal[len(low_pal) - len(below):] if len(below) <= len(low_pal) else cols_low
        cols_high = high_pal[:len(above)] if len(above) <= len(high_pal) else \
            _pick(high_pal, len(above))
        for c, col in zip(below + above, cols_low + cols_high):
            c.color = col
        unfavourable = "lager" if dirn != DIRECTION_WORSE else "hoger"
        cl.colour_note_nl = (f"Oranje: onder {fmt_nl(cl.centre, 0)}, paars: erboven; "
                             f"{unfavourable} is ongunstiger.")
        return
    if dirn == CONTEXT:
        for c, col in zip(cl.classes, _pick(NEUTRAL, n)):
            c.color = col
        cl.colour_note_nl = ("Geen goed of slecht: een achtergrondkenmerk. "
                             "Donkerder is hoger.")
        return
    cols = _pick(SEQUENTIAL, n)
    if dirn == DIRECTION_BETTER:
        cols = list(reversed(cols))
        cl.colour_note_nl = "Donkerder is ongunstiger: hier lager (hoger is beter)."
    else:
        cl.colour_note_nl = "Donkerder is ongunstiger: hier hoger (hoger is slechter)."
    for c, col in zip(cl.classes, cols):
        c.color = col


def collapsed(cl: Classing) -> list[str]:
    """Problems a legend must never have (a test asserts none): a range class whose two ends
    are equal ("0 tot 0"), or, for whole numbers with few values, a class covering two."""
    out = []
    for c in cl.classes:
        if not c.point and c.lower == c.upper:
            out.append(f"klasse {c.label!r} is één waarde als bereik")
        if "tot en met" in c.label:
            parts = c.label.split(" tot en met ")
            if parts[0] == parts[1]:
                out.append(f"klasse {c.label!r}")
        if c.label.endswith(" tot " + c.label.split(" tot ")[0]) and " tot " in c.label:
            out.append(f"klasse {c.label!r}")
    labels = [c.label for c in cl.classes]
    if len(set(labels)) != len(labels):
        out.append("twee klassen met hetzelfde label")
    return out


# -- gaps -----------------------------------------------------------------------------------------

#: Dutch sentence per missing_reason (the API contract's codes)
REASONS_NL = {
    "suppressed": "onderdrukt door de bron: te weinig inwoners of waarnemingen om het cijfer "
                  "te tonen",
    "not_published": "geen cijfer gepubliceerd voor dit gebied",
    "not_at_level": "deze indicator bestaat niet op dit niveau",
    "other_indeling": "alleen gepubliceerd op een andere gebiedsindeling",
    "not_in_build": "de bron zit niet in deze database",
    "too_little_input": "te weinig onderliggende cijfers om een waarde te berekenen",
}


def missing_reasons(data: Any, lay: Any, level: str, counts: dict[str, int]) -> list[dict]:
    """Why areas on a map have no number, per reason, for the legend and the tooltip:
    suppressed areas, and the rest (not published for the area, or nothing at this level)."""
    out = []
    if counts.get("onderdrukt"):
        out.append({"reason": "suppressed", "reason_nl": REASONS_NL["suppressed"],
                    "n": counts["onderdrukt"], "status": "onderdrukt"})
    if counts.get("ontbreekt"):
        reason = "not_published"
        if lay is None:
            reason = "not_in_build"
        elif not counts.get("ok") and not counts.get("onderdrukt"):
            reason = "not_at_level"
        out.append({"reason": reason, "reason_nl": REASONS_NL[reason],
                    "n": counts["ontbreekt"], "status": "ontbreekt"})
    return out


def layer_levels(data: Any) -> dict[str, list[str]]:
    """layer id -> levels where it has at least one value or suppressed cell (one query per
    table, once): the map offers an indicator only where it can draw it."""
    memo = data.__dict__.get("_layer_levels")
    if memo is not None:
        return memo
    out: dict[str, set[str]] = {}
    lv = "(SELECT code, level FROM areas) a"
    try:
        cur = data.cursor()
        if "indicator_values" in data.tables:
            for ind, level in cur.execute(
                    f"SELECT DISTINCT t.indicator, a.level FROM indicator_values t JOIN {lv} "
                    "ON a.code = t.area_code WHERE t.value IS NOT NULL").fetchall():
                out.setdefault(str(ind), set()).add(level)
            sup = "suppressed" in data.columns["indicator_values"]
            if sup:
                for ind, level in cur.execute(
                        f"SELECT DISTINCT t.indicator, a.level FROM indicator_values t JOIN {lv} "
                        "ON a.code = t.area_code WHERE t.suppressed").fetchall():
                    out.setdefault(str(ind), set()).add(level)
        if "observations" in data.tables:
            for var, bd, level in cur.execute(
                    f"SELECT DISTINCT t.variable, t.breakdown, a.level FROM observations t "
                    f"JOIN {lv} ON a.code = t.area_code WHERE t.value IS NOT NULL").fetchall():
                lid = f"var:{var}" + (f"@{bd}" if bd else "")
                out.setdefault(lid, set()).add(level)
        for lid, lay in data.layers.items():
            if lay.table in ("indicator_values", "observations"):
                continue
            q, params = data._layer_query(lay)
            for (level,) in cur.execute(
                    f"SELECT DISTINCT a.level FROM ({q}) t JOIN {lv} ON a.code = t.area_code "
                    "WHERE t.value IS NOT NULL OR t.suppressed", params).fetchall():
                out.setdefault(lid, set()).add(level)
    except Exception:  # availability is a convenience: offer everything rather than fail
        return {}
    order = {lv: i for i, lv in enumerate(["land", "provincie", "gemeente", "wijk", "buurt"])}
    memo = {k: sorted(v, key=lambda x: order.get(x, 9)) for k, v in out.items()}
    data.__dict__["_layer_levels"] = memo
    return memo


def area_labels(data: Any, level: str) -> list[dict]:
    """code, name and a point inside each area (lon/lat) for the map's name labels and the
    hover tooltip; largest areas first, so a page can label the biggest when space is short."""
    import numpy as np
    import shapely
    from pyproj import Transformer
    rows = data.cursor().execute(
        "SELECT code, name, geom_rd FROM areas WHERE level = ? AND geom_rd IS NOT NULL",
        [level]).fetchall()
    if not rows:
        return []
    geoms = shapely.from_wkb(np.array([bytes(r[2]) for r in rows], dtype=object))
    pts = shapely.point_on_surface(geoms)
    areas = shapely.area(geoms)
    tf = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(shapely.get_x(pts), shapely.get_y(pts))
    out = [{"code": r[0], "name": r[1] or r[0], "lon": round(float(x), 5),
            "lat": round(float(y), 5), "area_km2": round(float(a) / 1e6, 2)}
           for r, x, y, a in zip(rows, lon, lat, areas) if math.isfinite(x)]
    out.sort(key=lambda d: -d["area_km2"])
    return out


def layer_decimals(data: Any) -> dict[str, int]:
    """layer id -> its one precision, from all its values (computed once per warehouse from
    the rows the web layer holds in memory; {} for warehouses too large to hold)."""
    memo = data.__dict__.get("_layer_decimals")
    if memo is not None:
        return memo
    memo = {}
    try:
        pre = data._preloaded()
    except Exception:
        pre = None
    if pre:
        by_layer: dict[str, list[float]] = {}
        for rows in pre.values():
            for r in rows:
                if r[3] is not None:
                    by_layer.setdefault(r[0], []).append(r[3])
        for lid, vals in by_layer.items():
            lay = data.layers.get(lid)
            memo[lid] = decimals_for(vals, lay.unit if lay else "")
    data.__dict__["_layer_decimals"] = memo
    return memo


# -- plain words --------------------------------------------------------------------------------

#: technical terms kept out of visible labels (they stay in a tooltip and on the method page)
JARGON_OUT = [(" (E2SFCA)", ""), (" (Shannon)", ""), ("Shannon-index H (nats, gemiddeld over inwoners; "
              "0 = geen of één soort)", "verscheidenheidsscore (gemiddeld over inwoners; 0 = geen of "
              "één soort)"), ("Shannon-index H", "verscheidenheidsscore"), (" (SVI)", "")]


def plain_labels(layers: dict) -> None:
    """Replace technical terms in layer titles, units and sources by plain Dutch; the original
    wording moves to ``technical`` (shown as a tooltip)."""
    for lay in layers.values():
        before = f"{lay.title} · {lay.unit}"
        for field_name in ("title", "unit", "source"):
            text = getattr(lay, field_name)
            for old, new in JARGON_OUT:
                text = text.replace(old, new)
            setattr(lay, field_name, text)
        if f"{lay.title} · {lay.unit}" != before and hasattr(lay, "technical"):
            lay.technical = before
