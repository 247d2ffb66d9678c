"""Interlock's built-in plugins: stores, evaluator runners, trigger types, alert sinks, archive.

They are registered through the ``interlock`` entry-point group exactly like third-party plugins
(``pyproject.toml`` declares :data:`BUILTIN_MODULES`); core knows none of them by name.
"""

BUILTIN_MODULES = (
    "interlock_plugins.stores",
    "interlock_plugins.evaluators",
    "interlock_plugins.triggers",
    "interlock_plugins.alerts",
    "interlock_plugins.archive",
)
"""The plugin modules this package declares in the ``interlock`` entry-point group."""
