"""Bench: the national `weefsel index` run (1,000 Monte-Carlo draws over every buurt).

    .venv/bin/python bench/index.py [--draws 1000] [--runs 3] [--data ../shared/data]
                                    [--warehouse nl.duckdb]  [--sample]

What it times (and says so), each as median (min-max) of ``--runs`` runs, wall clock, with
the date and machine load (as ``uptime``) printed first:
 1. REAL national warehouse (default): ``weefsel build --region nl`` from ../shared/data
    into a temporary file (or the ``--warehouse`` you give, copied), then what
    ``weefsel index`` does: indicators + SVI + composite + inequality, and the write. The
    buurten ranked are counted against the buurten in the build's ``areas`` table.
    ``--sample`` uses the older reduced warehouse (health 2020 + KWB buurt populations only).
 2. SYNTHETIC matrix of the real size (16,078 buurten x 20 indicators, 10% missing), to show
    the composite with more indicators than the real national data has.
 Peer: a naive per-draw loop (pandas normalise/aggregate/rank per draw) written here, not a
 published tool; timed on ``--peer-draws`` draws (default 100) and scaled to the same number
 of draws; the ratio is printed with that caveat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weefsel.analysis.composite import CompositeSpec, composite_frame  # noqa: E402
from weefsel.config import default_data_dir  # noqa: E402
from weefsel.indicators.pipeline import compute_all, write_tables  # noqa: E402
from weefsel.indicators.sample import national_warehouse  # noqa: E402


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.1f} s ({min(xs):.1f}-{max(xs):.1f})"


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
                         "building one from ../shared/data")
    ap.add_argument("--sample", action="store_true",
                    help="use the reduced sample warehouse (health 2020 + KWB buurt population)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-draws", type=int, default=100)
    args = ap.parse_args()
    spec = CompositeSpec(draws=args.draws, seed=42)
    load = os.getloadavg()
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (uptime); draws={args.draws}, runs={args.runs}")

    if args.warehouse or (args.data and args.data.is_dir()):
        import duckdb
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src.duckdb"
            t = time.perf_counter()
            if args.warehouse:
                shutil.copy(args.warehouse, src)
                print(f"[real] national build {args.warehouse} (copied)")
            elif args.sample:
                national_warehouse(args.data, src)
                print(f"[real] REDUCED sample warehouse (health 50090NED 2020 + KWB 2024 buurt population) "
                      f"built in {time.perf_counter() - t:.1f} s")
            else:
                from weefsel.warehouse.build import build
                build("nl", args.data, src, progress=False)
                print(f"[real] national build (weefsel build --region nl from {args.data}) made in "
                      f"{time.perf_counter() - t:.1f} s")
            con = duckdb.connect(str(src), read_only=True)
            counts = dict(con.execute("SELECT level, count(*) FROM areas GROUP BY level").fetchall())
            con.close()
            print("[real] areas in the build: " + ", ".join(f"{n:,} {lv}" for lv, n in sorted(counts.items())))
            walls, cpus, writes = [], [], []
            for _ in range(args.runs):
                path = Path(tmp) / "nl.duckdb"
                shutil.copy(src, path)
                t, c = time.perf_counter(), time.process_time()
                run = compute_all(path, "buurt", spec=spec, skip_missing=True)
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                t = time.perf_counter()
                write_tables(path, run.tables)
                writes.append(time.perf_counter() - t)
            res = run.tables["index_results"]
            n = int(res["rank"].notna().sum())
            print(f"[real] buurten ranked: {n:,} of {counts.get('buurt', 0):,} buurten in the build "
                  f"({len(res):,} rows in index_results); indicators in the composite: "
                  f"{len(run.indicators)} ({', '.join(run.indicators)})")
            if run.dropped:
                print(f"[real] indicators left out (variables missing in this build): {', '.join(run.dropped)}")
            print("[real] last run's timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in run.timings.items()))
            total = [a + b for a, b in zip(walls, writes)]
            print(f"[real] NATIONAL RUN: compute {spread(walls)} + write {spread(writes)} = {spread(total)} wall "
                  f"for {args.draws} draws (target < 30 s); compute CPU {statistics.median(cpus):.1f} s")
    else:
        print("[real] skipped: ../shared/data not found")

    rng = np.random.default_rng(0)
    n, k = 16078, 20
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

    peer_draws = args.peer_draws
    t = time.perf_counter()
    for _ in range(peer_draws):
        naive_draw(df, signs, rng)
    t_peer = (time.perf_counter() - t) / peer_draws * args.draws
    print(f"[synthetic] peer (a naive pandas loop written here, one draw at a time, minmax only), "
          f"scaled from {peer_draws} to {args.draws} draws: {t_peer:.1f} s")
    print(f"[synthetic] ratio peer / weefsel = {t_peer / t_ours:.1f}x "
          "(weefsel also varies imputation, normalisation and aggregation and runs the OAT sensitivity)")


if __name__ == "__main__":
    main()
