"""What the HTTP apps share: the process's services and the API's own use cases.

`ApiContext.build(services, settings)` is called once per process; the API app and the
OsmAnd app both get the same context, so they share the device-secret cache and metrics.
The API depends on the services through the `Services` protocol below (what `bootstrap`
returns satisfies it), not on how they were wired.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from tagwatch.api.metrics import Gauges, Metrics
from tagwatch.api.settings import ApiSettings
from tagwatch.log.contract import Log
from tagwatch.service.alerts import AlertService
from tagwatch.service.audit import AuditTrail
from tagwatch.service.auth import AuthService, DeviceSecrets, TokenSigner
from tagwatch.service.bus import Bus
from tagwatch.service.clock import Clock
from tagwatch.service.ingest import Ingest
from tagwatch.service.monitor import Monitor
from tagwatch.service.queries import count_alerts
from tagwatch.service.ratelimit import TokenBuckets
from tagwatch.store.contract import Store
from tagwatch.store.records import AlertState


class Services(Protocol):
    @property
    def store(self) -> Store: ...
    @property
    def log(self) -> Log: ...
    @property
    def ingest(self) -> Ingest: ...
    @property
    def alerts(self) -> AlertService: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def monitor(self) -> Monitor: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def audit(self) -> AuditTrail: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    services: Services
    settings: ApiSettings
    auth: AuthService
    device_secrets: DeviceSecrets
    metrics: Metrics = field(default_factory=Metrics)
    # Set when the process is shutting down: live streams end so the servers can stop.
    closing: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, services: Services, settings: ApiSettings | None = None) -> ApiContext:
        settings = settings if settings is not None else ApiSettings()
        store = services.store
        device_secrets = DeviceSecrets(
            store.devices,
            keys=store.device_keys,
            clock=services.clock,
            cache_ttl_s=settings.device_cache_ttl_s,
            limit=TokenBuckets(rate_per_s=settings.device_rate_per_s, burst=settings.device_burst),
        )
        signer = TokenSigner(settings.token_key, ttl=settings.token_ttl)
        return cls(
            services=services,
            settings=settings,
            auth=AuthService(store.users, signer, services.clock, sign_ins=store.sign_ins),
            device_secrets=device_secrets,
        )

    def gauges(self) -> Gauges:
        try:
            pending: int | None = self.services.log.count_pending()
        except Exception:  # a metrics scrape must not fail because the log is busy
            pending = None
        return Gauges(
            inbox_pending=pending,
            alerts_by_state={
                state.value: count_alerts(self.services.store, state) for state in AlertState
            },
            unknown_devices=len(self.services.ingest.unknown),
        )
