"""The chunked/threaded path (weefsel.forward.chunked) gives exactly the plain path's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.forward import chunked
from weefsel.forward import montecarlo as mc
from weefsel.forward import rates
from weefsel.forward.project import Programme, project


def _case(n_area: int, n_rows: int, seed: int):
    rng = np.random.default_rng(seed)
    pop = rng.gamma(2.0, 60.0, (n_area, rates.N_AGE))
    pop[rng.random(n_area) < 0.1] = 0.0                       # some empty buurten
    dw = pop.sum(1) / 2.1
    dw[rng.random(n_area) < 0.05] = 0.0                       # no dwellings known
    prog = Programme(rng.integers(0, n_area, n_rows), rng.integers(2025, 2034, n_rows),
                     rng.choice([-80.0, 40.0, 300.0], n_rows))   # demolitions too
    return pop, dw, prog, mc.draw(64, n_rows, seed=seed)


def _plain(pop, dw, prog, draws, dtype):
    """The original loop: one project call over all areas, summarised every year."""
    out = []
    project(pop, dw, prog, draws, 2024, 2035, dtype=dtype,
            on_year=lambda y, P, H: out.append(mc.summarise(np.moveaxis(chunked.band_groups(P), 1, 0))))
    return np.stack(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk,workers", [(1, 1), (7, 2), (16, 2), (None, 1), (1000, 2)])
def test_chunked_equals_plain_exactly(chunk, workers, dtype):
    pop, dw, prog, draws = _case(45, 30, 5)
    want = _plain(pop, dw, prog, draws, dtype)
    got = chunked.project_quantiles(pop, dw, prog, draws, 2024, 2035, chunk=chunk, workers=workers,
                                    dtype=dtype)
    assert got.shape == (12, 5, 6, 45)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=15, deadline=None)
@given(n_area=st.integers(1, 30), n_rows=st.integers(0, 12), chunk=st.integers(1, 31),
       seed=st.integers(0, 10_000))
def test_chunk_boundaries_do_not_matter(n_area, n_rows, chunk, seed):
    pop, dw, prog, draws = _case(n_area, n_rows, seed)
    one = chunked.project_quantiles(pop, dw, prog, draws, 2024, 2035, chunk=None, workers=1)
    many = chunked.project_quantiles(pop, dw, prog, draws, 2024, 2035, chunk=chunk, workers=2)
    np.testing.assert_array_equal(many, one)


def test_a_wrong_chunk_result_would_show():
    """The comparison can fail: dropping one area's programme changes that area's numbers."""
    pop, dw, prog, draws = _case(20, 10, 3)
    a = chunked.project_quantiles(pop, dw, prog, draws, 2024, 2035, chunk=4)
    keep = prog.area != prog.area[0]
    fewer = Programme(prog.area[keep], prog.year[keep], prog.dwellings[keep])
    from weefsel.forward.project import Draws
    d = Draws(**{**draws.__dict__, "delay": draws.delay[:, keep]})
    b = chunked.project_quantiles(pop, dw, fewer, d, 2024, 2035, chunk=4)
    assert not np.array_equal(a, b)
