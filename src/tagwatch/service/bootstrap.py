"""The one place that opens connections and wires the service layer together.

    services = bootstrap(Config.from_env())
    services.start()          # the monitor thread (if config.run_monitor)
    ...                       # the API uses services.ingest, .alerts, .bus, .store
    services.close()          # stops the monitor, closes the log and the store

Nothing here runs at import time; tests call `bootstrap` with a Config pointing at a
temporary file and a FixedClock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tagwatch.log.contract import Log
from tagwatch.log.nats import NatsLog, NatsLogSettings
from tagwatch.log.sqlite import SqliteInbox
from tagwatch.service.alerts import AlertService
from tagwatch.service.audit import AuditTrail
from tagwatch.service.bus import Bus
from tagwatch.service.clock import Clock, SystemClock
from tagwatch.service.config import Config
from tagwatch.service.ingest import Ingest, UnknownDevices
from tagwatch.service.monitor import Monitor
from tagwatch.service.retention import Retention
from tagwatch.service.routing import BeaconRoutes
from tagwatch.store import SecretHasher, SqliteStore, Store, create_store

SQLITE = "sqlite:///"


@dataclass(eq=False)
class Services:
    config: Config
    clock: Clock
    store: Store
    log: Log
    bus: Bus
    ingest: Ingest
    monitor: Monitor
    alerts: AlertService
    audit: AuditTrail
    retention: Retention
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the monitor in a background thread (once; not if config.run_monitor is off)."""
        if self._thread is not None or not self.config.run_monitor:
            return
        self.retention.start()  # purges where the monitor runs: one process, not every API
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.monitor.run_forever, args=(self._stop,), name="monitor", daemon=True
        )
        self._thread.start()

    @property
    def monitor_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the monitor thread after its current step."""
        self._stop.set()
        self.retention.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.log.close()
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def bootstrap(
    config: Config,
    *,
    clock: Clock | None = None,
    hasher: SecretHasher | None = None,
) -> Services:
    """Open the store and the log and build the services on them (the monitor not started)."""
    clock = clock if clock is not None else SystemClock()
    store = create_store(config.effective_store_url, hasher=hasher)
    store.open()
    try:
        log = _open_log(config, store)
    except BaseException:
        store.close()
        raise
    bus = Bus()
    audit = AuditTrail(store, clock)
    if isinstance(log, NatsLog):  # the live feed crosses processes with the log
        if config.run_monitor:
            bus.forward = log.forward_feed
        log.relay_feed(bus.deliver_local)
        log.route = BeaconRoutes(store, clock)  # home beacons go with their tag's partition
    services = Services(
        config=config,
        clock=clock,
        store=store,
        log=log,
        bus=bus,
        ingest=Ingest(store, log, clock, unknown=UnknownDevices(limit=config.unknown_devices_kept)),
        monitor=Monitor(store, log, bus, clock, config.monitor),
        alerts=AlertService(store, bus, clock),
        audit=audit,
        retention=Retention(store, audit, clock, config.retention),
    )
    if config.run_monitor:  # records appended here wake this process's monitor at once
        services.ingest.on_appended = services.monitor.notify_appended
        if isinstance(log, SqliteInbox):
            # ... and reach it without being read back from the inbox and parsed again;
            # the inbox still holds them for order and for a replay after a crash.
            log.keep_appended()
    return services


def _open_log(config: Config, store: Store) -> Log:
    url = config.effective_log_url
    if config.distributed_log:
        consume = config.partitions if config.run_monitor else ()
        if config.run_monitor and not consume:
            raise ValueError("a monitor on a NATS log needs its partitions (TAGWATCH_PARTITIONS)")
        nats_log = NatsLog(NatsLogSettings.from_url(url, consume=consume))
        nats_log.open()
        return nats_log
    if url.startswith(("postgresql://", "postgres://")) and not config.log_url:
        # A PostgreSQL store without TAGWATCH_LOG: the embedded inbox in a file of its own
        # (TAGWATCH_DB); its marks follow the store's commit, and replays are idempotent.
        url = f"{SQLITE}{config.db_path}"
    if not url.startswith(SQLITE):
        scheme = url.split(":", 1)[0]
        raise ValueError(f"no log for {scheme!r} URLs (expected sqlite:///path or nats://...)")
    path = Path(url.removeprefix(SQLITE))
    window = timedelta(seconds=config.monitor.dedupe_window_s)  # what the monitor keeps
    if isinstance(store, SqliteStore) and store.path.resolve() == path.resolve():
        log = SqliteInbox.in_store_file(store, dedupe_window=window)  # marks commit with its batch
    else:
        log = SqliteInbox(path, dedupe_window=window)
    log.open()
    return log
