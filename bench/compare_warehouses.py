"""Check that two warehouses hold the same crosswalk and observations (a speed change must
not change results).

    .venv/bin/python bench/compare_warehouses.py BEFORE.duckdb AFTER.duckdb [--tol 1e-9]

Per table (crosswalk, observations, observations_original, area_vintages without geometry):
row counts, rows present on one side only (by key), and the largest absolute difference of
each numeric column on the shared keys. Exit status 1 when anything differs beyond ``--tol``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

TABLES = {
    "crosswalk": (["from_code", "from_vintage", "to_code", "to_vintage", "level"],
                  ["method", "note"], ["weight", "split_share", "target_share"]),
    "observations": (["area_code", "period", "variable", "breakdown", "indeling"],
                     ["source", "method"], ["value", "lower", "upper"]),
    "observations_original": (["area_code", "period", "variable", "breakdown", "indeling"],
                              ["source", "method"], ["value", "lower", "upper"]),
    "area_vintages": (["code", "vintage"], ["level", "name", "gemeente_code"], []),
}


def compare(before: Path, after: Path, tol: float) -> bool:
    con = duckdb.connect()
    con.execute(f"ATTACH '{before}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{after}' AS b (READ_ONLY)")
    same = True
    for table, (keys, texts, nums) in TABLES.items():
        na = con.execute(f"SELECT count(*) FROM a.{table}").fetchone()[0]
        nb = con.execute(f"SELECT count(*) FROM b.{table}").fetchone()[0]
        on = " AND ".join(f"x.{k} IS NOT DISTINCT FROM y.{k}" for k in keys)
        only_a = con.execute(f"SELECT count(*) FROM a.{table} x ANTI JOIN b.{table} y ON {on}"
                             ).fetchone()[0]
        only_b = con.execute(f"SELECT count(*) FROM b.{table} x ANTI JOIN a.{table} y ON {on}"
                             ).fetchone()[0]
        diffs = [f"max|d {c}|" for c in nums]
        sel = [f"max(abs(x.{c} - y.{c}))" for c in nums]
        sel += [f"count(*) FILTER ((x.{c} IS NULL) <> (y.{c} IS NULL))" for c in nums]
        sel += [f"count(*) FILTER (x.{c} IS DISTINCT FROM y.{c})" for c in texts]
        row = con.execute(f"SELECT {', '.join(sel) or '0'} FROM a.{table} x "
                          f"JOIN b.{table} y ON {on}").fetchone()
        k = len(nums)
        maxd = [float(v or 0.0) for v in row[:k]]
        null_mismatch = sum(row[k:2 * k])
        text_mismatch = sum(row[2 * k:])
        ok = (na == nb and only_a == 0 and only_b == 0 and all(d <= tol for d in maxd)
              and null_mismatch == 0 and text_mismatch == 0)
        same &= ok
        print(f"{table:22s} rows {na:,} vs {nb:,}; only before {only_a}, only after {only_b}; "
              + ", ".join(f"{d} {v:.2e}" for d, v in zip(diffs, maxd))
              + f"; null mismatches {null_mismatch}; text mismatches {text_mismatch}: "
              + ("same" if ok else "DIFFERENT"))
    return same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--tol", type=float, default=1e-9)
    args = ap.parse_args()
    sys.exit(0 if compare(args.before, args.after, args.tol) else 1)


if __name__ == "__main__":
    main()
