"""Benchmark: Monte-Carlo cohort-component projection, 1,000 draws to 2050, for every
Flevoland buurt and every buurt in the country, against a per-draw pandas peer.

Run:  .venv/bin/python bench/forward.py [--draws 1000] [--peer-draws 10] [--skip-national]

Base: the real KWB 2024 (85984NED) national selection in ../shared/data/kwb (population,
0-15, 65+, households per buurt; the 15-65 bands split by national shares as in
weefsel.forward.base). Programme: SYNTHETIC, for timing only (seeded): 100 rows of 1,000
dwellings in random Flevoland buurten, and 1,000 such rows nationally, years 2025-2045.
Timed: weefsel.forward.project over [age, draw, area] with, every year, the five KWB band
totals and the total summarised to the 2.5/10/50/90/97.5% quantiles over the draws (what
``weefsel vooruit`` stores). The national run goes in chunks of areas (memory).

Peer: a straightforward per-draw pandas implementation of the same step (one DataFrame
areas × ages per draw, a Python loop over years and draws), run on ``--peer-draws`` draws
and scaled to the full number of draws; its results are checked against ours (max rel diff).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np
import pandas as pd

from weefsel.config import default_data_dir
from weefsel.forward import chunked
from weefsel.forward import montecarlo as mc
from weefsel.forward import rates
from weefsel.forward.base import split_bands
from weefsel.forward.project import Draws, Programme, project

FLEVOLAND = {"GM0034", "GM0050", "GM0171", "GM0184", "GM0303", "GM0995"}
HORIZON = 2050


def load_base():
    f = default_data_dir() / "kwb" / "kwb_2024_85984NED_national_selection.csv"
    df = pd.read_csv(f, dtype={"Codering_3": str})
    df = df[df["SoortRegio_2"].str.strip() == "Buurt"].reset_index(drop=True)
    total = pd.to_numeric(df["AantalInwoners_5"], errors="coerce").to_numpy(float)
    bands = np.full((len(df), 5), np.nan)
    bands[:, 0] = pd.to_numeric(df["k_0Tot15Jaar_8"], errors="coerce")
    bands[:, 4] = pd.to_numeric(df["k_65JaarOfOuder_12"], errors="coerce")
    grid, _ = split_bands(total, bands)
    hh = pd.to_numeric(df["HuishoudensTotaal_29"], errors="coerce").to_numpy(float)
    dw = np.where(np.isnan(hh), np.nan_to_num(total) / rates.OCCUPANCY_DEFAULT, hh)
    gem = "GM" + df["Codering_3"].str[2:6]
    return df["Codering_3"].to_numpy(), gem.to_numpy(), grid, dw


def programme(n_area: int, rows: int, seed: int) -> Programme:
    rng = np.random.default_rng(seed)
    return Programme(rng.integers(0, n_area, rows), rng.integers(2025, 2046, rows), np.full(rows, 1000.0))


def ours(pop, dw, prog, draws, chunk=None, workers=2, plain=False):
    """Projection + yearly quantiles; returns seconds and the horizon-year median total.
    Default: weefsel.forward.chunked (cache-sized area chunks in ``workers`` threads);
    ``plain``: the original single-thread loop (large chunks, one project call each)."""
    if not plain:
        t = time.perf_counter()
        q = chunked.project_quantiles(pop, dw, prog, draws, 2024, HORIZON, chunk=chunk or chunked.CHUNK,
                                      workers=workers)
        return time.perf_counter() - t, q[-1, 2, 5].astype(float)
    t = time.perf_counter()
    A = pop.shape[0]
    chunk = chunk or A
    med = np.zeros(A)
    for s in range(0, A, chunk):
        sl = slice(s, min(A, s + chunk))
        keep = (prog.area >= sl.start) & (prog.area < sl.stop)
        sub = Programme(prog.area[keep] - sl.start, prog.year[keep], prog.dwellings[keep])
        d = Draws(**{**draws.__dict__, "delay": draws.delay[:, keep]})
        last = {}

        def on_year(year, P, H):
            b = np.stack([P[lo:hi].sum(0) for _, lo, hi in rates.KWB_BANDS.values()] + [P.sum(0)])
            q = mc.summarise(np.moveaxis(b, 1, 0))
            last["q"] = q

        project(pop[sl], dw[sl], sub, d, 2024, HORIZON, on_year=on_year)
        med[sl] = last["q"][2, 5]
    return time.perf_counter() - t, med


def peer_one_draw(pop, dw, prog, d: Draws, i: int) -> np.ndarray:
    """Per-draw pandas: the same arithmetic, one DataFrame (areas × ages) per draw."""
    ages = rates.AGE_LABELS
    P = pd.DataFrame(pop, columns=ages)
    P0 = P.sum(axis=1)
    H0 = pd.Series(dw)
    q, o = pd.Series(d.mortality[i], index=ages), pd.Series(d.out_migration[i], index=ages)
    f = pd.Series(d.fertility[i], index=ages) * rates.FEMALE_SHARE
    pn, pe = pd.Series(d.inmover_new[i], index=ages), pd.Series(d.inmover_existing[i], index=ages)
    comp = pd.DataFrame({"area": prog.area, "year": prog.year + d.delay[i], "dw": prog.dwellings})
    N = pd.Series(0.0, index=P.index)
    for k, year in enumerate(range(2025, HORIZON + 1)):
        births = (P * f).sum(axis=1)
        S = P * (1 - q) * (1 - o)
        new = S * 0.8
        new.iloc[:, 1:17] += 0.2 * S.iloc[:, 0:16].to_numpy()
        new.iloc[:, 17] = S.iloc[:, 17] + 0.2 * S.iloc[:, 16]
        new.iloc[:, 0] += births
        step = comp[comp["year"] == year].groupby("area")["dw"].sum().reindex(P.index, fill_value=0.0)
        N += step
        g = (1 + d.occupancy_trend[i]) ** (k + 1)
        target = g * (np.where(H0 > 0, P0, P0) + N * d.occupancy_new[i])
        gap = target - new.sum(axis=1)
        pos = gap.clip(lower=0)
        in_new = np.minimum(pos, g * step * d.occupancy_new[i])
        in_ex = pos - in_new
        neg = (-gap).clip(lower=0)
        w = new * o
        share = (neg / w.sum(axis=1)).where(w.sum(axis=1) > 0, 0.0).clip(upper=1)
        new = new - w.mul(share, axis=0)
        P = new + np.outer(in_new, pn) + np.outer(in_ex, pe)
    return P.sum(axis=1).to_numpy()


def bench(label, pop, dw, prog, n_draws, peer_draws, chunk=None, workers=2, plain=False):
    draws = mc.draw(n_draws, len(prog.area), seed=1)
    cpu = time.process_time()
    secs, _ = ours(pop, dw, prog, draws, chunk, workers, plain)
    cpu = time.process_time() - cpu
    # projection alone (no quantiles), one thread, on a sample of areas, scaled to all
    step = (chunk or pop.shape[0]) if plain else (chunk or chunked.CHUNK)
    sample = min(pop.shape[0], step if plain else 20 * step)
    empty = Draws(**{**draws.__dict__, "delay": draws.delay[:, :0]})
    t = time.perf_counter()
    for s0 in range(0, sample, step):
        project(pop[s0:s0 + step], dw[s0:s0 + step], Programme.empty(), empty, 2024, HORIZON)
    t_proj = (time.perf_counter() - t) * pop.shape[0] / sample
    how = f"plain, chunks of {chunk or pop.shape[0]}, 1 thread" if plain else \
        f"chunked, {chunk or chunked.CHUNK} areas, {workers} threads"
    line = (f"{label} [{how}]: {pop.shape[0]:,} buurten x {n_draws:,} draws, 2024-{HORIZON}: ours {secs:.2f} s "
            f"wall, {cpu:.2f} s CPU (all threads) (projection alone ~{t_proj:.2f} s wall in one thread, without programme or quantiles)")
    if peer_draws:
        sub = Draws(**{k: v[:peer_draws] for k, v in draws.__dict__.items()})
        t = time.perf_counter()
        peer = np.stack([peer_one_draw(pop, dw, prog, sub, i) for i in range(peer_draws)])
        tp = (time.perf_counter() - t) / peer_draws * n_draws
        got = {}
        project(pop, dw, prog, sub, 2024, HORIZON, dtype=np.float64,
                on_year=lambda y, P, H: got.__setitem__("P", P.sum(0).copy()))
        diff = float(np.max(np.abs(got["P"] - peer) / np.maximum(1, np.abs(peer))))
        line += (f"; per-draw pandas peer {tp:.1f} s (measured on {peer_draws} draws, scaled x{n_draws // peer_draws})"
                 f"; speedup {tp / secs:.0f}x; max rel diff vs peer {diff:.1e}")
    print(line, flush=True)
    return secs, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--peer-draws", type=int, default=10)
    ap.add_argument("--skip-national", action="store_true")
    ap.add_argument("--chunk", type=int, default=None,
                    help="areas per chunk (default: chunked.CHUNK; with --plain 600 nationally)")
    ap.add_argument("--workers", type=int, default=2, help="threads over area chunks")
    ap.add_argument("--plain", action="store_true", help="the original path (before issue 13 speed-up)")
    a = ap.parse_args()
    if a.plain and a.chunk is None:
        a.chunk = 600
    codes, gem, pop, dw = load_base()
    fl = np.isin(gem, list(FLEVOLAND))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (shared machine)")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"base: KWB 2024 national selection, {len(codes):,} buurten ({int(fl.sum())} in Flevoland), "
          f"{pop.sum():,.0f} residents; programme synthetic (timing only)")
    s_fl, c_fl = bench("Flevoland", pop[fl], dw[fl], programme(int(fl.sum()), 100, 2), a.draws, a.peer_draws,
                       None if a.plain else a.chunk, a.workers, a.plain)
    print(f"  target < 5 s: wall {'met' if s_fl < 5 else 'NOT met'}, CPU {'met' if c_fl < 5 else 'NOT met'}")
    if not a.skip_national:
        s_nl, c_nl = bench("Nederland", pop, dw, programme(len(codes), 1000, 3), a.draws,
                           max(1, a.peer_draws // 5), chunk=a.chunk, workers=a.workers, plain=a.plain)
        print(f"uptime at end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        print(f"  target < 60 s: wall {'met' if s_nl < 60 else 'NOT met'}, CPU {'met' if c_nl < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
