"""The Store port is the sum of its roles: every method of :class:`Store` belongs to exactly one role
of :mod:`interlock_core.store_roles`, and each role has its slice of the conformance suite."""

from __future__ import annotations

import inspect
from pathlib import Path

from interlock_core import plugin_api, ports
from interlock_core.ports import Store
from interlock_core.store_roles import STORE_ROLES

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"


def _methods(protocol: type) -> set[str]:
    """The methods a Protocol class declares itself (not those it inherits)."""
    return {name for name, value in vars(protocol).items() if not name.startswith("_") and callable(value)}


def _store_methods() -> set[str]:
    return {name for name in dir(Store) if not name.startswith("_") and callable(getattr(Store, name))}


def test_every_store_method_belongs_to_exactly_one_role() -> None:
    owners: dict[str, list[str]] = {}
    for role in STORE_ROLES:
        for name in _methods(role):
            owners.setdefault(name, []).append(role.__name__)
    assert {name: roles for name, roles in owners.items() if len(roles) != 1} == {}
    assert set(owners) == _store_methods()
    assert _methods(Store) == set(), "Store declares nothing of its own: a new method goes into a role"


def test_the_store_is_the_composite_of_every_role() -> None:
    assert set(Store.__mro__) >= set(STORE_ROLES)
    assert len(set(STORE_ROLES)) == len(STORE_ROLES)
    for role in STORE_ROLES:
        assert getattr(ports, role.__name__) is role
        assert getattr(plugin_api, role.__name__) is role
        assert role.__doc__, f"{role.__name__} says what it must guarantee"
        assert all(inspect.iscoroutinefunction(getattr(role, name)) for name in _methods(role)), role.__name__


def test_every_role_has_its_slice_of_the_conformance_suite() -> None:
    suite = (CONFORMANCE / "suite.py").read_text()
    for role in STORE_ROLES:
        assert f"{role.__name__}Conformance" in suite, f"suite.py composes the {role.__name__} slice"
