"""``interlock plugins``: every plugin discovered through the ``interlock`` entry-point group, with
its kind, the package (distribution) and version it comes from. Needs no project."""

from __future__ import annotations

import argparse
from typing import Any

from interlock_core.plugins import load_plugins

from .output import EXIT_OK, Out


def add_parser(sub: Any) -> None:
    p = sub.add_parser("plugins", help="list the discovered plugins: kind, name, package and version",
                       description="List every store, evaluator runner, trigger type, alert sink, builtin "
                       "evaluator and archive registered through the `interlock` entry-point group, with the "
                       "package that provides it. A package that fails to import is reported by name (exit 2).")
    p.add_argument("--json", action="store_true")


async def cmd_plugins(args: argparse.Namespace, out: Out) -> int:
    infos = load_plugins().describe()
    if out.json_mode:
        out.json({"plugins": [info.to_json() for info in infos]})
        return EXIT_OK
    rows = [(info.kind, info.name, info.source.distribution or "-", info.source.version or "-", info.target)
            for info in infos]
    header = ("KIND", "NAME", "PACKAGE", "VERSION", "LOCATION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.line("  ".join([*cells, row[-1]]).rstrip())
    return EXIT_OK
