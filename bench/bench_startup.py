"""Start-up: ``interlock status`` on a fresh SQLite project (the one ``interlock init`` writes).

Each repetition runs, in a rotated order, three fresh processes: ``interlock status`` (as
``python -m interlock_server.cli.main``), the bare interpreter (``python -c pass``: what no
command can go below), and, with ``--baseline-tree DIR``, the same ``status`` with another source
tree first on ``PYTHONPATH`` (e.g. ``git archive <commit> | tar -x -C DIR``: before/after in one
run). Figures: wall and CPU seconds (user + system of the child, from ``getrusage``: on a
busy machine the steadier of the two) min / median / max, and the optional modules each
``status`` imported (it must import no AWS, Redis or HTTP client library). Target: median wall
≤ 0.4 s (on an idle machine wall ≈ CPU).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _support import arguments, median, met, report, rotated, shown, spread, workspace

TARGET_SECONDS = 0.4
#: Imported by a SQLite project's ``status`` only if something is not lazy.
OPTIONAL = ("aioboto3", "boto3", "botocore", "aiobotocore", "redis", "httpx", "psycopg")
PROBE = (
    "import runpy, sys, json\n"
    "before = set(sys.modules)\n"
    "sys.argv = ['interlock', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('interlock_server.cli.main', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "ours = ('interlock_core', 'interlock_plugins', 'interlock_server')\n"
    f"print(json.dumps({{'optional': sorted(m for m in {OPTIONAL!r} if m in sys.modules),\n"
    "                  'libraries': [m for m in sys.modules if m not in before and m != '__main__'\n"
    "                                and m.split('.')[0] not in ours]}), file=sys.stderr)\n"
)
"""Runs ``status`` as ``python -m`` would and prints, as JSON on its last line of standard error,
the optional modules it imported and every module outside Interlock it imported, in order."""


def _environment(tree: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # as an installed package: the warm-up writes each module's bytecode, later runs read it (with
    # PYTHONDONTWRITEBYTECODE set, every run would compile every module again, about 0.12 s)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if tree:
        env["PYTHONPATH"] = tree
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``argv``."""
    cpu, started = _children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
    return elapsed, _children_cpu() - cpu


def _probed(tree: str | None, project: Path) -> dict[str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, "-C", str(project), "status"], env=_environment(tree),
                          cwd=project, capture_output=True, text=True, check=False)
    last = (proc.stderr.strip().splitlines() or ["{}"])[-1]
    found: dict[str, list[str]] = json.loads(last)
    return found


def _libraries_command(project: Path) -> list[str]:
    """A process importing the modules outside Interlock that ``status`` imported, in its order,
    through ``interlock_server.collector.collector_paused`` (as ``interlock_server.cli`` does)."""
    modules = _probed(None, project)["libraries"]
    code = ("import importlib\nfrom interlock_server.collector import collector_paused\n"
            f"with collector_paused():\n    for name in {modules!r}:\n"
            "        try:\n            importlib.import_module(name)\n        except Exception:\n            pass\n")
    return [sys.executable, "-c", code]


def _imported(tree: str | None, project: Path) -> list[str]:
    return _probed(tree, project).get("optional", [])


def main() -> None:
    args = arguments(__doc__ or "", [
        ("--reps", {"type": int, "default": None}),
        ("--baseline-tree", {"default": None, "help": "another source tree to time the same command with"}),
    ])
    reps = args.reps or (2 if args.quick else 15)
    with workspace(args.store_dir, "startup") as root:
        project = root / "project"
        init = subprocess.run([sys.executable, "-m", "interlock_server.cli.main", "init", str(project)],
                              env=_environment(None), capture_output=True, text=True, check=False)
        if init.returncode != 0:
            raise SystemExit(f"interlock init failed:\n{init.stderr}")
        # `status` only reads and never creates the store: one evaluation creates it, as a user's would
        subprocess.run([sys.executable, "-m", "interlock_server.cli.main", "-C", str(project), "evaluate", "example"],
                       env=_environment(None), capture_output=True, text=True, check=True)
        status = [sys.executable, "-m", "interlock_server.cli.main", "-C", str(project), "status"]
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "status": (status, _environment(None)),
            "python -c pass": ([sys.executable, "-c", "pass"], _environment(None)),
            "its libraries alone": (_libraries_command(project), _environment(None)),
        }
        if args.baseline_tree:
            commands["status (baseline tree)"] = (status, _environment(str(Path(args.baseline_tree).resolve())))
        for argv, env in commands.values():  # warm-up: bytecode is compiled
            _timed(argv, env, project)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for turn in range(reps):
            for name in rotated(list(commands), turn):
                argv, env = commands[name]
                wall, cpu = _timed(argv, env, project)
                times[name].append(wall)
                cpus[name].append(cpu)
        imported = _imported(None, project)
        imported_baseline = _imported(str(Path(args.baseline_tree).resolve()), project) if args.baseline_tree else None
    result = median(times["status"])
    own = [a - b for a, b in zip(cpus["status"], cpus["its libraries alone"], strict=True)]
    ok = met(result, TARGET_SECONDS) and not imported
    rows: list[tuple[str, object]] = [
        ("command", "interlock status, SQLite project from `interlock init`"),
        ("repetitions (order rotated)", reps),
        *((f"{name} wall s (min / median / max)", shown(values)) for name, values in times.items()),
        *((f"{name} CPU s (min / median / max)", shown(values)) for name, values in cpus.items()),
        ("status CPU minus its libraries' (per turn) s", shown(own)),
        ("optional modules imported by status", ", ".join(imported) or "none"),
    ]
    if imported_baseline is not None:
        rows.append(("… by the baseline tree's status", ", ".join(imported_baseline) or "none"))
    rows += [("target", f"median ≤ {TARGET_SECONDS} s, no optional module"), ("met", ok)]
    report("startup", rows, {
        "reps": reps, "seconds": {name: spread(values) for name, values in times.items()},
        "cpu_seconds": {name: spread(values) for name, values in cpus.items()},
        "own_cpu_seconds": spread(own), "imported": imported, "imported_baseline": imported_baseline,
        "median_s": result, "target_s": TARGET_SECONDS, "met": ok,
    })


if __name__ == "__main__":
    main()
