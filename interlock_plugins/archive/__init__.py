"""The long-term archive (PostgreSQL) that the archiver copies history into: ``postgres``.

Registered lazily (:class:`~interlock_core.plugins.LazyPlugin`): psycopg is imported only when
``serve`` starts an archiver, or when :class:`PostgresArchive` is imported from here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlock_core.hookspecs import hookimpl
from interlock_core.plugins import LazyPlugin

if TYPE_CHECKING:
    from .postgres import PostgresArchive

__all__ = ["PostgresArchive"]


@hookimpl
def interlock_register_archives() -> list[Any]:
    return [LazyPlugin("postgres", "interlock_plugins.archive.postgres:PostgresArchive")]


def __getattr__(name: str) -> Any:
    if name == "PostgresArchive":
        from .postgres import PostgresArchive

        return PostgresArchive
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
