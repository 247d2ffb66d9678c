"""httpx clients that keep to the outbound policy (:mod:`interlock_core.outbound`).

The host written in the URL is checked before the request is sent; the addresses it resolves to
are checked when connecting, and the connection is made to the very address that was checked (a
name that changes its answer between the check and the connection cannot slip through). These
clients use no proxy from the environment (``HTTPS_PROXY``): a proxy would connect for them,
unchecked. A refusal raises :class:`~interlock_core.outbound.OutboundRefused`.
"""

from __future__ import annotations

import functools
import socket
import ssl
import typing
from typing import Any

import anyio
import httpcore
import httpx

from interlock_core.outbound import DEFAULT_POLICY, HostPolicy, OutboundRefused

__all__ = ["OutboundRefused", "guarded_client"]


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
