#!/usr/bin/env bash
# Install everything the tests need (Python deps, Redis, PostgreSQL), then lint, type-check and test.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/unit -x
# Tests run in PYTEST_WORKERS processes (default 3; 0 runs them in this process), each test file
# whole in one worker: the suite mostly waits on subprocesses, servers and stores, so on two cores a
# third worker cuts the wall time by about a quarter (README, Testing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
scripts/services.sh
if command -v npm >/dev/null; then npm ci --prefix deploy/asl-validate --no-audit --no-fund --silent; fi
echo "→ ruff";  .venv/bin/ruff check .
echo "→ lint-imports (the layering: server → plugins → core)"; .venv/bin/lint-imports
echo "→ mypy --strict interlock_core"; .venv/bin/mypy --strict interlock_core
echo "→ pytest"
exec .venv/bin/pytest -q -p no:cacheprovider -n "${PYTEST_WORKERS:-3}" --dist loadfile "$@"
