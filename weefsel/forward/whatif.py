"""What-if: open, close or resize a facility, or add an estate, and see who gains or
loses access per age group and stacked-vulnerability flag, and how the gap moves.

Both runs use the same seed (common random numbers), so every difference comes from the
change and not from Monte-Carlo noise. The changed run is stored under its own name, so
scenarios can be compared side by side (``compare``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from weefsel.forward import rates
from weefsel.forward.errors import ForwardInputError
from weefsel.forward.run import ForwardResult, run_scenario
from weefsel.forward.scenario import Scenario, load_scenario, parse_scenario
from weefsel.forward.supply import load_supply
from weefsel.warehouse.store import Warehouse

ACTIONS = ("add", "remove", "resize", "estate")


def load_changes(path: str | Path) -> tuple[str, list[dict]]:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ForwardInputError("bestand niet gevonden", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise ForwardInputError(f"geen geldige YAML ({str(exc).splitlines()[0]})", file=path.name) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("changes"), list) or not doc["changes"]:
        raise ForwardInputError("verwacht 'changes:' met minstens één wijziging", file=path.name)
    return str(doc.get("name") or path.stem), doc["changes"]


def _f(ch: dict, key: str, i: int, file: str, default=None) -> float:
    raw = ch.get(key, default)
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise ForwardInputError(f"geen getal: {raw!r}", file=file, row=i, field=key) from None
    if not np.isfinite(v):
        raise ForwardInputError(f"geen eindig getal: {raw!r}", file=file, row=i, field=key)
    return v


def apply_facility_changes(supply: pd.DataFrame, changes: list[dict], file: str = "wijzigingen"
                           ) -> pd.DataFrame:
    """New facility table after add/remove/resize (Dutch errors naming the change)."""
    from pyproj import Transformer
    fac = supply.copy()
    for i, ch in enumerate(changes, start=1):
        if not isinstance(ch, dict):
            raise ForwardInputError("verwacht een wijziging met 'action'", file=file, row=i)
        act = str(ch.get("action", "")).lower()
        if act not in ACTIONS:
            raise ForwardInputError(f"onbekende actie '{act}' (kies uit {', '.join(ACTIONS)})",
                                    file=file, row=i, field="action")
        if act == "estate":
            continue
        if act == "add":
            if not ch.get("type"):
                raise ForwardInputError("geef het voorzieningstype", file=file, row=i, field="type")
            if "lon" in ch and "lat" in ch:
                x, y = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True).transform(
                    _f(ch, "lon", i, file), _f(ch, "lat", i, file))
            elif "x_rd" in ch and "y_rd" in ch:
                x, y = _f(ch, "x_rd", i, file), _f(ch, "y_rd", i, file)
            else:
                raise ForwardInputError("geef lon/lat of x_rd/y_rd", file=file, row=i, field="lon")
            if not (-7000 <= x <= 300000 and 289000 <= y <= 629000):
                raise ForwardInputError("ligt buiten Nederland; lon/lat verwisseld?", file=file, row=i, field="lon")
            cap = _f(ch, "capacity", i, file, 1)
            if cap < 0:
                raise ForwardInputError("negatieve capaciteit", file=file, row=i, field="capacity")
            fac = pd.concat([fac, pd.DataFrame([{"facility_id": str(ch.get("facility_id", f"whatif:{i}")),
                                                 "type": str(ch["type"]), "name": str(ch.get("name", "nieuw")),
                                                 "x_rd": x, "y_rd": y, "capacity": cap}])], ignore_index=True)
            continue
        fid = str(ch.get("facility_id", ""))
        hit = fac["facility_id"].astype(str) == fid
        if not hit.any():
            raise ForwardInputError(f"geen voorziening met id '{fid}'", file=file, row=i, field="facility_id")
        if act == "remove":
            fac = fac[~hit].reset_index(drop=True)
        else:
            cap = _f(ch, "capacity", i, file, -1)
            if cap < 0:
                raise ForwardInputError("geef een capaciteit ≥ 0", file=file, row=i, field="capacity")
            fac.loc[hit, "capacity"] = cap
    return fac


def apply_estates(sc: Scenario, changes: list[dict], file: str = "wijzigingen") -> Scenario:
    est = [c for c in changes if str(c.get("action", "")).lower() == "estate"]
    if not est:
        return sc
    spec = copy.deepcopy(sc.spec) if sc.spec else {"name": sc.name, "programme": []}
    spec.setdefault("estates", [])
    spec.setdefault("programme", [])
    for c in est:
        e = {k: c[k] for k in ("name", "gemeente", "polygon_lonlat", "polygon_rd", "point_lonlat",
                               "point_rd") if k in c}
        spec["estates"] = list(spec["estates"] or []) + [e]
        row = {"estate": c.get("name"), "dwellings": c.get("dwellings")}
        row["years" if "years" in c else "year"] = c.get("years", c.get("year"))
        spec["programme"] = list(spec["programme"]) + [row]
    return parse_scenario(spec, file=file)


def svi_label(themes: float) -> str:
    if pd.isna(themes):
        return "onbekend"
    return "gestapelde kwetsbaarheid" if themes >= 2 else "geen gestapelde kwetsbaarheid"


def who_gains(before: ForwardResult, after: ForwardResult, name: str, *, tol: float = 1e-3) -> pd.DataFrame:
    """Residents (median, per KWB band) in areas whose gap improves or worsens, per norm,
    year and SVI flag."""
    key = ["variant", "area_code", "norm", "year"]
    g = before.gap[key + ["gap_p50", "p_shortfall", "demand_p50"]].merge(
        after.gap[key + ["gap_p50", "p_shortfall", "label_nl"]], on=key, suffixes=("_voor", "_na"))
    delta = g["gap_p50_na"] - g["gap_p50_voor"]
    # a change counts when it exceeds 0.1% of the demand (float32 noise is ~1e-7)
    scale = tol * np.maximum(g["demand_p50"].fillna(0), 1.0) + 1e-3
    g["change"] = np.where(delta > scale, "wint", np.where(delta < -scale, "verliest", "gelijk"))
    g = g[g["change"] != "gelijk"]
    proj = after.projection[after.projection["age_group"].isin(rates.BAND_NAMES)]
    proj = proj[["variant", "area_code", "year", "age_group", "p50"]]
    flags = after.areas.set_index("code")["svi_themes_flagged"]
    m = g.merge(proj, on=["variant", "area_code", "year"])
    m["svi"] = m["area_code"].map(flags).map(svi_label).fillna("onbekend")
    out = (m.groupby(["variant", "norm", "label_nl", "year", "change", "age_group", "svi"], as_index=False)
           .agg(residents=("p50", "sum"), areas=("area_code", "nunique")))
    out.insert(0, "scenario", name)
    out.insert(1, "base_scenario", str(before.runs["scenario"].iloc[0]))
    return out


def gap_moves(before: ForwardResult, after: ForwardResult) -> pd.DataFrame:
    """Per area and norm: first year of shortfall before and after."""
    def first(r):
        gl = r.gaplist[["variant", "area_code", "norm", "first_year", "probability"]]
        return gl
    m = first(before).merge(first(after), on=["variant", "area_code", "norm"], how="outer",
                            suffixes=("_voor", "_na"))
    return m[(m["first_year_voor"] != m["first_year_na"])].reset_index(drop=True)


def what_if(warehouse: str | Path, scenario: str | Path | Scenario, changes: list[dict], *, name: str,
            file: str = "wijzigingen", facilities=None, **kw) -> tuple[ForwardResult, ForwardResult, pd.DataFrame]:
    """Run ``scenario`` without and with ``changes``; return both runs and the gains table."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    with Warehouse(warehouse) as wh:
        supply = load_supply(wh, facilities)
    new_supply = apply_facility_changes(supply, changes, file)
    new_sc = apply_estates(sc, changes, file)
    before = run_scenario(warehouse, sc, supply=supply, **kw)
    kw.pop("calibration", None)
    after = run_scenario(warehouse, new_sc, supply=new_supply, name=name, calibration=before.calibration, **kw)
    return before, after, who_gains(before, after, name)


def compare(con, names: list[str], years: list[int] | None = None) -> pd.DataFrame:
    """Scenarios side by side: residents of all areas together (quantiles of the per-draw
    sum) and the number of areas with a likely shortfall per norm and year."""
    q = ("SELECT scenario, variant, area_code, year, p10, p50, p90 FROM forward_projection "
         "WHERE level = 'totaal' AND age_group = 'totaal' AND scenario IN (SELECT unnest(?))")
    tot = con.execute(q, [names]).df()
    g = con.execute("SELECT scenario, variant, norm, year, count(*) FILTER (WHERE p_shortfall >= 0.5) AS "
                    "areas_short, sum(-least(gap_p50, 0)) AS shortfall_p50 FROM forward_gap WHERE scenario IN "
                    "(SELECT unnest(?)) GROUP BY ALL", [names]).df()
    if years:
        tot = tot[tot["year"].isin(years)]
        g = g[g["year"].isin(years)]
    return tot, g
