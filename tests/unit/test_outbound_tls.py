"""Guarded httpx clients share one verifying TLS context: building one (every engine builds
several as it starts) no longer loads the CA bundle again, twice."""

from __future__ import annotations

import ssl

from interlock_plugins.outbound import guarded_client


def _context(client: object) -> ssl.SSLContext:
    pool = client._transport._pool  # type: ignore[attr-defined]
    context: ssl.SSLContext = pool._ssl_context
    return context


async def test_guarded_clients_share_one_verifying_tls_context() -> None:
    first, second = guarded_client(), guarded_client()
    try:
        assert _context(first) is _context(second)
        assert _context(first).verify_mode is ssl.CERT_REQUIRED and _context(first).check_hostname
    finally:
        await first.aclose()
        await second.aclose()
