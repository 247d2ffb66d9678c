"""Where ``interlock serve`` listens: ``server.addr`` (default ``127.0.0.1:3000``; ``:3000`` = every
interface), overridden by ``--host``/``--port``; whether that is loopback; the bound socket; the
callback base URL."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from interlock_core.errors import ConfigError

DEFAULT_PORT = 3000
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
ENV_PUBLIC_URL = "INTERLOCK_PUBLIC_URL"


@dataclass(frozen=True)
class ListenAddress:
    host: str  # "" = every interface
    port: int

    @property
    def every_interface(self) -> bool:
        return self.host in WILDCARDS


def parse_addr(addr: str) -> ListenAddress:
    """``:3000``, ``127.0.0.1:3000``, ``[::1]:3000``, ``localhost:3000``, ``localhost`` or ``3000``."""
    text = addr.strip()
    if text.isdigit():
        return ListenAddress("", _port(text, addr))
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"invalid listen address {addr!r}", key="server.addr")
        return ListenAddress(host, _port(rest[1:], addr) if rest else DEFAULT_PORT)
    if text.count(":") > 1:  # a bare IPv6 address without a port
        return ListenAddress(text, DEFAULT_PORT)
    host, sep, port = text.rpartition(":")
    if not sep:
        return ListenAddress(text, DEFAULT_PORT)
    return ListenAddress(host, _port(port, addr))


def _port(text: str, addr: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid port in listen address {addr!r}", key="server.addr")
    return port


def resolve_listen(addr: str, host: str | None, port: int | None) -> ListenAddress:
    base = parse_addr(addr)
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"invalid port {port}", key="--port")
    return ListenAddress(base.host if host is None else host.strip("[]"), base.port if port is None else port)


def is_loopback(host: str) -> bool:
    if host in WILDCARDS:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def bind_socket(listen: ListenAddress, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket; every interface means IPv6 dual-stack where available."""
    if listen.every_interface:
        candidates: list[tuple[int, tuple[str, int]]] = []
        if socket.has_ipv6:
            candidates.append((socket.AF_INET6, ("::", listen.port)))
        candidates.append((socket.AF_INET, ("0.0.0.0", listen.port)))
    else:
        try:
            infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConfigError(f"cannot resolve listen host {listen.host!r}: {exc}", key="server.addr") from None
        candidates = [(int(info[0]), (str(info[4][0]), int(info[4][1]))) for info in infos]
    last: OSError | None = None
    for family, address in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and listen.every_interface:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(address)
            sock.listen(backlog)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    where = f"{listen.host or '*'}:{listen.port}"
    raise ConfigError(f"cannot listen on {where}: {last}", key="server.addr")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bound_url(sock: socket.socket, listen: ListenAddress) -> str:
    port = sock.getsockname()[1]
    host = "127.0.0.1" if listen.every_interface else listen.host
    return f"http://{_url_host(host)}:{port}"


def callback_base_url(sock: socket.socket, listen: ListenAddress, env: Mapping[str, str]) -> str:
    """What triggers hand orchestrators for the completion callback: ``INTERLOCK_PUBLIC_URL`` when
    set, else the listen address (this machine's name when listening on every interface)."""
    public = env.get(ENV_PUBLIC_URL, "").strip()
    if public:
        return public.rstrip("/")
    port = sock.getsockname()[1]
    host = socket.getfqdn() if listen.every_interface else listen.host
    return f"http://{_url_host(host)}:{port}"
