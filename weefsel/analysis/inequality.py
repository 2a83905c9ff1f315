"""Inequality between areas for every indicator: Gini, Theil (between/within decomposition by
gemeente and by provincie, PySAL ``inequality``) and the gap between the best and worst deciles.

Inequality is measured over *areas* (each area one observation, unweighted), as PySAL does;
that answers "how unequal are the buurten", not "how unequal are the people". Theil needs
positive values: areas with a value <= 0 are left out and counted (n_nonpositive).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

INEQUALITY_COLUMNS = ["indicator", "period", "level", "partition", "n_areas", "n_groups", "mean",
                      "gini", "theil", "theil_between", "theil_within", "between_share",
                      "decile_best", "decile_worst", "decile_gap", "decile_ratio", "n_nonpositive"]


def decile_gap(values: np.ndarray, direction: str) -> tuple[float, float, float, float]:
    """Mean of the best 10% of areas, of the worst 10%, their difference (best - worst, in the
    indicator's unit, oriented so positive = best ahead) and ratio (best/worst)."""
    v = np.sort(values[np.isfinite(values)])
    n = len(v)
    if n < 10:
        return (np.nan,) * 4
    k = max(1, int(np.floor(n / 10)))
    low, high = float(v[:k].mean()), float(v[-k:].mean())
    best, worst = (high, low) if direction == "higher_is_better" else (low, high)
    gap = best - worst if direction == "higher_is_better" else worst - best
    ratio = best / worst if worst != 0 else np.nan
    return best, worst, gap, ratio


def gini(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2 or v.sum() == 0:
        return np.nan
    from inequality.gini import Gini   # imported lazily: the package pulls in scipy.stats (slow)
    return float(Gini(v).g)


def theil_decomposition(values: np.ndarray, partition: np.ndarray | None) -> tuple[float, float, float]:
    """(T, between, within) over positive values; partition None -> (T, nan, nan).

    T is PySAL's ``Theil``. The between-group part is the formula of PySAL's ``TheilD``,
    bg = sum_g s_g ln(s_g n / n_g) (s_g = group share of the total), computed with bincount:
    TheilD loops over groups in Python (about 1 s per call for 350 gemeenten). The tests
    check both against TheilD and the direct formulas.
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v) & (v > 0)
    if partition is not None:
        part = np.asarray(partition, dtype=object)
        ok &= pd.notna(part)
    if ok.sum() < 2:
        return np.nan, np.nan, np.nan
    from inequality.theil import Theil   # imported lazily: the package pulls in scipy.stats (slow)
    y = v[ok]
    t = float(np.ravel(Theil(y).T)[0])
    if partition is None:
        return t, np.nan, np.nan
    codes, _ = pd.factorize(pd.Series(part[ok]).astype(str), sort=True)
    n = len(y)
    sg = np.bincount(codes, weights=y) / y.sum()
    ng = np.bincount(codes).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bg = float(np.nansum(np.where(sg > 0, sg * np.log(sg * n / ng), 0.0)))
    return t, bg, t - bg


def inequality_table(values: pd.DataFrame, directions: Mapping[str, str],
                     partitions: Mapping[str, pd.Series], *, period: str = "",
                     level: str = "") -> pd.DataFrame:
    """One row per indicator x partition ('none' plus each of ``partitions``, e.g. gemeente,
    provincie: Series area_code -> group code)."""
    rows = []
    for ind in values.columns:
        col = values[ind].astype(float)
        v = col.to_numpy()
        fin = np.isfinite(v)
        if fin.sum() == 0:
            continue
        best, worst, gap, ratio = decile_gap(v, directions.get(ind, "higher_is_better"))
        base = {"indicator": ind, "period": str(period), "level": level,
                "n_areas": int(fin.sum()), "mean": float(np.nanmean(v)), "gini": gini(v),
                "decile_best": best, "decile_worst": worst, "decile_gap": gap,
                "decile_ratio": ratio, "n_nonpositive": int((v[fin] <= 0).sum())}
        t, _, _ = theil_decomposition(v, None)
        rows.append(dict(base, partition="none", n_groups=1, theil=t, theil_between=np.nan,
                         theil_within=np.nan, between_share=np.nan))
        for name, part in partitions.items():
            p = part.reindex(col.index).to_numpy(dtype=object)
            t, bg, wg = theil_decomposition(v, p)
            ngroups = int(pd.Series(p[fin & pd.notna(p)]).nunique())
            rows.append(dict(base, partition=name, n_groups=ngroups, theil=t, theil_between=bg,
                             theil_within=wg, between_share=(bg / t) if t and np.isfinite(t) and t > 0 else np.nan))
    return pd.DataFrame(rows, columns=INEQUALITY_COLUMNS)
