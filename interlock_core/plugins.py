"""The plugin manager factory and the typed registries built from it."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources.abc import Traversable
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


@dataclass(frozen=True)
class PluginSource:
    """Where a registered plugin module comes from: the package (distribution) that declares it in
    the ``interlock`` entry-point group, its version and the entry point's name."""

    module: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None

    def describe(self) -> str:
        """``interlock_echo_plugin (package interlock-echo-plugin 0.1.0, entry point 'echo')``."""
        if self.distribution is None:
            return self.module
        version = f" {self.version}" if self.version else ""
        entry = f", entry point {self.entry_point!r}" if self.entry_point else ""
        return f"{self.module} (package {self.distribution}{version}{entry})"


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin, as ``interlock plugins`` lists it."""

    kind: str
    name: str
    target: str
    """``package.module:Class`` (a lazy entry is not imported to list it)."""
    source: PluginSource

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "name": self.name, "target": self.target, "module": self.source.module,
                "distribution": self.source.distribution, "version": self.source.version,
                "entryPoint": self.source.entry_point}


class Registry(Generic[T]):
    """Named plugin classes of one kind; registering a name twice is an error. A
    :class:`LazyPlugin` is imported when :meth:`get` (or :meth:`items`) first hands it out.
    ``describe`` turns an origin into words for error messages (which package it comes from)."""

    def __init__(self, kind: str, describe: Callable[[str], str] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T | LazyPlugin] = {}
        self._origins: dict[str, str] = {}
        self._describe = describe or (lambda origin: origin)

    def add(self, name: str, item: T | LazyPlugin, origin: str) -> None:
        if name in self._items:
            raise PluginError(
                f"{self.kind} {name!r} is registered twice (by {self._describe(self._origins[name])} "
                f"and by {self._describe(origin)})"
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
                raise PluginError(
                    f"{self.kind} {exc.message} (registered by {self._describe(self._origins[name])})"
                ) from exc
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

    def target(self, name: str) -> str:
        """Where the entry lives (``package.module:Class``), without importing a lazy one."""
        item = self._items[name]
        if isinstance(item, LazyPlugin):
            return item.target
        owner = item if isinstance(item, type) else type(item)
        return f"{owner.__module__}:{owner.__qualname__}"


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
    """A typed facade over ``pm.hook``: the registries, built once, and the starter content."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        describe = self.describe_origin
        self.stores: Registry[Any] = Registry("store", describe)
        self.trigger_types: Registry[Any] = Registry("trigger type", describe)
        self.alert_sinks: Registry[Any] = Registry("alert sink", describe)
        self.archives: Registry[Any] = Registry("archive", describe)
        """Long-term archives the archiver copies history into (``serve`` picks one by name)."""
        self._collect(self.stores, pm.hook.interlock_register_stores)
        self._collect(self.trigger_types, pm.hook.interlock_register_trigger_types)
        self._collect(self.alert_sinks, pm.hook.interlock_register_alert_sinks)
        self._collect(self.archives, pm.hook.interlock_register_archives)
        self.starter_dirs: list[Traversable] = [
            directory for found in reversed(pm.hook.interlock_register_starter_content()) for directory in found or []]
        """Directories of archetypes and calendars every project gets (``<dir>/archetypes/*.yaml``,
        ``<dir>/calendars/*.yaml``), in registration order."""

    @cached_property
    def evaluator_runners(self) -> Registry[Any]:
        """Collected when first asked for (building an engine's runners, ``interlock plugins``):
        their hooks import the runners, which a command that evaluates nothing does not need."""
        registry: Registry[Any] = Registry("evaluator runner", self.describe_origin)
        self._collect(registry, self.pm.hook.interlock_register_evaluator_runners)
        return registry

    @cached_property
    def builtin_evaluators(self) -> Registry[Any]:
        """Collected when first asked for (validating a ``builtin:`` evaluator's config, running
        one, ``interlock plugins``), like :attr:`evaluator_runners`."""
        registry: Registry[Any] = Registry("builtin evaluator", self.describe_origin)
        self._collect(registry, self.pm.hook.interlock_register_builtin_evaluators)
        return registry

    def starter_files(self, kind: str) -> list[Path]:
        """The starter ``kind`` files (``archetypes``, ``calendars``): sorted within each directory."""
        files: list[Path] = []
        for directory in self.starter_dirs:
            base = directory / kind
            if base.is_dir():
                files += sorted(Path(str(entry)) for entry in base.iterdir()
                                if entry.name.endswith((".yaml", ".yml")))
        return files

    @cached_property
    def sources(self) -> dict[str, PluginSource]:
        """The package behind each plugin module (:func:`plugin_sources`), read when first asked
        for (naming a plugin's package in a message, ``interlock plugins``): reading each package's
        metadata is not needed to use its plugins."""
        return plugin_sources()

    def source(self, origin: str) -> PluginSource:
        return self.sources.get(origin) or PluginSource(origin)

    def describe_origin(self, origin: str) -> str:
        return self.source(origin).describe()

    def registries(self) -> list[Registry[Any]]:
        """The registries ``interlock plugins`` lists: every kind a package can register."""
        return [self.stores, self.evaluator_runners, self.trigger_types, self.alert_sinks, self.builtin_evaluators,
                self.archives]

    def describe(self) -> list[PluginInfo]:
        """Every registered plugin with its kind and the package it comes from (nothing is imported)."""
        return [PluginInfo(registry.kind, name, registry.target(name), self.source(registry.origin(name)))
                for registry in self.registries() for name in registry.names()]

    def _collect(self, registry: Registry[Any], hook: Any) -> None:
        for impl in hook.get_hookimpls():
            origin = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                result = impl.function()
            except Exception as exc:
                raise PluginError(f"plugin {self.describe_origin(origin)} failed to register its "
                                  f"{registry.kind}s ({impl.function.__name__}): {type(exc).__name__}: {exc}") from exc
            for item in result or []:
                name = getattr(item, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(f"{registry.kind} from {origin} has no name")
                registry.add(name, item, origin)


def get_plugin_manager(
    *, load_entrypoints: bool = True, extra: Iterable[ModuleType | object] = ()
) -> pluggy.PluginManager:
    """Every module declared in the ``interlock`` entry-point group (the built-ins are declared by
    ``interlock`` itself, exactly like a third-party package's), then ``extra``."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if load_entrypoints:
        entry_points = _entry_points()
        if not entry_points:  # not even the built-ins: Interlock runs from a source tree it was not installed from
            raise PluginError(f"no plugin is declared in the {hookspecs.PROJECT_NAME!r} entry-point group, not even "
                              "the built-in stores and triggers: install Interlock (pip install -e . in a source "
                              "tree) instead of running it from files on sys.path")
        for dist_ep in entry_points:
            if pm.get_plugin(dist_ep.value) is not None:  # one module declared twice (two installs)
                continue
            try:
                plugin = dist_ep.load()
            except Exception as exc:
                source = _source(dist_ep)
                package = f"{source.distribution} {source.version or ''}".rstrip()
                raise PluginError(
                    f"plugin {dist_ep.name!r} ({dist_ep.value}) failed to load: package {package} declares "
                    f"entry point {dist_ep.name!r} = {dist_ep.value!r} in group {hookspecs.PROJECT_NAME!r}, "
                    f"and importing it raised {type(exc).__name__}: {exc} (fix or uninstall {source.distribution})"
                ) from exc
            pm.register(plugin, name=dist_ep.value)
    for plugin in extra:
        pm.register(plugin)
    return pm


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME))


def _source(entry_point: importlib.metadata.EntryPoint) -> PluginSource:
    dist = entry_point.dist
    name = dist.metadata["Name"] if dist is not None else None
    return PluginSource(entry_point.value, name or "an unnamed package", dist.version if dist else None,
                        entry_point.name)


def plugin_sources() -> dict[str, PluginSource]:
    """The package behind each plugin module declared in the ``interlock`` entry-point group (the
    built-ins are declared by ``interlock`` itself). The first declaration of a module wins."""
    sources: dict[str, PluginSource] = {}
    for entry_point in _entry_points():
        sources.setdefault(entry_point.value, _source(entry_point))
    return sources


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

