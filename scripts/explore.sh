#!/usr/bin/env bash
# Random exploration: the property-based tests (the safety campaign, config fuzzing, the API's
# OpenAPI property tests) on fresh random examples, with the campaign's exploration budget and
# shrinking on. scripts/test.sh (and CI) run the same tests on fixed examples instead.
#
#   scripts/explore.sh                         fresh examples; prints the seed
#   HYPOTHESIS_SEED=<seed> scripts/explore.sh  replay a run (same examples, same order)
#   INTERLOCK_SOAK=1 scripts/explore.sh tests/safety     a soak: 20x the examples, 4x longer
#   scripts/explore.sh tests/safety -k redis   other arguments go to pytest (default: all of them)
#
# See docs/safety.md ("Running it").
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${HYPOTHESIS_SEED:-$(.venv/bin/python -c 'import secrets; print(secrets.randbits(64))')}
if [ $# -eq 0 ]; then
  set -- tests/safety tests/unit/config/test_config_fuzz.py tests/server/test_schemathesis.py
fi
echo "→ exploring with seed $seed"
status=0
INTERLOCK_EXPLORE=1 .venv/bin/pytest -q -p no:cacheprovider --hypothesis-seed="$seed" "$@" || status=$?
echo "→ seed $seed; replay with: HYPOTHESIS_SEED=$seed scripts/explore.sh $*"
exit $status
