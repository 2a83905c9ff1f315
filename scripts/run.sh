#!/usr/bin/env bash
# Installs weefsel on a fresh machine, builds the monitor for a region and serves it.
# Usage: bash scripts/run.sh [region] [extra 'weefsel serve' args]   (default region: flevoland)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REGION=${1:-flevoland}
shift || true
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/weefsel build --region "$REGION"
for level in buurt wijk gemeente; do
  .venv/bin/weefsel index --level "$level" --skip-missing
done
# provincie and Nederland: the reference values beside every area (the publisher's own figure,
# else summed from the counts of the gemeenten); a gemeente-only region has no provincie
for level in provincie land; do
  .venv/bin/weefsel index --level "$level" --skip-missing \
    || echo "weefsel index --level $level overgeslagen (geen $level in dit warehouse)"
done
.venv/bin/weefsel info
exec .venv/bin/weefsel serve "$@"
