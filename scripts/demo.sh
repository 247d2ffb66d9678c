#!/usr/bin/env bash
# Install Interlock and run the main job on the embedded SQLite store: create a project, evaluate
# its example pipeline (READY), trigger it once, and show that a second run the same day is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
dir=${1:-demo-project}
export PATH="$PWD/.venv/bin:$PATH"
[ -f "$dir/interlock.yaml" ] || interlock init "$dir"
cd "$dir"
echo; echo "\$ interlock evaluate example"; interlock evaluate example
echo "\$ interlock run example"; interlock run example || true
echo; echo "\$ interlock run example   # same day again: refused as a duplicate"; interlock run example || true
echo; echo "\$ interlock status example"; interlock status example
