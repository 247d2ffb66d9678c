"""The core's packages import their public names on first use: importing a package loads no
configuration model and no part of the engine, and each public name is still there, by attribute,
by ``from … import``, by ``import *`` and in ``dir()``.

Each check runs in a fresh interpreter, since this test process has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PACKAGES = ["interlock_core", "interlock_core.engine", "interlock_core.config", "interlock_core.model"]


def fresh(script: str) -> object:
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_package_imports_none_of_its_modules(package: str) -> None:
    loaded = fresh(f"import json, sys, {package}\n"
                   "print(json.dumps(sorted(m for m in sys.modules if m.startswith('interlock'))))")
    parents = {".".join(package.split(".")[:i]) for i in range(1, package.count(".") + 2)}
    assert loaded == sorted({*parents, "interlock_core.exports"})
    assert fresh(f"import json, {package}\nprint(json.dumps('pydantic' in __import__('sys').modules))") is False


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_there_however_it_is_asked_for(package: str) -> None:
    names = fresh(
        f"import json, importlib\n"
        f"p = importlib.import_module({package!r})\n"
        f"star = {{}}\n"
        f"exec('from {package} import *', star)\n"
        f"print(json.dumps([sorted(p.__all__), sorted(set(p.__all__) - set(dir(p))),\n"
        f"                  sorted(n for n in p.__all__ if star[n] is not getattr(p, n))]))\n")
    assert isinstance(names, list)
    exported, missing_from_dir, differing = names
    assert exported and missing_from_dir == [] and differing == []


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    import interlock_core.engine

    with pytest.raises(AttributeError, match=r"'interlock_core\.engine' has no attribute 'Nope'"):
        _ = interlock_core.engine.Nope
    with pytest.raises(ImportError):
        from interlock_core.model import Nope  # noqa: F401


def test_a_name_asked_for_twice_is_the_same_object() -> None:
    import interlock_core
    from interlock_core.engine.engine import Engine

    assert interlock_core.Engine is Engine
    assert vars(interlock_core)["Engine"] is Engine
