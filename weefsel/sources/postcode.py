"""Postcode centroids: place an address that carries only a postcode.

A facility list from a gemeente often has a postcode but no coordinates. Placing it on the
centroid of its PC6 (about one street side, tens of metres) or PC4 (a whole district, a few
hundred metres) is good enough for counting and distances at buurt scale, *provided the
precision is recorded*, so the loader stores ``pc6`` or ``pc4`` beside every such point.

Tables read: any CSV with a ``pc4`` or ``pc6`` column and ``lat``/``lon`` (WGS84) or ``x``/``y``
(RD New) columns, e.g. ``postcode/pc4_centroid_geonames_2024.csv`` (GeoNames, CC BY 4.0). A PC4
that spans several places appears once per place; the row of the facility's own place wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError

PC6_RE = re.compile(r"^[1-9]\d{3}[A-Z]{2}$")
PC4_RE = re.compile(r"^[1-9]\d{3}$")


def normalise_postcode(text: object) -> str | None:
    """'8224 bs' -> '8224BS', '1011' -> '1011'; anything else -> None."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    for part in re.split(r"[/,;|]", str(text)):     # '9611HZ/9603HK': the first one counts
        s = re.sub(r"\s+", "", part).upper()
        if PC6_RE.match(s) or PC4_RE.match(s):
            return s
    return None


def _place_key(text: object) -> str:
    return " ".join(str(text or "").lower().replace("-", " ").split())


@dataclass
class PostcodeIndex:
    """Centroids in RD New per PC6 and per (PC4, place), with the files they came from."""

    pc6: dict[str, tuple[float, float]] = field(default_factory=dict)
    pc4: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.pc6 or self.pc4)

    def place(self, postcode: str, place: str | None = None
              ) -> tuple[float, float, str] | None:
        """(x, y, precision) for a normalised postcode, or None when the tables lack it.

        A PC6 is looked up as PC6 first and falls back to its PC4 (precision ``pc4``).
        """
        if len(postcode) == 6 and postcode in self.pc6:
            x, y = self.pc6[postcode]
            return x, y, "pc6"
        rows = self.pc4.get(postcode[:4])
        if not rows:
            return None
        if place and len(rows) > 1:
            want = _place_key(place)
            for p, x, y in rows:
                if p == want:
                    return x, y, "pc4"
        _, x, y = rows[0]
        return x, y, "pc4"


def is_postcode_table(columns: list[str]) -> bool:
    cols = {c.strip().lower() for c in columns}
    has_code = bool(cols & {"pc4", "pc6"})
    has_xy = {"lat", "lon"} <= cols or {"x", "y"} <= cols
    named = bool(cols & {"naam", "name", "type", "soort"})
    return has_code and has_xy and not named


def load_postcode_index(paths: list[Path] | tuple[Path, ...]) -> PostcodeIndex:
    """Read centroid tables into one index (first table wins for a postcode)."""
    from weefsel.sources.coords import wgs84_to_rd

    idx = PostcodeIndex()
    for path in paths:
        path = Path(path)
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"cannot read postcode table ({exc})", where=str(path)) from exc
        lower = {c.strip().lower(): c for c in df.columns}
        code_col = lower.get("pc6") or lower.get("pc4")
        if code_col is None:
            raise InputError("no pc4 or pc6 column", where=str(path),
                             expected="pc4 or pc6, and lat/lon (WGS84) or x/y (RD New)")
        if "lat" in lower and "lon" in lower:
            lat = pd.to_numeric(df[lower["lat"]], errors="coerce").to_numpy(float)
            lon = pd.to_numeric(df[lower["lon"]], errors="coerce").to_numpy(float)
            x, y = wgs84_to_rd(lon, lat)
        elif "x" in lower and "y" in lower:
            x = pd.to_numeric(df[lower["x"]], errors="coerce").to_numpy(float)
            y = pd.to_numeric(df[lower["y"]], errors="coerce").to_numpy(float)
        else:
            raise InputError("no coordinates", where=str(path),
                             expected="lat/lon (WGS84) or x/y (RD New) columns")
        codes = df[code_col].map(normalise_postcode)
        places = df[lower["place"]].map(_place_key) if "place" in lower else pd.Series("", index=df.index)
        ok = codes.notna().to_numpy() & np.isfinite(x) & np.isfinite(y)
        for code, place, xx, yy in zip(codes[ok], places[ok], x[ok], y[ok]):
            if len(code) == 6:
                idx.pc6.setdefault(code, (float(xx), float(yy)))
            else:
                idx.pc4.setdefault(code, []).append((place, float(xx), float(yy)))
        idx.files.append(str(path))
    return idx
