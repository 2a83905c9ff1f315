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
