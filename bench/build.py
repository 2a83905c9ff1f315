"""Time `weefsel build` for the whole country and for Flevoland on ../shared/data.

    .venv/bin/python bench/build.py [--data DIR] [--repeat 3] [--regions nl,flevoland]

Prints the date and machine load first (as ``uptime``), then per region: wall-clock seconds
of the complete build (read, merge, validate, write, atomic swap) as median (min-max) of
``--repeat`` builds, CPU seconds, source rows read per second, and values written. Peer: the bare I/O floor,
reading every source file once with ``pandas.read_csv`` / ``pyogrio`` and doing nothing
else; the ratio build / floor says how much the loaders, mapping, validation and DuckDB
writing add on top of parsing the files. Target (issue 2): nl under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from weefsel.config import default_data_dir


def io_floor(data_dir: Path) -> tuple[float, int]:
    """Seconds and rows to parse every source file once with the fastest plain readers."""
    import pandas as pd
    import pyogrio

    from weefsel.warehouse.discover import discover

    t = time.perf_counter()
    rows = 0
    for spec in discover(data_dir):
        p = spec.path
        if p.suffix == ".csv":
            sep = ";" if spec.kind == "nabijheid" else ","
            try:
                rows += len(pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False,
                                        encoding="utf-8-sig", engine="pyarrow"))
            except Exception:   # ragged StatLine exports: fall back to the C parser
                rows += len(pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False,
                                        encoding="utf-8-sig", on_bad_lines="skip"))
        elif p.suffix in (".geojson", ".json", ".gpkg"):
            rows += len(pyogrio.read_dataframe(p))
    return time.perf_counter() - t, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--regions", default="nl,flevoland")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.data is None or not args.data.is_dir():
        raise SystemExit("no data folder: give --data DIR (default ../shared/data)")

    from weefsel.warehouse.build import build

    load = os.getloadavg()
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (uptime)")
    floor_s, floor_rows = io_floor(args.data)
    print(f"peer  I/O floor (pandas/pyogrio parse of every file): {floor_s:6.2f} s, "
          f"{floor_rows:,} rows, {floor_rows / floor_s:,.0f} rows/s")
    print(f"cores {os.cpu_count()}, data {args.data}")
    with tempfile.TemporaryDirectory() as tmp:
        for region in [r.strip() for r in args.regions.split(",") if r.strip()]:
            times, cpus = [], []
            for _ in range(args.repeat):
                out = Path(tmp) / f"{region}.duckdb"
                t, c = time.perf_counter(), time.process_time()
                rep = build(region, args.data, out, progress=False)
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            best = statistics.median(times)
            size = out.stat().st_size / 1e6
            levels = ", ".join(f"{n} {lv}" for lv, n in sorted(rep.level_counts.items()))
            print(f"build --region {region:10s} {best:6.2f} s median ({min(times):.2f}-{max(times):.2f}, "
                  f"{len(times)} builds; CPU {statistics.median(cpus):.1f} s)  "
                  f"{rep.rows_read:,} source rows -> {rep.rows_read / best:,.0f} rows/s; "
                  f"{rep.observations:,} values written ({rep.observations / best:,.0f}/s); "
                  f"{size:.1f} MB; ratio to I/O floor {best / floor_s:.1f}x; {levels}")
            slowest = sorted(rep.sources, key=lambda s: -s.seconds)[:3]
            print("      slowest sources: " + "; ".join(f"{s.label} {s.seconds:.1f} s"
                                                      for s in slowest))
            if region == "nl":
                verdict = "meets" if best < 60 else "MISSES"
                print(f"      target nl < 60 s on 2 cores: {verdict} (median)")
    load = os.getloadavg()
    print(f"# load at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
