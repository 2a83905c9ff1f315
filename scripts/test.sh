#!/usr/bin/env bash
# Installs everything weefsel's tests need on a fresh machine, then runs them.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,postgres]'
# Browser tests use Debian's Chromium (Playwright's own browser download cannot run offline).
# Another apt process (unattended upgrades, a parallel job) may hold the dpkg lock: wait for
# it (up to 5 minutes) instead of failing at once and skipping the browser tests silently.
APT="apt-get -o DPkg::Lock::Timeout=300"
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  ($APT update -qq && DEBIAN_FRONTEND=noninteractive $APT install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium" >&2
fi
# In CI (CI set) a missing browser is a failure, not a skip (tests/browser/conftest.py too).
if [ -n "${CI:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "error: /usr/bin/chromium is missing in CI; the browser tests cannot run" >&2
  exit 1
fi
# The registry tests run on SQLite and on a real throwaway PostgreSQL cluster (Debian package).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
     apt-get -o DPkg::Lock::Timeout=300 install -y -qq postgresql >/dev/null) \
    || echo "warning: could not install postgresql; the PostgreSQL half of the registry tests will be skipped" >&2
fi
# In CI the PostgreSQL half must run (tests/registry_backends.py fails instead of skipping there).
if [ -n "${CI:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "error: PostgreSQL (initdb) is missing in CI; the registry tests cannot run on PostgreSQL" >&2
  exit 1
fi
exec .venv/bin/python -m pytest "$@"
