"""``interlock init``: write a ready-to-run project."""

from __future__ import annotations

import shutil
import stat
from importlib import resources
from pathlib import Path

SQLITE_CONFIG = """\
# Interlock project configuration. Docs: README.md (Configuration).
provider: sqlite            # embedded store, one file, nothing to start
sqlite:
  path: ./interlock.db

server:
  addr: "127.0.0.1:3000"
  # apiKey: ${INTERLOCK_API_KEY}   # required to listen beyond loopback

watcher:
  enabled: true
  defaultInterval: 30s

archetypeDirs: [./archetypes]
evaluatorDirs: [./evaluators]
evaluatorEnv: [EXAMPLE_SOURCE_LAG]   # what evaluators get from the environment besides PATH, HOME, LANG …
pipelineDirs: [./pipelines]
calendarDirs: [./calendars]

alerts:
  - type: console
  - type: file
    path: ./alerts.log
"""

REDIS_CONFIG = SQLITE_CONFIG.replace(
    "provider: sqlite            # embedded store, one file, nothing to start\nsqlite:\n  path: ./interlock.db\n",
    "provider: redis             # Redis >= 7 or Valkey; see docker-compose.yaml\nredis:\n"
    "  addr: ${REDIS_ADDR:-localhost:6379}\n  keyPrefix: \"interlock:\"\n",
)

COMPOSE = """\
# A local Valkey for this project: docker compose up -d
services:
  valkey:
    image: valkey/valkey:8
    ports: ["6379:6379"]
    restart: unless-stopped
"""

FRESHNESS = """\
#!/usr/bin/env python3
\"\"\"Source freshness: PASS when the source's lag is within maxLagSeconds.

Interlock sends the trait's config as JSON on stdin and reads {"status", "value", "reason"} from stdout.
Replace `lag_seconds()` with a query against your source system.
\"\"\"
import json
import os
import sys


def lag_seconds(source: str) -> int:
    return int(os.environ.get("EXAMPLE_SOURCE_LAG", "42"))


config = json.load(sys.stdin)
max_lag = int(config.get("maxLagSeconds", 300))
lag = lag_seconds(config.get("source", "example"))
ok = lag <= max_lag
json.dump({
    "status": "PASS" if ok else "FAIL",
    "value": {"lagSeconds": lag, "threshold": max_lag},
    "reason": f"lag {lag}s {'<=' if ok else '>'} threshold {max_lag}s",
}, sys.stdout)
"""

UPSTREAM = """\
#!/usr/bin/env bash
# Upstream dependency: PASS when the marker file exists (replace with your own check).
# The trait's config arrives as JSON on stdin; INTERLOCK_DATE names the cycle being evaluated.
cat >/dev/null
marker="${EXAMPLE_UPSTREAM_MARKER:-}"
if [ -z "$marker" ] || [ -e "$marker" ]; then
  echo '{"status":"PASS","value":{"upstream":"example"},"reason":"upstream complete"}'
else
  echo "{\\"status\\":\\"FAIL\\",\\"reason\\":\\"waiting for $marker\\"}"
fi
"""

RESOURCES = """\
#!/usr/bin/env bash
# Resource availability: PASS when the disk holding this project is below 95% full.
cat >/dev/null
pct=$(df -P . | awk 'NR==2 {gsub("%","",$5); print $5}')
if [ "${pct:-0}" -lt 95 ]; then
  echo "{\\"status\\":\\"PASS\\",\\"value\\":{\\"diskPct\\":${pct:-0}}}"
else
  echo "{\\"status\\":\\"FAIL\\",\\"value\\":{\\"diskPct\\":$pct},\\"reason\\":\\"disk ${pct}% full\\"}"
fi
"""

PIPELINE = """\
name: example
archetype: batch-ingestion
description: An example pipeline that is ready out of the box.
tier: 3

traits:
  source-freshness:
    evaluator: check-source-freshness
    config:
      source: example_table
      maxLagSeconds: 300
    ttl: 300
    timeout: 15
  upstream-dependency:
    evaluator: check-upstream
  resource-availability:
    evaluator: check-resources

trigger:
  type: command
  command: echo "example pipeline ran for ${date} (run ${runId})"
  timeout: 60

retry:
  maxAttempts: 3
  backoffSeconds: 30
"""

EXAMPLE_EVALUATORS = {
    "source-freshness": "check-source-freshness",
    "upstream-dependency": "check-upstream",
    "resource-availability": "check-resources",
}
"""The example evaluator ``init`` writes for each trait of ``batch-ingestion`` (``add-pipeline``
wires them into the pipelines it writes, and says they are examples)."""

CALENDAR_README = "# Named calendars (YAML: name, days, dates). Built-ins: us-holidays, weekends.\n"


def scaffold(target: Path, *, store: str = "sqlite") -> list[Path]:
    """Write the project; existing files are kept unless they are ours to refresh."""
    written: list[Path] = []
    for sub in ("archetypes", "evaluators", "pipelines", "calendars"):
        (target / sub).mkdir(parents=True, exist_ok=True)

    def write(rel: str, text: str, executable: bool = False) -> None:
        path = target / rel
        path.write_text(text)
        if executable:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)

    write("interlock.yaml", REDIS_CONFIG if store == "redis" else SQLITE_CONFIG)
    if store == "redis":
        write("docker-compose.yaml", COMPOSE)
    for entry in (resources.files("interlock_config") / "archetypes").iterdir():
        if entry.name.endswith(".yaml"):
            dest = target / "archetypes" / entry.name
            with resources.as_file(entry) as src:
                shutil.copyfile(src, dest)
            written.append(dest)
    write("evaluators/check-source-freshness", FRESHNESS, executable=True)
    write("evaluators/check-upstream", UPSTREAM, executable=True)
    write("evaluators/check-resources", RESOURCES, executable=True)
    write("pipelines/example.yaml", PIPELINE)
    write("calendars/README.md", CALENDAR_README)
    write(".gitignore", "interlock.db*\nalerts.log\n")
    return written
