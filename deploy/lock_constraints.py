"""Write deploy/constraints.txt: the versions installed here of every runtime dependency of
Interlock (transitively, with the extras it asks for), which the Dockerfile installs with ``-c``.

    python deploy/lock_constraints.py            # rewrite deploy/constraints.txt from this environment
    python deploy/lock_constraints.py --check    # exit 1 when the file differs from this environment
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS = Path(__file__).with_name("constraints.txt")
HEADER = ("# Runtime dependency versions the container image installs (pip install -c); "
          "refresh: python deploy/lock_constraints.py\n")


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**default_environment(), "extra": extra}) for extra in extras or {""})


def runtime_versions(root: str = "interlock") -> dict[str, str]:
    """name -> installed version of everything ``root`` needs at run time (``root`` excluded)."""
    found: dict[str, str] = {}
    pending: list[tuple[str, set[str]]] = [(root, set())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a dependency for another platform (tzdata on Windows)
        if name != root:
            found[canonicalize_name(name)] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            if _wanted(requirement, extras):
                pending.append((canonicalize_name(requirement.name), set(requirement.extras)))
    return found


def render(versions: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={versions[name]}\n" for name in sorted(versions))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(runtime_versions())
    if args.check:
        current = CONSTRAINTS.read_text() if CONSTRAINTS.exists() else ""
        if current != text:
            print(f"{CONSTRAINTS} is not what this environment has installed", file=sys.stderr)
            return 1
        return 0
    CONSTRAINTS.write_text(text)
    print(f"wrote {CONSTRAINTS} ({len(text.splitlines()) - 1} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
