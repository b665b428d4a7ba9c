"""What `tagwatch serve` runs beside its HTTP servers: the MQTT gateway (when
TAGWATCH_MQTT_URL is set) and the wearer notifier with a channel per transport.

    notifier, jobs = background_jobs(config, services, count_ingested=..., add_collector=...)
    notifier.add_channel("teltonika", TeltonikaChannel(teltonika_gateway))   # if it runs
    clean = await run_alongside(run_servers(...), jobs)

The jobs run until the servers stop, then are cancelled (a cancelled MQTT gateway leaves
its unacknowledged messages with the broker, which sends them again next time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from tagwatch.gateways.metrics import GatewayMetrics
from tagwatch.gateways.mqtt import (
    MqttGateway,
    MqttSettings,
    OwnTracksCommandChannel,
    TagCommandChannel,
)
from tagwatch.service.bus import Bus
from tagwatch.service.clock import Clock
from tagwatch.service.config import Config
from tagwatch.service.ingest import Ingest
from tagwatch.service.notify import Notifier
from tagwatch.store.contract import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[], Awaitable[None]]


class _Services(Protocol):
    @property
    def store(self) -> Store: ...
    @property
    def ingest(self) -> Ingest: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def bus(self) -> Bus: ...


def background_jobs(
    config: Config,
    services: _Services,
    *,
    gateway_metrics: GatewayMetrics,
    count_ingested: Callable[[str, int], None] | None = None,
    add_collector: Callable[[str, Callable[[], list[str]]], None] | None = None,
) -> tuple[Notifier, list[Job]]:
    """The notifier (always) and the MQTT gateway (if configured), as jobs to run."""
    notifier = Notifier(services.store, services.clock, {}, bus=services.bus)
    notifying = getattr(services.store, "commands", None) is not None
    jobs: list[Job] = [notifier.run] if notifying else []
    if not notifying:  # a store that keeps no commands yet
        logger.warning("this store keeps no device commands: wearer notifications are off")
    if add_collector is not None:
        add_collector("notifier", notifier.exposition_lines)
    if config.mqtt_url:
        settings = MqttSettings.from_url(config.mqtt_url, client_id=config.mqtt_client_id)
        gateway = MqttGateway(
            settings,
            services.ingest,
            clock=services.clock,
            metrics=gateway_metrics,
            on_reply=notifier.record_reply if notifying else None,
            on_ingested=count_ingested,
        )
        notifier.add_channel("mqtt", TagCommandChannel(gateway))
        notifier.add_channel("owntracks", OwnTracksCommandChannel(gateway))
        jobs.append(gateway.run)
        logger.info("MQTT gateway for %s:%d", settings.host, settings.port)
    return notifier, jobs


async def run_alongside(main: Awaitable[T], jobs: Sequence[Job]) -> T:
    """Await `main` with `jobs` running beside it; cancel them when it is done."""
    tasks = [asyncio.ensure_future(job()) for job in jobs]
    try:
        return await main
    finally:
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                logger.error("a background job failed", exc_info=result)
