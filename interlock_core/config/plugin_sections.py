"""The sections of ``interlock.yaml`` that plugins validate: the store (``provider:`` and its
section) and the ``alerts:`` sinks, with the alert outbox's delivery policy of each."""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import BaseModel

from ..errors import ConfigError, PluginError
from ..model import AlertSpec, ProjectConfig
from ..outbox import SinkPolicy, sink_policies
from ..plugins import Plugins
from .errors import located_errors
from .yamlsource import Located


def validate_store_section(
    source: Located, data: dict[str, Any], plugins: Plugins, errors: list[ConfigError]
) -> tuple[str, BaseModel | None]:
    provider = data.get("provider", "sqlite")
    if not isinstance(provider, str):
        errors.append(source.error("provider must be a string", ("provider",)))
        data.pop("provider", None)
        return "sqlite", None
    store_config: BaseModel | None = None
    sections: set[str] = set()
    for name in plugins.stores.names():
        if name not in data:
            continue
        sections.add(name)
        section = data.pop(name)
        try:
            model = plugins.stores.get(name).config_model.model_validate(section or {})
        except PluginError as exc:  # a lazily registered store whose library is not installed
            errors.append(source.error(exc.message, (name,)))
            continue
        except pydantic.ValidationError as exc:
            errors.extend(located_errors(exc, source, (name,)))
            continue
        if name == provider:
            store_config = model
    if provider not in plugins.stores:
        known = ", ".join(plugins.stores.names())
        errors.append(source.error(f"unknown store provider {provider!r} (known: {known})", ("provider",)))
    elif store_config is None and provider not in sections:
        try:
            store_config = plugins.stores.get(provider).config_model.model_validate({})
        except PluginError as exc:
            errors.append(source.error(exc.message, ("provider",)))
        except pydantic.ValidationError:
            errors.append(source.error(f"a '{provider}:' section is required when provider is {provider}",
                                       ("provider",)))
    return provider, store_config


def validate_alerts(
    source: Located, data: dict[str, Any], plugins: Plugins, errors: list[ConfigError]
) -> tuple[list[AlertSpec] | None, list[tuple[str, BaseModel]], list[SinkPolicy]]:
    """Check the ``alerts:`` entries (taken out of ``data``) against the alert sink plugins, even
    when the rest of the file has errors. Without an ``alerts:`` key the project default applies.
    Also the outbox's delivery policy of each sink (two sinks may not share a ``name``)."""
    raw = data.pop("alerts") if "alerts" in data else None
    given = raw is not None
    entries: list[Any] = raw if isinstance(raw, list) else []
    if given and not isinstance(raw, list):
        errors.append(source.error(f"alerts must be a list (got {type(raw).__name__})", ("alerts",)))
    if not given:
        entries = [spec.model_dump(by_alias=True) for spec in ProjectConfig().alerts]
    specs: list[AlertSpec] = []
    configs: list[tuple[str, BaseModel]] = []
    delivered: list[AlertSpec] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            spec = AlertSpec.model_validate(entry)
        except pydantic.ValidationError as exc:
            errors.extend(located_errors(exc, source, ("alerts", index)))
            continue
        specs.append(spec)
        if spec.name is not None and spec.name in names:
            errors.append(source.error(f"two alert sinks are named {spec.name!r}", ("alerts", index, "name")))
        names.add(spec.name or "")
        if spec.type not in plugins.alert_sinks:
            known = ", ".join(plugins.alert_sinks.names())
            message = f"unknown alert type {spec.type!r} (known: {known})"
            errors.append(source.error(message, ("alerts", index, "type")))
            continue
        try:
            sink_config = plugins.alert_sinks.get(spec.type).config_model.model_validate(spec.options())
            configs.append((spec.type, sink_config))
            delivered.append(spec)
        except PluginError as exc:  # a lazily registered sink whose library is not installed
            errors.append(source.error(exc.message, ("alerts", index, "type")))
        except pydantic.ValidationError as exc:
            errors.extend(located_errors(exc, source, ("alerts", index)))
    policies = sink_policies((spec.type, spec) for spec in delivered)
    return (specs if given else None), configs, policies
