"""Projection + yearly quantiles in cache-sized area chunks, on several cores.

Why: the state P is [age, draw, area]; nationally (14,574 buurten x 1,000 draws) one
array is 1 GB, so every step of ``project`` streams main memory and the machine is
memory-bound. Areas are independent in ``project`` (every step is element-wise per area
or a sum over ages), so a chunk of ~24 areas (1.7 MB per array, near L2) gives the
same numbers much faster, and chunks run in threads: NumPy releases the GIL inside
its loops and sorts. The result is bit-for-bit the plain path (tested,
tests/test_forward_chunked.py): per-area arithmetic happens in the same order, the
quantile of each row uses the same sort.

Not for runs with gemeente totals (``_constrain`` couples the areas of a gemeente).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from weefsel.forward import montecarlo as mc
from weefsel.forward import rates
from weefsel.forward.project import Draws, Programme, project

#: areas per chunk: 18 ages x 1,000 draws x 24 areas x 4 bytes = 1.7 MB per work array
#: (measured on a 2-core EPYC, 1 MB L2 per core: 24 beat 48, 96 and 600; docs/forward.md)
CHUNK = 24

Groups = Callable[[np.ndarray], np.ndarray]


def band_groups(P: np.ndarray) -> np.ndarray:
    """(6, D, A): the five KWB bands and the total, as ``weefsel vooruit`` stores them."""
    return np.stack([P[lo:hi].sum(0) for _, lo, hi in rates.KWB_BANDS.values()] + [P.sum(0)])


def _sub_programme(prog: Programme, draws: Draws, start: int, stop: int) -> tuple[Programme, Draws]:
    keep = (prog.area >= start) & (prog.area < stop)
    sub = Programme(prog.area[keep] - start, prog.year[keep], prog.dwellings[keep])
    return sub, Draws(**{**draws.__dict__, "delay": draws.delay[:, keep]})


def project_quantiles(population: np.ndarray, dwellings: np.ndarray, prog: Programme, draws: Draws,
                      base_year: int, horizon: int, *, groups: Groups = band_groups,
                      qs=mc.QUANTILES, chunk: int | None = CHUNK, workers: int | None = None,
                      dtype=np.float32) -> np.ndarray:
    """(Y+1, len(qs), G, A) quantiles over the draws of ``groups(P)`` for the base year and
    every projected year. ``chunk=None`` and ``workers=1`` is the plain (one-block) path."""
    A = population.shape[0]
    Y = horizon - base_year
    chunk = chunk or max(A, 1)
    workers = workers or min(os.cpu_count() or 1, 2)
    G = groups(np.zeros((rates.N_AGE, 1, 1), dtype)).shape[0]
    out = np.empty((Y + 1, len(qs), G, A), dtype)

    def run(start: int) -> None:
        stop = min(A, start + chunk)
        sub, d = _sub_programme(prog, draws, start, stop)

        def on_year(year: int, P: np.ndarray, H: np.ndarray) -> None:
            out[year - base_year, :, :, start:stop] = mc.quantiles(np.moveaxis(groups(P), 1, 0), qs)

        project(population[start:stop], dwellings[start:stop], sub, d, base_year, horizon,
                on_year=on_year, dtype=dtype)

    starts = range(0, A, chunk)
    if workers == 1:
        for s in starts:
            run(s)
    else:
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(run, starts))
    return out
