"""`tagwatch monitor`: a monitor process of a scale-out deployment (DESIGN.md, "Running it").

    TAGWATCH_STORE=postgresql://db/tagwatch TAGWATCH_LOG=nats://nats:4222?partitions=8 \\
        tagwatch monitor --partitions 0-3

The process claims the offered partitions whose leases are free (tagwatch.log.nats),
judges their devices' records with the engine, commits to the store and acknowledges the
log, and forwards the live feed to the API processes over NATS. Offered partitions another
process holds are taken over when that process dies. SIGINT or SIGTERM finish the step in
hand, hand the leases back at once and exit.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from tagwatch.log.contract import parse_partitions
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config

logger = logging.getLogger("tagwatch.monitor")


def run_monitor(config: Config, stop: threading.Event | None = None) -> int:
    """Run the monitor until `stop` is set (or a signal comes); the exit status."""
    if not config.distributed_log:
        raise ValueError(
            "tagwatch monitor runs against a NATS log (TAGWATCH_LOG=nats://...); "
            "on the embedded default `tagwatch serve` runs the monitor itself"
        )
    stop = stop if stop is not None else threading.Event()
    config = dataclasses.replace(config, run_monitor=True)
    services = bootstrap(config)
    try:
        logger.info(
            "monitor offered partitions %s; store %s",
            ",".join(map(str, config.partitions)),
            config.effective_store_url.split("@")[-1],  # no credentials in the log
        )
        # No pause between steps: the NATS fetch itself waits for records (a long poll of
        # fetch_wait_s), so a breach is judged as soon as it is published, not after the
        # embedded inbox's polling interval.
        services.monitor.run_forever(stop, interval_s=0.0)
    finally:
        services.close()
    return 0


def monitor_command(
    partitions: Annotated[
        str | None,
        typer.Option(help="Partitions this process may monitor, e.g. 0-3 or 0-7 for a standby."),
    ] = None,
    store: Annotated[str | None, typer.Option(help="Store URL (default $TAGWATCH_STORE).")] = None,
    log: Annotated[str | None, typer.Option(help="Log URL (default $TAGWATCH_LOG).")] = None,
) -> None:
    """Run a monitor process over some partitions of a NATS log."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = Config.from_env()
    try:
        config = dataclasses.replace(
            config,
            store_url=config.store_url if store is None else store,
            log_url=config.log_url if log is None else log,
            partitions=config.partitions if partitions is None else parse_partitions(partitions),
        )
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        raise typer.Exit(run_monitor(config, stop))
    except ValueError as error:
        typer.echo(f"tagwatch monitor: {error}", err=True)
        raise typer.Exit(2) from None
