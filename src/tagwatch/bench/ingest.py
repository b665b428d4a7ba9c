"""`tagwatch bench ingest`: end-to-end ingest through a real server, empty and full, and the
delay from a breaching fix's upload to its alert on the live feed.

One configuration (`run_configuration`: a store URL and a log URL for the empty run, the
same for the full run, and how to fill the full one) is measured in three parts:

1. **Throughput, empty store.** A `tagwatch serve` process (uvicorn, the API and the
   monitor thread, configured as an operator would) takes buffered uploads on
   POST /api/v1/ingest/batch from several keep-alive connections as fast as it answers.
   The clock runs from the first request until the store holds every uploaded fix: by
   then the monitor has judged each one with the engine and committed fixes, episodes
   and inbox marks in one transaction. fixes/s = fixes / that time.
2. **Throughput, full store.** The same on a store that already holds `--stored` fixes
   (20 million by default), written by the store's bulk import before the servers start.
   Both servers run side by side and take their uploads in alternate rounds (`--rounds`,
   each a slice of `--fixes` with later fix times than the slice before): empty, full,
   empty, full... The host's speed drifts by a fifth or more within minutes on a shared
   machine, and one phase timed minutes after the other caught it in one phase only, so
   the ratio of the two moved with the host (0.68-1.41 for the same code when the phases
   ran one after the other). Alternating puts both under the same drift. Each figure
   is its rounds' fixes over their summed times; the rounds' own figures are listed too.
3. **Alert delay.** On the empty run's server, after the rounds, a steady feed of
   `--rate` fixes/s while `--breaches` fixes, one after another, land in the middle of an
   exclusion zone not yet entered; the delay is from just before each such request is
   sent to its alert arriving on GET /api/v1/stream (SSE), measured by the same
   process's monotonic clock. The run ends when the store holds every fix of the feed.

The server's CPU time (all threads, from /proc) is reported beside wall time: on a shared
machine fixes per server CPU second moves much less than fixes per second.

With `--store postgresql://... --log nats://...` the scale-out configuration is measured
the same way in the same run, after the embedded default: scratch databases on that
PostgreSQL server, a NATS stream of `--partitions` partitions (8) in a namespace of its
own, `tagwatch serve` as the gateway (no monitor in it) and `--monitors` (2)
`tagwatch monitor` processes splitting the partitions; server CPU is then the sum of all
these processes. The summary keeps the embedded default's figures flat (the keys of the
embedded benchmark) and nests each configuration's under its name: `{"embedded": {...},
"distributed": {...}}`.

Baseline in the same run: the store's own `add_fixes` rate on the empty database (batches
of 1,000, one transaction each, as the monitor commits), so the end-to-end figure can be
read as a fraction of what the store alone could do on this machine at this moment.

Before the first round every tag sends one fix to each server (device sign-in with Argon2
is cached for five minutes, and the monitor rebuilds its state when it starts); the
rounds start when the stores hold those.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import typer

from tagwatch.bench.ingest_baseline import store_add_fixes_rate
from tagwatch.bench.ingest_history import fill_history, history_end
from tagwatch.bench.ingest_load import (
    AlertFeed,
    LoadError,
    MonitorProcess,
    Server,
    Upload,
    Uploader,
    UploadResult,
)
from tagwatch.bench.ingest_scene import (
    DEVICE_SECRET,
    PASSWORD,
    USERNAME,
    Population,
    install,
    make_population,
)
from tagwatch.bench.ingest_workload import Buffered, Steady, breach_schedule, warm_up_uploads
from tagwatch.bench.report import emit, progress
from tagwatch.bench.scratch_databases import create_database
from tagwatch.domain.rules import DEFAULT_ALLOWED_LATENESS_S
from tagwatch.store import Store, create_store

SQLITE = "sqlite:///"
POLL_S = 0.01
SETTLE_TIMEOUT_S = 600.0
FIX_INTERVAL = timedelta(seconds=10)  # between two buffered fixes of one tag


@dataclass(frozen=True)  # no slots: the command reads the defaults off the class
class IngestOptions:
    fixes: int = 600_000  # per store, over all rounds
    rounds: int = 3  # empty and full take turns, a slice of `fixes` each
    batch: int = 100  # fixes per upload (one tag's buffer)
    tags: int = 100
    connections: int = 4
    stored: int = 20_000_000
    rate: float = 2_000.0  # fixes/s of the steady feed
    steady_batch: int = 20
    breaches: int = 100
    breach_every_s: float = 0.25
    baseline_fixes: int = 50_000


@dataclass(frozen=True, slots=True)
class Urls:
    store: str
    log: str
    monitors: tuple[str, ...] = ()  # partitions of each `tagwatch monitor` process, if any

    def env(self) -> dict[str, str]:
        return {"TAGWATCH_STORE": self.store, "TAGWATCH_LOG": self.log}


@dataclass(frozen=True, slots=True)
class Committed:
    """Counts the fixes the monitors have committed: all of them, or (on a store whose
    count over millions of rows is slow, PostgreSQL) those from `since` on, which the
    partitioned table answers from the last days' partitions alone."""

    store: Store
    since: datetime | None = None

    def count(self) -> int:
        if self.since is None:
            return self.store.fixes.count_fixes()
        return self.store.fixes.count_fixes(start=self.since)


# A way to fill a store with history: (store URL, population, fixes, end) -> seconds taken.
Filler = Callable[[str, Population, int, datetime], float]


@dataclass(frozen=True, slots=True)
class Throughput:
    fixes: int
    seconds: float  # first request -> every fix committed by the monitor (summed over rounds)
    upload_seconds: float  # first request -> last answer (summed over rounds)
    requests: int
    stored_before: int
    server_cpu_s: float | None  # CPU the server process used meanwhile (all threads)
    rounds_fixes_per_s: tuple[float, ...] = ()

    @property
    def fixes_per_s(self) -> float:
        return self.fixes / self.seconds

    @property
    def fixes_per_cpu_s(self) -> float | None:
        """Fixes per CPU second of the server: less sensitive to a busy machine."""
        return None if not self.server_cpu_s else self.fixes / self.server_cpu_s

    @classmethod
    def of_rounds(cls, rounds: Sequence[Throughput]) -> Throughput:
        """One figure for a store: its rounds' fixes over their summed times."""
        cpu = [r.server_cpu_s for r in rounds]
        return cls(
            fixes=sum(r.fixes for r in rounds),
            seconds=sum(r.seconds for r in rounds),
            upload_seconds=sum(r.upload_seconds for r in rounds),
            requests=sum(r.requests for r in rounds),
            stored_before=rounds[0].stored_before,
            server_cpu_s=None if None in cpu else sum(c for c in cpu if c is not None),
            rounds_fixes_per_s=tuple(r.fixes_per_s for r in rounds),
        )


@dataclass(frozen=True, slots=True)
class AlertDelays:
    delays_ms: list[float]
    missed: int
    background_fixes_per_s: float
    feed_gaps: int

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.delays_ms, q)) if self.delays_ms else None


def _fail_on(failures: list[str], what: str) -> None:
    if failures:
        raise LoadError(f"{len(failures)} {what} failed, e.g. {failures[0]}")


@contextlib.contextmanager
def serving(urls: Urls, log_path: Path) -> Iterator[Server]:
    server = Server(urls.env(), log_path)
    try:
        for n, partitions in enumerate(urls.monitors):
            monitor_log = log_path.with_name(f"{log_path.stem}-monitor-{n}.log")
            server.monitors.append(MonitorProcess(urls.env(), partitions, monitor_log))
        server.wait_ready()
        yield server
    finally:
        server.stop()
        for monitor in server.monitors:
            monitor.stop()


def settle(
    committed: Committed,
    target: int,
    timeout_s: float = SETTLE_TIMEOUT_S,
    server: Server | None = None,
) -> float:
    """Wait until the store holds `target` fixes; the monotonic time it did."""
    deadline = time.monotonic() + timeout_s
    while True:
        if committed.count() >= target:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise LoadError(
                f"the store holds {committed.count():,} of {target:,} fixes after {timeout_s} s"
            )
        for monitor in server.monitors if server is not None else ():
            monitor.check()
        time.sleep(POLL_S)


def warm_up(
    server: Server,
    committed: Committed,
    population: Population,
    options: IngestOptions,
    at: datetime,
) -> None:
    progress(f"  warm-up: {len(population.tags)} tags sign in and send one fix each")
    before = committed.count()
    result = Uploader(server, DEVICE_SECRET, options.connections).send_all(
        warm_up_uploads(population.tags, at)
    )
    _fail_on(result.failures, "warm-up uploads")
    settle(committed, before + result.accepted, server=server)


@dataclass(frozen=True, slots=True)
class Target:
    """A server under test and how to count what its monitor has committed."""

    name: str
    server: Server
    committed: Committed


def round_workloads(population: Population, options: IngestOptions) -> list[Buffered]:
    """`options.rounds` slices of the buffered workload, each later in fix time than the
    one before and the last ending now, so no round repeats another's fixes."""
    rounds = options.rounds
    per_tag = max(options.fixes // (len(population.roaming) * rounds), 1)
    span = FIX_INTERVAL * per_tag
    now = datetime.now(UTC)
    return [
        Buffered(population.roaming, per_tag, options.batch, FIX_INTERVAL, now - span * later)
        for later in range(rounds - 1, -1, -1)
    ]


def measure_throughput(
    targets: Sequence[Target], population: Population, options: IngestOptions
) -> list[Throughput]:
    """The targets take the same rounds in turn (see the module docstring); one
    Throughput per target, in the order given."""
    workloads = round_workloads(population, options)
    for target in targets:
        warm_up(
            target.server,
            target.committed,
            population,
            options,
            workloads[0].first_time - FIX_INTERVAL,
        )
    stored_before = [t.committed.store.fixes.count_fixes() for t in targets]  # before the clock
    rounds: list[list[Throughput]] = [[] for _ in targets]
    for number, workload in enumerate(workloads, start=1):
        uploads = list(workload.uploads(seed=7 + number))  # encoded before the clock starts
        figures = []
        for target, runs, stored in zip(targets, rounds, stored_before, strict=True):
            runs.append(timed_round(target, uploads, options, stored))
            figures.append(f"{target.name} {runs[-1].fixes_per_s:,.0f}")
        progress(f"  round {number}/{len(workloads)}: {', '.join(figures)} fixes/s")
    return [Throughput.of_rounds(runs) for runs in rounds]


def timed_round(
    target: Target, uploads: Sequence[Upload], options: IngestOptions, stored_before: int
) -> Throughput:
    server, committed = target.server, target.committed
    before = committed.count()
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    result = Uploader(server, DEVICE_SECRET, options.connections).send_all(uploads)
    answered = time.monotonic()
    _fail_on(result.failures, "uploads")
    done = settle(committed, before + result.accepted, server=server)
    cpu_after = server.cpu_seconds()
    return Throughput(
        fixes=result.fixes,
        seconds=done - started,
        upload_seconds=answered - started,
        requests=result.requests,
        stored_before=stored_before,
        server_cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )


def measure_alert_delay(
    server: Server, committed: Committed, population: Population, options: IngestOptions
) -> AlertDelays:
    token = server.token(USERNAME, PASSWORD)
    before = committed.count()
    feed = AlertFeed(server, token)
    feed.start()
    try:
        lead_s = 2.0
        seconds = lead_s + options.breaches * options.breach_every_s + 1.0
        start, start_mono = datetime.now(UTC) + timedelta(seconds=1), time.monotonic() + 1.0
        background = Steady(
            population.roaming, options.rate, options.steady_batch, seconds, start, start_mono
        ).schedule()
        breaches = breach_schedule(
            population.breaches,
            start,
            start_mono,
            options.breach_every_s,
            lead_s,
        )
        results: dict[str, UploadResult] = {}

        def send(name: str, schedule: Any, connections: int) -> None:
            results[name] = Uploader(server, DEVICE_SECRET, connections).send_paced(schedule)

        senders = [
            _thread(send, "background", background, options.connections),
            _thread(send, "breaches", breaches, 1),
        ]
        for thread in senders:
            thread.join()
        _fail_on(results["background"].failures, "steady uploads")
        _fail_on(results["breaches"].failures, "breach uploads")
        sent = dict(results["breaches"].sent)
        arrived = feed.wait_for(sent, timeout_s=30.0)
        accepted = results["background"].accepted + results["breaches"].accepted
        settle(committed, before + accepted, server=server)
        sent_times = [t for _, t in results["background"].sent]
        span = max(sent_times) - min(sent_times) if sent_times else 0.0
        return AlertDelays(
            delays_ms=[(arrived[d] - sent[d]) * 1000 for d in sent if d in arrived],
            missed=len(sent) - len(arrived),
            background_fixes_per_s=results["background"].fixes / span if span else 0.0,
            feed_gaps=feed.gaps,
        )
    finally:
        feed.close()


def _thread(target: Callable[..., None], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def opened(url: str) -> Iterator[Store]:
    store = create_store(url)
    store.open()
    try:
        yield store
    finally:
        store.close()


def run_configuration(
    empty: Urls,
    full: Urls,
    fill: Filler,
    options: IngestOptions,
    logs: Path,
    baseline_url: str,
    count_recent: bool = False,
) -> dict[str, Any]:
    """Measure one configuration; `full.store` is filled with `options.stored` fixes.

    `count_recent`: count committed fixes from the end of the stored history on (see
    Committed), for stores where counting every row takes long."""
    population = make_population(options.tags, options.breaches)
    now = datetime.now(UTC)
    progress("baseline: the store's add_fixes on an empty database")
    with opened(baseline_url) as store:
        baseline = store_add_fixes_rate(store, options.baseline_fixes, now)
    progress(f"  {baseline:,.0f} fixes/s")

    end = history_end(now, DEFAULT_ALLOWED_LATENESS_S)
    since = end if count_recent else None
    install(empty.store, population, now=now)
    install(full.store, population, now=now)
    progress(f"full store: writing {options.stored:,} stored fixes")
    fill_seconds = fill(full.store, population, options.stored, end)
    progress(f"  {fill_seconds:,.0f} s")
    with contextlib.ExitStack() as stack:
        empty_store = stack.enter_context(opened(empty.store))
        full_store = stack.enter_context(opened(full.store))
        empty_server = stack.enter_context(serving(empty, logs / "server-empty.log"))
        full_server = stack.enter_context(serving(full, logs / "server-full.log"))
        progress(
            f"throughput: {options.fixes:,} fixes to each store in {options.rounds} rounds,"
            f" batches of {options.batch}, empty and full in turn"
        )
        empty_run, full_run = measure_throughput(
            [
                Target("empty", empty_server, Committed(empty_store, since)),
                Target("full", full_server, Committed(full_store, since)),
            ],
            population,
            options,
        )
        progress(
            f"  empty {empty_run.fixes_per_s:,.0f} fixes/s,"
            f" {empty_run.fixes_per_cpu_s or 0:,.0f} per server CPU second;"
            f" full {full_run.fixes_per_s:,.0f} fixes/s with {full_run.stored_before:,} stored"
        )
        progress(f"alert delay: {options.breaches} breaches at {options.rate:,.0f} fixes/s")
        delays = measure_alert_delay(
            empty_server, Committed(empty_store, since), population, options
        )
        progress(f"  p50 {delays.percentile(50)} ms, p99 {delays.percentile(99)} ms")
    return summarise(options, baseline, empty_run, full_run, delays, fill_seconds)


def summarise(
    options: IngestOptions,
    baseline: float,
    empty: Throughput,
    full: Throughput,
    delays: AlertDelays,
    fill_seconds: float,
) -> dict[str, Any]:
    def rounded(value: float | None, digits: int = 1) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "fixes_per_s": round(empty.fixes_per_s, 1),
        "fixes_per_s_full": round(full.fixes_per_s, 1),
        "stored_fixes_full": full.stored_before,
        "alert_delay_p50_ms": rounded(delays.percentile(50)),
        "alert_delay_p99_ms": rounded(delays.percentile(99)),
        "full_vs_empty": round(full.fixes_per_s / empty.fixes_per_s, 3),
        "store_add_fixes_per_s": round(baseline, 1),
        "vs_store_add_fixes": round(empty.fixes_per_s / baseline, 3),
        "fixes_per_server_cpu_s": rounded(empty.fixes_per_cpu_s),
        "fixes_per_server_cpu_s_full": rounded(full.fixes_per_cpu_s),
        "upload_fixes_per_s": round(empty.fixes / empty.upload_seconds, 1),
        "upload_fixes_per_s_full": round(full.fixes / full.upload_seconds, 1),
        "fixes": empty.fixes,
        "rounds": options.rounds,
        "rounds_fixes_per_s": [round(f, 1) for f in empty.rounds_fixes_per_s],
        "rounds_fixes_per_s_full": [round(f, 1) for f in full.rounds_fixes_per_s],
        "requests": empty.requests,
        "batch": options.batch,
        "tags": options.tags,
        "connections": options.connections,
        "alerts_measured": len(delays.delays_ms),
        "alerts_missed": delays.missed,
        "alert_delay_max_ms": rounded(max(delays.delays_ms, default=None)),
        "steady_fixes_per_s": round(delays.background_fixes_per_s, 1),
        "feed_gaps": delays.feed_gaps,
        "fill_seconds": round(fill_seconds, 1),
    }


def fill_store(url: str, population: Population, total: int, end: datetime) -> float:
    return fill_history(url, population, total, end, progress=progress)


@dataclass(frozen=True, slots=True)
class Distributed:
    """The scale-out configuration: a PostgreSQL server (scratch databases are made on it)
    and a NATS server, with `monitors` monitor processes sharing `partitions`."""

    store: str  # postgresql://... (its database is only used to connect)
    log: str  # nats://...
    partitions: int = 8
    monitors: int = 2

    def urls(self, part: str) -> Urls:
        database = create_database(self.store, f"tagwatch_bench_ingest_{part}")
        return Urls(
            database, self.log_url(part), monitor_partitions(self.partitions, self.monitors)
        )

    def log_url(self, part: str) -> str:
        """The log URL with the partition count and a namespace of this part's own (its
        own stream, consumers and leases on the NATS server)."""
        parts = urlsplit(self.log)
        query = dict(parse_qsl(parts.query))
        query["partitions"] = str(self.partitions)
        query["namespace"] = f"bench{self.partitions}_{part}"
        return urlunsplit(parts._replace(query=urlencode(query)))


def monitor_partitions(partitions: int, monitors: int) -> tuple[str, ...]:
    """Contiguous partition ranges, one per monitor process: (8, 2) -> ("0-3", "4-7")."""
    if not 1 <= monitors <= partitions:
        raise ValueError(f"{monitors} monitors cannot share {partitions} partitions")
    bounds = [round(n * partitions / monitors) for n in range(monitors + 1)]
    return tuple(f"{low}-{high - 1}" for low, high in itertools.pairwise(bounds))


def ingest_benchmark(
    options: IngestOptions, workdir: Path | None = None, distributed: Distributed | None = None
) -> dict[str, Any]:
    """The embedded default (the SQLite store with its inbox in the same file), and, when
    asked, the scale-out configuration in the same run."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tagwatch-")))
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("empty.db", "full.db", "baseline.db"):
            for suffix in ("", "-wal", "-shm"):
                (workdir / f"{name}{suffix}").unlink(missing_ok=True)
        empty = Urls(f"{SQLITE}{workdir / 'empty.db'}", f"{SQLITE}{workdir / 'empty.db'}")
        full = Urls(f"{SQLITE}{workdir / 'full.db'}", f"{SQLITE}{workdir / 'full.db'}")
        progress("== embedded default: SQLite store and inbox, one process")
        embedded = run_configuration(
            empty, full, fill_store, options, workdir, f"{SQLITE}{workdir / 'baseline.db'}"
        )
        if distributed is None:
            return {**embedded, "embedded": embedded}
        progress(
            f"== distributed: PostgreSQL, NATS with {distributed.partitions} partitions,"
            f" {distributed.monitors} monitor processes"
        )
        logs = workdir / "distributed"
        logs.mkdir(exist_ok=True)
        scale_out = run_configuration(
            distributed.urls("empty"),
            distributed.urls("full"),
            fill_store,
            options,
            logs,
            distributed.urls("baseline").store,
            count_recent=True,
        )
        scale_out |= {"partitions": distributed.partitions, "monitors": distributed.monitors}
    return {**embedded, "embedded": embedded, "distributed": scale_out}


def ingest_command(
    fixes: Annotated[
        int, typer.Option(min=1, help="Fixes uploaded to each store, over all rounds.")
    ] = IngestOptions.fixes,
    rounds: Annotated[
        int, typer.Option(min=1, help="Rounds in which the empty and full stores take turns.")
    ] = IngestOptions.rounds,
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Fixes per upload (one tag's buffer).")
    ] = IngestOptions.batch,
    tags: Annotated[int, typer.Option(min=1, help="Tags uploading.")] = IngestOptions.tags,
    connections: Annotated[
        int, typer.Option(min=1, help="Concurrent client connections.")
    ] = IngestOptions.connections,
    stored: Annotated[
        int, typer.Option(min=0, help="Fixes already stored for the full-database run.")
    ] = IngestOptions.stored,
    rate: Annotated[
        float, typer.Option(min=1, help="Fixes/s of the steady feed for the alert delay.")
    ] = IngestOptions.rate,
    steady_batch: Annotated[
        int, typer.Option(min=1, help="Fixes per upload of the steady feed.")
    ] = IngestOptions.steady_batch,
    breaches: Annotated[
        int, typer.Option(min=1, help="Breaching fixes (alerts) timed.")
    ] = IngestOptions.breaches,
    breach_every: Annotated[
        float, typer.Option(min=0.01, help="Seconds between two breaches.")
    ] = IngestOptions.breach_every_s,
    baseline_fixes: Annotated[
        int, typer.Option(min=1000, help="Fixes the store's add_fixes baseline writes.")
    ] = IngestOptions.baseline_fixes,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the databases and server logs here (default: a temp dir)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Also measure the scale-out configuration: a PostgreSQL server "
            "(postgresql://...; scratch databases are made on it). Needs --log."
        ),
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(help="The NATS server of the scale-out configuration (nats://...)."),
    ] = None,
    partitions: Annotated[
        int, typer.Option(min=1, help="Log partitions of the scale-out configuration.")
    ] = 8,
    monitors: Annotated[
        int, typer.Option(min=1, help="Monitor processes of the scale-out configuration.")
    ] = 2,
) -> None:
    """End-to-end ingest (HTTP batch upload -> log -> monitor -> store), empty and with
    --stored fixes already stored, and the alert delay on the SSE feed at a steady rate;
    with --store and --log, the scale-out configuration too, in the same run."""
    options = IngestOptions(
        fixes=fixes,
        rounds=rounds,
        batch=batch,
        tags=tags,
        connections=connections,
        stored=stored,
        rate=rate,
        steady_batch=steady_batch,
        breaches=breaches,
        breach_every_s=breach_every,
        baseline_fixes=baseline_fixes,
    )
    if (store is None) != (log is None):
        raise typer.BadParameter("--store and --log go together (postgresql://... nats://...)")
    distributed = (
        Distributed(store, log, partitions, monitors)
        if store is not None and log is not None
        else None
    )
    summary = ingest_benchmark(options, workdir, distributed)
    lines = [
        f"{name:<12} {figures['fixes_per_s']:>10,.0f} fixes/s empty,"
        f" {figures['fixes_per_s_full']:>10,.0f} full; alert p99"
        f" {figures['alert_delay_p99_ms']} ms"
        for name, figures in summary.items()
        if name in ("embedded", "distributed")
    ]
    emit(
        summary,
        [
            *lines,
            f"empty store  {summary['fixes_per_s']:>10,.0f} fixes/s end to end"
            f"  ({summary['vs_store_add_fixes']:.2f} x the store's add_fixes alone)",
            f"full store   {summary['fixes_per_s_full']:>10,.0f} fixes/s"
            f"  with {summary['stored_fixes_full']:,} stored ({summary['full_vs_empty']:.2f} x)",
            f"alert delay  p50 {summary['alert_delay_p50_ms']} ms, p99"
            f" {summary['alert_delay_p99_ms']} ms at {summary['steady_fixes_per_s']:,.0f} fixes/s",
        ],
    )
