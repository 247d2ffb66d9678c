"""httpx clients, and aiohttp resolvers for the AWS triggers' ``endpointURL``, that keep to the
outbound policy (:mod:`interlock_core.outbound`).

The host written in the URL is checked before the request is sent; the addresses it resolves to
are checked when connecting, and the connection is made to the very address that was checked (a
name that changes its answer between the check and the connection cannot slip through). These
clients use no proxy from the environment (``HTTPS_PROXY``): a proxy would connect for them,
unchecked. A refusal raises :class:`~interlock_core.outbound.OutboundRefused`.

:func:`guarded_resolver` does the same for aiohttp (which aiobotocore uses): every address a name
resolves to is checked before aiohttp may connect to any of them; a refusal is kept on the
resolver (``refused``), since aiohttp and botocore wrap whatever the resolver raises.
"""

from __future__ import annotations

import functools
import socket
import ssl
import typing
from typing import Any, Protocol

import anyio
import httpcore
import httpx

from interlock_core.outbound import DEFAULT_POLICY, HostPolicy, OutboundRefused

__all__ = ["GuardedResolver", "OutboundRefused", "guarded_client", "guarded_resolver"]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: HostPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
                          local_address: str | None = None,
                          socket_options: typing.Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:  # every answer is checked before any is used
            self._policy.check_address(host, address)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: typing.Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused(path, "unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context every guarded client shares: loading the CA bundle takes tens of
    milliseconds (more on a busy machine), and an engine builds clients as it starts."""
    return httpx.create_ssl_context()


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: HostPolicy, limits: httpx.Limits = httpx.Limits()) -> None:
        context = _tls_context()
        super().__init__(verify=context, limits=limits)
        # the same pool httpx builds, connecting through the guarded backend
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )


def guarded_client(policy: HostPolicy | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (``kwargs`` as httpx takes them) that refuses what ``policy`` refuses."""
    policy = policy or DEFAULT_POLICY

    async def check(request: httpx.Request) -> None:
        policy.check_host(request.url.host)

    hooks = kwargs.pop("event_hooks", {}) or {}
    hooks = {**hooks, "request": [check, *hooks.get("request", [])]}
    return httpx.AsyncClient(transport=_GuardedTransport(policy), event_hooks=hooks, **kwargs)


class GuardedResolver(Protocol):
    """An aiohttp resolver (``aiohttp.abc.AbstractResolver``) that refuses what the policy refuses."""

    refused: OutboundRefused | None
    """The refusal, when one happened (aiohttp and botocore wrap the error the resolver raises)."""


@functools.cache
def _resolver_class() -> type:
    from aiohttp.abc import AbstractResolver
    from aiohttp.resolver import ThreadedResolver

    class _Resolver(AbstractResolver):
        def __init__(self, policy: HostPolicy, listed: bool) -> None:
            self._policy = policy
            self._listed = listed
            self._inner = ThreadedResolver()
            self.refused: OutboundRefused | None = None

        async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
            answers = await self._inner.resolve(host, port, family)
            try:
                for answer in answers:  # every answer is checked before any is used
                    self._policy.check_address(host, str(answer["host"]), listed=self._listed)
            except OutboundRefused as exc:
                self.refused = exc
                raise OSError(f"request to {host} refused") from None
            return answers

        async def close(self) -> None:
            await self._inner.close()

    return _Resolver


def guarded_resolver(policy: HostPolicy | None = None, *, listed: bool = False) -> GuardedResolver:
    """An aiohttp resolver checking every resolved address against ``policy`` (``listed``: see
    :meth:`~interlock_core.outbound.HostPolicy.check_host`). Create it inside the event loop."""
    resolver: GuardedResolver = _resolver_class()(policy or DEFAULT_POLICY, listed)
    return resolver
