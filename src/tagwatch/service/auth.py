"""Who may do what: password login, bearer tokens, roles, and device secrets.

People sign in with a username and password (Argon2 hashes, kept by the store) and get a
bearer token: `<payload>.<signature>`, the payload base64url JSON `{"sub", "iat", "exp"}`,
the signature HMAC-SHA256 over the payload with a server key. Nothing about a token is
stored, so any number of API processes sharing the key accept it. The role is NOT in the
token: every request reads the user from the store, so deleting a user or lowering a role
takes effect at once, not when the token expires.

Roles are ranked: a viewer reads; an operator also works alerts; an admin also manages
users, subjects, devices, orders and requirements.

Devices authenticate with a per-device secret (Argon2 hash in the store). A successful check
is remembered for a short while (`DeviceSecrets.cache_ttl_s`), because a tag reporting every
few seconds would otherwise spend tens of milliseconds of CPU per request on Argon2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tagwatch.service.clock import Clock
from tagwatch.store.contract import DeviceRepository, UserRepository
from tagwatch.store.records import User, UserRole

DEFAULT_TOKEN_TTL = timedelta(hours=12)
DEFAULT_DEVICE_CACHE_TTL_S = 300.0
MIN_KEY_BYTES = 32

ROLE_RANK: dict[UserRole, int] = {UserRole.VIEWER: 0, UserRole.OPERATOR: 1, UserRole.ADMIN: 2}


class AuthenticationError(Exception):
    """No valid credentials: a missing, malformed, forged or expired token, a wrong password."""


class PermissionDenied(Exception):  # noqa: N818 - says what happened, like PermissionError
    """Signed in, but the role does not allow this."""


def has_role(user: User, minimum: UserRole) -> bool:
    return ROLE_RANK[user.role] >= ROLE_RANK[minimum]


def require_role(user: User, minimum: UserRole) -> User:
    if not has_role(user, minimum):
        raise PermissionDenied(
            f"this needs the {minimum.value} role; {user.username} is a {user.role.value}"
        )
    return user


# -- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    username: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks HMAC-signed, expiring bearer tokens."""

    def __init__(self, key: bytes, *, ttl: timedelta = DEFAULT_TOKEN_TTL) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the token key needs at least {MIN_KEY_BYTES} bytes")
        if ttl <= timedelta(0):
            raise ValueError("tokens need a positive lifetime")
        self._key = key
        self.ttl = ttl

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, username: str, *, now: datetime) -> IssuedToken:
        expires = int((now + self.ttl).timestamp())
        claims = {"sub": username, "iat": int(now.timestamp()), "exp": expires}
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return IssuedToken(
            f"{payload}.{self._sign(payload)}", username, datetime.fromtimestamp(expires, UTC)
        )

    def verify(self, token: str, *, now: datetime) -> str:
        """The username the token was issued to; AuthenticationError if it is not valid now."""
        payload, dot, signature = token.strip().partition(".")
        if not dot or not payload or not signature:
            raise AuthenticationError("malformed token")
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode("utf-8")):
            raise AuthenticationError("invalid token signature")
        try:
            claims = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            raise AuthenticationError("malformed token") from None
        if not isinstance(claims, dict):
            raise AuthenticationError("malformed token")
        username, expires = claims.get("sub"), claims.get("exp")
        if not isinstance(username, str) or not isinstance(expires, int):
            raise AuthenticationError("malformed token")
        if now.timestamp() >= expires:
            raise AuthenticationError("token expired")
        return username


class AuthService:
    """Login and the user behind a token."""

    def __init__(self, users: UserRepository, signer: TokenSigner, clock: Clock) -> None:
        self._users = users
        self._signer = signer
        self._clock = clock

    def login(self, username: str, password: str) -> IssuedToken:
        user = self._users.verify_password(username, password) if username and password else None
        if user is None:
            raise AuthenticationError("wrong username or password")
        return self._signer.issue(user.username, now=self._clock.now())

    def user_for_token(self, token: str) -> User:
        username = self._signer.verify(token, now=self._clock.now())
        user = self._users.get_user(username)
        if user is None:
            raise AuthenticationError("the user of this token no longer exists")
        return user


# -- devices -----------------------------------------------------------------------------


class DeviceAuthError(Exception):
    """A device's request is refused: `reason` is recorded and returned to the device."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeviceSecrets:
    """Checks device secrets, remembering successes for `cache_ttl_s` seconds.

    Only successes are cached (keyed by a SHA-256 of the secret, never the secret itself), so
    a wrong secret always costs a full Argon2 check. `forget` drops a device's entries when
    its secret changes or is revoked.
    """

    def __init__(
        self,
        devices: DeviceRepository,
        *,
        cache_ttl_s: float = DEFAULT_DEVICE_CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._devices = devices
        self._ttl = cache_ttl_s
        self._monotonic = monotonic
        self._cache: dict[tuple[str, bytes], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(device_id: str, secret: str) -> tuple[str, bytes]:
        return device_id, hashlib.sha256(secret.encode("utf-8")).digest()

    def check(self, device_id: str, secret: str) -> bool:
        if not secret:
            return False
        key = self._key(device_id, secret)
        now = self._monotonic()
        with self._lock:
            expires = self._cache.get(key)
            if expires is not None and now < expires:
                return True
        if not self._devices.verify_device_secret(device_id, secret):
            return False
        with self._lock:
            if len(self._cache) > 100_000:  # bound the memory a flood of devices can take
                self._cache = {k: v for k, v in self._cache.items() if v > now}
            self._cache[key] = now + self._ttl
        return True

    def forget(self, device_id: str) -> None:
        with self._lock:
            for key in [key for key in self._cache if key[0] == device_id]:
                del self._cache[key]

    def has_secret(self, device_id: str) -> bool:
        return self._devices.device_credential(device_id) is not None

    def authorize(self, device_id: str, secret: str | None, *, require_secret: bool) -> None:
        """Let a device's report through, or raise DeviceAuthError saying why not.

        A secret that is given must be right. Without one, the report passes only if the
        device has no secret of its own and `require_secret` is off: a device with a secret
        set has opted in to authentication and is never accepted without it.
        """
        if secret:
            if not self.check(device_id, secret):
                raise DeviceAuthError("wrong device key")
            return
        if require_secret:
            raise DeviceAuthError("a device key is required")
        if self.has_secret(device_id):
            raise DeviceAuthError("this device has a key and must send it")
