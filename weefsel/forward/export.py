"""Tables (CSV or parquet) and plots (PNG and SVG) of a run, written to a folder.

Files go to a temporary folder first and are moved in place at the end, so an error
leaves no half-written output.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

TABLE_NAMES = ["projection", "gap", "gaplist", "programme", "runs"]


def export(result, out_dir: str | Path, *, fmt: str = "csv", plots: bool = True,
           plot_areas: list[str] | None = None) -> list[Path]:
    out_dir = Path(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".vooruit-", dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        for name in TABLE_NAMES:
            df: pd.DataFrame = getattr(result, name)
            if fmt == "parquet":
                df.to_parquet(tmp / f"{name}.parquet", index=False)
            else:
                df.to_csv(tmp / f"{name}.csv", index=False)
        if plots:
            from weefsel.forward.plots import plot_all
            plot_all(result, tmp, areas=plot_areas)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for f in sorted(tmp.iterdir()):
            dest = out_dir / f.name
            shutil.move(str(f), dest)
            written.append(dest)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
