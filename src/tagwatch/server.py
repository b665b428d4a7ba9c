"""`tagwatch serve`: the API, the OsmAnd listener and the monitor in one process.

One asyncio loop runs two uvicorn servers (the API, default 127.0.0.1:8080, and the OsmAnd
listener, default 127.0.0.1:5055); the monitor runs in its own thread (`Services.start`).
SIGINT or SIGTERM stops both servers gracefully: no new connections, live SSE streams end,
requests in flight finish (at most `GRACE_S`), then the monitor finishes its step and the
log and the store are closed. If either server stops (say its port is taken) the other
is stopped too and the process exits non-zero.

The Teltonika TCP gateway (default 127.0.0.1:5027, `tagwatch.gateways.teltonika`; port 0:
none) serves in the same loop and stops with the servers.

Tokens in query strings (`?access_token=` for EventSource, `?key=` of OsmAnd devices)
are masked in the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import uvicorn

from tagwatch.api import ApiContext, ApiSettings, create_app, create_osmand_app
from tagwatch.gateways.background import background_jobs, run_alongside
from tagwatch.gateways.metrics import GatewayMetrics
from tagwatch.gateways.teltonika import TeltonikaGateway, TeltonikaSettings
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config
from tagwatch.service.notify import TeltonikaChannel

logger = logging.getLogger("tagwatch.server")

GRACE_S = 5
GC_THRESHOLDS = (200_000, 20, 100)  # young, middle, old (CPython defaults 700, 10, 10)
# Secrets, and personal data a query string can carry (OsmAnd reports, proximity searches,
# stated purposes): logs carry no positions.
_SECRET_PARAMS = re.compile(
    r"(?i)\b(access_token|key|password|lat|lon|latitude|longitude|location|purpose)"
    r"=[^&\s\"']*"
)


class MaskSecrets(logging.Filter):
    """Masks secret and personal query parameters in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PARAMS.sub(r"\1=***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve` (two servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True, slots=True)
class ServeOptions:
    log_level: str = "info"
    access_log: bool = True


def _uvicorn_config(app: object, host: str, port: int, options: ServeOptions) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level=options.log_level,
        access_log=options.access_log,
        timeout_graceful_shutdown=GRACE_S,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
    )


class Servable(Protocol):
    """A uvicorn server or a gateway: serves until `should_exit` is set."""

    should_exit: bool

    async def serve(self) -> None: ...


async def run_servers(servers: list[Servable], context: ApiContext) -> bool:
    """Serve until a signal or until one server stops; True if all stopped cleanly."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        context.closing.set()  # live streams end, so the servers can close their connections
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop)
    tasks = [asyncio.ensure_future(server.serve()) for server in servers]
    clean = True
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if not all(server.should_exit for server in servers):
            clean = False  # a server stopped by itself: stop the others too
        stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                clean = False
                if not isinstance(result, SystemExit):
                    logger.error("a server failed", exc_info=result)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    return clean


def serve(config: Config, settings: ApiSettings, options: ServeOptions | None = None) -> int:
    """Run until stopped; returns the process exit status."""
    options = options if options is not None else ServeOptions()
    logging.getLogger("uvicorn.access").addFilter(MaskSecrets())
    services = bootstrap(config)
    try:
        context = ApiContext.build(services, settings)
        api = create_app(services, context=context)
        osmand = create_osmand_app(context)
        servers: list[Servable] = [
            _Server(_uvicorn_config(api, settings.host, settings.port, options)),
            _Server(_uvicorn_config(osmand, settings.osmand_host, settings.osmand_port, options)),
        ]
        gateway_metrics = GatewayMetrics()  # shared by every gateway of this process
        context.metrics.add_collector("gateways", gateway_metrics.exposition_lines)
        # The wearer notifier and the MQTT gateway (if TAGWATCH_MQTT_URL is set); the
        # Teltonika gateway below joins the notifier as its "teltonika" channel.
        _notifier, jobs = background_jobs(
            config,
            services,
            gateway_metrics=gateway_metrics,
            count_ingested=context.metrics.count_ingested,
            add_collector=context.metrics.add_collector,
        )
        if settings.teltonika_port:  # port 0: no Teltonika gateway
            teltonika = TeltonikaGateway(
                services.ingest,
                services.clock,
                replace(
                    TeltonikaSettings.from_env(),
                    host=settings.teltonika_host,
                    port=settings.teltonika_port,
                ),
                metrics=gateway_metrics,
                on_ingested=context.metrics.count_ingested,
            )
            _notifier.add_channel("teltonika", TeltonikaChannel(teltonika))
            servers.append(teltonika)
        services.start()
        logger.info(
            "tagwatch: API on http://%s:%d (docs at /docs), OsmAnd on %s:%d, database %s",
            settings.host,
            settings.port,
            settings.osmand_host,
            settings.osmand_port,
            config.effective_store_url,
        )
        # The cycle collector, tuned for a server: what exists now (modules, the apps, the
        # store) lives as long as the process and is frozen out of its sight, and young
        # collections run once 200,000 more tracked objects are alive than after the last
        # one, instead of 700. With thousands of gateway connections the default settings
        # spent most of the CPU per fix in full collections (tagwatch bench gateway: 6k ->
        # 12k+ fixes per CPU second); at 50,000 a saturated gateway, whose queued packets
        # alone are ~100,000 live objects, still collected every second or so, each time
        # traversing those queued records for nothing (~13 % of its CPU; 2 % at 200,000,
        # at the cost of cyclic garbage waiting a little longer: tens of MB at most).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        clean = asyncio.run(run_alongside(run_servers(servers, context), jobs))
    finally:
        services.close()
    return 0 if clean else 1
