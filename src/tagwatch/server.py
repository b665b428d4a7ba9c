"""`tagwatch serve`: the API, the OsmAnd listener and the monitor in one process.

One asyncio loop runs two uvicorn servers (the API, default 127.0.0.1:8080, and the OsmAnd
listener, default 127.0.0.1:5055); the monitor runs in its own thread (`Services.start`).
SIGINT or SIGTERM stops both servers gracefully: no new connections, live SSE streams end,
requests in flight finish (at most `GRACE_S`), then the monitor finishes its step and the
log and the store are closed. If either server stops (say its port is taken) the other
is stopped too and the process exits non-zero.

Tokens in query strings (`?access_token=` for EventSource, `?key=` of OsmAnd devices)
are masked in the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from tagwatch.api import ApiContext, ApiSettings, create_app, create_osmand_app
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config

logger = logging.getLogger("tagwatch.server")

GRACE_S = 5
_SECRET_PARAMS = re.compile(r"(?i)\b(access_token|key|password)=[^&\s\"']*")


class MaskSecrets(logging.Filter):
    """Masks secret query parameters in uvicorn's access log lines."""

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


async def run_servers(servers: list[_Server], context: ApiContext) -> bool:
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
        servers = [
            _Server(_uvicorn_config(api, settings.host, settings.port, options)),
            _Server(_uvicorn_config(osmand, settings.osmand_host, settings.osmand_port, options)),
        ]
        services.start()
        logger.info(
            "tagwatch: API on http://%s:%d (docs at /docs), OsmAnd on %s:%d, database %s",
            settings.host,
            settings.port,
            settings.osmand_host,
            settings.osmand_port,
            config.effective_store_url,
        )
        clean = asyncio.run(run_servers(servers, context))
    finally:
        services.close()
    return 0 if clean else 1
