"""A stand-in national buurt layer for timing, made from real national inputs.

shared/data has buurt polygons only for Amsterdam, but the national map the dashboard
must draw has ~14,500 buurten. To time that load honestly, each real 2024 wijk polygon
(PDOK/CBS, generalised) is cut into as many cells as it has buurten in the national KWB
2024 buurt list (real codes, real counts per wijk), and the cell edges are given the
vertex density of the real Amsterdam buurt polygons (~47 coordinates a buurt) by
segmentising them and bending them with a smooth, deterministic field (so two
neighbours still share their edge). Only the shapes are invented; codes, counts and the
wijk outlines are real. Not for analysis; bench only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def _bend(coords: np.ndarray) -> np.ndarray:
    """A smooth displacement field: the same point always moves the same way."""
    x, y = coords[:, 0], coords[:, 1]
    dx = 25 * np.sin(y / 90.0) + 12 * np.sin((x + y) / 37.0)
    dy = 25 * np.cos(x / 110.0) + 12 * np.cos((x - y) / 41.0)
    return np.column_stack([x + dx, y + dy])


def real_wijken(data_dir: Path) -> tuple[list[str], np.ndarray]:
    """The national 2024 wijk polygons (PDOK/CBS, generalised): codes and RD New shapes."""
    import shapely
    from pyproj import Transformer
    from shapely.geometry import shape

    tf = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True)

    def _tf(c: np.ndarray) -> np.ndarray:
        x, y = tf.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    fc = json.loads((data_dir / "boundaries" / "wijk_2024_gegeneraliseerd.geojson")
                    .read_text(encoding="utf-8"))
    codes = [f["properties"]["statcode"] for f in fc["features"]]
    geoms = np.array([shape(f["geometry"]) for f in fc["features"]], dtype=object)
    return codes, shapely.transform(geoms, _tf)


def standin_buurten(data_dir: Path, seed: int = 7) -> pd.DataFrame:
    """code, level='buurt', name, gemeente_code, wijk_code, geom_rd (WKB, EPSG:28992)."""
    import shapely

    rng = np.random.default_rng(seed)
    wijken = dict(zip(*real_wijken(data_dir)))
    pop = pd.read_csv(data_dir / "kwb" / "kwb_2024_buurt_population_national.csv")
    codes = pop.iloc[:, 0].astype(str).str.strip()
    by_wijk: dict[str, list[str]] = {}
    for code in codes:
        by_wijk.setdefault("WK" + code[2:8], []).append(code)
    rows = []
    for wk, members in by_wijk.items():
        poly = wijken.get(wk)
        if poly is not None and not poly.is_valid:
            poly = shapely.make_valid(poly)
        if poly is None or poly.is_empty:
            continue
        cells = _cut(poly, len(members), rng)
        for code, cell in zip(sorted(members), cells):
            rows.append(dict(code=code, level="buurt", name=f"Buurt {code[2:]}",
                             gemeente_code="GM" + code[2:6], wijk_code=wk, vintage=2024,
                             source="bench stand-in", geom_rd=shapely.to_wkb(cell)))
    return pd.DataFrame(rows)


def _cut(poly, k: int, rng: np.random.Generator) -> list:
    """``k`` cells covering ``poly``: Voronoi of random interior points, clipped."""
    import shapely
    if k <= 1:
        return [_detail(poly)]
    minx, miny, maxx, maxy = poly.bounds
    pts: list = []
    while len(pts) < k:
        cand = shapely.points(rng.uniform(minx, maxx, 4 * k), rng.uniform(miny, maxy, 4 * k))
        pts.extend(cand[shapely.contains(poly, cand)][: k - len(pts)])
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=poly))
    out = [shapely.intersection(c, poly) for c in cells]
    out = [c for c in out if not c.is_empty]
    while len(out) < k:  # degenerate draw: repeat a cell rather than lose a code
        out.append(out[len(out) % len(out)])
    return [_detail(c) for c in out[:k]]


def _detail(geom):
    import shapely
    seg = shapely.segmentize(geom, max_segment_length=max(geom.length / 45, 5.0))
    return shapely.make_valid(shapely.transform(seg, _bend))
