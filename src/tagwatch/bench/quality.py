"""`tagwatch bench quality`: how well alerts match what people really did.

The simulator's population is replayed through the engine in arrival order, the way a
monitor sees it (ticks of `tick_s`; `now` is the tick), and through the naive baseline
(every fix judged alone as a point, as open-source trackers do). Both are scored against
the injected ground truth.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import typer

from tagwatch.bench.naive import naive_alerts
from tagwatch.bench.scoring import ScoredAlert, score
from tagwatch.domain.episodes import EpisodeChange, EpisodeEvent
from tagwatch.sim.model import GpsErrorModel
from tagwatch.sim.population import Scenario, Simulation, simulate
from tagwatch.sim.replay import replay


@dataclass(frozen=True, slots=True)
class EngineRun:
    alerts: list[ScoredAlert]
    evaluate_calls: int
    seconds: float


def run_engine(sim: Simulation, tick_s: float = 10.0) -> EngineRun:
    """One alert per new episode (a re-run that moves an episode's start updates its alert)."""
    alerts: list[ScoredAlert] = []
    calls = 0
    started = time.perf_counter()
    for _, events in replay(sim, tick_s):
        calls += 1
        for event in events:
            if (
                isinstance(event, EpisodeEvent)
                and event.change is EpisodeChange.OPENED
                and not event.replaces
            ):
                episode = event.episode
                alerts.append(
                    ScoredAlert(
                        device_id=episode.device_id,
                        rule=episode.rule,
                        requirement_id=episode.requirement_id,
                        start=episode.start,
                        detected_at=event.detected_at,
                    )
                )
    return EngineRun(alerts, calls, time.perf_counter() - started)


def quality_benchmark(scenario: Scenario, tick_s: float = 10.0) -> dict[str, Any]:
    started = time.perf_counter()
    sim = simulate(scenario)
    simulated_s = time.perf_counter() - started
    subject_days = float(scenario.subjects * scenario.days)
    engine = run_engine(sim, tick_s)
    naive_started = time.perf_counter()
    naive = [
        ScoredAlert(a.device_id, a.rule, a.requirement_id, a.start, a.detected_at)
        for a in naive_alerts(sim)
    ]
    naive_s = time.perf_counter() - naive_started
    ours = score(engine.alerts, sim.truth, subject_days)
    theirs = score(naive, sim.truth, subject_days)
    return {
        "subject_days": int(subject_days),
        "violations": len(sim.truth),
        "tagwatch": ours.as_dict(),
        "naive": theirs.as_dict(),
        "fixes": len(sim.fixes),
        "tagwatch_alerts": len(engine.alerts),
        "naive_alerts": len(naive),
        "tagwatch_detected": ours.detected,
        "tagwatch_false_alerts": ours.false_alerts,
        "naive_false_alerts": theirs.false_alerts,
        "gps_error": asdict(scenario.gps_error),
        "seconds": {
            "simulate": round(simulated_s, 1),
            "engine": round(engine.seconds, 1),
            "naive": round(naive_s, 1),
        },
    }


def quality_command(
    subjects: int = typer.Option(200, help="Simulated subjects."),
    days: int = typer.Option(5, help="Simulated days (subjects x days >= 1,000 by default)."),
    seed: int = typer.Option(7, help="Simulation seed."),
    tick_s: float = typer.Option(10.0, help="How often the monitor runs the engine (s)."),
    gps_error_scale: float = typer.Option(
        1.0, help="Every true 95 % GPS error radius times this (2: receivers twice as bad)."
    ),
    tail_df: float = typer.Option(
        3.0, help="Student-t degrees of freedom of town and indoor errors (lower: wilder)."
    ),
    under_reported_rate: float = typer.Option(
        0.02, help="Share of fixes whose accuracy the receiver under-reports 2.5-7x."
    ),
    correlation_s: float = typer.Option(
        120.0, help="How long a GPS error persists from fix to fix (s)."
    ),
) -> None:
    """Detection rate, false alerts and delay: tagwatch against the naive baseline."""
    gps_error = GpsErrorModel(
        scale=gps_error_scale,
        tail_df=tail_df,
        under_reported_rate=under_reported_rate,
        correlation_s=correlation_s,
    )
    scenario = Scenario(seed=seed, subjects=subjects, days=days, gps_error=gps_error)
    summary = quality_benchmark(scenario, tick_s)
    typer.echo(json.dumps(summary["seconds"] | {"fixes": summary["fixes"]}))
    typer.echo(json.dumps(summary))
