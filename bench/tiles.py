"""Bench: our NumPy MVT encoder (weefsel.web.tiles.encode_polygons) against mapbox-vector-tile.

    /work/.venv/bin/python bench/tiles.py [--data ../shared/data]

Why: weefsel/web/tiles.py carries its own Mapbox Vector Tile encoder. The project keeps an
own implementation only where it is measurably better than a well-kept library, so this
times it against the peer, ``mapbox-vector-tile`` (MIT, ``mapbox_vector_tile.encode``),
on identical inputs, and checks that both tiles say the same thing.

Data (two cases, each a ``TileSet(codes, geoms)`` in EPSG:28992):
 * buurt: the national stand-in buurt layer of bench/standin_buurten.py (14,574 buurten).
   SYNTHETIC shapes: real national KWB 2024 buurt codes and per-wijk counts, cut out of the
   real 2024 wijk outlines, with invented edges of real vertex density.
 * wijk: the REAL national wijk polygons (PDOK/CBS wijk_2024_gegeneraliseerd.geojson,
   lon/lat reprojected to EPSG:28992 with pyproj).

What is timed, per case and zoom (6 and 8: every tile over the level's bounds; 10: the
tiles over the Randstad, lon/lat box (4.2, 51.8, 5.2, 52.5)): for each tile the inputs are
made once, outside the timing, exactly as ``TileSet._make`` does (the zoom's simplified
geometries, STRtree query, ``clip_by_rect`` to the tile plus buffer, tile units, y down).
Then (a) ``encode_polygons`` and (b) ``mapbox_vector_tile.encode`` with
``{"extents": 4096, "y_coord_down": True}`` encode them; the peer gets only the polygon
parts of each feature (it refuses GeometryCollections), and with ``quantize_bounds`` unset
it neither re-scales nor flips, only rounds and orients the rings, as ours does. Each tile
is encoded 3 times per encoder and the best time is kept; the sums per zoom are printed.

Agreement: both tiles are decoded with ``mapbox_vector_tile.decode`` (y down); the codes
present must match (features that round away to nothing may differ; the count is
printed) and the per-code polygon area per tile must agree within 1% at the median (the
median and max relative difference are printed; the script exits 1 otherwise). Seen so
far: the peer keeps features whose rings round to a degenerate ring (fewer than three
distinct points or zero area), which ours drops; and where rounding makes a ring cross
itself, the peer orients it with shapely's ``orient`` (lowest-vertex test) while the
decoder reads winding from the signed area, so such an exterior decodes as a hole (the
few large relative differences, 1 to 2); ours winds every ring by its signed area.

Also printed: the one-off costs a cold server pays, ``TileSet(...)`` construction
(reprojection + STRtree) and ``_at_zoom(z)`` (simplification of the whole level per zoom).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mapbox_vector_tile
import shapely
from standin_buurten import real_wijken, standin_buurten

from weefsel.config import default_data_dir
from weefsel.web.tiles import (
    BUFFER,
    EXTENT,
    LAYER_NAME,
    TileSet,
    encode_polygons,
    lonlat_bounds,
    tile_bounds,
)

ZOOMS = (6, 8, 10)
RANDSTAD = (4.2, 51.8, 5.2, 52.5)
REPEATS = 3
PEER_OPTIONS = {"extents": EXTENT, "y_coord_down": True}


def tile_inputs(ts: TileSet, z: int, x: int, y: int):
    """The tile-unit geometries, feature ids and codes of tile z/x/y, as TileSet._make makes
    them (None when no area touches the tile)."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    pad = (maxx - minx) * BUFFER / EXTENT
    box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    idx = ts.tree.query(shapely.box(*box))
    if not len(idx):
        return None
    idx = np.sort(idx)
    clipped = shapely.clip_by_rect(ts._at_zoom(z)[idx], *box)
    scale = EXTENT / (maxx - minx)

    def _to_tile(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([(coords[:, 0] - minx) * scale, (maxy - coords[:, 1]) * scale])

    local = shapely.transform(clipped, _to_tile)
    return local, idx, [ts.codes[i] for i in idx]


def polygon_part(geom):
    """Only the polygon parts of a geometry (the peer refuses GeometryCollections)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    polys = [q for p in polys for q in ([p] if p.geom_type == "Polygon" else p.geoms)]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def peer_features(local, idx, codes) -> list[dict]:
    out = []
    for g, i, c in zip(local, idx, codes):
        p = polygon_part(g)
        if p is not None:
            out.append({"geometry": p, "properties": {"code": c}, "id": int(i)})
    return out


def best_of(fn, repeats: int = REPEATS) -> tuple[float, bytes]:
    best, out = float("inf"), b""
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def areas(tile: bytes) -> dict[str, float]:
    """Per code, the polygon area of its feature in a tile (tile units squared)."""
    if not tile:
        return {}
    dec = mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})
    out: dict[str, float] = {}
    for f in dec.get(LAYER_NAME, {}).get("features", []):
        g = shapely.geometry.shape(f["geometry"])
        out[f["properties"]["code"]] = out.get(f["properties"]["code"], 0.0) + float(g.area)
    return out


def run_case(name: str, codes: list[str], geoms: np.ndarray) -> tuple[float, float, bool]:
    t = time.perf_counter()
    ts = TileSet(codes, geoms)
    t_build = time.perf_counter() - t
    print(f"[{name}] {len(ts):,} polygons; one-off TileSet(...) construction "
          f"(reproject + STRtree): {t_build:.2f} s")
    bounds = lonlat_bounds(ts)
    tot_ours = tot_peer = 0.0
    ok = True
    for z in ZOOMS:
        t = time.perf_counter()
        ts._at_zoom(z)
        t_simpl = time.perf_counter() - t
        box = RANDSTAD if z >= 10 else bounds
        inputs = [tile_inputs(ts, *zxy) for zxy in ts.tiles_for_bounds(z, box)]
        inputs = [i for i in inputs if i is not None]
        n_feat = sum(len(i[1]) for i in inputs)
        s_ours = s_peer = 0.0
        b_ours = b_peer = 0
        only_ours = only_peer = 0
        rel: list[float] = []
        for local, idx, cs in inputs:
            props = {"code": cs}
            t_o, ours = best_of(lambda g=local, i=idx, pr=props: encode_polygons(LAYER_NAME, g, i, pr))
            layer = [{"name": LAYER_NAME, "features": peer_features(local, idx, cs)}]
            t_p, peer = best_of(lambda la=layer: mapbox_vector_tile.encode(
                la, default_options=PEER_OPTIONS))
            s_ours += t_o
            s_peer += t_p
            b_ours += len(ours)
            b_peer += len(peer)
            a_o, a_p = areas(ours), areas(peer)
            only_ours += len(set(a_o) - set(a_p))
            only_peer += len(set(a_p) - set(a_o))
            for c in set(a_o) & set(a_p):
                hi = max(abs(a_o[c]), abs(a_p[c]))
                rel.append(abs(a_o[c] - a_p[c]) / hi if hi else 0.0)
        med = float(np.median(rel)) if rel else 0.0
        mx = float(np.max(rel)) if rel else 0.0
        over = sum(r > 0.01 for r in rel)
        agree = med <= 0.01
        ok &= agree
        where = "Randstad sample" if z >= 10 else "level bounds"
        print(f"[{name}] z{z} ({where}): {len(inputs)} tiles, {n_feat:,} features; "
              f"one-off _at_zoom({z}) simplification {t_simpl:.2f} s")
        print(f"[{name}] z{z}   encode ours {s_ours:.3f} s vs peer {s_peer:.3f} s  "
              f"speedup vs mapbox-vector-tile: {s_peer / s_ours:.1f}x")
        print(f"[{name}] z{z}   bytes ours {b_ours:,} vs peer {b_peer:,}; "
              f"codes only in ours {only_ours}, only in peer {only_peer}")
        print(f"[{name}] z{z}   area rel. diff median {med:.2e} max {mx:.2e}, "
              f"{over} of {len(rel):,} over 1% ({'OK' if agree else 'MISMATCH'})")
        tot_ours += s_ours
        tot_peer += s_peer
    return tot_ours, tot_peer, ok


def wijk_layer(data_dir: Path) -> tuple[list[str], np.ndarray]:
    return real_wijken(data_dir)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data_dir() or Path("/work/shared/data"))
    args = ap.parse_args()
    print(f"weefsel bench/tiles.py  peer: mapbox-vector-tile "
          f"{getattr(mapbox_vector_tile, '__version__', '') or _peer_version()}  "
          f"zooms {ZOOMS}, best of {REPEATS} per tile")
    t = time.perf_counter()
    df = standin_buurten(args.data)
    print(f"[buurt] stand-in layer (synthetic shapes, real codes and wijk outlines) "
          f"made in {time.perf_counter() - t:.1f} s (bench setup, not timed below)")
    cases = [("buurt", list(df["code"]), shapely.from_wkb(np.array(list(df["geom_rd"]),
                                                                   dtype=object))),
             ("wijk", *wijk_layer(args.data))]
    tot_ours = tot_peer = 0.0
    ok = True
    for name, codes, geoms in cases:
        o, p, good = run_case(name, codes, geoms)
        tot_ours += o
        tot_peer += p
        ok &= good
    print(f"OVERALL encode ours {tot_ours:.3f} s vs peer {tot_peer:.3f} s  "
          f"speedup vs mapbox-vector-tile: {tot_peer / tot_ours:.1f}x  "
          f"(outputs {'agree' if ok else 'DISAGREE'})")
    return 0 if ok else 1


def _peer_version() -> str:
    from importlib.metadata import version
    return version("mapbox-vector-tile")


if __name__ == "__main__":
    sys.exit(main())
