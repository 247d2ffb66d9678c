#!/usr/bin/env bash
# Regenerate the README's dashboard screenshots (docs/screenshots/*.png) on purpose: the browser
# tests that take them, writing into docs/screenshots instead of a tmp directory. Needs chromium
# (scripts/services.sh installs it). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export INTERLOCK_SCREENSHOTS="$PWD/docs/screenshots"
exec .venv/bin/pytest -q -p no:cacheprovider tests/dashboard/test_browser.py \
  -k "test_overview_shows_every_pipeline or test_a_blocked_pipeline_shows_its_blocking_traits" "$@"
