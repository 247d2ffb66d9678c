"""The ``redis:`` section of ``interlock.yaml``, the connection it describes, and the one place
where redis-py's connection failures become :class:`interlock_core.errors.StoreUnavailable`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from pydantic import Field, field_validator, model_validator
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from interlock_core.durations import Duration
from interlock_core.errors import StoreUnavailable
from interlock_core.model import ConfigModel

from .keys import DEFAULT_PREFIX

P = ParamSpec("P")
T = TypeVar("T")

# Errors that mean "Redis cannot serve us right now" rather than "we sent something wrong".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # includes authentication, loading, pool exhausted
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica, or a primary being failed over
    redis_errors.OutOfMemoryError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    OSError,
)


class RedisConfig(ConfigModel):
    """``provider: redis``: a Redis ≥ 7 or Valkey server.

    Give either ``addr`` (``host:port``, with ``password`` and ``db``) or ``url``
    (``redis://[user:password@]host:port/db``, ``rediss://`` for TLS); ``url`` wins when both are
    given, with ``password``/``db`` filling what the URL leaves out.

    ``multiplexReads`` (on by default) sends the store's hot reads (a readiness GET's) over one
    connection on which they are pipelined (:mod:`.multiplexed`), when the connection is plain TCP;
    ``false`` sends them through the pool as every other command.

    ``retentionTtl`` bounds how long runs, run logs, reruns, events and cascade markers are kept
    (``0`` keeps them forever); ``readinessTtl`` is accepted for compatibility with older project
    files, the readiness cache TTL itself comes from the engine with each write.
    """

    addr: str = "localhost:6379"
    url: str | None = None
    password: str | None = None
    db: int = Field(default=0, ge=0)
    key_prefix: str = DEFAULT_PREFIX
    pool_size: int = Field(default=50, ge=1)
    socket_timeout: Duration = timedelta(seconds=5)
    connect_timeout: Duration = timedelta(seconds=5)
    readiness_ttl: Duration = timedelta(minutes=5)
    retention_ttl: Duration = timedelta(days=7)
    event_stream_max: int = Field(default=10_000, ge=1)
    run_index_limit: int = Field(default=100, ge=1)
    multiplex_reads: bool = True

    @field_validator("addr")
    @classmethod
    def _addr(cls, value: str) -> str:
        host, port = split_addr(value)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"invalid addr {value!r}: use host:port, e.g. localhost:6379")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError(f"invalid url {value!r}: it must start with redis:// or rediss:// (TLS)")
        return value

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or "{" in value or "}" in value:
            raise ValueError("keyPrefix must be non-empty and must not contain '{' or '}'")
        return value

    @field_validator("socket_timeout", "connect_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return value

    @model_validator(mode="after")
    def _durations_not_negative(self) -> RedisConfig:
        for name in ("readiness_ttl", "retention_ttl"):
            if getattr(self, name).total_seconds() < 0:
                raise ValueError(f"{name} must not be negative (0 means no expiry)")
        return self

    def target(self) -> str:
        """Where the store connects, without credentials (for messages)."""
        if self.url:
            parts = urlsplit(self.url)
            return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or ''}"
        return f"{self.addr}/{self.db}"


def resolve_config(config: RedisConfig | None, **overrides: Any) -> RedisConfig:
    """``config`` with keyword overrides (python field names; ``None`` values are ignored)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if config is not None and not changes:
        return config
    base = config.model_dump(exclude_unset=True) if config is not None else {}
    return RedisConfig.model_validate({**base, **changes})


def split_addr(addr: str) -> tuple[str, str]:
    """``host:port`` (``[v6]:port`` for IPv6) into host and port."""
    host, _, port = addr.strip().rpartition(":")
    return host.strip("[]"), port


def connect(config: RedisConfig, *, client_name: str = "interlock") -> aioredis.Redis:
    """A client over its own pool; nothing is sent until the first command. ``client_name`` is
    what ``CLIENT LIST`` shows for its connections. When all ``poolSize`` connections are busy,
    a command waits up to ``socketTimeout`` for one to come free."""
    common: dict[str, Any] = {
        "max_connections": config.pool_size,
        "timeout": config.socket_timeout.total_seconds(),
        "socket_timeout": config.socket_timeout.total_seconds(),
        "socket_connect_timeout": config.connect_timeout.total_seconds(),
        "socket_keepalive": True,
        "health_check_interval": 30,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=1),
        "decode_responses": True,
        "client_name": client_name,
    }
    if config.url:
        extra: dict[str, Any] = {}
        if config.password is not None:
            extra["password"] = config.password
        if "db" in config.model_fields_set:
            extra["db"] = config.db
        pool = aioredis.BlockingConnectionPool.from_url(config.url, **common, **extra)
    else:
        host, port = split_addr(config.addr)
        pool = aioredis.BlockingConnectionPool(
            host=host, port=int(port), password=config.password, db=config.db, **common
        )
    return aioredis.Redis(connection_pool=pool)


@contextmanager
def unavailable_as_store_error(target: str, operation: str) -> Iterator[None]:
    """Translate a lost or refused connection into ``StoreUnavailable``; let the rest through."""
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        raise StoreUnavailable(
            f"redis store at {target} is unavailable ({operation}): {exc or type(exc).__name__}",
            store="redis",
        ) from exc


def translate_errors(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Decorate a store method so a connection failure surfaces as ``StoreUnavailable``."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:  # as unavailable_as_store_error, without a context manager on every call
            return await method(*args, **kwargs)
        except UNAVAILABLE_ERRORS as exc:
            target = getattr(args[0], "target", "?") if args else "?"
            raise StoreUnavailable(
                f"redis store at {target} is unavailable ({method.__name__}): {exc or type(exc).__name__}",
                store="redis",
            ) from exc

    return wrapper
