"""Where Interlock's own HTTP requests may go (http, Airflow and Databricks triggers, http evaluators,
the ``endpointURL`` of the AWS triggers).

Link-local addresses (``169.254.0.0/16``, ``fe80::/10``) and the cloud metadata endpoints are
always refused: a pipeline must never read the server's cloud credentials. ``outbound.denyHosts``
refuses more; a non-empty ``outbound.allowHosts`` refuses everything it does not list. An entry is
a host name (``jobs.example.com``), a domain with its subdomains (``*.example.com``), an address
or a network (``10.0.0.0/8``). Names are checked as written; addresses after DNS resolution, on
the address actually connected to (so a name that resolves to a metadata address is refused too).

``listed=True`` asks for more: the host must be listed in ``outbound.allowHosts`` itself, even when
that list is empty (which otherwise means "any host"). The AWS triggers of a pipeline registered
over the API ask it of their ``endpointURL``: the server signs every AWS call with its own
credentials, so only an endpoint the operator named may receive one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALWAYS_DENIED_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, with the AWS/GCP/Azure metadata address
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
)
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
ALWAYS_DENIED_NAMES = frozenset({"metadata.google.internal", "metadata.goog"})


_QUOTE_RESPONSES: ContextVar[bool] = ContextVar("interlock_quote_responses", default=True)


@contextlib.contextmanager
def untrusted_target(untrusted: bool = True) -> Iterator[None]:
    """Within this block (a launch or poll of a pipeline registered over the API) plugins quote
    nothing an answering server sent in messages they return: its URL was chosen by an API client,
    so a quoted body would read internal services back through the run record."""
    token = _QUOTE_RESPONSES.set(not untrusted and _QUOTE_RESPONSES.get())
    try:
        yield
    finally:
        _QUOTE_RESPONSES.reset(token)


def may_quote_responses() -> bool:
    """False while talking to a target an API client chose (see :func:`untrusted_target`)."""
    return _QUOTE_RESPONSES.get()


def is_untrusted_target() -> bool:
    """True while launching or polling a pipeline registered over the API (see :func:`untrusted_target`)."""
    return not _QUOTE_RESPONSES.get()


class OutboundRefused(Exception):
    """A request to a host the outbound policy does not allow; never retried."""

    def __init__(self, host: str, why: str) -> None:
        super().__init__(f"request to {host} refused: {why}")
        self.host = host
        self.why = why


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _name(host: str) -> str:
    return host.strip().rstrip(".").lower()


@dataclass(frozen=True)
class _Entries:
    names: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> _Entries:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for entry in entries:
            text = _name(entry)
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if text.startswith("*."):
                suffixes.append(text[1:])
            else:
                names.add(text)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def has_name(self, host: str) -> bool:
        name = _name(host)
        return name in self.names or any(name.endswith(s) for s in self.suffixes)

    def has_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def check_entries(entries: Sequence[str]) -> list[str]:
    """The entries that are neither a host name, a ``*.domain``, an address nor a network."""
    bad = []
    for entry in entries:
        text = _name(entry)
        try:
            ipaddress.ip_network(text.strip("[]"), strict=False)
            continue
        except ValueError:
            pass
        if not _HOST.fullmatch(text[2:] if text.startswith("*.") else text):
            bad.append(entry)
    return bad


class HostPolicy:
    """The outbound allow/deny lists, with the always-denied link-local and metadata addresses."""

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self.allow = _Entries.parse(allow)
        self.deny = _Entries.parse(deny)
        self.restricted = bool(self.allow.names or self.allow.suffixes or self.allow.networks)

    def check_host(self, host: str, *, listed: bool = False) -> None:
        """Refuse ``host`` as written in the URL (a name or an address literal). ``listed``: refuse
        it unless ``outbound.allowHosts`` lists it (by name, domain or network), even when empty."""
        address = _address(host)
        if address is not None:
            self.check_address(host, address, named=False, listed=listed)
            return
        if _name(host) in ALWAYS_DENIED_NAMES:
            raise OutboundRefused(host, "cloud metadata endpoints are never reachable")
        if self.deny.has_name(host):
            raise OutboundRefused(host, "listed in outbound.denyHosts")
        if listed and not self.allow.has_name(host) and not self.allow.networks:
            raise OutboundRefused(host, "not listed in outbound.allowHosts")

    def check_address(self, host: str, address: IPAddress | str, *, named: bool = True,
                      listed: bool = False) -> None:
        """Refuse connecting to ``address`` (what ``host`` resolved to). ``listed``: as in
        :meth:`check_host`, the name or the address must be in ``outbound.allowHosts``."""
        parsed = _address(address) if isinstance(address, str) else address
        if parsed is None:
            raise OutboundRefused(host, f"not an address: {address}")
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        shown = host if not named else f"{host} ({parsed})"
        if any(parsed.version == n.version and parsed in n for n in ALWAYS_DENIED_NETWORKS):
            raise OutboundRefused(shown, "link-local and cloud metadata addresses are never reachable")
        if self.deny.has_address(parsed):
            raise OutboundRefused(shown, "listed in outbound.denyHosts")
        if (self.restricted or listed) and not (self.allow.has_address(parsed)
                                                or (named and self.allow.has_name(host))):
            raise OutboundRefused(shown, "not listed in outbound.allowHosts")


DEFAULT_POLICY = HostPolicy()
