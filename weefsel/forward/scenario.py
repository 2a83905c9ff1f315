"""Scenarios as files: a building programme per area (or drawn estate) and year, variants.

YAML (full form) or CSV (programme rows only: ``area,year,dwellings[,demolished,source]``).
Every problem is one Dutch line naming file, row and field; nothing is run or written
until the whole file checks out. See docs/forward.md ("Scenario files").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import yaml

from weefsel.forward.base import Base
from weefsel.forward.errors import ForwardInputError
from weefsel.forward.montecarlo import Uncertainty
from weefsel.forward.project import Programme

MAX_HORIZON = 2100
TOP_FIELDS = {"name", "title_nl", "description", "voorbeeld", "horizon", "uncertainty", "variants",
              "estates", "programme", "gemeente_totals", "sources"}
ROW_FIELDS = {"area", "estate", "year", "years", "dwellings", "demolished", "type", "source", "note"}
ESTATE_FIELDS = {"name", "gemeente", "polygon_lonlat", "polygon_rd", "point_lonlat", "point_rd",
                 "source", "note"}
VARIANT_EXTRA = {"programme_factor"}
_YEARS = re.compile(r"^\s*(\d{4})\s*-\s*(\d{4})\s*$")


@dataclass
class Estate:
    name: str
    code: str
    gemeente: str
    geometry: object  # shapely geometry in RD New
    row: int


@dataclass
class Scenario:
    name: str
    file: str
    horizon: int = 2050
    title_nl: str = ""
    voorbeeld: bool = False
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)  # row, area, estate, year, dwellings, source
    estates: list[Estate] = field(default_factory=list)
    uncertainty: dict = field(default_factory=dict)
    variants: dict[str, dict] = field(default_factory=dict)
    gemeente_totals: pd.DataFrame | None = None
    spec: dict = field(default_factory=dict)

    def variant_names(self) -> list[str]:
        return ["basis"] + [v for v in self.variants if v != "basis"]

    def uncertainty_for(self, variant: str = "basis") -> tuple[Uncertainty, float]:
        """The Uncertainty of a variant and its programme factor."""
        over = {**self.uncertainty, **(self.variants.get(variant) or {})}
        factor = float(over.pop("programme_factor", 1.0))
        return replace(Uncertainty(), **over), factor


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "gebied"


def _err(msg, file, row=None, field_=None):
    return ForwardInputError(msg, file=file, row=row, field=field_)


def load_scenario(path: str | Path) -> Scenario:
    """Read a YAML or CSV scenario and check its own consistency (not yet the areas)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise _err("bestand niet gevonden", str(path))
    if path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
            raise _err(f"geen leesbare CSV ({exc})", name) from None
        doc = {"name": path.stem, "programme": df.to_dict("records")}
    else:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise _err(f"geen geldige YAML ({str(exc).splitlines()[0]})", name) from None
    return parse_scenario(doc, file=name)


def parse_scenario(doc: dict, *, file: str = "scenario") -> Scenario:
    if not isinstance(doc, dict):
        raise _err("verwacht een YAML-blok met 'programme:'", file)
    unknown = set(doc) - TOP_FIELDS
    if unknown:
        raise _err(f"onbekend veld (bekend: {', '.join(sorted(TOP_FIELDS))})", file, None, sorted(unknown)[0])
    horizon = doc.get("horizon", 2050)
    try:
        horizon = int(horizon)
    except (TypeError, ValueError):
        raise _err(f"geen jaartal: {horizon!r}", file, None, "horizon") from None
    if not 2000 < horizon <= MAX_HORIZON:
        raise _err(f"horizon {horizon} buiten bereik (tot en met {MAX_HORIZON})", file, None, "horizon")
    sc = Scenario(name=str(doc.get("name") or Path(file).stem), file=file, horizon=horizon,
                  title_nl=str(doc.get("title_nl", "")), voorbeeld=bool(doc.get("voorbeeld", False)),
                  spec=doc)
    sc.uncertainty = _check_uncertainty(doc.get("uncertainty") or {}, file, "uncertainty")
    variants = doc.get("variants") or {}
    if not isinstance(variants, dict):
        raise _err("verwacht {naam: {parameter: waarde}}", file, None, "variants")
    sc.variants = {str(k): _check_uncertainty(v or {}, file, f"variants.{k}", allow_factor=True)
                   for k, v in variants.items()}
    sc.estates = [_estate(e, i + 1, file) for i, e in enumerate(doc.get("estates") or [])]
    _check_overlap(sc.estates, file)
    prog = doc.get("programme")
    if not isinstance(prog, list) or not prog:
        raise _err("geen bouwprogramma: verwacht 'programme:' met minstens één rij", file, None, "programme")
    estate_names = {e.name for e in sc.estates}
    rows = []
    for i, r in enumerate(prog, start=1):
        rows.extend(_row(r, i, file, horizon, estate_names))
    sc.rows = pd.DataFrame(rows)
    tot = doc.get("gemeente_totals")
    if tot:
        sc.gemeente_totals = _totals(tot, file, horizon)
    return sc


def _check_uncertainty(block, file, where, allow_factor=False) -> dict:
    if not isinstance(block, dict):
        raise _err("verwacht {parameter: waarde}", file, None, where)
    allowed = Uncertainty.fields() | (VARIANT_EXTRA if allow_factor else set())
    out = {}
    for k, v in block.items():
        if k not in allowed:
            raise _err(f"onbekende parameter (bekend: {', '.join(sorted(allowed))})", file, None, f"{where}.{k}")
        try:
            val = float(v)
        except (TypeError, ValueError):
            raise _err(f"geen getal: {v!r}", file, None, f"{where}.{k}") from None
        if not np.isfinite(val) or (val < 0 and k not in ("occupancy_trend",)):
            raise _err(f"waarde {v!r} moet ≥ 0 zijn", file, None, f"{where}.{k}")
        out[k] = int(val) if k == "delay_max" else val
    return out


def _years(r: dict, i: int, file: str, horizon: int) -> list[int]:
    text = r.get("years") if str(r.get("years", "")).strip() else r.get("year")
    if text is None or str(text).strip() == "":
        raise _err("geen jaar (gebruik 'year: 2030' of 'years: 2030-2040')", file, i, "year")
    m = _YEARS.match(str(text))
    try:
        lo, hi = (int(m.group(1)), int(m.group(2))) if m else (int(float(str(text))),) * 2
    except ValueError:
        raise _err(f"geen jaartal: {text!r}", file, i, "year") from None
    fld = "years" if m else "year"
    if lo > hi:
        raise _err(f"begin na einde: {text!r}", file, i, fld)
    if lo < 2000 or hi > horizon:
        raise _err(f"jaar {text} buiten bereik (2000 tot en met horizon {horizon})", file, i, fld)
    return list(range(lo, hi + 1))


def _row(r, i, file, horizon, estate_names) -> list[dict]:
    if not isinstance(r, dict):
        raise _err("verwacht velden area/estate, year, dwellings", file, i)
    unknown = set(k for k in r if str(r[k]).strip() != "") - ROW_FIELDS
    if unknown:
        raise _err(f"onbekend veld (bekend: {', '.join(sorted(ROW_FIELDS))})", file, i, sorted(unknown)[0])
    area = str(r.get("area") or "").strip()
    estate = str(r.get("estate") or "").strip()
    if bool(area) == bool(estate):
        raise _err("geef precies één van 'area' (gebiedscode) of 'estate' (nieuw gebied)", file, i, "area")
    if estate and estate not in estate_names:
        raise _err(f"onbekend nieuw gebied '{estate}' (niet onder 'estates:')", file, i, "estate")
    vals = {}
    for f in ("dwellings", "demolished"):
        raw = r.get(f)
        if raw is None or str(raw).strip() == "":
            vals[f] = 0.0
            continue
        try:
            v = float(str(raw).replace("_", ""))
        except ValueError:
            raise _err(f"geen getal: {raw!r}", file, i, f) from None
        if not np.isfinite(v) or v < 0:
            raise _err(f"negatief of ongeldig aantal woningen ({raw}); sloop hoort in 'demolished'",
                       file, i, f)
        vals[f] = v
    if vals["dwellings"] == 0 and vals["demolished"] == 0:
        raise _err("geen woningen en geen sloop", file, i, "dwellings")
    years = _years(r, i, file, horizon)
    net = (vals["dwellings"] - vals["demolished"]) / len(years)
    return [{"row": i, "area": area, "estate": estate, "year": y, "dwellings": net,
             "type": str(r.get("type", "") or ""), "source": str(r.get("source", ""))} for y in years]


def _estate(e, i, file) -> Estate:
    from pyproj import Transformer
    if not isinstance(e, dict) or not str(e.get("name", "")).strip():
        raise _err("een nieuw gebied heeft een 'name'", file, f"estates {i}", "name")
    unknown = set(e) - ESTATE_FIELDS
    if unknown:
        raise _err(f"onbekend veld (bekend: {', '.join(sorted(ESTATE_FIELDS))})", file, f"estates {i}",
                   sorted(unknown)[0])
    geom = None
    for key in ("polygon_lonlat", "polygon_rd", "point_lonlat", "point_rd"):
        if e.get(key) is None:
            continue
        try:
            coords = np.asarray(e[key], dtype=float)
            if key.endswith("lonlat"):
                t = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True)
                coords = np.column_stack(t.transform(*coords.reshape(-1, 2).T))
            geom = shapely.Polygon(coords) if key.startswith("polygon") else shapely.Point(coords.ravel())
        except Exception:  # noqa: BLE001 - any malformed coordinate list
            raise _err("ongeldige coördinaten", file, f"estates {i}", key) from None
        if key.startswith("polygon") and (not geom.is_valid or geom.area <= 0):
            raise _err("ongeldige of lege polygoon (zelfdoorsnijding?)", file, f"estates {i}", key)
        x, y = shapely.get_coordinates(geom).T
        if x.min() < -7000 or x.max() > 300000 or y.min() < 289000 or y.max() > 629000:
            raise _err("ligt buiten Nederland (RD New); lon/lat verwisseld?", file, f"estates {i}", key)
        break
    if geom is None:
        raise _err("geef polygon_lonlat, polygon_rd, point_lonlat of point_rd", file, f"estates {i}", "polygon_lonlat")
    name = str(e["name"]).strip()
    return Estate(name=name, code=f"NIEUW:{_slug(name)}", gemeente=str(e.get("gemeente", "")).strip(),
                  geometry=geom, row=i)


def _check_overlap(estates: list[Estate], file: str) -> None:
    polys = [(e, e.geometry) for e in estates if e.geometry.geom_type == "Polygon"]
    for a in range(len(polys)):
        for b in range(a + 1, len(polys)):
            if polys[a][1].intersection(polys[b][1]).area > 1.0:
                raise _err(f"polygoon overlapt met nieuw gebied '{polys[a][0].name}' (rij {polys[a][0].row})",
                           file, f"estates {polys[b][0].row}", "polygon")
    names = [e.name for e in estates]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise _err(f"naam '{sorted(dup)[0]}' komt twee keer voor", file, "estates", "name")


def _totals(tot, file, horizon) -> pd.DataFrame:
    rows = []
    for i, r in enumerate(tot, start=1):
        try:
            g, y, p = str(r["gemeente"]), int(r["year"]), float(r["population"])
        except (KeyError, TypeError, ValueError):
            raise _err("verwacht gemeente, year, population", file, f"gemeente_totals {i}") from None
        if p < 0 or y > horizon:
            raise _err("negatief inwonertal of jaar na de horizon", file, f"gemeente_totals {i}", "population")
        rows.append({"gemeente": g, "year": y, "population": p, "row": i})
    return pd.DataFrame(rows)


@dataclass
class Resolved:
    """A scenario bound to a warehouse base: extended base, programme, constraint."""

    base: Base
    programme: Programme
    gemeente_index: np.ndarray
    gemeente_codes: list[str]
    gemeente_totals: np.ndarray | None  # (G, Y)
    programme_rows: pd.DataFrame        # per row: area code it landed in, dwellings


def resolve(sc: Scenario, base: Base, programme_factor: float = 1.0) -> Resolved:
    """Check area codes against the warehouse, add estates as new areas, spread wijk and
    gemeente rows over their buurten in proportion to the dwellings."""
    file = sc.file
    if sc.horizon <= base.year:
        raise _err(f"horizon {sc.horizon} ligt niet na het basisjaar {base.year}", file, None, "horizon")
    codes = list(base.codes)
    names = list(base.names)
    gem = list(base.gemeente)
    pop = [base.population]
    dw = [base.dwellings]
    xy = [base.xy if base.xy is not None else np.full((base.n, 2), np.nan)]
    known_gem = set(base.gemeente)
    for e in sc.estates:
        if e.gemeente and e.gemeente not in known_gem:
            raise _err(f"onbekende gemeente '{e.gemeente}' (niet in het warehouse)", file,
                       f"estates {e.row}", "gemeente")
        c = e.geometry.centroid
        codes.append(e.code)
        names.append(e.name)
        gem.append(e.gemeente or "")
        pop.append(np.zeros((1, base.population.shape[1])))
        dw.append(np.zeros(1))
        xy.append(np.array([[c.x, c.y]]))
    ext = Base(codes=np.array(codes, dtype=object), names=np.array(names, dtype=object),
               gemeente=np.array(gem, dtype=object), population=np.vstack(pop), dwellings=np.concatenate(dw),
               year=base.year, xy=np.vstack(xy), notes=list(base.notes))
    idx = ext.index()
    wijk_of = np.array(["WK" + c[2:8] if c.startswith("BU") else "" for c in ext.codes])
    estate_code = {e.name: e.code for e in sc.estates}
    area_i, year_i, dws, landed = [], [], [], []
    for r in sc.rows.itertuples(index=False):
        if r.year <= base.year:
            raise _err(f"jaar {r.year} ligt niet na het basisjaar {base.year} van het warehouse",
                       file, r.row, "year")
        if r.estate:
            targets, weights = [idx[estate_code[r.estate]]], np.ones(1)
        elif r.area in idx:
            targets, weights = [idx[r.area]], np.ones(1)
        else:
            mask = (wijk_of == r.area) | (ext.gemeente == r.area)
            if not mask.any():
                raise _err(f"onbekende gebiedscode '{r.area}' (geen buurt, wijk of gemeente in het warehouse)",
                           file, r.row, "area")
            targets = np.flatnonzero(mask & ~np.char.startswith(ext.codes.astype(str), "NIEUW:"))
            weights = ext.dwellings[targets].astype(float)
            weights = weights if weights.sum() > 0 else np.ones(len(targets))
        weights = weights / weights.sum()
        for t, w in zip(targets, weights):
            area_i.append(t)
            year_i.append(r.year)
            dws.append(r.dwellings * w * programme_factor)
            landed.append({"row": r.row, "area_code": ext.codes[t], "year": r.year,
                           "dwellings": r.dwellings * w * programme_factor})
    prog = Programme(np.array(area_i, int), np.array(year_i, int), np.array(dws, float))
    gcodes = sorted(set(ext.gemeente))
    gidx = np.array([gcodes.index(g) for g in ext.gemeente])
    totals = None
    if sc.gemeente_totals is not None:
        Y = sc.horizon - base.year
        totals = np.full((len(gcodes), Y), np.nan)
        for r in sc.gemeente_totals.itertuples(index=False):
            if r.gemeente not in gcodes:
                raise _err(f"onbekende gemeente '{r.gemeente}'", file, f"gemeente_totals {r.row}", "gemeente")
            if r.year <= base.year:
                raise _err(f"jaar {r.year} ligt niet na het basisjaar {base.year}", file,
                           f"gemeente_totals {r.row}", "year")
            totals[gcodes.index(r.gemeente), r.year - base.year - 1] = r.population
    return Resolved(ext, prog, gidx, gcodes, totals, pd.DataFrame(landed))
