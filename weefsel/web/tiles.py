"""Mapbox Vector Tiles (MVT) of the area boundaries of one level.

Why tiles and not one GeoJSON per level: a national buurt map has ~14,500 polygons. As
GeoJSON the browser downloads and cuts the whole level before it draws anything; as
tiles it fetches the handful that cover the view, each already simplified for its zoom
and clipped to its square, and decodes them in parallel workers. The tiles carry only
geometry and ``code``: values come separately (``/api/map/{level}/values``) and
are applied as feature state, so switching the indicator never refetches a tile.

Tiles are made on request (simplify → clip → encode) and cached in memory; the warehouse
is read-only, so a tile never goes stale while the server runs.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

#: Web Mercator half-width in metres (EPSG:3857).
ORIGIN = 20037508.342789244
#: Tile coordinate extent (the MVT default) and the clip buffer around each tile.
EXTENT = 4096
BUFFER = 64
#: Above this zoom tiles keep the full stored detail (no further simplification).
MAX_SIMPLIFY_ZOOM = 14
LAYER_NAME = "gebieden"


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y in EPSG:3857 metres (XYZ scheme, y down)."""
    span = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * span
    maxy = ORIGIN - y * span
    return minx, maxy - span, minx + span, maxy


#: Screen pixels per tile edge (MapLibre draws vector tiles at 512 px).
TILE_PIXELS = 512


def simplify_tolerance(z: int) -> float:
    """Half a screen pixel at tile zoom ``z``, in metres: a tile is shown at most twice its
    size before the next zoom's tile takes over, so the error stays under one pixel."""
    return (2 * ORIGIN / (1 << z)) / TILE_PIXELS * 0.5


class _Once:
    """A dict filled at most once per key, however many threads ask at the same time:
    the costly steps here (reading and reprojecting a level, simplifying it) must not run
    twice when the background warmer and a first request meet."""

    def __init__(self) -> None:
        self._values: dict = {}
        self._locks: dict = {}
        self._guard = threading.Lock()

    def get(self, key, make):
        hit = self._values.get(key)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._values.get(key)
            if hit is None:
                hit = self._values[key] = make()
        return hit


class TileSet:
    """Vector tiles of one level's polygons (feature id = position, property ``code``),
    made on request and cached.

    ``geoms_rd`` are Shapely geometries in EPSG:28992 (as stored in the warehouse)."""

    def __init__(self, codes: list[str], geoms_rd: np.ndarray,
                 cache_size: int = 4096):
        import shapely
        from pyproj import Transformer

        tf = Transformer.from_crs("EPSG:28992", "EPSG:3857", always_xy=True)

        def _tf(coords: np.ndarray) -> np.ndarray:
            x, y = tf.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        keep = ~(shapely.is_missing(geoms_rd) | shapely.is_empty(geoms_rd))
        self.codes = [c for c, k in zip(codes, keep) if k]
        self.geoms = shapely.transform(geoms_rd[keep], _tf)
        self.tree = shapely.STRtree(self.geoms)
        self.bounds = shapely.total_bounds(self.geoms) if len(self.geoms) else None
        self._simplified = _Once()
        self._cache: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.geoms)

    def _at_zoom(self, z: int) -> np.ndarray:
        """The level simplified once for zoom ``z`` (topology kept, so nothing vanishes)."""
        import shapely
        z = min(z, MAX_SIMPLIFY_ZOOM)
        return self._simplified.get(z, lambda: shapely.simplify(
            self.geoms, simplify_tolerance(z), preserve_topology=True))

    def tile(self, z: int, x: int, y: int) -> bytes:
        """The MVT bytes of tile z/x/y (empty bytes when no area touches it)."""
        key = (z, x, y)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        body = self._make(z, x, y)
        with self._lock:
            self._cache[key] = body
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return body

    def _make(self, z: int, x: int, y: int) -> bytes:
        import shapely
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        pad = (maxx - minx) * BUFFER / EXTENT
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        idx = self.tree.query(shapely.box(*box))
        if not len(idx):
            return b""
        idx = np.sort(idx)
        clipped = shapely.clip_by_rect(self._at_zoom(z)[idx], *box)
        scale = EXTENT / (maxx - minx)

        def _to_tile(coords: np.ndarray) -> np.ndarray:
            return np.column_stack([(coords[:, 0] - minx) * scale, (maxy - coords[:, 1]) * scale])

        local = shapely.transform(clipped, _to_tile)
        return encode_polygons(LAYER_NAME, local, idx, {"code": [self.codes[i] for i in idx]})

    def tiles_for_bounds(self, z: int, lonlat: tuple[float, float, float, float]
                         ) -> list[tuple[int, int, int]]:
        """The z/x/y of every tile that covers a lon/lat box (to warm a first view)."""
        def xy(lon: float, lat: float) -> tuple[int, int]:
            n = 1 << z
            lat = max(min(lat, 85.0511), -85.0511)
            tx = int((lon + 180.0) / 360.0 * n)
            ty = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
            return min(max(tx, 0), n - 1), min(max(ty, 0), n - 1)
        x0, y0 = xy(lonlat[0], lonlat[3])
        x1, y1 = xy(lonlat[2], lonlat[1])
        return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


# -- MVT encoding ------------------------------------------------------------------------------
# A small encoder for the one thing we need (polygon features with string properties),
# written to the MVT 2.1 spec: protobuf fields by hand, and every ring of a tile delta-,
# zigzag- and varint-encoded at once with NumPy. bench/tiles.py compares it with
# mapbox-vector-tile's general encoder; tests/test_tiles.py decodes our tiles with it.

CMD_MOVE_TO, CMD_LINE_TO, CMD_CLOSE = 1, 2, 7


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num: int, wire: int) -> bytes:
    return _varint((num << 3) | wire)


def _bytes_field(num: int, payload: bytes) -> bytes:
    return _key(num, 2) + _varint(len(payload)) + payload


def varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of non-negative integers < 2**35, all at once: (bytes as uint8,
    byte length of each value)."""
    v = values.astype(np.uint64)
    nbytes = np.ones(len(v), dtype=np.int64)
    for k in range(1, 5):
        nbytes += v >= (np.uint64(1) << np.uint64(7 * k))
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    start = np.concatenate([[0], np.cumsum(nbytes)[:-1]])
    for k in range(5):
        has = nbytes > k
        byte = (v[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = nbytes[has] > k + 1
        out[start[has] + k] = (byte | (more.astype(np.uint64) << np.uint64(7))).astype(np.uint8)
    return out, nbytes


def geometry_commands(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MVT command integers for polygon geometries already in tile units.

    Returns (commands, feature index of each command). Rings are rounded to integers,
    repeated points dropped, rings of fewer than three points or no area dropped (with
    the holes of a dropped exterior), exteriors made positive-area and holes negative
    (the spec's winding), and the cursor carried across the rings of one feature."""
    import shapely
    empty = np.zeros(0, dtype=np.int64)
    parts, part_feat = shapely.get_parts(geoms, return_index=True)
    is_poly = shapely.get_type_id(parts) == 3
    parts, part_feat = parts[is_poly], part_feat[is_poly]
    if not len(parts):
        return empty, empty
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_first = np.r_[True, ring_part[1:] != ring_part[:-1]]  # exterior = first ring
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    pts = np.rint(coords).astype(np.int64)
    # drop each ring's closing point, then repeats of the previous point in the same ring
    last = np.r_[ring_of[1:] != ring_of[:-1], True]
    keep = ~last
    same = np.r_[False, (ring_of[1:] == ring_of[:-1]) & np.all(pts[1:] == pts[:-1], axis=1)]
    keep &= ~same
    pts, ring_of = pts[keep], ring_of[keep]
    # a last point equal to the ring's first (after rounding) is a repeat too
    n_rings = len(rings)
    counts = np.bincount(ring_of, minlength=n_rings)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 1
    ends = starts + counts - 1
    dup_end = np.zeros(len(pts), dtype=bool)
    dup_end[ends[has]] = np.all(pts[ends[has]] == pts[starts[has]], axis=1)
    pts, ring_of = pts[~dup_end], ring_of[~dup_end]
    counts = np.bincount(ring_of, minlength=n_rings)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # twice the signed area of each ring (shoelace, next point within the same ring)
    nxt = np.arange(len(pts)) + 1
    ring_last = starts + counts - 1
    nxt[ring_last[counts > 0]] = starts[counts > 0]
    cross = pts[:, 0] * pts[nxt, 1] - pts[nxt, 0] * pts[:, 1]
    area2 = np.zeros(n_rings, dtype=np.int64)
    np.add.at(area2, ring_of, cross)
    ok = (counts >= 3) & (area2 != 0)
    # a dropped exterior takes its holes with it
    part_ok = np.zeros(len(parts), dtype=bool)
    part_ok[ring_part[ring_first & ok]] = True
    ok &= part_ok[ring_part]
    flip = ok & ((area2 > 0) != ring_first)
    if not ok.any():
        return empty, empty
    # reverse the flipped rings in place
    order = np.arange(len(pts))
    fr = flip[ring_of]
    order[fr] = (starts[ring_of] + counts[ring_of] - 1 - (order - starts[ring_of]))[fr]
    pts = pts[order]
    sel = ok[ring_of]
    pts, ring_of = pts[sel], ring_of[sel]
    rings_kept = np.flatnonzero(ok)
    counts_k = counts[rings_kept]
    feat_of_ring = part_feat[ring_part[rings_kept]]
    # deltas: from the previous point, and from (0, 0) for each feature's first point
    deltas = np.diff(np.vstack([[0, 0], pts]), axis=0)
    ring_start_pos = np.concatenate([[0], np.cumsum(counts_k)[:-1]])
    feat_first = np.r_[True, feat_of_ring[1:] != feat_of_ring[:-1]]
    deltas[ring_start_pos[feat_first]] = pts[ring_start_pos[feat_first]]
    zz = (deltas << 1) ^ (deltas >> 63)
    # per ring: MoveTo(1) dx dy, LineTo(n-1) 2(n-1) params, ClosePath -> 2n + 3 integers
    size = 2 * counts_k + 3
    out_start = np.concatenate([[0], np.cumsum(size)[:-1]])
    cmds = np.zeros(int(size.sum()), dtype=np.int64)
    cmds[out_start] = CMD_MOVE_TO | (1 << 3)
    cmds[out_start + 3] = CMD_LINE_TO | ((counts_k - 1) << 3)
    cmds[out_start + size - 1] = CMD_CLOSE | (1 << 3)
    # point j of a ring goes to out_start + 1 + 2j (j = 0) or out_start + 2 + 2j (j > 0)
    ring_idx = np.repeat(np.arange(len(rings_kept)), counts_k)
    j = np.arange(len(pts)) - ring_start_pos[ring_idx]
    pos = out_start[ring_idx] + 1 + 2 * j + (j > 0)
    cmds[pos] = zz[:, 0]
    cmds[pos + 1] = zz[:, 1]
    return cmds, np.repeat(feat_of_ring, size)


def encode_polygons(layer: str, geoms, ids, props: dict[str, list[str]]) -> bytes:
    """One MVT layer of polygon features with string properties, as tile bytes."""
    geoms = np.asarray(geoms, dtype=object)
    cmds, feat = geometry_commands(geoms)
    if not len(cmds):
        return b""
    raw, nbytes = varints(cmds)
    ends = np.cumsum(nbytes)
    # byte range of each feature's commands (features with no ring have none)
    present, first = np.unique(feat, return_index=True)
    last = np.r_[first[1:], len(feat)] - 1
    lo = np.r_[0, ends][first]
    hi = ends[last]
    buf = raw.tobytes()
    keys = list(props)
    values: dict[str, int] = {}
    features = []
    for f, a, b in zip(present.tolist(), lo.tolist(), hi.tolist()):
        tags = bytearray()
        for k_i, k in enumerate(keys):
            v_i = values.setdefault(props[k][f], len(values))
            tags += _varint(k_i) + _varint(v_i)
        feat_msg = (_key(1, 0) + _varint(int(ids[f])) + _bytes_field(2, bytes(tags))
                    + _key(3, 0) + _varint(3)  # GeomType POLYGON
                    + _key(4, 2) + _varint(b - a) + buf[a:b])
        features.append(_bytes_field(2, feat_msg))
    body = (_key(15, 0) + _varint(2) + _bytes_field(1, layer.encode("utf-8"))
            + b"".join(features)
            + b"".join(_bytes_field(3, k.encode("utf-8")) for k in keys)
            + b"".join(_bytes_field(4, _bytes_field(1, v.encode("utf-8"))) for v in values)
            + _key(5, 0) + _varint(EXTENT))
    return _bytes_field(3, body)


class LevelTiles:
    """One TileSet per level of a warehouse, made on first use (thread-safe)."""

    def __init__(self, cursor_factory):
        self._cursor = cursor_factory
        self._sets = _Once()

    def __call__(self, level: str) -> TileSet:
        return self._sets.get(level, lambda: self._load(level))

    def _load(self, level: str) -> TileSet:
        import shapely
        rows = self._cursor().execute(
            "SELECT code, geom_rd FROM areas WHERE level = ? AND geom_rd IS NOT NULL "
            "ORDER BY code", [level]).fetchall()
        geoms = shapely.from_wkb(np.array([bytes(r[1]) for r in rows], dtype=object))
        return TileSet([r[0] for r in rows], geoms)


def lonlat_bounds(ts: TileSet) -> list[float] | None:
    """The lon/lat box of a tile set (EPSG:3857 bounds converted exactly)."""
    if ts.bounds is None:
        return None
    minx, miny, maxx, maxy = (float(v) for v in ts.bounds)

    def lon(x: float) -> float:
        return x / ORIGIN * 180.0

    def lat(y: float) -> float:
        return math.degrees(math.atan(math.sinh(y / ORIGIN * math.pi)))
    return [round(lon(minx), 5), round(lat(miny), 5), round(lon(maxx), 5), round(lat(maxy), 5)]
