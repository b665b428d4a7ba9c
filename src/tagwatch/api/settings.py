"""Settings of the HTTP side of a tagwatch process, read from the environment once.

| variable | default | meaning |
|---|---|---|
| TAGWATCH_HOST / TAGWATCH_PORT | `127.0.0.1` / `8080` | where the API listens |
| TAGWATCH_OSMAND_HOST / _PORT | `127.0.0.1` / `5055` | the OsmAnd listener (`0.0.0.0`: all) |
| TAGWATCH_TELTONIKA_HOST / _PORT | `127.0.0.1` / `5027` | the Teltonika gateway (port `0`: off) |
| TAGWATCH_OSMAND_REQUIRE_KEY | `0` | `1`: refuse OsmAnd reports without a device key (see below) |
| TAGWATCH_SECRET_KEY | random per process | signs tokens; 32+ characters (see below) |
| TAGWATCH_TOKEN_TTL_S | `900` | how long an access token lasts (15 min; refresh it) |
| TAGWATCH_DEVICE_CACHE_S | `300` | how long a successful device-secret check is remembered |
| TAGWATCH_DEVICE_RATE_PER_S / _BURST | `10` / `600` | reports per device id: per s / at once |

Without TAGWATCH_SECRET_KEY every start signs with a new random key: everybody signs in
again after a restart, and two API processes do not accept each other's tokens.

OsmAnd has no credentials of its own. A device whose admin set a secret must send it
(`?key=...` or HTTP basic auth with the device id as user name) whatever the flag says.
With TAGWATCH_OSMAND_REQUIRE_KEY off (the default), a device without a secret is accepted on
its id alone: Traccar Client and OsmAnd work unchanged, but anybody who learns a device id
can post positions for it. Turning it on closes that hole; every device then needs a secret
and a client that can send it (Traccar Client keeps extra query parameters of its server URL).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from tagwatch.service.auth import (
    DEFAULT_DEVICE_CACHE_TTL_S,
    DEFAULT_TOKEN_TTL,
    DEVICE_BURST,
    DEVICE_RATE_PER_S,
    MIN_KEY_BYTES,
)

N = TypeVar("N", int, float)

DEFAULT_PORT = 8080
DEFAULT_OSMAND_PORT = 5055
DEFAULT_TELTONIKA_PORT = 5027
MAX_BODY_BYTES = 16 * 1024 * 1024


def random_key() -> bytes:
    return secrets.token_bytes(MIN_KEY_BYTES)


@dataclass(frozen=True, slots=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    osmand_host: str = "127.0.0.1"
    osmand_port: int = DEFAULT_OSMAND_PORT
    osmand_require_key: bool = False
    teltonika_host: str = "127.0.0.1"
    teltonika_port: int = DEFAULT_TELTONIKA_PORT  # 0: no Teltonika gateway
    token_key: bytes = field(default_factory=random_key, repr=False)
    token_ttl: timedelta = DEFAULT_TOKEN_TTL
    device_cache_ttl_s: float = DEFAULT_DEVICE_CACHE_TTL_S
    device_rate_per_s: float = DEVICE_RATE_PER_S
    device_burst: int = DEVICE_BURST
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        key_text = env.get("TAGWATCH_SECRET_KEY", "")
        if key_text and len(key_text.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"TAGWATCH_SECRET_KEY needs at least {MIN_KEY_BYTES} characters")
        return cls(
            host=env.get("TAGWATCH_HOST") or "127.0.0.1",
            port=_number(env, "TAGWATCH_PORT", DEFAULT_PORT, int),
            osmand_host=env.get("TAGWATCH_OSMAND_HOST") or "127.0.0.1",
            osmand_port=_number(env, "TAGWATCH_OSMAND_PORT", DEFAULT_OSMAND_PORT, int),
            osmand_require_key=_flag(env, "TAGWATCH_OSMAND_REQUIRE_KEY"),
            teltonika_host=env.get("TAGWATCH_TELTONIKA_HOST") or "127.0.0.1",
            teltonika_port=_number(env, "TAGWATCH_TELTONIKA_PORT", DEFAULT_TELTONIKA_PORT, int),
            token_key=key_text.encode() if key_text else random_key(),
            token_ttl=timedelta(
                seconds=_number(
                    env, "TAGWATCH_TOKEN_TTL_S", DEFAULT_TOKEN_TTL.total_seconds(), float
                )
            ),
            device_cache_ttl_s=_number(
                env, "TAGWATCH_DEVICE_CACHE_S", DEFAULT_DEVICE_CACHE_TTL_S, float
            ),
            device_rate_per_s=_number(env, "TAGWATCH_DEVICE_RATE_PER_S", DEVICE_RATE_PER_S, float),
            device_burst=_number(env, "TAGWATCH_DEVICE_BURST", DEVICE_BURST, int),
        )


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N]) -> N:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0, not {text!r}")
