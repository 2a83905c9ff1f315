"""Monte-Carlo draws of the uncertain inputs, and the quantile summary.

Drawn per draw (documented in docs/forward.md, "Uncertainty"):
* occupancy of new dwellings ~ Normal(occupancy_new, sd 0.2), clipped to [1.2, 4];
* household-size trend ~ Normal(trend, sd 0.001) per year;
* mortality, fertility and leaving rates: one log-normal scale each (sd 0.05, 0.08, 0.15);
* in-mover age profiles ~ Dirichlet(concentration 300 × profile);
* build delay per programme row ~ Poisson(delay_mean), at most 5 years.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weefsel.forward import rates
from weefsel.forward.project import Draws

QUANTILES = (0.025, 0.10, 0.50, 0.90, 0.975)
Q_NAMES = ("p025", "p10", "p50", "p90", "p975")


@dataclass
class Uncertainty:
    """Central values and spreads; a scenario variant overrides any of them."""

    occupancy_new: float = rates.OCCUPANCY_NEW
    occupancy_sd: float = 0.2
    occupancy_trend: float = rates.OCCUPANCY_TREND
    trend_sd: float = 0.001
    mortality_sd: float = 0.05
    fertility_sd: float = 0.08
    out_migration_sd: float = 0.15
    profile_concentration: float = 300.0
    delay_mean: float = 1.0
    delay_max: int = 5
    mortality_factor: float = 1.0
    fertility_factor: float = 1.0
    out_migration_factor: float = 1.0

    @classmethod
    def fields(cls) -> set[str]:
        return set(cls.__dataclass_fields__)


def draw(n: int, n_rows: int, u: Uncertainty | None = None, seed: int = 42,
         mortality: np.ndarray | None = None, fertility: np.ndarray | None = None,
         out_migration: np.ndarray | None = None) -> Draws:
    """``n`` draws for a programme of ``n_rows`` rows (reproducible from ``seed``)."""
    u = u or Uncertainty()
    rng = np.random.default_rng(seed)
    q = (rates.MORTALITY if mortality is None else mortality) * u.mortality_factor
    f = (rates.FERTILITY if fertility is None else fertility) * u.fertility_factor
    o = (rates.OUT_MIGRATION if out_migration is None else out_migration) * u.out_migration_factor
    scale = lambda sd: np.exp(rng.normal(-sd * sd / 2, sd, n))[:, None]
    conc = u.profile_concentration
    prof_new = rng.dirichlet(rates.INMOVER_NEW * conc + 1e-3, n)
    prof_ex = rng.dirichlet(rates.INMOVER_EXISTING * conc + 1e-3, n)
    return Draws(
        occupancy_new=np.clip(rng.normal(u.occupancy_new, u.occupancy_sd, n), 1.2, 4.0),
        occupancy_trend=rng.normal(u.occupancy_trend, u.trend_sd, n),
        mortality=np.clip(q[None, :] * scale(u.mortality_sd), 0, 0.9),
        fertility=f[None, :] * scale(u.fertility_sd),
        out_migration=np.clip(o[None, :] * scale(u.out_migration_sd), 0, 0.9),
        inmover_new=prof_new, inmover_existing=prof_ex,
        delay=_delays(n, n_rows, u, seed),
    )


def _delays(n: int, n_rows: int, u: Uncertainty, seed: int) -> np.ndarray:
    """(n, n_rows) delays, one stream per programme row: adding a row (a what-if estate)
    leaves the delays of the other rows unchanged (common random numbers)."""
    out = np.zeros((n, n_rows), dtype=int)
    for r in range(n_rows):
        out[:, r] = np.random.default_rng([seed, 7919, r]).poisson(u.delay_mean, n)
    return np.minimum(out, u.delay_max)


def quantiles(x: np.ndarray, qs=QUANTILES) -> np.ndarray:
    """(len(qs), ...) quantiles over the first (draw) axis, linear interpolation (NumPy's
    default method). Sorting contiguous rows uses NumPy's SIMD sort: 2.4x faster than
    ``np.quantile(axis=0)`` on 1,000 draws (measured, docs/forward.md)."""
    D = x.shape[0]
    rows = np.sort(np.ascontiguousarray(x.reshape(D, -1).T), axis=1)
    pos = np.asarray(qs, dtype=float) * (D - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, D - 1)
    f = (pos - lo).astype(rows.dtype)
    out = rows[:, lo] * (1 - f) + rows[:, hi] * f
    return out.T.reshape((len(pos),) + x.shape[1:])


def summarise(x: np.ndarray) -> np.ndarray:
    """(5, ...) quantiles over the first (draw) axis."""
    return quantiles(x, QUANTILES)
