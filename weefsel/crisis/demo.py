"""Synthetic residents and helpers, marked as synthetic, inside real buurt polygons.

Names are "Demo-bewoner 12" / "Demo-helper 3"; addresses are "<buurt name> <n>" (a
made-up number in the real buurt, flagged synthetic on every list and page). Points are
drawn uniformly inside the buurt polygon of the warehouse (rejection sampling in RD).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weefsel.crisis.store import NEEDS, CrisisStore
from weefsel.errors import InputError


def buurt_shapes(source: str | Path, gemeente: str, limit: int = 3,
                 prefix: str | None = None) -> list[tuple[str, str, object]]:
    """(code, name, RD polygon) of real buurten: from the warehouse (``areas``) or from a
    GeoJSON of buurten (e.g. ../shared/data/boundaries/buurt_amsterdam_gemeente_2022_2024
    .geojson; ``prefix`` BU0363N picks Amsterdam-Noord)."""
    p = Path(source)
    if not p.is_file():
        raise InputError("warehouse of buurtbestand niet gevonden (eerst weefsel build)",
                         where=str(p))
    want = prefix or ("BU" + gemeente[2:])
    if p.suffix.lower() in (".geojson", ".json"):
        import geopandas as gpd

        g = gpd.read_file(p).to_crs("EPSG:28992")
        codecol = next((c for c in ("cbsCode", "statcode", "code") if c in g.columns), None)
        namecol = next((c for c in ("naam", "statnaam", "name") if c in g.columns), codecol)
        if codecol is None:
            raise InputError("geen buurtcode-kolom (cbsCode/statcode/code)", where=str(p))
        g = g[g[codecol].astype(str).str.startswith(want)].sort_values(codecol).head(limit)
        rows = [(str(c), str(n), geom) for c, n, geom in zip(g[codecol], g[namecol], g.geometry)]
    else:
        import duckdb
        from shapely import wkb

        con = duckdb.connect(str(p), read_only=True)
        try:
            raw = con.execute("SELECT code, name, geom_rd FROM areas WHERE level='buurt' AND "
                              "code LIKE ? AND geom_rd IS NOT NULL ORDER BY code LIMIT ?",
                              [want + "%", limit]).fetchall()
        finally:
            con.close()
        rows = [(c, n or c, wkb.loads(bytes(g))) for c, n, g in raw]
    if not rows:
        raise InputError(f"geen buurten met een vorm voor {want} gevonden", where=str(p))
    return rows


def sample_in(poly, n: int, rnd: np.random.Generator) -> np.ndarray:
    from shapely import contains_xy

    minx, miny, maxx, maxy = poly.bounds
    out = np.zeros((0, 2))
    while len(out) < n:
        pts = rnd.uniform((minx, miny), (maxx, maxy), (max(4 * n, 32), 2))
        out = np.vstack([out, pts[contains_xy(poly, pts[:, 0], pts[:, 1])]])
    return out[:n]


def seed(store: CrisisStore, warehouse: str | Path, *, gemeente: str = "GM0034", buurten: int = 3,
         residents: int = 12, helpers: int = 10, seed_: int = 15,
         prefix: str | None = None) -> dict:
    """Register synthetic people (with consent, marked synthetic) in real buurten."""
    from weefsel.sources.coords import rd_to_wgs84

    rnd = np.random.default_rng(seed_)
    shapes = buurt_shapes(warehouse, gemeente, buurten, prefix)
    keys = list(NEEDS)
    ids = {"resident": [], "helper": []}
    n = 0
    for code, name, poly in shapes:
        for kind, count in (("resident", residents), ("helper", helpers)):
            pts = sample_in(poly, count, rnd)
            lon, lat = rd_to_wgs84(pts[:, 0], pts[:, 1])
            for (x, y), la, lo in zip(pts, lat, lon):
                n += 1
                label = "Demo-bewoner" if kind == "resident" else "Demo-helper"
                needs = list(rnd.choice(keys, size=rnd.integers(0, 3), replace=False)) \
                    if kind == "resident" else []
                consents = (["bezoek", "lijst"] + (["behoefte"] if needs else [])) \
                    if kind == "resident" else ["helpen", "lijst"]
                ids[kind].append(store.register(
                    kind, name=f"{label} {n}", address=f"{name} {n}", lat=float(la), lon=float(lo),
                    x=float(x), y=float(y), buurt_code=code, consents=consents, needs=needs,
                    capacity=int(rnd.integers(2, 5)) if kind == "helper" else 0,
                    synthetic=True, actor="demo"))
    return {"buurten": [c for c, _, _ in shapes], "residents": len(ids["resident"]),
            "helpers": len(ids["helper"])}
