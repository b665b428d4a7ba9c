"""Settings of a tagwatch process, read from the environment once, by `bootstrap`'s caller.

| variable | default | meaning |
|---|---|---|
| TAGWATCH_DB | `./tagwatch.db` | the SQLite file of the embedded store (and of the inbox) |
| TAGWATCH_STORE | `sqlite:///<TAGWATCH_DB>` | the store URL; `postgresql://...`: PostGIS |
| TAGWATCH_LOG | the store URL | the log URL (below) |
| TAGWATCH_MONITOR | `1` (`0` with a NATS log) | `0`: no monitor here (gateways and API only) |
| TAGWATCH_PARTITIONS | none | a NATS log's partitions this process may monitor, e.g. `0-3` |
| TAGWATCH_MONITOR_BATCH | `5000` | inbox records judged per monitor step |
| TAGWATCH_MONITOR_INTERVAL_S | `0.5` | pause between steps when the inbox is empty |
| TAGWATCH_RULES_CHECK_S | `5` | how often the monitor compares the rule book with the one it runs |
| TAGWATCH_ALLOWED_LATENESS_S | `172800` | the engine's lateness window (48 h) |
| TAGWATCH_RETAIN_FIXES_DAYS | `365` | fixes older than this are purged (`0`: kept forever) |
| TAGWATCH_RETAIN_DEVICE_EVENTS_DAYS | `90` | device events (battery, strap, power...) |
| TAGWATCH_RETAIN_ALERTS_DAYS | `2190` | resolved alerts, their history and episodes (6 years) |
| TAGWATCH_RETAIN_AUDIT_DAYS | `2555` | audit records (7 years) |
| TAGWATCH_RETENTION_INTERVAL_S | `3600` | the server's purge period (`0`: only the CLI purges) |
| TAGWATCH_MQTT_URL | none | `mqtt://[user:pw@]host[:port]`: run the MQTT gateway |
| TAGWATCH_MQTT_CLIENT_ID | `tagwatch-gateway` | its persistent session: one per process |

TAGWATCH_LOG: the store's own SQLite URL (the default) puts the inbox in the store's file;
another `sqlite:///` path gives the inbox a file of its own; `nats://host:4222?partitions=8`
is NATS JetStream (tagwatch.log.nats): `tagwatch serve` then runs API and gateways, and
`tagwatch monitor --partitions 0-3` processes run the monitors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tagwatch.domain.rules import AUTO_CRS, DEFAULT_ALLOWED_LATENESS_S, EngineSettings
from tagwatch.engine.projection import Projector
from tagwatch.log.contract import parse_partitions


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    batch_size: int = 5000  # inbox records per step: one engine call, one transaction
    interval_s: float = 0.5  # the pause of run_forever when there was nothing to do
    rules_check_s: float = 5.0  # compare the stored rule book with the running one this often
    # Done inbox records are kept this long so a device's retry of the same record is
    # recognised by its key; older duplicates are harmless (every write is idempotent).
    dedupe_window_s: float = 600.0
    prune_every_s: float = 60.0
    replay_chunk_s: float = 3600.0  # a rebuild reads the stored window in chunks this long
    engine: EngineSettings = field(default_factory=EngineSettings)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("the monitor batch size must be at least 1")
        if self.interval_s < 0 or self.rules_check_s < 0 or self.replay_chunk_s <= 0:
            raise ValueError("monitor intervals must not be negative")


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How long each data class is kept, in days (0: forever); legal holds override fixes."""

    fixes_days: float = 365.0
    device_events_days: float = 90.0
    alerts_days: float = 2190.0
    audit_days: float = 2555.0
    interval_s: float = 3600.0  # the server's purge period; 0: never on its own

    def __post_init__(self) -> None:
        for name in ("fixes_days", "device_events_days", "alerts_days", "audit_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"retention {name} must not be negative")
        if self.interval_s < 0:
            raise ValueError("the retention interval must not be negative")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetentionSettings:
        return cls(
            fixes_days=_float(env, "TAGWATCH_RETAIN_FIXES_DAYS", 365.0),
            device_events_days=_float(env, "TAGWATCH_RETAIN_DEVICE_EVENTS_DAYS", 90.0),
            alerts_days=_float(env, "TAGWATCH_RETAIN_ALERTS_DAYS", 2190.0),
            audit_days=_float(env, "TAGWATCH_RETAIN_AUDIT_DAYS", 2555.0),
            interval_s=_float(env, "TAGWATCH_RETENTION_INTERVAL_S", 3600.0),
        )


@dataclass(frozen=True, slots=True)
class Config:
    db_path: Path = Path("tagwatch.db")
    store_url: str = ""  # "" = sqlite:///<db_path>
    log_url: str = ""  # "" = the store URL (the inbox in the store's SQLite file)
    run_monitor: bool = True
    partitions: tuple[int, ...] = ()  # a NATS log's partitions this process may monitor
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    unknown_devices_kept: int = 1000  # distinct refused device ids remembered for the admin
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    mqtt_url: str = ""  # "" = no MQTT gateway (tagwatch.gateways.mqtt)
    mqtt_client_id: str = "tagwatch-gateway"

    @property
    def effective_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.db_path}"

    @property
    def effective_log_url(self) -> str:
        return self.log_url or self.effective_store_url

    @property
    def distributed_log(self) -> bool:
        return self.effective_log_url.startswith(("nats://", "tls://"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        lateness = _float(env, "TAGWATCH_ALLOWED_LATENESS_S", DEFAULT_ALLOWED_LATENESS_S)
        log_url = env.get("TAGWATCH_LOG", "")
        monitor = MonitorSettings(
            batch_size=_int(env, "TAGWATCH_MONITOR_BATCH", 5000),
            interval_s=_float(env, "TAGWATCH_MONITOR_INTERVAL_S", 0.5),
            rules_check_s=_float(env, "TAGWATCH_RULES_CHECK_S", 5.0),
            engine=EngineSettings(allowed_lateness_s=lateness, crs=_crs(env)),
        )
        return cls(
            db_path=Path(env.get("TAGWATCH_DB") or "tagwatch.db"),
            store_url=env.get("TAGWATCH_STORE", ""),
            log_url=log_url,
            run_monitor=_flag(env, "TAGWATCH_MONITOR", default=not _is_nats(log_url)),
            partitions=_partitions(env),
            mqtt_url=env.get("TAGWATCH_MQTT_URL", "").strip(),
            mqtt_client_id=env.get("TAGWATCH_MQTT_CLIENT_ID", "").strip() or "tagwatch-gateway",
            monitor=monitor,
            retention=RetentionSettings.from_env(env),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None


def _crs(env: Mapping[str, str]) -> str:
    """TAGWATCH_CRS: "auto" (default) or a projected CRS in metres, checked at start-up so
    a typo stops the server rather than the first compile of the rules."""
    text = env.get("TAGWATCH_CRS", "").strip()
    if not text or text.lower() == AUTO_CRS:
        return AUTO_CRS
    try:
        Projector(text)
    except ValueError as error:
        raise ValueError(f"TAGWATCH_CRS: {error}") from None
    return text


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0, not {text!r}")


def _is_nats(url: str) -> bool:
    return url.startswith(("nats://", "tls://"))


def _partitions(env: Mapping[str, str]) -> tuple[int, ...]:
    text = env.get("TAGWATCH_PARTITIONS", "").strip()
    if not text:
        return ()
    try:
        return parse_partitions(text)
    except ValueError as error:
        raise ValueError(f"TAGWATCH_PARTITIONS: {error}") from None
