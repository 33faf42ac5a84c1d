"""API keys accepted only from this machine: the demo's well-known keys.

The demo's keys are printed in the README, so anyone can send them. A gateway
listening on 0.0.0.0 (a container, a shared host) would otherwise give the demo's
admin role to the network. ``LoopbackOnlyKeys.check`` refuses such a key from a
client that is not on a loopback address (``gateway serve --demo-keys-anywhere``
lifts it)::

    keys = LoopbackOnlyKeys(hash_key(key) for key in ("demo-admin-key",))
    keys.check(headers, scope.get("client"))   # AuthError 403 DEMO_KEY_LOOPBACK_ONLY
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from gateway.callers import AuthError, bearer_key, hash_key

__all__ = ["DEMO_KEY_LOOPBACK_ONLY", "LoopbackOnlyKeys", "is_loopback"]

DEMO_KEY_LOOPBACK_ONLY = "DEMO_KEY_LOOPBACK_ONLY"


def is_loopback(client: tuple[str, int] | list[object] | None) -> bool:
    """Whether an ASGI ``client`` (host, port) is on a loopback address; an unknown
    client (``None``, a Unix socket, a name) is not."""
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class LoopbackOnlyKeys:
    """Keys (by their SHA-256) that only loopback clients may present."""

    def __init__(self, key_hashes: Iterable[str]) -> None:
        self._hashes = frozenset(key_hashes)

    def check(self, headers: Mapping[str, str],
              client: tuple[str, int] | list[object] | None) -> None:
        """Raise ``AuthError`` (403) when ``headers`` carry one of these keys and the
        client is not on this machine."""
        if not self._hashes:
            return
        key = bearer_key(headers)
        if key is None or hash_key(key) not in self._hashes or is_loopback(client):
            return
        raise AuthError(403, DEMO_KEY_LOOPBACK_ONLY,
                        "This is one of the demo's published keys: it is accepted only from "
                        "the gateway's own machine (127.0.0.1). Use a key made with "
                        "'gateway keys new', or start the gateway with --demo-keys-anywhere.")
