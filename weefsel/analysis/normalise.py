"""Imputation and normalisation of an areas x indicators matrix (JRC/OECD Handbook, steps 3 and 5).

All functions work on NumPy arrays (N areas x K indicators) whose statistics come from the
rows given: pass exactly the reference areas. Normalised values are *oriented*: higher is
always better (more social infrastructure / resilience), using ``sign`` (+1 better, -1 worse).
"""

from __future__ import annotations

import numpy as np

from weefsel.errors import CatalogueError

IMPUTATIONS = ("none", "mean", "median")
NORMALISATIONS = ("minmax", "zscore", "percentile", "distance")
#: additive shift used before geometric aggregation, per normalisation, in normalised units:
#: y' = y - min(y) + shift, so the worst area gets ``shift`` (> 0) instead of 0 (log(0) undefined).
GEOMETRIC_SHIFT = {"minmax": 0.01, "percentile": 0.01, "zscore": 0.1, "distance": 0.01}


def impute(x: np.ndarray, method: str) -> np.ndarray:
    """'none' leaves NaN (the aggregation then uses the area's available indicators);
    'mean'/'median' fill NaN with the reference mean/median of that indicator."""
    if method not in IMPUTATIONS:
        raise CatalogueError(f"unknown imputation '{method}' (choose {', '.join(IMPUTATIONS)})")
    if method == "none":
        return x
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fill = np.nanmean(x, axis=0) if method == "mean" else np.nanmedian(x, axis=0)
    return np.where(np.isnan(x), fill[None, :], x)


def _percent_rank_columns(x: np.ndarray) -> np.ndarray:
    """PERCENTRANK.INC per column, ties = lowest rank, NaN excluded (as in the SVI)."""
    out = np.full(x.shape, np.nan)
    for k in range(x.shape[1]):
        col = x[:, k]
        ok = ~np.isnan(col)
        n = int(ok.sum())
        if n == 0:
            continue
        v = col[ok]
        below = np.searchsorted(np.sort(v), v, side="left")
        out[ok, k] = below / (n - 1) if n > 1 else 0.5
    return out


def normalise(x: np.ndarray, method: str, sign: np.ndarray) -> np.ndarray:
    """Oriented normalisation over the rows of ``x``.

    minmax:     (s*x - min) / (max - min) in [0, 1]  (constant column -> 0.5)
    zscore:     (s*x - mean) / sd (population sd; constant column -> 0)
    percentile: PERCENTRANK.INC of s*x in [0, 1]
    distance:   1 + s * (x - ref) / |ref|, ref = reference mean (ratio to the reference;
                ref = 0 is an error because the distance is undefined)
    """
    if method not in NORMALISATIONS:
        raise CatalogueError(f"unknown normalisation '{method}' (choose {', '.join(NORMALISATIONS)})")
    sign = np.asarray(sign, dtype=float)
    xo = x * sign[None, :]
    import warnings
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "minmax":
            lo, hi = np.nanmin(xo, axis=0), np.nanmax(xo, axis=0)
            rng = hi - lo
            return np.where(rng > 0, (xo - lo) / np.where(rng > 0, rng, 1), 0.5)
        if method == "zscore":
            mu, sd = np.nanmean(xo, axis=0), np.nanstd(xo, axis=0)
            return np.where(sd > 0, (xo - mu) / np.where(sd > 0, sd, 1), 0.0)
        if method == "percentile":
            return _percent_rank_columns(xo)
        ref = np.nanmean(x, axis=0)
    bad = ~np.isfinite(ref) | (ref == 0)
    has_data = ~np.all(np.isnan(x), axis=0)
    if np.any(bad & has_data):
        raise CatalogueError("distance-to-reference normalisation: the reference value is 0 for "
                             f"indicator column(s) {list(np.flatnonzero(bad & has_data))}")
    ref = np.where(bad, 1.0, ref)
    return 1.0 + sign[None, :] * (x - ref) / np.abs(ref)


def shift_for_geometric(y: np.ndarray, method: str) -> np.ndarray:
    """Make every normalised value strictly positive for the geometric mean (documented shift)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(y, axis=0)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    return y - lo[None, :] + GEOMETRIC_SHIFT[method]
