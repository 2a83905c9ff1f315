"""Backtest: project from an earlier year with the dwellings that were actually built and
compare with what was later observed; error by horizon and by area size.

The data on this machine hold only the KWB 2024 (85984NED), so no real backtest can run
offline: ``backtest`` is ready for a user who adds earlier KWB years (the online CBS
tables) and is tested on a synthetic known-answer case (tests/test_forward_core.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from weefsel.forward.project import Draws, Programme, project

SIZE_CLASSES = [0, 500, 2000, 5000, np.inf]
SIZE_LABELS = ["<500", "500-2.000", "2.000-5.000", "≥5.000"]


def backtest(codes: np.ndarray, population: np.ndarray, dwellings: np.ndarray, base_year: int,
             observed: pd.DataFrame, built: Programme, draws: Draws | None = None) -> pd.DataFrame:
    """Error of the central projection against observed totals.

    population (A, 18), dwellings (A,) at ``base_year``; ``observed``: area_code, year,
    population (later years); ``built``: the dwellings actually completed. Returns per
    horizon and size class: n, mean absolute percentage error (MAPE), median APE and the
    mean signed error (bias, %).
    """
    draws = draws or Draws.point(len(built.area))
    horizon = int(observed["year"].max())
    idx = {c: i for i, c in enumerate(codes)}
    got: dict[int, np.ndarray] = {}

    def keep(year, P, H):
        got[year] = np.median(P.sum(0), axis=0)

    project(population, dwellings, built, draws, base_year, horizon, on_year=keep, dtype=np.float64)
    obs = observed[observed["area_code"].isin(idx)].copy()
    obs["projected"] = [got[y][idx[c]] for c, y in zip(obs["area_code"], obs["year"])]
    obs = obs[obs["population"] > 0]
    obs["horizon"] = obs["year"] - base_year
    obs["ape"] = 100 * (obs["projected"] - obs["population"]).abs() / obs["population"]
    obs["pe"] = 100 * (obs["projected"] - obs["population"]) / obs["population"]
    size = population.sum(1)
    obs["size"] = pd.cut([size[idx[c]] for c in obs["area_code"]], SIZE_CLASSES, labels=SIZE_LABELS,
                         right=False)
    return (obs.groupby(["horizon", "size"], observed=True)
            .agg(n=("ape", "size"), mape=("ape", "mean"), median_ape=("ape", "median"), bias=("pe", "mean"))
            .reset_index())
