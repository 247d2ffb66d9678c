#!/usr/bin/env bash
# Run every benchmark (bench/bench_*.py) in turn; extra arguments (e.g. --quick) go to each script.
# Each script prints a small table and, as its last line, one JSON object with its figures.
# Exit status: 0 when every script ran (a missed target is a figure, not a failure).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
status=0
for script in bench/bench_*.py; do
  echo "→ ${script} $*"
  "$PYTHON" "$script" "$@" || { echo "✗ ${script} exited $?"; status=1; }
done
exit "$status"
