"""The dashboard's end-to-end fixtures: a real `tagwatch serve` fed by the simulator, and
Debian's Chromium driven by Playwright. The whole module runs once per backend
(tests/servicekit.py): embedded, PostgreSQL, and PostgreSQL with NATS and a monitor process.

`live_server` (one per test module): a simulated population is written into a fresh
SQLite database (`tagwatch.sim.server_demo.seed_database`: subjects, tags, orders, zones,
curfews, an operator and an admin), `tagwatch serve` starts on it with the real clock, and
the simulator's OsmAnd feed sends the last two hours of fixes at once (buffered uploads),
then the rest in real time, for as long as the tests run.

`page`: a new browser page at 1366x768 that records every console error and page error;
the test fails if there were any.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from e2ekit import (
    BACKLOG,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    LiveServer,
    until,
)
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from processkit import free_port
from servicekit import Backend
from tagwatch.sim.feed import feed_osmand
from tagwatch.sim.model import Scenario
from tagwatch.sim.population import simulate
from tagwatch.sim.server_demo import local_midnight, seed_database


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, module_service_backend: Backend
) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make setup` installs it")
    vendor = ROOT / "src" / "tagwatch" / "web" / "static" / "vendor" / "leaflet" / "leaflet.js"
    if not vendor.exists():
        pytest.fail("the dashboard's npm libraries are missing: run `make setup`")
    folder = tmp_path_factory.mktemp("e2e")
    now = datetime.now(UTC)
    sim = simulate(
        Scenario(seed=11, subjects=6, days=2, start=local_midnight(now) - timedelta(days=1))
    )
    passwords = seed_database(sim, module_service_backend.store_url, now=now)
    api_port, osmand_port = free_port(), free_port()
    env = {
        **os.environ,
        "TAGWATCH_RULES_CHECK_S": "0.5",
        "TAGWATCH_MONITOR_INTERVAL_S": "0.1",
        "PYTHONUNBUFFERED": "1",
        # No Teltonika gateway: other tests' servers take the default port 5027.
        "TAGWATCH_TELTONIKA_PORT": "0",
    }
    for name in ("TAGWATCH_STORE", "TAGWATCH_LOG", "TAGWATCH_TILE_URL", "TAGWATCH_MQTT_URL"):
        env.pop(name, None)
    env |= module_service_backend.env  # the store (and log) of this backend
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tagwatch.cli",
                "serve",
                "--port",
                str(api_port),
                "--osmand-port",
                str(osmand_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(
        url=f"http://127.0.0.1:{api_port}",
        osmand=f"http://127.0.0.1:{osmand_port}/",
        passwords=passwords,
        subject_ids=[subject.id for subject in sim.subjects],
        log=log,
    )
    module_service_backend.start_monitors(env, folder / "monitor.log")
    stop = threading.Event()
    feeder: threading.Thread | None = None
    try:

        def healthy() -> bool | None:
            assert process.poll() is None, log.read_text()
            try:
                answer = httpx.get(f"{server.url}/api/v1/health", timeout=1)
            except httpx.HTTPError:
                return None
            return answer.status_code == 200 or None

        until("the API to answer", healthy, timeout_s=60)
        fixes = [f for f in sim.fixes if (f.received_at or f.fix_time) >= now - BACKLOG]
        feeder = threading.Thread(
            target=feed_osmand,
            args=(fixes, server.osmand),
            kwargs={
                "speedup": 1.0,
                "start_wall": time.time(),
                "sim_start": datetime.now(UTC),
                "stop_event": stop,
            },
            daemon=True,
        )
        feeder.start()
        with server.client() as api:
            until(
                "the simulator's fixes to reach the map",
                lambda: len(api.get("/positions").json()["features"]) >= 3 or None,
            )
        yield server
    finally:
        stop.set()
        if feeder is not None:
            feeder.join(15)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


# Module scope, not session: while Playwright's sync API is open it keeps an asyncio loop
# running in the main thread, and later tests that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def expected_console() -> list[str]:
    """Console errors a test provokes on purpose (substrings); every other one fails it."""
    return []


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, expected_console: list[str]) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="UTC"
    )
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(
            expected in message.text for expected in expected_console
        ):
            problems.append(f"console error: {message.text} at {message.location}")

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    opened.on("console", on_console)
    opened.on("pageerror", on_page_error)
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()
    assert not problems, "\n".join(problems)
