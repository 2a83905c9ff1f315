"""Fixtures that run a registry test on SQLite and on a real throwaway PostgreSQL.

Import with ``from registry_backends import *`` in a test module (pytest puts tests/ on the path).
"""

from __future__ import annotations

import os
import secrets

import pytest


def _skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine, but fail in CI (env ``CI`` set): scripts/test.sh installs
    PostgreSQL there, so a silently skipped PostgreSQL half would hide a broken backend."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL cluster per session; skipped with the reason when impossible."""
    from weefsel.registry.pgcluster import pg_bindir, throwaway_cluster
    if pg_bindir() is None:
        _skip_or_fail("PostgreSQL not installed (apt-get install postgresql); PostgreSQL half skipped")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _skip_or_fail("psycopg missing (pip install -e '.[postgres]'); PostgreSQL half skipped")
    try:
        cm = throwaway_cluster()
        url = cm.__enter__()
    except Exception as exc:  # e.g. no postgres user, no permission
        _skip_or_fail(f"could not start a throwaway PostgreSQL: {exc}")
    yield url
    cm.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path):
    """A fresh, empty registry database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite'}"
        return
    base = request.getfixturevalue("pg_server")
    from sqlalchemy import create_engine, text
    name = "t_" + secrets.token_hex(6)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()
