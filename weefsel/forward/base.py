"""The base population per area from the warehouse: KWB age bands, dwellings, occupancy.

Each projection area gets 18 five-year groups. Where a buurt has all five KWB bands they
are split by national within-band shares (rates.within_band_shares); where only 0-15, 65+
and the total are published (the national selection: Noordoostpolder, Urk, Zeewolde), the
rest 15-65 is split over 15-25/25-45/45-65 by the national shares. Dwellings are KWB
``Woningvoorraad``; where missing, ``HuishoudensTotaal`` stands in (one dwelling per
household), else population / 2.15.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weefsel.errors import WeefselError
from weefsel.forward import rates
from weefsel.warehouse.store import Warehouse

BASE_VARIABLES = ["AantalInwoners", "Woningvoorraad", "HuishoudensTotaal",
                  "GemiddeldeHuishoudensgrootte"] + [v[0] for v in rates.KWB_BANDS.values()]


@dataclass
class Base:
    """Base-year state of every projection area (one row per area, aligned arrays)."""

    codes: np.ndarray            # (A,) area codes
    names: np.ndarray            # (A,)
    gemeente: np.ndarray         # (A,) GM codes
    population: np.ndarray       # (A, 18) residents by five-year group
    dwellings: np.ndarray        # (A,) dwellings in the base year
    year: int                    # base year (period of the KWB figures)
    xy: np.ndarray | None = None  # (A, 2) RD demand point, NaN where unknown
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.codes)

    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.codes)}


def split_bands(total: np.ndarray, bands: np.ndarray) -> tuple[np.ndarray, int]:
    """(A, 18) from the total and the five KWB bands (NaN where not published).

    Returns the grid and the number of areas whose middle bands were derived.
    """
    shares = rates.within_band_shares()
    total = np.nan_to_num(total.astype(float))
    bands = bands.astype(float).copy()
    missing_mid = np.isnan(bands[:, 1:4]).any(axis=1)
    ref = rates.NL_POPULATION_2024
    mid_share = np.array([ref[lo:hi].sum() for _, lo, hi in list(rates.KWB_BANDS.values())[1:4]])
    mid_share = mid_share / mid_share.sum()
    young = np.nan_to_num(bands[:, 0])
    old = np.nan_to_num(bands[:, 4])
    rest = np.clip(total - young - old, 0, None)
    bands[missing_mid, 0] = young[missing_mid]
    bands[missing_mid, 4] = old[missing_mid]
    bands[missing_mid, 1:4] = rest[missing_mid, None] * mid_share[None, :]
    bands = np.nan_to_num(bands)
    grid = np.zeros((len(total), rates.N_AGE))
    for b, (_, lo, hi) in enumerate(rates.KWB_BANDS.values()):
        grid[:, lo:hi] = bands[:, b:b + 1] * shares[None, lo:hi]
    # KWB rounds every figure to 5: scale to the published total where bands exist
    s = grid.sum(axis=1)
    ok = (s > 0) & (total > 0)
    grid[ok] *= (total[ok] / s[ok])[:, None]
    return grid, int(missing_mid.sum())


def load_base(wh: Warehouse, *, level: str = "buurt", gemeenten: list[str] | None = None) -> Base:
    """Base year from the warehouse's latest KWB period, all areas of ``level``."""
    areas = wh.areas(level=level)
    if gemeenten:
        areas = areas[areas["gemeente_code"].isin(gemeenten)]
    if areas.empty:
        raise WeefselError(f"het warehouse bevat geen gebieden op niveau {level}")
    obs = wh.observations(BASE_VARIABLES, level=level)
    obs = obs[obs["breakdown"] == ""] if "breakdown" in obs.columns else obs
    pop = obs[obs["variable"] == "AantalInwoners"]
    if pop.empty:
        raise WeefselError("het warehouse bevat geen inwonertallen (AantalInwoners); bouw eerst met KWB")
    year = int(pop["period"].astype(int).max())
    obs = obs[obs["period"].astype(str) == str(year)]
    wide = obs.pivot_table(index="area_code", columns="variable", values="value", aggfunc="first")
    wide = wide.reindex(areas["code"].astype(str))
    for v in BASE_VARIABLES:
        if v not in wide.columns:
            wide[v] = np.nan
    total = wide["AantalInwoners"].to_numpy(float)
    bands = wide[[v[0] for v in rates.KWB_BANDS.values()]].to_numpy(float)
    grid, derived = split_bands(total, bands)
    dw = wide["Woningvoorraad"].to_numpy(float)
    hh = wide["HuishoudensTotaal"].to_numpy(float)
    n_hh = int((np.isnan(dw) & ~np.isnan(hh)).sum())
    dw = np.where(np.isnan(dw), hh, dw)
    n_def = int(np.isnan(dw).sum())
    dw = np.where(np.isnan(dw), np.nan_to_num(total) / rates.OCCUPANCY_DEFAULT, dw)
    notes = []
    if derived:
        notes.append(f"{derived} gebieden zonder de banden 15-25/25-45/45-65: verdeeld naar landelijke aandelen")
    if n_hh:
        notes.append(f"{n_hh} gebieden zonder woningvoorraad: aantal huishoudens gebruikt")
    if n_def:
        notes.append(f"{n_def} gebieden zonder woningen of huishoudens: inwoners / {rates.OCCUPANCY_DEFAULT}")
    return Base(codes=areas["code"].astype(str).to_numpy(), names=areas["name"].astype(str).to_numpy(),
                gemeente=areas["gemeente_code"].astype(str).to_numpy(), population=grid,
                dwellings=np.nan_to_num(dw), year=year, notes=notes)
