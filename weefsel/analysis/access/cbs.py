"""Compare computed distances with what CBS publishes (Nabijheid voorzieningen, KWB).

CBS measures the distance **by road from every address** to the nearest facility and
averages over residents; we measure from a demand point per area (or per grid cell) with a
straight line × detour factor. So differences are expected: large, thinly populated areas
(one point stands for scattered addresses), facilities just across a water or rail
barrier, and facility lists that differ (CBS uses its own registers, we use OSM/registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError


@dataclass
class CbsComparison:
    """Agreement between our population-weighted distance and CBS's per area (km)."""

    n_matched: int
    n_ours: int
    n_cbs: int
    pearson: float | None
    spearman: float | None
    median_ratio: float | None
    table: pd.DataFrame           # key, ours_km, cbs_km, ratio, diff_km (largest |diff| first)
    notes: list[str] = field(default_factory=list)

    def text(self, top: int = 5) -> str:
        lines = [f"matched areas: {self.n_matched} (ours {self.n_ours}, CBS {self.n_cbs})"]
        if self.n_matched:
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            lines.append(f"pearson r: {fmt(self.pearson)}  spearman rho: {fmt(self.spearman)}  "
                         f"median ratio ours/CBS: {fmt(self.median_ratio)}")
            for _, r in self.table.head(top).iterrows():
                lines.append(f"  {r['key']}: ours {r['ours_km']:.2f} km, CBS {r['cbs_km']:.2f} km")
        lines.extend(self.notes)
        return "\n".join(lines)


def compare_with_cbs(measures: pd.DataFrame, cbs_values: pd.DataFrame, *,
                     key: str = "area_code") -> CbsComparison:
    """Compare ``measures`` (key, value in metres) with ``cbs_values`` (key, value in km).

    ``key`` is usually the area code; CBS exports sometimes carry names only, then pass
    ``key='name'`` with names in both frames. Correlations need ≥ 3 matched areas.
    """
    for frame, label in ((measures, "measures"), (cbs_values, "cbs_values")):
        if key not in frame.columns or "value" not in frame.columns:
            raise InputError(f"{label} needs columns {key!r} and 'value'", where=label)
    ours = measures[[key, "value"]].dropna().assign(ours_km=lambda f: f["value"] / 1000.0)
    cbs = cbs_values[[key, "value"]].dropna().rename(columns={"value": "cbs_km"})
    merged = ours[[key, "ours_km"]].merge(cbs, on=key, how="inner").rename(columns={key: "key"})
    merged["ratio"] = np.where(merged["cbs_km"] > 0, merged["ours_km"] / merged["cbs_km"].where(
        merged["cbs_km"] > 0, 1.0), np.nan)
    merged["diff_km"] = merged["ours_km"] - merged["cbs_km"]
    merged = merged.reindex(merged["diff_km"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    n = len(merged)
    notes = []
    pearson = spearman = None
    if n >= 3 and merged["ours_km"].std() > 0 and merged["cbs_km"].std() > 0:
        pearson = float(merged["ours_km"].corr(merged["cbs_km"]))
        spearman = float(merged["ours_km"].rank().corr(merged["cbs_km"].rank()))
    elif n:
        notes.append("fewer than 3 matched areas (or no spread): no correlation computed")
    else:
        notes.append("no area in both inputs: nothing to compare")
    ratios = merged["ratio"].dropna()
    median_ratio = float(ratios.median()) if len(ratios) else None
    if n:
        notes.append("differences are expected: CBS measures by road from every address; "
                     "we use a demand point per area and straight line x detour")
    return CbsComparison(n, len(ours), len(cbs), pearson, spearman, median_ratio, merged, notes)


def read_nabijheid_export(path: str | Path) -> pd.DataFrame:
    """Read a StatLine 'Nabijheid voorzieningen' CSV export into (name, area_code, variable, unit, value).

    Handles both layouts in ../shared/data/nabijheid: a two-column list (region name;
    value) and the transposed table (one row per variable, one column per region, with
    a title line and decimal commas; '.' = not available).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", where=str(path))
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    rows = [[c.strip().strip('"').strip() for c in line.split(";")] for line in lines if line.strip()]
    if not rows:
        raise InputError("empty file", where=str(path))
    widest = max(len(r) for r in rows)
    if widest == 2:
        header, body = rows[0], rows[1:]
        variable = header[1]
        out = pd.DataFrame({"name": [r[0] for r in body], "area_code": None, "variable": variable,
                            "unit": "km" if "(km)" in variable else "", "value": [_num(r[1]) for r in body]})
        return out
    # transposed: header 'Onderwerp;unit;<region names>', metadata rows 'Regioaanduiding|…'
    full = [r for r in rows if len(r) == widest]
    header = next((r for r in full if r[0] == "Onderwerp"), full[0])
    names = header[2:]
    codes = next((r[2:] for r in full if r[0].endswith("|Codering")), [None] * len(names))
    records = []
    for r in full:
        if r is header or r[0].startswith("Regioaanduiding") or not r[0]:
            continue
        for name, code, cell in zip(names, codes, r[2:]):
            records.append({"name": name, "area_code": code, "variable": r[0], "unit": r[1],
                            "value": _num(cell)})
    return pd.DataFrame(records)


def normalise_name(name: str) -> str:
    """Match CBS region names to municipal ones ('Marnixbuurt Noord' = 'Marnixbuurt-Noord')."""
    return " ".join(str(name).lower().replace("-", " ").replace("/", " ").split())


def attach_codes(cbs: pd.DataFrame, areas: pd.DataFrame, *, name_col: str = "name") -> pd.DataFrame:
    """Fill ``area_code`` of a name-only CBS export from ``areas`` (code, name) by normalised name.

    Names that occur twice in ``areas`` are left unmatched rather than guessed.
    """
    names = areas.assign(_k=areas[name_col].map(normalise_name))
    unique = names.drop_duplicates("_k", keep=False).set_index("_k")["code"]
    out = cbs.copy()
    found = out["name"].map(normalise_name).map(unique)
    out["area_code"] = out.get("area_code", pd.Series(None, index=out.index)).fillna(found) \
        if "area_code" in out.columns else found
    return out


def _num(text: str) -> float:
    text = text.strip()
    if text in ("", ".", "x", "-"):
        return float("nan")
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return float("nan")
