"""Who is calling and why: API keys, roles and declared purposes.

``Authorization: Bearer <key>`` identifies a principal of the configuration (by
the SHA-256 of its key); no header means the public role. An unknown or
malformed key is refused (401) - never downgraded to public. ``X-Purpose``
declares why the caller asks; a purpose the principal may not declare is
refused (403) with the allowed ones named.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.config import PURPOSES, PrincipalSpec
from schema.access import Clearance

__all__ = ["AuthError", "Authenticator", "Caller", "bearer_key", "hash_key", "new_key"]

KEY_PREFIX = "rgk_"


def hash_key(key: str) -> str:
    """The ``key_sha256`` the configuration stores for an API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The key of a well-formed ``Authorization: Bearer <key>`` header, else ``None``."""
    authorization = headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or " " in key:
        return None
    return key


def new_key() -> str:
    """A new random API key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller; ``principal`` is ``None`` for the public."""

    principal: str | None
    clearance: Clearance

    @property
    def role(self) -> str:
        return self.clearance.role


PUBLIC = Caller(None, Clearance("public"))


class AuthError(Exception):
    """The request is refused: ``status`` 401 (who are you?) or 403 (not allowed).
    ``caller`` is who asked, when known (a known key declaring a purpose it may not):
    the access log names it."""

    def __init__(self, status: int, code: str, message: str,
                 caller: Caller | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.caller = caller


class Authenticator:
    """Resolves request headers to a ``Caller``."""

    def __init__(self, principals: Iterable[PrincipalSpec]) -> None:
        self._by_hash = {p.key_sha256: p for p in principals}

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller for these headers (lower-case names); ``AuthError`` when refused."""
        authorization = headers.get("authorization")
        purpose = (headers.get("x-purpose") or "").strip()
        if authorization is None:
            if purpose:
                raise AuthError(403, "PURPOSE_NOT_ALLOWED",
                                "The public role declares no purpose; send an API key "
                                "(Authorization: Bearer <key>) to declare one.")
            return PUBLIC
        key = bearer_key(headers)
        if key is None:
            raise AuthError(401, "UNAUTHENTICATED",
                            "Malformed Authorization header; send 'Authorization: Bearer "
                            "<api key>', or no header for the public role.")
        principal = self._by_hash.get(hash_key(key))
        if principal is None:
            raise AuthError(401, "UNAUTHENTICATED",
                            "Unknown API key. Ask the gateway's operator for a key "
                            "(gateway keys new), or send no Authorization header for the "
                            "public role.")
        if purpose and purpose not in principal.purposes:
            allowed = ", ".join(principal.purposes) or "none"
            known = "" if purpose in PURPOSES else " (not a known purpose)"
            raise AuthError(403, "PURPOSE_NOT_ALLOWED",
                            f"Purpose {purpose!r}{known} is not allowed for this caller; "
                            f"allowed: {allowed}.",
                            Caller(principal.id,
                                   Clearance(principal.role, principal.agency or "", purpose,
                                             principal.credit_code or "")))
        clearance = Clearance(principal.role, principal.agency or "", purpose,
                              principal.credit_code or "")
        return Caller(principal.id, clearance)
