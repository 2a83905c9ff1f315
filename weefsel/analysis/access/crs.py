"""Guard against coordinates in the wrong reference system.

All accessibility maths is in metres in EPSG:28992 (RD New). A lon/lat pair given as
RD, or x and y swapped, silently produces distances that are off by orders of magnitude,
so we detect those cases by value range and stop with a clear message.
"""

from __future__ import annotations

import numpy as np

from weefsel.errors import InputError

# Extent of RD New over the Netherlands incl. the Wadden and a margin (metres).
RD_X = (-7_000.0, 300_000.0)
RD_Y = (289_000.0, 629_000.0)


def check_rd(x: np.ndarray, y: np.ndarray, *, where: str) -> None:
    """Raise :class:`InputError` unless every (x, y) lies in the RD New extent.

    Names the likely cause: WGS84 lon/lat, lat/lon swapped, or RD x/y swapped.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.size == 0:
        return
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        bad = int(np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))[0])
        raise InputError(f"coordinate at row {bad} is missing or not finite", where=where,
                         expected="x, y in metres in EPSG:28992 (RD New)")
    inside = (x >= RD_X[0]) & (x <= RD_X[1]) & (y >= RD_Y[0]) & (y <= RD_Y[1])
    if inside.all():
        return
    row = int(np.flatnonzero(~inside)[0])
    xs, ys = x[row], y[row]
    if 2.5 <= xs <= 7.5 and 50.5 <= ys <= 54.0:
        cause = "these look like WGS84 longitude/latitude degrees, not RD metres"
    elif 50.5 <= xs <= 54.0 and 2.5 <= ys <= 7.5:
        cause = "these look like WGS84 latitude/longitude degrees (swapped), not RD metres"
    elif RD_Y[0] <= xs <= RD_Y[1] and RD_X[0] <= ys <= RD_X[1]:
        cause = "x and y look swapped (RD x is 0-300 km, RD y is 289-629 km)"
    else:
        cause = "the point lies outside the Netherlands in RD New"
    n_bad = int((~inside).sum())
    raise InputError(
        f"{n_bad} point(s) not in EPSG:28992; first at row {row}: ({xs:g}, {ys:g}); {cause}. "
        "Reproject to EPSG:28992 (e.g. GeoDataFrame.to_crs(28992)) before computing accessibility",
        where=where, expected="x in [-7000, 300000] and y in [289000, 629000] metres")
