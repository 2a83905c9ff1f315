"""Supply points: the warehouse's facilities plus optional CSV facility lists.

A CSV list (``TYPE=FILE`` on the command line) needs ``lat``/``lon`` (WGS84) or
``x_rd``/``y_rd``; an optional ``capacity`` column multiplies the norm's
``capacity_per_facility`` (1 = one standard facility).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.forward.errors import ForwardInputError


def read_facility_csv(path: str | Path, ftype: str) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise ForwardInputError("bestand niet gevonden", file=str(path))
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if {"x_rd", "y_rd"} <= set(df.columns):
        x = pd.to_numeric(df["x_rd"], errors="coerce").to_numpy()
        y = pd.to_numeric(df["y_rd"], errors="coerce").to_numpy()
    elif {"lat", "lon"} <= set(df.columns):
        from pyproj import Transformer
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy()
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy()
        x, y = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True).transform(lon, lat)
        x, y = np.asarray(x), np.asarray(y)
    else:
        raise ForwardInputError("geen coördinaten (verwacht lat,lon of x_rd,y_rd)", file=path.name,
                                row=1, field="lat")
    cap = pd.to_numeric(df["capacity"], errors="coerce").to_numpy() if "capacity" in df else np.ones(len(df))
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    for i in np.flatnonzero(bad)[:1]:
        raise ForwardInputError("ontbrekende of ongeldige coördinaat", file=path.name, row=int(i) + 2,
                                field="lat")
    if (cap < 0).any():
        i = int(np.flatnonzero(cap < 0)[0])
        raise ForwardInputError("negatieve capaciteit", file=path.name, row=i + 2, field="capacity")
    ids = df["id"] if "id" in df else df.get("brin6", pd.Series(range(len(df))).astype(str))
    return pd.DataFrame({"facility_id": [f"{path.stem}:{v}" for v in ids], "type": ftype,
                         "name": df.get("naam", df.get("name", "")), "x_rd": x, "y_rd": y,
                         "capacity": np.nan_to_num(cap, nan=1.0)})


def parse_facility_args(items: list[str] | None) -> list[tuple[str, Path]]:
    out = []
    for item in items or []:
        if "=" not in item:
            raise ForwardInputError(f"verwacht TYPE=BESTAND, kreeg '{item}'", file="--facilities")
        t, f = item.split("=", 1)
        out.append((t.strip(), Path(f.strip())))
    return out


def load_supply(wh, extra: list[tuple[str, Path]] | None = None,
                notes: list[str] | None = None) -> pd.DataFrame:
    """All facilities: the warehouse table (if any) and the CSV lists given. A list the
    build already loaded (facilities.source = 'csv:<file stem>') is not counted twice."""
    frames = []
    loaded: set[str] = set()
    try:
        fac = wh.facilities()
        if len(fac):
            frames.append(fac[["facility_id", "type", "name", "x_rd", "y_rd", "capacity"]])
            loaded = set(fac["source"].astype(str))
    except Exception:  # noqa: BLE001 - an old warehouse without the table
        pass
    for t, f in extra or []:
        if f"csv:{Path(f).stem}" in loaded:
            if notes is not None:
                notes.append(f"{Path(f).name} zit al in het warehouse (weefsel build): niet dubbel geteld")
            continue
        frames.append(read_facility_csv(f, t))
    if not frames:
        return pd.DataFrame(columns=["facility_id", "type", "name", "x_rd", "y_rd", "capacity"])
    out = pd.concat(frames, ignore_index=True)
    out["capacity"] = pd.to_numeric(out["capacity"], errors="coerce").fillna(1.0)
    return out
