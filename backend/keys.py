"""Key checks every face shares (REST, LiveQuery): constant-time compares and the master-key IP allowlist."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable


def same(given: object, expected: str | None) -> bool:
    """Constant-time equality; a missing or non-string side never matches."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def ip_allowed(ip: str, allowed: Iterable[str]) -> bool:
    """Whether ``ip`` is inside one of the ``allowed`` networks (malformed entries never match)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for network in allowed:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False
