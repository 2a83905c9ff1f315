"""Bench: the national `weefsel index` run (1,000 Monte-Carlo draws over every buurt).

    /work/.venv/bin/python bench/index.py [--draws 1000] [--data ../shared/data]
                                          [--warehouse nl.duckdb  (a `weefsel build --region nl` warehouse)]

What it times (and says so):
 1. REAL national data: a warehouse made from the national files this machine has -- health
    monitor 50090NED 2020 (18+/65+) for every buurt of NL and the KWB 2024 buurt populations
    (kwb_2024_buurt_population_national.csv). The national KWB age/household columns are not
    available, so the indicators whose variables are missing are skipped (--skip-missing).
    Timed: indicators + SVI + composite (1,000 draws) + inequality, then the transaction.
 2. SYNTHETIC matrix of the real size (14,574 buurten x 20 indicators, 10% missing), to show
    the composite with more indicators than the real national data has.
 Peer: a naive per-draw loop (pandas normalise/aggregate/rank per draw), timed on 20 draws
 and scaled to the same number of draws; the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weefsel.analysis.composite import CompositeSpec, composite_frame  # noqa: E402
from weefsel.config import default_data_dir  # noqa: E402
from weefsel.indicators.pipeline import compute_all, write_tables  # noqa: E402
from weefsel.indicators.sample import national_warehouse  # noqa: E402


def naive_draw(df: pd.DataFrame, signs: dict, rng: np.random.Generator) -> pd.Series:
    """The peer: what a straightforward pandas implementation does for ONE draw."""
    x = df.fillna(df.mean())
    y = pd.DataFrame(index=df.index)
    for c in df.columns:
        v = x[c] * signs[c]
        y[c] = (v - v.min()) / (v.max() - v.min())
    w = rng.dirichlet(np.full(df.shape[1], 50.0 / df.shape[1]))
    comp = (y * w).sum(axis=1)
    return comp.rank(ascending=False, method="min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--warehouse", type=Path, default=None,
                    help="time `weefsel index` on this national build (a copy is used) instead of "
                         "the sample warehouse made from the raw files")
    args = ap.parse_args()
    spec = CompositeSpec(draws=args.draws, seed=42)
    print(f"weefsel bench/index.py  draws={args.draws}")

    if args.warehouse or (args.data and (args.data / "health").is_dir()):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "nl.duckdb"
            t = time.perf_counter()
            if args.warehouse:
                shutil.copy(args.warehouse, path)
                print(f"[real] national build {args.warehouse} (copied)")
            else:
                national_warehouse(args.data, path)
                print(f"[real] national sample warehouse built in {time.perf_counter() - t:.1f} s "
                      "(health 50090NED 2020 + KWB 2024 buurt population)")
            t, c = time.perf_counter(), time.process_time()
            run = compute_all(path, "buurt", spec=spec, skip_missing=True)
            t_compute, c_compute = time.perf_counter() - t, time.process_time() - c
            t = time.perf_counter()
            write_tables(path, run.tables)
            t_write = time.perf_counter() - t
            res = run.tables["index_results"]
            n = int(res["rank"].notna().sum())
            print(f"[real] buurten ranked: {n} of {len(res)}; indicators in the composite: "
                  f"{len(run.indicators)} ({', '.join(run.indicators)})")
            print("[real] timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in run.timings.items()))
            print(f"[real] NATIONAL RUN: {t_compute:.1f} s compute + {t_write:.1f} s write "
                  f"= {t_compute + t_write:.1f} s wall for {args.draws} draws (target < 30 s); "
                  f"compute CPU time {c_compute:.1f} s; load average now "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    else:
        print("[real] skipped: ../shared/data not found")

    rng = np.random.default_rng(0)
    n, k = 14574, 20
    x = rng.gamma(4.0, 2.0, (n, k))
    x[rng.random(x.shape) < 0.10] = np.nan
    df = pd.DataFrame(x, index=[f"BU{i:08d}" for i in range(n)], columns=[f"i{j:02d}" for j in range(k)])
    signs = {c: (1 if j % 2 else -1) for j, c in enumerate(df.columns)}
    themes = {c: f"t{j % 5}" for j, c in enumerate(df.columns)}
    t, c = time.perf_counter(), time.process_time()
    res, sens = composite_frame(df, signs, themes, spec)
    t_ours = time.perf_counter() - t
    print(f"[synthetic] composite {n} areas x {k} indicators, {args.draws} draws: {t_ours:.1f} s wall, "
          f"{time.process_time() - c:.1f} s CPU")

    peer_draws = 20
    t = time.perf_counter()
    for _ in range(peer_draws):
        naive_draw(df, signs, rng)
    t_peer = (time.perf_counter() - t) / peer_draws * args.draws
    print(f"[synthetic] peer (naive pandas loop, one draw at a time, minmax only), "
          f"scaled from {peer_draws} to {args.draws} draws: {t_peer:.1f} s")
    print(f"[synthetic] ratio peer / weefsel = {t_peer / t_ours:.1f}x "
          "(weefsel also varies imputation, normalisation and aggregation and runs the OAT sensitivity)")


if __name__ == "__main__":
    main()
