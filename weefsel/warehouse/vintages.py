"""The build's vintage stage: keep other indelingen apart, and re-express their values.

A loader marks areas and values of another boundary vintage with an ``indeling`` column
(missing/None = the current indeling); boundary files carry their detected vintage. This
module

* splits every source's frames into current and other-vintage parts (:func:`split_frames`),
  so a 2019/2020 area never becomes a current area and its value never joins a current
  area on its code;
* lets a gemeente or provincie polygon of a nearby vintage serve the current area with the
  same code (those codes are never reused), but never a wijk or buurt polygon;
* builds the crosswalk per vintage and level and re-expresses the values onto the current
  areas, finest source first (:func:`reexpress_all`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from weefsel.warehouse.crosswalk import (
    CROSSWALK_COLUMNS,
    CURRENT_INDELING,
    build_crosswalk,
    gemeente_of,
    prepare_observations,
    reexpress,
    reused_codes,
    variable_kinds,
    vintage_geometry,
)

#: Levels whose codes CBS never reuses for another area: a polygon of another vintage may
#: stand in for the current area with that code (gemeente grenscorrecties are small).
STABLE_LEVELS = ("land", "provincie", "gemeente")
#: (target level, source level, only exact rows?) in order of preference: the publisher's own
#: value where the area persists, then the finest source, then a coarser one.
PLAN = {
    "buurt": [("buurt", False), ("wijk", False)],
    "wijk": [("wijk", True), ("buurt", False), ("wijk", False)],
    "gemeente": [("gemeente", True), ("buurt", False), ("gemeente", False)],
    "provincie": [("provincie", True)],
    "land": [("land", True)],
}
PREFIX = {"land": "NL", "provincie": "PV", "gemeente": "GM", "wijk": "WK", "buurt": "BU"}
AREA_VINTAGE_COLUMNS = ["code", "vintage", "level", "name", "gemeente_code", "geom_rd", "source"]


@dataclass
class VintageParts:
    """What the sources hold of other indelingen."""

    areas: list[pd.DataFrame] = field(default_factory=list)          # non-boundary sources
    boundaries: list[pd.DataFrame] = field(default_factory=list)     # polygons of a vintage
    lend: list[pd.DataFrame] = field(default_factory=list)           # stable-level polygons
    observations: list[pd.DataFrame] = field(default_factory=list)


def _indeling(frame: pd.DataFrame) -> pd.Series | None:
    if frame is None or len(frame) == 0 or "indeling" not in frame.columns:
        return None
    return pd.to_numeric(frame["indeling"], errors="coerce")


def split_frames(frames: object, kind: str, parts: VintageParts,
                 current: int = CURRENT_INDELING) -> None:
    """Move the other-vintage areas and values of one source into ``parts`` (in place)."""
    areas = getattr(frames, "areas", None)
    ind = _indeling(areas)
    if ind is not None:
        other = (ind.notna() & (ind != current)).to_numpy()
        if other.any():
            old = areas[other]
            if kind in ("boundaries", "pdok"):
                parts.boundaries.append(old)
                stable = old["level"].isin(STABLE_LEVELS)
                if stable.any():
                    parts.lend.append(old[stable])
            else:
                parts.areas.append(old)
            frames.areas = areas[~other].reset_index(drop=True)
    obs = getattr(frames, "observations", None)
    ind = _indeling(obs)
    if ind is not None:
        other = (ind.notna() & (ind != current)).to_numpy()
        if other.any():
            parts.observations.append(obs[other])
            frames.observations = obs[~other].reset_index(drop=True)


def lend_geometry(areas: pd.DataFrame, lend: list[pd.DataFrame]) -> pd.DataFrame:
    """Fill missing polygons of current gemeenten/provincies from another vintage, same code."""
    if not lend:
        return areas
    donors = pd.concat(lend, ignore_index=True)
    donors = donors[donors["geom_rd"].notna()]
    if donors.empty:
        return areas
    donors = donors.assign(_d=(pd.to_numeric(donors["vintage"], errors="coerce")
                               - CURRENT_INDELING).abs()).sort_values("_d", kind="stable")
    donors = donors.drop_duplicates("code")
    areas = areas.copy()
    need = areas["geom_rd"].isna() & areas["code"].isin(donors["code"])
    if not need.any():
        return areas
    d = donors.set_index("code")
    codes = areas.loc[need, "code"]
    areas.loc[need, "geom_rd"] = codes.map(d["geom_rd"]).to_numpy()
    areas.loc[need, "geom_quality"] = codes.map(d["geom_quality"]).to_numpy()
    note = codes.map(lambda c: f"Grens van indeling {int(d.at[c, 'vintage'])} "
                               "(code ongewijzigd; kleine grenscorrecties mogelijk).")
    areas.loc[need, "geom_note"] = note.to_numpy()
    return areas


def _geoms(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[["code", "level"]].copy()
    wkb = frame["geom_rd"].to_numpy()
    ok = pd.notna(frame["geom_rd"]).to_numpy()
    g = np.full(len(frame), None, dtype=object)
    if ok.any():
        g[ok] = shapely.from_wkb([bytes(b) for b in wkb[ok]])
    out["geom"] = g
    return out


@dataclass
class Reexpressed:
    observations: pd.DataFrame
    originals: pd.DataFrame
    crosswalk: pd.DataFrame
    area_vintages: pd.DataFrame
    notes: list[dict]


def reexpress_all(parts: VintageParts, areas: pd.DataFrame, population: dict[str, float],
                  variables: pd.DataFrame | None, keep: set[str] | None = None,
                  current: int = CURRENT_INDELING) -> Reexpressed:
    """Crosswalk every other vintage onto the current ``areas`` and re-express its values.

    ``areas``: all current areas (before the region selection: a split source needs all of
    its targets for its weights). ``keep``: codes of the region (None = national).
    """
    obs = _unique_values(parts.observations)
    region_gm = None if keep is None else {c for c in keep if c.startswith("GM")}
    cur_gm = set(areas.loc[areas["level"] == "gemeente", "code"])
    if region_gm is not None and len(obs):   # a region: its gemeenten and those gone since
        codes = pd.Series(pd.unique(obs["area_code"].astype(str)))
        gm = codes.str.strip().map(gemeente_of)
        ok = gm.isna() | gm.isin(region_gm) | ~gm.isin(cur_gm)
        obs = obs[obs["area_code"].astype(str).isin(set(codes[ok]))]
    notes: list[dict] = []
    kinds = variable_kinds(variables)
    cur_geo = _geoms(areas[areas["level"].isin(["buurt", "wijk", "gemeente", "provincie"])])
    cur_bu = cur_geo[cur_geo["level"] == "buurt"]
    cur_bu_sets = cur_bu.groupby(cur_bu["code"].map(gemeente_of))["code"].agg(frozenset).to_dict()
    cw_parts, out_parts, av_parts = [], [], []
    vintages = sorted({int(v) for v in pd.to_numeric(obs.get("indeling"), errors="coerce").dropna()})
    bounds = pd.concat(parts.boundaries, ignore_index=True) if parts.boundaries else None
    for v in vintages:
        o = obs[pd.to_numeric(obs["indeling"], errors="coerce") == v]
        src_areas = _source_areas(parts, o, v)
        gms = None
        if region_gm is not None:   # the region's gemeenten, and gemeenten gone since
            src_gm = set(src_areas["code"].map(gemeente_of).dropna())
            gms = region_gm | {g for g in src_gm if g not in cur_gm}
            src_areas = src_areas[src_areas["code"].map(gemeente_of).isin(gms)
                                  | ~src_areas["level"].isin(["gemeente", "wijk", "buurt"])]
            o = o[o["area_code"].isin(set(src_areas["code"]))]
        files = []
        if bounds is not None:
            b = bounds[bounds["level"] == "buurt"].copy()
            b["_d"] = (pd.to_numeric(b["vintage"], errors="coerce") - v).abs()
            for _, grp in sorted(b.groupby("_d"), key=lambda kv: kv[0]):
                if gms is not None:
                    grp = grp[grp["code"].map(gemeente_of).isin(gms)]
                files.append(_geoms(grp).assign(source=grp["source"].to_numpy()))
        geoms, origin = vintage_geometry(src_areas, files, cur_bu_sets)
        src = src_areas[["code", "level", "name"]].copy()
        src["geom"] = src["code"].map(geoms)
        cw_v = []
        o_arrow = prepare_observations(o)     # typed once, scanned by every reexpress below
        for level, plan in PLAN.items():
            tgt = cur_geo[cur_geo["level"] == level] if level != "land" else \
                pd.DataFrame({"code": list(areas.loc[areas["level"] == "land", "code"]),
                              "geom": None})
            if tgt.empty:
                continue
            results = []
            done: dict[str, pd.DataFrame] = {}
            for prio, (src_level, exact_only) in enumerate(plan):
                s = src[src["level"] == src_level]
                if s.empty:
                    continue
                if src_level not in done:
                    done[src_level] = build_crosswalk(s, tgt, level=level, from_vintage=v,
                                                      to_vintage=current, population=population)
                    cw_v.append(done[src_level])
                cw = done[src_level]
                if exact_only:
                    cw = cw[cw["method"] == "exact"]
                if cw.empty:
                    continue
                r = reexpress(o_arrow, cw, kinds)
                if src_level != level and len(r):
                    r["method"] = r["method"] + f":{src_level}"
                r["_prio"] = prio
                results.append(r)
            if results:
                res = pd.concat(results, ignore_index=True).sort_values("_prio", kind="stable")
                res = res.drop_duplicates(["area_code", "period", "variable", "breakdown"])
                out_parts.append(res.drop(columns="_prio"))
        cw_all = pd.concat(cw_v, ignore_index=True) if cw_v else pd.DataFrame(
            columns=CROSSWALK_COLUMNS)
        cw_all = cw_all.drop_duplicates(["from_code", "to_code", "level"])
        cw_parts.append(cw_all)
        notes += _notes(v, src_areas, cw_all, o, origin)
        av = src_areas[["code", "level", "name"]].copy()
        av["vintage"] = v
        av["gemeente_code"] = av["code"].map(gemeente_of)
        av["geom_rd"] = [shapely.to_wkb(geoms[c]) if c in geoms else None for c in av["code"]]
        av["source"] = src_areas["source"].to_numpy() if "source" in src_areas else None
        av_parts.append(av)
    if bounds is not None:     # the other-vintage boundary files themselves
        b = bounds.copy()
        if region_gm is not None:
            b = b[b["code"].map(gemeente_of).isin(region_gm) | b["level"].isin(["provincie"])]
        av_parts.append(b.assign(vintage=pd.to_numeric(b["vintage"], errors="coerce")))
    crosswalk = pd.concat(cw_parts, ignore_index=True) if cw_parts else pd.DataFrame(
        columns=CROSSWALK_COLUMNS)
    observations = pd.concat(out_parts, ignore_index=True) if out_parts else pd.DataFrame(
        columns=["area_code", "period", "variable", "breakdown", "value", "lower", "upper",
                 "source", "method"])
    originals = obs
    if keep is not None and len(crosswalk):
        crosswalk = crosswalk[crosswalk["to_code"].isin(keep)]
        observations = observations[observations["area_code"].isin(keep)]
        codes = pd.unique(originals["area_code"])
        used = set(crosswalk["from_code"]) | {c for c in codes
                                               if gemeente_of(c) in (region_gm or set())}
        originals = originals[originals["area_code"].isin(used | {"NL00", "NL01"})]
    av = pd.concat(av_parts, ignore_index=True) if av_parts else pd.DataFrame(
        columns=AREA_VINTAGE_COLUMNS)
    av = av[[c for c in AREA_VINTAGE_COLUMNS if c in av.columns]]
    av = av[av["vintage"].notna()].drop_duplicates(["code", "vintage"])
    if keep is not None and len(av):
        av = av[av["code"].map(gemeente_of).isin(region_gm or set())
                | av["code"].isin(set(crosswalk["from_code"]))
                | ~av["level"].isin(["gemeente", "wijk", "buurt"])]
    observations["indeling"] = current
    originals = originals.assign(method="published")
    return Reexpressed(observations.reset_index(drop=True), originals.reset_index(drop=True),
                       crosswalk.reset_index(drop=True), av.reset_index(drop=True), notes)


def _unique_values(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """All other-vintage values, codes normalised; a regional subset that repeats the national
    file gives way to it (only the codes of later files are checked: cheap on 2M rows)."""
    if not frames:
        return pd.DataFrame(columns=["area_code", "period", "variable", "breakdown", "indeling"])
    fixed = []
    for f in frames:
        f = f.assign(area_code=f["area_code"].astype(str).str.strip().replace({"NL01": "NL00"}),
                     breakdown=(f["breakdown"] if "breakdown" in f
                                else pd.Series("", index=f.index)).fillna(""))
        fixed.append(f)
    obs = pd.concat(fixed, ignore_index=True)
    if len(fixed) > 1:
        later = set().union(*(set(pd.unique(f["area_code"])) for f in fixed[1:]))
        hit = obs["area_code"].isin(later)
        keys = ["area_code", "period", "variable", "breakdown", "indeling"]
        dup = obs[hit].duplicated(keys)
        obs = obs.drop(index=dup[dup].index)
    return obs


def _source_areas(parts: VintageParts, obs: pd.DataFrame, vintage: int) -> pd.DataFrame:
    """The areas of one vintage: those its sources list, plus codes only seen in values."""
    frames = [a for a in parts.areas
              if (pd.to_numeric(a["indeling"], errors="coerce") == vintage).any()]
    a = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["code", "level", "name", "source"])
    a = a[pd.to_numeric(a.get("indeling", vintage), errors="coerce").fillna(vintage) == vintage] \
        if len(a) else a
    codes = pd.Series(pd.unique(obs["area_code"].astype(str).str.strip()))
    extra = codes[~codes.isin(a["code"])]
    if len(extra):
        lv = extra.str[:2].map({"NL": "land", "PV": "provincie", "GM": "gemeente",
                                "WK": "wijk", "BU": "buurt"})
        a = pd.concat([a, pd.DataFrame({"code": extra, "level": lv, "name": None,
                                        "source": None})], ignore_index=True)
    a = a.copy()
    a["code"] = a["code"].replace({"NL01": "NL00"})
    return a[a["level"].notna()].drop_duplicates("code").reset_index(drop=True)


def _note(v: int, check: str, severity: str, observed: float, message: str) -> dict:
    """One validation row about indeling ``v`` (the table's other columns stay empty)."""
    return {"check_name": check, "severity": severity, "source": f"indeling {v}",
            "level": None, "area_code": None, "variable": None, "expected": None,
            "observed": float(observed), "message": message}


def _notes(v: int, src: pd.DataFrame, cw: pd.DataFrame, obs: pd.DataFrame,
           origin: dict[str, str]) -> list[dict]:
    """Validation rows: codes reused for another area, and source areas left unmapped."""
    rows: list[dict] = []
    reused = sorted(reused_codes(cw))
    if reused:
        rows.append(_note(v, "vintage_reused_codes", "info", len(reused),
                          f"{len(reused)} codes of indeling {v} name another area in "
                          f"indeling {CURRENT_INDELING} (e.g. {', '.join(reused[:5])}); "
                          "treated as two areas, values go through the crosswalk"))
    with_values = set(pd.unique(obs["area_code"]))
    mapped = set(cw["from_code"]) if len(cw) else set()
    lost = sorted(c for c in src["code"] if c in with_values and c not in mapped
                  and c[:2] in ("GM", "WK", "BU"))
    if lost:
        rows.append(_note(v, "vintage_unmapped", "warning", len(lost),
                          f"{len(lost)} areas of indeling {v} have no polygon with "
                          f"agreeing codes, so their values are kept only in "
                          f"observations_original (e.g. {', '.join(lost[:5])})"))
    n_geo = sum(1 for g, o in origin.items() if o != "current codes")
    rows.append(_note(v, "vintage_crosswalk", "info", len(cw),
                      f"crosswalk {v} -> {CURRENT_INDELING}: {len(cw)} rows; "
                      f"{n_geo} gemeenten with changed codes overlaid by polygon, "
                      f"{len(origin) - n_geo} with unchanged codes mapped exactly"))
    return rows
