"""Who may do what: password login, short-lived access tokens with refresh, lockout, rate
limits, and device secrets.

People sign in with a username and password (Argon2 hashes, kept by the store) and get a
short-lived bearer access token (15 minutes by default) and a refresh token:

- The access token is `<payload>.<signature>`, the payload base64url JSON `{"sub", "iat",
  "exp"}`, the signature HMAC-SHA256 over the payload with a server key. Nothing about it
  is stored, so any number of API processes sharing the key accept it. The role is NOT in
  the token: every request reads the user from the store, so deleting a user or lowering a
  role takes effect at once, not when the token expires.
- The refresh token (256 random bits) is stored only as a SHA-256 hash. Spending it gives a
  new pair and marks it used (rotation); spending a used one again means it was copied, so
  the whole family (every token of that sign-in) is revoked. Signing out revokes the
  family; changing a password or deleting a user revokes all of the user's.

Repeated failures: after LOCKOUT_AFTER consecutive wrong passwords for a username (known or
not, so the lockout does not reveal which usernames exist) it is locked for LOCKOUT_BASE,
doubling with each further failure up to LOCKOUT_MAX; attempts while locked are refused
without checking the password. Sign-ins are also rate limited per client address.

What each role may do is in tagwatch.service.access (one table for every action).

Devices authenticate with a per-device secret (Argon2 hash in the store). After a rotation
the previous secret stays valid for a grace period. A successful check is remembered for a
short while (`DeviceSecrets.cache_ttl_s`), because a tag reporting every few seconds would
otherwise spend tens of milliseconds of CPU per request on Argon2. Reports are rate limited
per device id, before the secret is checked, so a flood cannot buy Argon2 time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tagwatch.service.clock import Clock
from tagwatch.service.ratelimit import RateLimited, TokenBuckets
from tagwatch.store.contract import (
    DeviceKeyRepository,
    DeviceRepository,
    SignInRepository,
    UserRepository,
)
from tagwatch.store.records import User, UserRole

DEFAULT_TOKEN_TTL = timedelta(minutes=15)
DEFAULT_REFRESH_TTL = timedelta(hours=12)  # a shift: sign in again the next day
DEFAULT_DEVICE_CACHE_TTL_S = 300.0
MIN_KEY_BYTES = 32
REFRESH_TOKEN_BYTES = 32

LOCKOUT_AFTER = 5
LOCKOUT_BASE = timedelta(seconds=30)
LOCKOUT_MAX = timedelta(minutes=15)

# Sign-ins per client address: a burst of 10, then one every 6 s.
LOGIN_RATE_PER_S = 1 / 6
LOGIN_BURST = 10
# Device reports per device id: a tag uploading its buffer one fix per request (OsmAnd)
# sends a burst; sustained it reports every few seconds at most.
DEVICE_RATE_PER_S = 10.0
DEVICE_BURST = 600

# The rank of the roles that predate organisations, for `require_role` (kept for callers
# that only need "at least an operator"); tagwatch.service.access has the real table.
ROLE_RANK: dict[UserRole, int] = {
    UserRole.AUDITOR: 0,
    UserRole.VIEWER: 0,
    UserRole.POLICE_OFFICER: 1,
    UserRole.PROBATION_OFFICER: 1,
    UserRole.MONITORING_OPERATOR: 1,
    UserRole.ADMIN: 2,
}


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


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a sign-in or a refresh gives: a short-lived access token and a refresh token."""

    access: IssuedToken
    refresh_token: str
    refresh_expires_at: datetime


class LoginLocked(RateLimited):
    """Too many wrong passwords for this username: locked for a while."""


class AuthService:
    """Sign-in, refresh, sign-out, and the user behind an access token."""

    def __init__(
        self,
        users: UserRepository,
        signer: TokenSigner,
        clock: Clock,
        *,
        sign_ins: SignInRepository,
        refresh_ttl: timedelta = DEFAULT_REFRESH_TTL,
        login_limit: TokenBuckets | None = None,
    ) -> None:
        self._users = users
        self._signer = signer
        self._clock = clock
        self._sign_ins = sign_ins
        self._refresh_ttl = refresh_ttl
        self._login_limit = (
            login_limit
            if login_limit is not None
            else TokenBuckets(rate_per_s=LOGIN_RATE_PER_S, burst=LOGIN_BURST)
        )

    def login(self, username: str, password: str, *, source: str | None = None) -> TokenPair:
        """A token pair; AuthenticationError for a wrong username or password, LoginLocked
        while the username is locked, RateLimited when `source` tries too often."""
        self._login_limit.check(f"ip:{source or 'unknown'}", "sign-ins from this address")
        now = self._clock.now()
        failures = self._sign_ins.login_failures(username)
        if failures.locked_until is not None and now < failures.locked_until:
            wait = (failures.locked_until - now).total_seconds()
            raise LoginLocked(
                f"too many failed sign-ins: try again in {int(wait) + 1} s", retry_after_s=wait
            )
        user = self._users.verify_password(username, password) if username and password else None
        if user is None:
            self._failed(username, failures.count + 1, now)
            raise AuthenticationError("wrong username or password")
        if failures.count:
            self._sign_ins.clear_login_failures(username)
        return self._pair(user.username, family=secrets.token_hex(16), now=now)

    def _failed(self, username: str, count: int, now: datetime) -> None:
        if not username:
            return
        locked_until = None
        if count >= LOCKOUT_AFTER:
            lock = min(LOCKOUT_BASE * 2 ** min(count - LOCKOUT_AFTER, 20), LOCKOUT_MAX)
            locked_until = now + lock
        self._sign_ins.record_login_failure(username, now=now, locked_until=locked_until)

    def _pair(self, username: str, *, family: str, now: datetime) -> TokenPair:
        refresh = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        expires = now + self._refresh_ttl
        self._sign_ins.add_refresh_token(
            _digest(refresh), username=username, family=family, issued_at=now, expires_at=expires
        )
        return TokenPair(self._signer.issue(username, now=now), refresh, expires)

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for a refresh token, which is spent; AuthenticationError if it is
        unknown, expired, revoked or already spent (then its whole family is revoked)."""
        now = self._clock.now()
        use = self._sign_ins.spend_refresh_token(_digest(refresh_token), now=now)
        if use is None:
            raise AuthenticationError("unknown refresh token")
        if use.reused:
            self._sign_ins.revoke_refresh_family(use.family, now=now)
            raise AuthenticationError(
                "this refresh token was already used: the sign-in is revoked, sign in again"
            )
        if use.revoked:
            raise AuthenticationError("this sign-in was revoked: sign in again")
        if now >= use.expires_at:
            raise AuthenticationError("refresh token expired: sign in again")
        if self._users.get_user(use.username) is None:
            raise AuthenticationError("the user of this token no longer exists")
        return self._pair(use.username, family=use.family, now=now)

    def logout(self, refresh_token: str) -> None:
        """Revoke the refresh token's whole sign-in (unknown tokens are ignored)."""
        now = self._clock.now()
        use = self._sign_ins.spend_refresh_token(_digest(refresh_token), now=now)
        if use is not None:
            self._sign_ins.revoke_refresh_family(use.family, now=now)

    def user_for_token(self, token: str) -> User:
        username = self._signer.verify(token, now=self._clock.now())
        user = self._users.get_user(username)
        if user is None:
            raise AuthenticationError("the user of this token no longer exists")
        return user


def _digest(token: str) -> str:
    # A fast hash is enough: the token has 256 random bits, there is nothing to guess.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- devices -----------------------------------------------------------------------------


class DeviceAuthError(Exception):
    """A device's request is refused: `reason` is recorded and returned to the device."""

    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeviceRateLimited(DeviceAuthError):  # noqa: N818 - says what happened
    """The device sends faster than its rate limit: answer 429 and let it retry."""

    status = 429

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class DeviceSecrets:
    """Checks device secrets, remembering successes for `cache_ttl_s` seconds.

    Only successes are cached (keyed by a SHA-256 of the secret, never the secret itself), so
    a wrong secret always costs a full Argon2 check. `forget` drops a device's entries when
    its secret changes or is revoked. With `keys` and `clock`, a device's previous secret is
    accepted until its grace period after a rotation ends (cached no longer than that).
    """

    def __init__(
        self,
        devices: DeviceRepository,
        *,
        keys: DeviceKeyRepository | None = None,
        clock: Clock | None = None,
        cache_ttl_s: float = DEFAULT_DEVICE_CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
        limit: TokenBuckets | None = None,
    ) -> None:
        self._devices = devices
        self._keys = keys
        self._clock = clock
        self._ttl = cache_ttl_s
        self._monotonic = monotonic
        # (device, secret digest) -> (monotonic expiry, clock instant the secret stops, if any)
        self._cache: dict[tuple[str, bytes], tuple[float, datetime | None]] = {}
        self._lock = threading.Lock()
        self._limit = (
            limit
            if limit is not None
            else TokenBuckets(rate_per_s=DEVICE_RATE_PER_S, burst=DEVICE_BURST, monotonic=monotonic)
        )

    @staticmethod
    def _key(device_id: str, secret: str) -> tuple[str, bytes]:
        return device_id, hashlib.sha256(secret.encode("utf-8")).digest()

    def throttle(self, device_id: str) -> None:
        """DeviceRateLimited if the device (by the id it claims) reports too often."""
        wait = self._limit.take(f"device:{device_id}")
        if wait > 0:
            raise DeviceRateLimited(
                f"too many reports: try again in {int(wait) + 1} s", retry_after_s=wait
            )

    def recently_checked(self, device_id: str, secret: str) -> bool:
        """True if this secret passed `check` within the cache's lifetime (and, if it is
        a rotated-out secret, its grace period has not ended): no store read, no Argon2.
        False says only that a full `check` is needed."""
        if not secret:
            return False
        with self._lock:
            cached = self._cache.get(self._key(device_id, secret))
        if cached is None or self._monotonic() >= cached[0]:
            return False
        until = cached[1]
        return until is None or (self._clock is not None and self._clock.now() < until)

    def check(self, device_id: str, secret: str) -> bool:
        if not secret:
            return False
        if self.recently_checked(device_id, secret):
            return True
        key = self._key(device_id, secret)
        now = self._monotonic()
        until = None
        if not self._devices.verify_device_secret(device_id, secret):
            if self._keys is None or self._clock is None:
                return False
            moment = self._clock.now()
            if not self._keys.verify_previous_secret(device_id, secret, now=moment):
                return False
            until = self._keys.previous_secret_valid_until(device_id, now=moment)
            if until is None:
                return False
        with self._lock:
            if len(self._cache) > 100_000:  # bound the memory a flood of devices can take
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (now + self._ttl, until)
        return True

    def forget(self, device_id: str) -> None:
        with self._lock:
            for key in [key for key in self._cache if key[0] == device_id]:
                del self._cache[key]

    def has_secret(self, device_id: str) -> bool:
        return self._devices.device_credential(device_id) is not None

    def authorize(self, device_id: str, secret: str | None, *, require_secret: bool) -> None:
        """Let a device's report through, or raise DeviceAuthError saying why not.

        DeviceRateLimited (a DeviceAuthError with status 429) first if the device id reports
        too often. A secret that is given must be right. Without one, the report passes only
        if the device has no secret of its own and `require_secret` is off: a device with a
        secret set has opted in to authentication and is never accepted without it.
        """
        self.throttle(device_id)
        if secret:
            if not self.check(device_id, secret):
                raise DeviceAuthError("wrong device key")
            return
        if require_secret:
            raise DeviceAuthError("a device key is required")
        if self.has_secret(device_id):
            raise DeviceAuthError("this device has a key and must send it")
