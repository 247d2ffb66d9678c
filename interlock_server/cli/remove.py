"""``interlock remove-pipeline``: remove a pipeline registered over the API (what ``DELETE
/api/pipelines/{id}`` does). A pipeline file's pipeline is retired by deleting its file instead."""

from __future__ import annotations

import argparse
import sys

from interlock_core.errors import PipelineInUse

from .output import EXIT_BLOCKED, EXIT_OK, Out
from .session import open_engine


async def cmd_remove_pipeline(args: argparse.Namespace, out: Out) -> int:
    """0 removed; 1 refused (defined in a pipeline file, or a run is under way); 2 unknown pipeline."""
    async with open_engine(args.project) as (project, engine):
        try:
            removed = await engine.remove_pipeline(args.pipeline)
        except PipelineInUse as exc:
            if out.json_mode:
                out.json(exc.to_json())
            else:
                print(f"refused: {exc.message}", file=sys.stderr)
                if exc.details.get("origin"):
                    where = ", ".join(str(d) for d in project.pipeline_dirs)
                    print(f"  its file is in {where}; deleting it retires the pipeline (`interlock status` shows "
                          "it as retired)", file=sys.stderr)
            return EXIT_BLOCKED
    origin = removed.origin.value if removed.origin else "api"
    if out.json_mode:
        out.json({"removed": removed.name, "origin": origin, "retired": removed.retired})
    else:
        out.line(out.green(f'Pipeline "{removed.name}" removed') + out.dim("  (its runs, run logs, reruns and "
                                                                        "events are kept)"))
    return EXIT_OK
