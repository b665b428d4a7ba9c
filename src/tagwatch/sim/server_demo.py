"""`tagwatch demo`: the real server, fed by a simulated population around Hertfordshire.

1. simulate the population (`tagwatch.sim.population`) from today's local midnight;
2. write its subjects, devices, assignments, orders, zones, curfews and appointments into a
   fresh SQLite database, with an `operator` and an `admin` whose passwords are random;
3. start `tagwatch serve` on that database in a child process whose clock runs `speedup`
   times faster than the wall from `feed_from` (17:30 local on the first day, so curfews
   start soon), so the monitor judges silence and schedules in simulated time;
4. send the fixes to the OsmAnd port as the tags would (buffered, late, noisy, invalid), in
   compressed time (`tagwatch.sim.feed`), printing progress and each new alert;
5. on Ctrl-C, at the end of the simulation or after `duration_s`, stop the server (SIGINT:
   a graceful stop) and wait for it.

The child is `python -m tagwatch.sim.server_demo DB PORT OSMAND_PORT SIM_ANCHOR WALL_ANCHOR
SPEEDUP`: `tagwatch.server.serve` with a `SpeedupClock` instead of the system clock.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tagwatch.server
from tagwatch.api.settings import ApiSettings
from tagwatch.domain.positions import DeviceEventKind, Fix
from tagwatch.server import ServeOptions, serve
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config
from tagwatch.sim.feed import FeedProgress, feed_osmand
from tagwatch.sim.model import Scenario, Simulation
from tagwatch.sim.population import simulate
from tagwatch.store import create_store
from tagwatch.store.records import UserRole

LONDON = ZoneInfo("Europe/London")
FEED_FROM_LOCAL = dtime(17, 30)
EARLIEST_FEED_LOCAL = dtime(6, 0)
TRUTH_LEAD = timedelta(minutes=10)
STARTUP_S = 3.0  # the child's clock stands still this long after it is started
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
PROGRESS_EVERY_S = 5.0


class SpeedupClock:
    """`sim_anchor` at wall time `wall_anchor` (standing still before), `speedup` x after."""

    def __init__(self, sim_anchor: datetime, wall_anchor: float, speedup: float) -> None:
        self._sim_anchor = sim_anchor.astimezone(UTC)
        self._wall_anchor = wall_anchor
        self._speedup = speedup

    def now(self) -> datetime:
        elapsed = max(0.0, time.time() - self._wall_anchor) * self._speedup
        return self._sim_anchor + timedelta(seconds=elapsed)


@dataclass(slots=True)
class DemoResult:
    url: str
    db_path: Path
    passwords: dict[str, str]
    progress: FeedProgress | None = None
    alerts: int = 0
    exit_code: int | None = None  # the server's
    stored_fixes: int = 0
    alert_rules: dict[str, int] = field(default_factory=dict)


def local_midnight(day: datetime) -> datetime:
    local = day.astimezone(LONDON)
    return datetime.combine(local.date(), dtime(0), tzinfo=LONDON).astimezone(UTC)


def choose_feed_from(sim: Simulation) -> datetime:
    """17:30 local on the first day (curfews start soon), or 10 minutes before the first
    real violation of that day if it comes earlier (but not before 06:00)."""
    first_day = sim.scenario.start.astimezone(LONDON).date()
    evening = datetime.combine(first_day, FEED_FROM_LOCAL, tzinfo=LONDON).astimezone(UTC)
    morning = datetime.combine(first_day, EARLIEST_FEED_LOCAL, tzinfo=LONDON).astimezone(UTC)
    starts = [t.start for t in sim.truth if t.start >= morning + TRUTH_LEAD]
    return min([evening, *(t - TRUTH_LEAD for t in starts)])


class BatteryLevels:
    """Each device's last simulated battery level at a fix's time (sent as `batt`)."""

    def __init__(self, sim: Simulation) -> None:
        self._levels: dict[str, tuple[list[float], list[float]]] = {}
        for event in sim.device_events:
            if event.kind is DeviceEventKind.BATTERY_LEVEL and event.value is not None:
                times, values = self._levels.setdefault(event.device_id, ([], []))
                times.append(event.time.timestamp())
                values.append(float(event.value))
        for times, values in self._levels.values():
            order = sorted(range(len(times)), key=times.__getitem__)
            times[:] = [times[i] for i in order]
            values[:] = [values[i] for i in order]

    def __call__(self, fix: Fix) -> float | None:
        found = self._levels.get(fix.device_id)
        if found is None:
            return None
        times, values = found
        index = bisect.bisect_right(times, fix.fix_time.timestamp()) - 1
        return values[index] if index >= 0 else None


def seed_database(sim: Simulation, db: Path | str, *, now: datetime) -> dict[str, str]:
    """Write the simulation's people and requirements and two users into the SQLite file
    `db` (a Path) or the store at URL `db` (a str); returns the passwords."""
    passwords = {"operator": secrets.token_urlsafe(12), "admin": secrets.token_urlsafe(12)}
    store = create_store(db if isinstance(db, str) else f"sqlite:///{db}")
    store.open()
    try:
        with store.transaction() as tx:
            for subject in sim.subjects:
                tx.subjects.save_subject(subject)
            for device in sim.devices:
                tx.devices.save_device(device)
            for assignment in sim.assignments:
                tx.assignments.save_assignment(assignment)
            for order in sim.orders:
                tx.orders.save_order(order)
            for rules in sim.rule_book.subjects:
                for zone in rules.zones:
                    tx.zones.save_zone(zone)
                for curfew in rules.curfews:
                    tx.curfews.save_curfew(curfew)
                for appointment in rules.appointments:
                    tx.appointments.save_appointment(appointment)
            tx.users.create_user("operator", passwords["operator"], UserRole.OPERATOR, now=now)
            tx.users.create_user("admin", passwords["admin"], UserRole.ADMIN, now=now)
    finally:
        store.close()
    return passwords


class Api:
    """A tiny client of the demo's own API (urllib; bounded timeouts)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._token: str | None = None

    def get(self, path: str, timeout_s: float = 5.0) -> Any:
        request = urllib.request.Request(self.base + path)  # noqa: S310
        if self._token is not None:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return json.loads(response.read())

    def login(self, username: str, password: str) -> None:
        body = urllib.parse.urlencode({"username": username, "password": password}).encode()
        request = urllib.request.Request(self.base + "/api/v1/auth/token", data=body)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10.0) as response:  # noqa: S310
            self._token = json.loads(response.read())["access_token"]

    def healthy(self) -> bool:
        try:
            return self.get("/api/v1/health", timeout_s=2.0).get("status") == "ok"  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return False

    def alerts(self, limit: int = 200) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(f"/api/v1/alerts?limit={limit}")["items"]
        return items


def _server_env(speedup: float) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TAGWATCH_STORE", None)
    env.pop("TAGWATCH_LOG", None)
    env.pop("TAGWATCH_HOST", None)
    env["TAGWATCH_MONITOR"] = "1"
    # Sign-ins last 12 h of wall time although the server's clock runs fast.
    env["TAGWATCH_TOKEN_TTL_S"] = str(int(43200 * max(1.0, speedup)))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _stop(server: subprocess.Popen[bytes]) -> int:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5.0)
    return server.returncode


def run_server_demo(
    subjects: int = 25,
    days: int = 1,
    seed: int = 7,
    speedup: float = 60.0,
    port: int = 8080,
    osmand_port: int = 5055,
    db_path: Path | None = None,
    *,
    duration_s: float | None = None,
    echo: Callable[[str], None] = print,
    stop_event: threading.Event | None = None,
) -> DemoResult:
    """Run the demo until the simulation ends, `duration_s` passes or `stop_event` is set."""
    stop_event = stop_event if stop_event is not None else threading.Event()
    if db_path is None:
        db_path = Path(tempfile.mkdtemp(prefix="tagwatch-demo-")) / "tagwatch.db"
    if db_path.exists():
        raise FileExistsError(f"{db_path} exists: the demo needs a new database file")
    db_path.parent.mkdir(parents=True, exist_ok=True)

    wall_started = time.time()
    start = local_midnight(datetime.now(UTC))
    sim = simulate(Scenario(seed=seed, subjects=subjects, days=days, start=start))
    feed_from = choose_feed_from(sim)
    fixes = [f for f in sim.fixes if (f.received_at or f.fix_time) >= feed_from]
    echo(
        f"simulated {subjects} subjects x {days} day(s) from {start.astimezone(LONDON):%a %d %b}"
        f": {len(sim.fixes):,} fixes, {len(sim.truth)} real violations"
        f" ({time.time() - wall_started:.1f} s); feeding the {len(fixes):,} from"
        f" {feed_from.astimezone(LONDON):%H:%M} local at {speedup:g}x"
    )
    passwords = seed_database(sim, db_path, now=feed_from)

    wall_anchor = time.time() + STARTUP_S
    log_path = db_path.with_suffix(".server.log")
    args = [str(db_path), str(port), str(osmand_port), feed_from.isoformat()]
    args += [repr(wall_anchor), repr(speedup)]
    url = f"http://127.0.0.1:{port}"
    result = DemoResult(url=url, db_path=db_path, passwords=passwords)
    restore = _interrupt_on_termination()
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tagwatch.sim.server_demo", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_server_env(speedup),
            start_new_session=True,  # Ctrl-C reaches the demo, which then stops the server
        )
    try:
        api = Api(url)
        deadline = time.time() + HEALTH_TIMEOUT_S
        while not api.healthy():
            if server.poll() is not None or time.time() > deadline or stop_event.is_set():
                echo(f"the server did not start; its log: {log_path}")
                result.exit_code = _stop(server)
                return result
            time.sleep(0.2)
        api.login("operator", passwords["operator"])
        echo(f"tagwatch is running: {url}/docs  (OsmAnd on 127.0.0.1:{osmand_port})")
        echo(f"  the monitoring-centre dashboard: {url}/app/")
        echo(f"  sign in as operator / {passwords['operator']}")
        echo(f"  or as      admin    / {passwords['admin']}")
        echo(f"  database {db_path}, server log {log_path}")
        echo("  Ctrl-C stops the demo")
        result = _feed(
            api,
            fixes,
            BatteryLevels(sim),
            osmand_port,
            speedup,
            wall_anchor,
            feed_from,
            stop_event,
            duration_s,
            echo,
            result,
        )
    except KeyboardInterrupt:
        stop_event.set()
        echo("stopping ...")
    finally:
        stop_event.set()
        result.exit_code = _stop(server)
        echo(f"server stopped (exit status {result.exit_code})")
        restore()
    return result


def _interrupt_on_termination() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP (a service manager or `kill` stopping the demo, its terminal
    closing) stop the demo as Ctrl-C does. The server runs in a session of its own, so
    without this it would outlive the demo and keep the demo's ports. Returns what puts
    the previous handlers back. Signal handlers belong to the main thread: elsewhere
    (a test driving the demo from a thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    received: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        # Once: a second signal while the demo stops the server must not cut that short.
        if not received:
            received.append(signum)
            raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _feed(
    api: Api,
    fixes: list[Fix],
    battery_of: Callable[[Fix], float | None],
    osmand_port: int,
    speedup: float,
    wall_anchor: float,
    feed_from: datetime,
    stop_event: threading.Event,
    duration_s: float | None,
    echo: Callable[[str], None],
    result: DemoResult,
) -> DemoResult:
    seen: set[str] = set()

    def poll_alerts() -> None:
        try:
            alerts = api.alerts()
        except (OSError, ValueError, KeyError) as error:
            echo(f"  (could not read alerts: {error})")
            return
        for alert in reversed(alerts):
            if alert["id"] in seen:
                continue
            seen.add(alert["id"])
            rule = str(alert["rule"])
            result.alert_rules[rule] = result.alert_rules.get(rule, 0) + 1
            occurred = datetime.fromisoformat(alert["occurred_at"]).astimezone(LONDON)
            late = " LATE" if alert.get("late") else ""
            echo(
                f"  ALERT{late} {rule:<13} {alert['severity']:<8} subject {alert['subject_id']}"
                f" since {occurred:%H:%M:%S}"
            )
        result.alerts = len(seen)

    def on_progress(progress: FeedProgress) -> None:
        poll_alerts()
        clock = progress.sim_now.astimezone(LONDON) if progress.sim_now else feed_from
        echo(
            f"[{clock:%a %H:%M}] fixes sent {progress.sent:,}/{progress.total:,}"
            f" (failed {progress.failed}), alerts so far {len(seen)}"
        )

    timer: threading.Timer | None = None
    if duration_s is not None:
        timer = threading.Timer(duration_s, stop_event.set)
        timer.daemon = True
        timer.start()
    try:
        result.progress = feed_osmand(
            fixes,
            f"http://127.0.0.1:{osmand_port}/",
            speedup=speedup,
            start_wall=wall_anchor,
            stop_event=stop_event,
            on_progress=on_progress,
            sim_start=feed_from,
            progress_every_s=PROGRESS_EVERY_S,
            battery_of=battery_of,
        )
    finally:
        if timer is not None:
            timer.cancel()
    time.sleep(1.0)  # the monitor's next step
    poll_alerts()
    with contextlib.suppress(OSError, ValueError, KeyError):
        result.stored_fixes = _count_fixes(result.db_path)
    progress = result.progress
    echo(
        f"fed {progress.sent:,} fixes ({progress.failed} failed)"
        f"{'' if progress.done else ' before stopping'}; {result.alerts} alerts: "
        + ", ".join(f"{k}={v}" for k, v in sorted(result.alert_rules.items()))
    )
    return result


def _count_fixes(db_path: Path) -> int:
    store = create_store(f"sqlite:///{db_path}")
    store.open()
    try:
        return store.fixes.count_fixes()
    finally:
        store.close()


def _child(argv: list[str]) -> int:
    """The server process: `tagwatch serve` with a clock running `speedup` times fast."""
    db, port, osmand_port, sim_anchor, wall_anchor, speedup = argv
    clock = SpeedupClock(datetime.fromisoformat(sim_anchor), float(wall_anchor), float(speedup))
    setattr(tagwatch.server, "bootstrap", partial(bootstrap, clock=clock))  # noqa: B010
    config = dataclasses.replace(Config.from_env(), db_path=Path(db), store_url="", log_url="")
    settings = dataclasses.replace(
        ApiSettings.from_env(), port=int(port), osmand_port=int(osmand_port)
    )
    return serve(config, settings, ServeOptions(log_level="warning", access_log=False))


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
