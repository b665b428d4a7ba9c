"""The backends a real `tagwatch serve` runs on in the end-to-end tests, one fixture
parameter each:

- `embedded`: the default, an SQLite file for the store and the inbox, the monitor in the
  serve process;
- `postgres`: a fresh PostgreSQL/PostGIS database as the store (the inbox stays an SQLite
  file), the monitor in the serve process;
- `distributed`: the scale-out configuration, PostgreSQL plus a NATS JetStream log in a
  namespace of the test's own, and a separate `tagwatch monitor` process for all its
  partitions.

PostgreSQL and NATS are the machine's services (scripts/services.sh starts them); without
them the tests skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from natskit import drop_namespace, new_namespace, require_nats

BACKENDS = ("embedded", "postgres", "distributed")
POSTGRES_SERVER = os.environ.get(
    "TAGWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PARTITIONS = 4
MONITOR = (sys.executable, "-m", "tagwatch.cli", "monitor")


@dataclass
class Backend:
    name: str
    env: dict[str, str]  # what a tagwatch process needs: TAGWATCH_DB, _STORE, _LOG
    monitor_partitions: str | None = None  # run `tagwatch monitor` for these, if set
    monitors: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        return self.env.get("TAGWATCH_STORE") or f"sqlite:///{self.env['TAGWATCH_DB']}"

    def start_monitors(self, env: dict[str, str], log: Path) -> None:
        """The monitor process of the distributed backend (nothing for the others)."""
        if self.monitor_partitions is None:
            return
        with log.open("wb") as out:
            self.monitors.append(
                subprocess.Popen(
                    [*MONITOR, "--partitions", self.monitor_partitions],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    def check_monitors(self) -> None:
        for monitor in self.monitors:
            assert monitor.poll() is None, f"the monitor process exited ({monitor.returncode})"

    def stop_monitors(self) -> None:
        for monitor in self.monitors:
            if monitor.poll() is None:
                monitor.send_signal(signal.SIGTERM)
                try:
                    monitor.wait(15)
                except subprocess.TimeoutExpired:
                    monitor.kill()
                    monitor.wait(5)
        self.monitors.clear()


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty database on the test server (the store migrates it when it opens)."""
    name = f"tagwatch_e2e_{secrets.token_hex(5)}"
    try:
        admin = psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        _unavailable(f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {error}")
        raise
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def backend(name: str, folder: Path) -> Iterator[Backend]:
    env = {"TAGWATCH_DB": str(folder / "tagwatch.db")}
    if name == "embedded":
        yield Backend(name, env)
        return
    with postgres_database() as store_url:
        env["TAGWATCH_STORE"] = store_url
        if name == "postgres":
            yield Backend(name, env)
            return
        nats_url = require_nats()
        namespace = new_namespace()
        # Short leases: a monitor restarted by a test takes its partitions back quickly.
        env["TAGWATCH_LOG"] = f"{nats_url}?partitions={PARTITIONS}&namespace={namespace}&lease_s=3"
        running = Backend(name, env, monitor_partitions=f"0-{PARTITIONS - 1}")
        try:
            yield running
        finally:
            running.stop_monitors()
            drop_namespace(nats_url, namespace)


class Ticks:
    """A monotonic clock the test moves (`ticks.now += 60`), for rate limits and caches."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
