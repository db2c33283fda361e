"""Credentials: per-tenant API keys and Webex-style session logins.

Secrets are stored hashed in the tenants file: API keys as ``sha256:<hex>``
(keys are long random strings, so a plain digest is enough and lets a key be
looked up by its digest), passwords as ``pbkdf2_sha256$<iterations>$<salt>$<hash>``.
Session ids are random; only their digest is stored (the sessions topic never
holds one in clear), and neither keys nor session ids are ever logged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from rta.config import TenantsConfig

PBKDF2_ITERATIONS = 100_000


def digest(secret: str) -> str:
    """The hex SHA-256 of a secret (how keys and session ids are stored)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def hash_api_key(key: str) -> str:
    return f"sha256:{digest(key)}"


def new_api_key() -> str:
    return f"rta_{secrets.token_urlsafe(32)}"


def new_session_id() -> str:
    # the shape of Webex session ids ("HZ" + hex), with 128 random bits
    return "HZ" + secrets.token_hex(16).upper()


def hash_password(password: str, salt: bytes | None = None,
                  iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${dk.hex()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, iterations, salt, want = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "surrogatepass"),
                                 bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(dk.hex(), want)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password", b"\0" * 16)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a tenant, and how they proved it."""

    tenant: str
    via: str  # "api-key" or "session"
    user: str | None = None
    session: str | None = None  # digest of the session id


class LoginError(Exception):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class Authenticator:
    """Looks credentials up in the tenants configuration."""

    def __init__(self, tenants: TenantsConfig) -> None:
        self._keys: dict[str, str] = {}
        self._users: dict[str, list[tuple[str, str]]] = {}
        for tenant, ts in tenants.tenants.items():
            for stored in ts.api_keys:
                self._keys[stored.removeprefix("sha256:")] = tenant
            for user in ts.users:
                self._users.setdefault(user.user_id, []).append((tenant, user.password))

    @property
    def configured(self) -> bool:
        return bool(self._keys or self._users)

    def tenant_of_key(self, key: str) -> str | None:
        return self._keys.get(digest(key))

    def login(self, user_id: str, password: str, tenant_id: str | None) -> tuple[str, str]:
        """The ``(tenant, user)`` these credentials belong to, or LoginError (slow:
        a password hash is computed; run it off the event loop)."""
        candidates = [(t, h) for t, h in self._users.get(user_id, [])
                      if tenant_id is None or t == tenant_id]
        matches = [t for t, h in candidates if verify_password(h, password)]
        if not candidates:  # as long as a wrong password: user ids do not leak by timing
            verify_password(_dummy_hash(), password)
        if not matches:
            raise LoginError("invalid userId or password")
        if len(matches) > 1:
            raise LoginError("these credentials are valid for several tenants: "
                             "send tenantId", 400)
        return matches[0], user_id
