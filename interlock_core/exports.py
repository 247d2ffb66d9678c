"""A package's public names, imported on first use (PEP 562).

Importing a package costs only the package itself: ``package.Name`` and ``from package import
Name`` import the module that defines ``Name`` the first time it is asked for, and keep it in the
package (a second look-up is a plain attribute). ``dir(package)`` and ``from package import *``
list every public name. Each package also imports its names under ``TYPE_CHECKING``, so type
checkers see the same names as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, MutableMapping


def exported(package: str, modules: Mapping[str, tuple[str, ...]],
             namespace: MutableMapping[str, object]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__``: ``modules`` maps each module (relative to
    ``package``) to the public names it defines."""
    where = {name: package + module if module.startswith(".") else module
             for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(module)  # the import statement's own path: ``-X importtime`` shows it
        value = getattr(sys.modules[module], name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
