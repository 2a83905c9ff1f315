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
