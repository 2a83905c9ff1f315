"""Coordinates of facility lists: WGS84 <-> RD New and plausibility per row.

Facility lists come from people, so a row may carry degrees where metres are meant, lat and
lon swapped, or a point in the sea. Each row is judged on its own (one clear line per bad
row, the good rows go on), unlike ``analysis.access.crs.check_rd`` which stops a whole run.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer

from weefsel.config import STORAGE_CRS

#: WGS84 box of the Netherlands incl. the Wadden islands, with a small margin.
LAT = (50.70, 53.70)
LON = (3.20, 7.30)
#: RD New extent over the Netherlands (metres), as in analysis.access.crs.
RD_X = (-7_000.0, 300_000.0)
RD_Y = (289_000.0, 629_000.0)


@lru_cache(maxsize=4)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def wgs84_to_rd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude degrees (EPSG:4326) to RD New metres (EPSG:28992)."""
    x, y = _transformer("EPSG:4326", STORAGE_CRS).transform(np.asarray(lon, float),
                                                            np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def rd_to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RD New metres to (lon, lat) degrees."""
    lon, lat = _transformer(STORAGE_CRS, "EPSG:4326").transform(np.asarray(x, float),
                                                                np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def to_rd(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """x/y in any CRS pyproj knows to RD New."""
    if crs.upper() in (STORAGE_CRS, "EPSG:28992", "RD", "RDNEW"):
        return np.asarray(x, float), np.asarray(y, float)
    out = _transformer(crs, STORAGE_CRS).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(out[0], float), np.asarray(out[1], float)


def latlon_problem(lat: float, lon: float) -> str | None:
    """Why (lat, lon) cannot be a Dutch location, in Dutch, or None when it can."""
    if not (np.isfinite(lat) and np.isfinite(lon)):
        return "geen getal"
    if LAT[0] <= lat <= LAT[1] and LON[0] <= lon <= LON[1]:
        return None
    if LAT[0] <= lon <= LAT[1] and LON[0] <= lat <= LON[1]:
        return f"lat {lat:g} en lon {lon:g} lijken verwisseld"
    if RD_X[0] <= lon <= RD_X[1] and RD_Y[0] <= lat <= RD_Y[1] and abs(lat) > 1000:
        return f"({lat:g}, {lon:g}) lijken RD-meters, geen graden: zet ze in de kolommen x en y"
    return (f"({lat:g}, {lon:g}) ligt niet in Nederland "
            f"(verwacht lat {LAT[0]}-{LAT[1]}, lon {LON[0]}-{LON[1]})")


def rd_problem(x: float, y: float) -> str | None:
    """Why (x, y) cannot be an RD New point in the Netherlands, in Dutch, or None."""
    if not (np.isfinite(x) and np.isfinite(y)):
        return "geen getal"
    if RD_X[0] <= x <= RD_X[1] and RD_Y[0] <= y <= RD_Y[1]:
        return None
    if RD_Y[0] <= x <= RD_Y[1] and RD_X[0] <= y <= RD_X[1]:
        return f"x {x:g} en y {y:g} lijken verwisseld"
    if LON[0] <= x <= LON[1] and LAT[0] <= y <= LAT[1]:
        return f"({x:g}, {y:g}) lijken graden (lon/lat), geen RD-meters: zet ze in lat en lon"
    return f"({x:g}, {y:g}) ligt niet in Nederland in RD New (EPSG:28992)"
