"""Property-based API check: schemathesis generates requests from /openapi.json and no
answer may be a 5xx (bounded examples so the run stays fast)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from weefsel.web.api import create_app  # noqa: E402
from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse  # noqa: E402

# Built at import: schemathesis needs the schema when the tests are collected.
_DIR = tempfile.TemporaryDirectory(prefix="weefsel-schemathesis-")
# the participation router (mounted when present) must not write next to the checkout
os.environ.setdefault("WEEFSEL_REGISTRY", f"sqlite:///{_DIR.name}/registry.sqlite")
_APP = create_app(make_demo_warehouse(Path(_DIR.name) / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
# Every endpoint of the app, the mounted participation routers included.
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _close_warehouse():
    yield
    _APP.state.data.close()


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
