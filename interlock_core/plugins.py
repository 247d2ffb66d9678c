"""The plugin manager factory and the typed registries built from it."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pluggy

from . import hookspecs
from .clock import Clock, SystemClock
from .errors import PluginError
from .outbound import HostPolicy

if TYPE_CHECKING:
    from .ports import SinkState

T = TypeVar("T")

BUILTIN_MODULES = (
    "interlock_plugins.stores",
    "interlock_plugins.evaluators",
    "interlock_plugins.triggers",
    "interlock_plugins.alerts",
)


@dataclass(frozen=True)
class PluginContext:
    """What plugins may use when they are created."""

    project_dir: Path = field(default_factory=Path.cwd)
    clock: Clock = field(default_factory=SystemClock)
    outbound: HostPolicy = field(default_factory=HostPolicy)
    """Where the plugin's own HTTP requests may go (``outbound:`` in interlock.yaml)."""
    state: SinkState | None = None
    """Alert sinks: a little memory kept in the store (None where no store backs the sink)."""
    public_url: str | None = None
    """``server.publicURL``: where people reach this server (alerts link to its dashboard)."""


class LazyPlugin:
    """A plugin class registered by name and location (``"package.module:Class"``), imported the
    first time a registry hands it out: registering it imports nothing, so a project that never
    uses the Redis store or an AWS trigger never imports redis or boto.

    A registration hook may return these beside (or instead of) classes. One compares equal to the
    class it names, so ``SomeClass in interlock_register_stores()`` holds either way."""

    __slots__ = ("name", "target")

    def __init__(self, name: str, target: str) -> None:
        module, sep, attribute = target.partition(":")
        if not (name and module and sep and attribute):
            raise PluginError(f"lazy plugin {name!r}: target {target!r} is not 'package.module:Class'")
        self.name = name
        self.target = target

    def load(self) -> Any:
        module_name, _, attribute = self.target.partition(":")
        try:
            item = getattr(importlib.import_module(module_name), attribute)
        except ImportError as exc:
            raise PluginError(f"{self.name!r} ({self.target}) cannot be imported: {exc}") from exc
        except AttributeError:
            raise PluginError(f"{self.name!r}: {module_name} has no {attribute!r}") from None
        if getattr(item, "name", None) != self.name:
            raise PluginError(f"{self.target} is registered as {self.name!r} but is named "
                              f"{getattr(item, 'name', None)!r}")
        return item

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyPlugin):
            return (self.name, self.target) == (other.name, other.target)
        if isinstance(other, type):
            return f"{other.__module__}:{other.__qualname__}" == self.target
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.target)

    def __repr__(self) -> str:
        return f"LazyPlugin({self.name!r}, {self.target!r})"


class Registry(Generic[T]):
    """Named plugin classes of one kind; registering a name twice is an error. A
    :class:`LazyPlugin` is imported when :meth:`get` (or :meth:`items`) first hands it out."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T | LazyPlugin] = {}
        self._origins: dict[str, str] = {}

    def add(self, name: str, item: T | LazyPlugin, origin: str) -> None:
        if name in self._items:
            raise PluginError(
                f"{self.kind} {name!r} is registered twice (by {self._origins[name]} and by {origin})"
            )
        self._items[name] = item
        self._origins[name] = origin

    def get(self, name: str) -> T:
        try:
            item = self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise PluginError(f"unknown {self.kind} {name!r} (known: {known})") from None
        if isinstance(item, LazyPlugin):
            try:
                loaded: T = item.load()
            except PluginError as exc:
                raise PluginError(f"{self.kind} {exc.message} (registered by {self._origins[name]})") from exc
            self._items[name] = item = loaded
        return item

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """Every entry, imported (use :meth:`get` or :meth:`view` to import only what is used)."""
        return [(name, self.get(name)) for name in self.names()]

    def view(self) -> Mapping[str, T]:
        """A read-only mapping over the registry that imports an entry when it is looked up."""
        return _RegistryView(self)

    def origin(self, name: str) -> str:
        return self._origins[name]


class _RegistryView(Mapping[str, T]):
    def __init__(self, registry: Registry[T]) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> T:
        if name not in self._registry:
            raise KeyError(name)
        return self._registry.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names())

    def __len__(self) -> int:
        return len(self._registry.names())


class Plugins:
    """A typed facade over ``pm.hook``: the four registries, built once."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.stores: Registry[Any] = Registry("store")
        self.evaluator_runners: Registry[Any] = Registry("evaluator runner")
        self.trigger_types: Registry[Any] = Registry("trigger type")
        self.alert_sinks: Registry[Any] = Registry("alert sink")
        self.builtin_evaluators: Registry[Any] = Registry("builtin evaluator")
        self._collect(self.stores, pm.hook.interlock_register_stores)
        self._collect(self.evaluator_runners, pm.hook.interlock_register_evaluator_runners)
        self._collect(self.trigger_types, pm.hook.interlock_register_trigger_types)
        self._collect(self.alert_sinks, pm.hook.interlock_register_alert_sinks)
        self._collect(self.builtin_evaluators, pm.hook.interlock_register_builtin_evaluators)

    def _collect(self, registry: Registry[Any], hook: Any) -> None:
        for impl in hook.get_hookimpls():
            origin = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            result = impl.function()
            for item in result or []:
                name = getattr(item, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(f"{registry.kind} from {origin} has no name")
                registry.add(name, item, origin)


def get_plugin_manager(
    *, load_entrypoints: bool = True, extra: Iterable[ModuleType | object] = ()
) -> pluggy.PluginManager:
    """Built-ins first, then every package that declares the ``interlock`` entry-point group."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # pragma: no cover - a broken install
            raise PluginError(f"built-in plugin module {module_name} cannot be imported: {exc}") from exc
        if pm.get_plugin(module_name) is None:
            pm.register(module, name=module_name)
    if load_entrypoints:
        for dist_ep in _entry_points():
            if dist_ep.value in BUILTIN_MODULES or pm.get_plugin(dist_ep.value) is not None:
                continue
            try:
                plugin = dist_ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {dist_ep.name!r} ({dist_ep.value}) failed to load: {exc}") from exc
            pm.register(plugin, name=dist_ep.value)
    for plugin in extra:
        pm.register(plugin)
    return pm


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME))


_default: Plugins | None = None


def load_plugins(*, refresh: bool = False, extra: Iterable[ModuleType | object] = ()) -> Plugins:
    """The process-wide plugin registries (built once; ``refresh`` rebuilds them)."""
    global _default
    extra = list(extra)
    if extra:
        return Plugins(get_plugin_manager(extra=extra))
    if _default is None or refresh:
        _default = Plugins(get_plugin_manager())
    return _default

