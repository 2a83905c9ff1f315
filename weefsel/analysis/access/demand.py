"""Demand points: where residents are, with how many, in EPSG:28992.

Default: one point per area holding its population, at the polygon's centroid when that
lies inside the polygon, else at its representative point (shapely ``point_on_surface``),
so a crescent-shaped buurt never gets a point in its neighbour. Better: user-supplied
address points or 100 m grid cells with counts (CSV with x, y, count, or a CBS
vierkantstatistieken GeoPackage), each assigned to the area that contains it.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from weefsel.analysis.access.crs import check_rd
from weefsel.errors import InputError

#: population columns tried, in order, in user grid/address files
COUNT_COLUMNS = ("count", "population", "aantal_inwoners", "inwoners", "aantal")


def area_points(geoms: np.ndarray) -> np.ndarray:
    """(n, 2) demand point per polygon: centroid if inside, else a point on the surface."""
    geoms = np.asarray(geoms, dtype=object)
    centroids = shapely.centroid(geoms)
    inside = shapely.contains(geoms, centroids)
    pts = np.where(inside, centroids, shapely.point_on_surface(geoms))
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


def demand_from_areas(areas: gpd.GeoDataFrame | pd.DataFrame, population: pd.Series,
                      *, code_col: str = "code", geometry=None) -> pd.DataFrame:
    """Demand points (area_code, x, y, population) for areas with a polygon in RD New.

    ``population`` is indexed by area code. Areas without a population figure get 0
    and a ``population_missing`` flag (their aggregates become explicit 'no residents').
    """
    geoms = np.asarray(geometry if geometry is not None else areas.geometry, dtype=object)
    has = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    codes = areas[code_col].astype(str).to_numpy()[has]
    xy = area_points(geoms[has])
    check_rd(xy[:, 0], xy[:, 1], where="area polygons")
    pop = pd.to_numeric(pd.Series(codes).map(population), errors="coerce")
    out = pd.DataFrame({"area_code": codes, "x": xy[:, 0], "y": xy[:, 1],
                        "population": pop.fillna(0.0).to_numpy(dtype=float),
                        "population_missing": pop.isna().to_numpy()})
    if (out["population"] < 0).any():
        bad = out.loc[out["population"] < 0, "area_code"].iloc[0]
        raise InputError(f"negative population for {bad}", where="population")
    return out


def read_demand_file(path: str | Path) -> pd.DataFrame:
    """Read user demand points: CSV (x, y, count) or GeoPackage/GeoJSON grid cells/points.

    Cell polygons are replaced by their centroids. CBS vierkantstatistieken code
    suppressed counts as negative numbers (e.g. -99997): they become 0 and are counted in
    ``attrs['suppressed']`` so the caller can report them.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", where=str(path))
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
        lower = {c.lower(): c for c in frame.columns}
        if "x" not in lower or "y" not in lower:
            raise InputError("demand CSV needs columns x and y (RD metres) and a count",
                             where=str(path), expected=f"x, y, one of {COUNT_COLUMNS}")
        x = pd.to_numeric(frame[lower["x"]], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(frame[lower["y"]], errors="coerce").to_numpy(dtype=float)
    else:
        frame = gpd.read_file(path)
        if frame.crs is None:
            raise InputError("file has no CRS", where=str(path), expected="EPSG:28992")
        frame = frame.to_crs(28992)
        pts = shapely.centroid(np.asarray(frame.geometry.values, dtype=object))
        x, y = shapely.get_x(pts), shapely.get_y(pts)
        lower = {c.lower(): c for c in frame.columns}
    col = next((lower[c] for c in COUNT_COLUMNS if c in lower), None)
    if col is None:
        raise InputError("no population count column", where=str(path),
                         expected=f"one of {COUNT_COLUMNS}")
    count = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    check_rd(x, y, where=str(path))
    suppressed = int(((count < 0) | np.isnan(count)).sum())
    count = np.where((count < 0) | np.isnan(count), 0.0, count)
    out = pd.DataFrame({"x": x, "y": y, "population": count})
    out.attrs["suppressed"] = suppressed
    return out


def assign_areas(points: pd.DataFrame, codes: np.ndarray, geoms: np.ndarray) -> pd.DataFrame:
    """Add ``area_code``: the polygon containing each point (None when outside every area).

    Such points still use and compete for facilities (they are real residents) but are
    counted in no area; ``attrs['outside']`` holds how many.
    """
    tree = shapely.STRtree(np.asarray(geoms, dtype=object))
    pts = shapely.points(points["x"].to_numpy(), points["y"].to_numpy())
    pi, gi = tree.query(pts, predicate="intersects")
    area = np.full(len(points), None, dtype=object)
    # a point on a shared border goes to the first polygon found (deterministic: lowest index)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    area[pi[first]] = np.asarray(codes, dtype=object)[gi[first]]
    out = points.copy()
    out["area_code"] = area
    out.attrs = dict(points.attrs, outside=int(pd.isna(area).sum()))
    return out
