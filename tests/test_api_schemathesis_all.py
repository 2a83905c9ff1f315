"""schemathesis with *all* its checks (a 5xx included) (status codes, content types, response schemas and
headers as documented, negative data rejected, ...) over every endpoint of the app: the
error answers are part of the OpenAPI schema and match it (issue 16, item 5)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from weefsel.web.api import create_app  # noqa: E402
from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse  # noqa: E402

_DIR = tempfile.TemporaryDirectory(prefix="weefsel-schemathesis-all-")
os.environ.setdefault("WEEFSEL_REGISTRY", f"sqlite:///{_DIR.name}/registry.sqlite")
# generated data writes a lot from one address: lift the write limits for this run (the
# limits themselves are tested in test_web_security.py)
for key, value in (("WEEFSEL_WRITE_BURST", "100000"), ("WEEFSEL_MAX_PROPOSALS", "100000")):
    os.environ[key] = value
_APP = create_app(make_demo_warehouse(Path(_DIR.name) / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
for key in ("WEEFSEL_WRITE_BURST", "WEEFSEL_MAX_PROPOSALS"):
    os.environ.pop(key)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _close_warehouse():
    yield
    _APP.state.data.close()


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_all_checks(case):
    response = case.call()
    excluded = []
    if case.method != "GET":
        # an upload or form can fit the schema and still be refused with a reason (a CSV
        # whose quotas cannot be met, an amount that is no amount): the positive-data
        # check cannot know that; every other check applies
        excluded.append(positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)
