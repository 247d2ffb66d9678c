"""The long-term archive (PostgreSQL) that the archiver copies history into."""

from .postgres import PostgresArchive

__all__ = ["PostgresArchive"]
