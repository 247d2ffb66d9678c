#!/usr/bin/env bash
# Install everything the tests need (Python deps, Redis, PostgreSQL), then lint, type-check and test.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
scripts/services.sh
if command -v npm >/dev/null; then npm ci --prefix deploy/asl-validate --no-audit --no-fund --silent; fi
echo "→ ruff";  .venv/bin/ruff check .
echo "→ mypy --strict interlock_core"; .venv/bin/mypy --strict interlock_core
echo "→ pytest"
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
