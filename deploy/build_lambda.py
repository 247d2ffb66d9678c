#!/usr/bin/env python3
"""Build the Lambda artifact and the archetype layer, reproducibly.

    .venv/bin/python deploy/build_lambda.py            # or: make build-lambda

Produces, under ``deploy/dist/``:

* ``lambda/``  our wheel and its runtime dependencies for Lambda (Python 3.11, arm64, manylinux),
  byte-compiled for that Python; the CDK stack deploys this directory to all five functions;
* ``layer/archetypes/``  the archetype YAML files (``interlock_config/archetypes`` plus any ``--archetypes``
  directory), mounted at ``/opt/archetypes``;
* ``lambda.zip``, ``layer.zip`` and ``SHA256SUMS``: the same trees as deterministic zips.

Reproducible: dependency versions come from ``deploy/lambda-constraints.txt`` (refresh it with
``--lock``), every file gets the same mode and mtime, zip entries are sorted, byte code is compiled
with ``PYTHONHASHSEED=0`` into hash-based ``.pyc`` files that name ``/var/task`` paths. Two builds of
the same tree give the same SHA256SUMS. Needs PyPI (pip downloads the aarch64 wheels).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "deploy" / "dist"
CONSTRAINTS = REPO / "deploy" / "lambda-constraints.txt"
ARCHETYPES = REPO / "interlock_config" / "archetypes"

PYTHON_VERSION = "3.11"  # must match LAMBDA_PYTHON_VERSION in deploy/cdk/interlock_cdk/config.py
# Lambda's python3.11 runtime is Amazon Linux 2 (glibc 2.26) on arm64 (Graviton).
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_24_aarch64", "manylinux_2_26_aarch64")
FIXED_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
LAMBDA_ROOT = "/var/task"

# What goes into the wheel: the packages and the files setuptools reads.
SOURCE_ITEMS = ("pyproject.toml", "README.md", "interlock_core", "interlock_plugins", "interlock_server",
                "interlock_config")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache", ".pytest_cache")


class BuildError(RuntimeError):
    """A build step failed; the message says which and why."""


def run(command: Sequence[str], *, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(command), file=sys.stderr)
    result = subprocess.run(command, env=env, check=False)
    if result.returncode != 0:
        raise BuildError(f"{command[0]} {command[1] if len(command) > 1 else ''} exited {result.returncode}")


def fixed_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(SOURCE_DATE_EPOCH=str(FIXED_EPOCH), PYTHONHASHSEED="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def stage_source(into: Path) -> Path:
    """A clean copy of the sources (no stale ``build/``, caches or egg-info)."""
    source = into / "src"
    source.mkdir()
    for name in SOURCE_ITEMS:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=JUNK)
        else:
            shutil.copy2(origin, source / name)
    return source


def build_wheel(source: Path, into: Path) -> Path:
    wheels = into / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source)],
        env=fixed_env())
    found = sorted(wheels.glob("interlock-*.whl"))
    if len(found) != 1:
        raise BuildError(f"expected one interlock wheel in {wheels}, found {[p.name for p in found]}")
    return found[0]


def install(wheel: Path, target: Path, constraints: Path | None) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-cache-dir",
        "--target", str(target), "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
    ]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    run([*command, str(wheel)], env=fixed_env())


def tidy(target: Path) -> None:
    """Drop what is machine-specific or useless on Lambda: console scripts (their shebang names this
    machine's Python) and ``direct_url.json`` (it names the temporary wheel path)."""
    shutil.rmtree(target / "bin", ignore_errors=True)
    for info in target.glob("*.dist-info"):
        (info / "direct_url.json").unlink(missing_ok=True)
        record = info / "RECORD"
        if record.is_file():
            lines = record.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if (target / line.split(",", 1)[0]).exists()]
            record.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def compile_bytecode(target: Path) -> None:
    """Hash-based .pyc (no source mtimes inside) for the runtime's Python, so cold starts do not
    compile every module again on Lambda's read-only file system. Skipped on another Python."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != PYTHON_VERSION:
        print(f"note: building with Python {running}, not {PYTHON_VERSION}: no .pyc files", file=sys.stderr)
        return
    run([sys.executable, "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash",
         "-d", LAMBDA_ROOT, str(target)], env=fixed_env())


def copy_archetypes(layer: Path, extra: Sequence[Path]) -> None:
    archetypes = layer / "archetypes"
    archetypes.mkdir(parents=True)
    for directory in (ARCHETYPES, *extra):
        if not directory.is_dir():
            raise BuildError(f"archetype directory {directory} does not exist")
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                shutil.copyfile(path, archetypes / path.name)


def walk(root: Path) -> Iterator[Path]:
    """Every file and directory under ``root``, sorted by relative path."""
    yield from sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix())


def normalise(root: Path) -> None:
    """The same mode and mtime for everything: 0755 for directories and executables, else 0644."""
    for path in walk(root):
        executable = path.is_dir() or bool(path.stat().st_mode & stat.S_IXUSR)
        path.chmod(0o755 if executable else 0o644)
        os.utime(path, (FIXED_EPOCH, FIXED_EPOCH), follow_symlinks=False)


def write_zip(root: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for path in walk(root):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=FIXED_DATE)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (stat.S_IFREG | (path.stat().st_mode & 0o777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, path.read_bytes(), compresslevel=9)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock(target: Path, constraints: Path) -> None:
    """Write the resolved dependency versions (everything but interlock itself) as constraints."""
    pins = []
    for info in target.glob("*.dist-info"):
        fields = dict(
            line.split(": ", 1) for line in (info / "METADATA").read_text(encoding="utf-8").splitlines()[:10]
            if ": " in line
        )
        name, version = fields.get("Name", ""), fields.get("Version", "")
        if name and version and name.lower() != "interlock":
            pins.append(f"{name}=={version}")
    header = "# Dependency versions of the Lambda artifact; refresh: python deploy/build_lambda.py --lock\n"
    constraints.write_text(header + "".join(pin + "\n" for pin in sorted(pins, key=str.lower)), encoding="utf-8")
    print(f"wrote {len(pins)} pins to {constraints.relative_to(REPO)}", file=sys.stderr)


def build(out: Path, constraints: Path | None, extra_archetypes: Sequence[Path], write_lock: bool) -> dict[str, str]:
    target, layer = out / "lambda", out / "layer"
    for stale in (target, layer):
        shutil.rmtree(stale, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="interlock-lambda-") as scratch:
        wheel = build_wheel(stage_source(Path(scratch)), Path(scratch))
        install(wheel, target, None if write_lock else constraints)
    tidy(target)
    if write_lock:
        lock(target, CONSTRAINTS)
    compile_bytecode(target)
    copy_archetypes(layer, extra_archetypes)
    sums = {}
    for tree, archive in ((target, out / "lambda.zip"), (layer, out / "layer.zip")):
        normalise(tree)
        write_zip(tree, archive)
        sums[archive.name] = sha256(archive)
    (out / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()), encoding="utf-8")
    return sums


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DIST, help="output directory (default deploy/dist)")
    parser.add_argument("--archetypes", type=Path, action="append", default=[],
                        help="another directory of archetype YAML files for the layer (repeatable)")
    parser.add_argument("--lock", action="store_true",
                        help="resolve the newest dependency versions and rewrite deploy/lambda-constraints.txt")
    args = parser.parse_args(argv)
    constraints = CONSTRAINTS if CONSTRAINTS.is_file() else None
    try:
        sums = build(args.out.resolve(), constraints, args.archetypes, args.lock)
    except (BuildError, OSError) as exc:
        print(f"build_lambda: {exc}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in (args.out / "lambda").rglob("*") if p.is_file())
    print(f"Lambda artifact: {args.out / 'lambda'} ({size / 1e6:.1f} MB unzipped)")
    for name, digest in sums.items():
        print(f"{digest}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
