"""Default locations. Everything is overridable by CLI options or environment variables."""

from __future__ import annotations

import os
from pathlib import Path

#: Default warehouse file: thrown away and rebuilt from the publishers' sources.
DEFAULT_WAREHOUSE = Path(os.environ.get("WEEFSEL_WAREHOUSE", "weefsel.duckdb"))

#: Default registry (what people enter): never touched by a rebuild.
DEFAULT_REGISTRY_URL = os.environ.get("WEEFSEL_REGISTRY", "sqlite:///weefsel-registry.sqlite")

#: CRS of all stored geometry (RD New) and of served geometry (WGS84 lon/lat).
STORAGE_CRS = "EPSG:28992"
SERVE_CRS = "EPSG:4326"


def default_data_dir() -> Path | None:
    """The offline source folder: ``$WEEFSEL_DATA``, else ``../shared/data`` if it exists.

    Returns None when neither exists; the build then uses the online sources.
    """
    env = os.environ.get("WEEFSEL_DATA")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return None


def default_geo_dir(data_dir: Path | None = None) -> Path | None:
    """Boundary files that need care (other vintages, approximate polygons): ``$WEEFSEL_GEO``,
    else a ``geo/`` folder beside the data folder (``../shared/geo`` next to ``../shared/data``).

    They are kept out of the data folder on purpose; the build reads each file's vintage and
    quality from the file itself. ``WEEFSEL_GEO=none`` switches them off.
    """
    env = os.environ.get("WEEFSEL_GEO")
    if env is not None and env.strip():
        if env.strip().lower() in ("none", "off", "0"):
            return None
        return Path(env) if Path(env).is_dir() else None
    if data_dir is None:
        return None
    candidate = (Path(data_dir).resolve().parent / "geo")
    if candidate.is_dir() and candidate != Path(data_dir).resolve():
        return candidate
    return None
