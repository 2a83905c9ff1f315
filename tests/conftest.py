"""Shared test fixtures: where the real data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from weefsel.config import default_data_dir

DATA = default_data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real publishers' data in ../shared/data (skip when absent)."""
    if DATA is None or not DATA.is_dir():
        pytest.skip("../shared/data not present")
    return DATA


@pytest.fixture(scope="session")
def flevoland_warehouse(data_dir, tmp_path_factory) -> Path:
    """A warehouse built once per test session: region Flevoland from the real data (H3 build)."""
    from weefsel.warehouse.build import build

    out = tmp_path_factory.mktemp("warehouse") / "flevoland.duckdb"
    build("flevoland", data_dir, out, progress=False)
    return out
