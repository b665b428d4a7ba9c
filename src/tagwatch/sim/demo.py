"""`tagwatch demo`: a simulated population around Hertfordshire, judged live in the console.

Until the monitoring service lands this is the demo: every alert is printed as the engine
raises it, in simulated time, with a summary against the ground truth at the end.
"""

from __future__ import annotations

import time
from collections import Counter
from zoneinfo import ZoneInfo

import typer

from tagwatch.domain.episodes import ApproachWarning, AttendanceOutcome, EpisodeChange, EpisodeEvent
from tagwatch.sim.population import Scenario, simulate
from tagwatch.sim.replay import replay

LONDON = ZoneInfo("Europe/London")


def demo_command(
    subjects: int = typer.Option(25, help="How many tagged subjects to simulate."),
    days: int = typer.Option(2, help="How many days of their lives."),
    seed: int = typer.Option(7, help="Seed of the simulation (same seed, same people)."),
    quiet: bool = typer.Option(False, help="Print only the summary."),
) -> None:
    """Simulate tagged people around Hertfordshire and print alerts as they are raised."""
    started = time.perf_counter()
    sim = simulate(Scenario(seed=seed, subjects=subjects, days=days))
    typer.echo(
        f"simulated {subjects} subjects x {days} days: {len(sim.fixes):,} fixes, "
        f"{len(sim.device_events):,} device events, {len(sim.truth)} real violations "
        f"({time.perf_counter() - started:.1f} s)"
    )
    counts: Counter[str] = Counter()
    for now, events in replay(sim):
        for event in events:
            if isinstance(event, EpisodeEvent) and event.change is EpisodeChange.OPENED:
                episode = event.episode
                counts[episode.rule.value] += 1
                if not quiet:
                    late = " LATE" if event.late else ""
                    typer.echo(
                        f"{now.astimezone(LONDON):%a %d %b %H:%M:%S} ALERT{late} "
                        f"{episode.rule.value:<13} subject {episode.subject_id} "
                        f"since {episode.start.astimezone(LONDON):%H:%M:%S}"
                        f" depth {episode.deepest_penetration_m:.0f} m"
                        f" confidence {episode.confidence:.3f}"
                    )
            elif isinstance(event, ApproachWarning):
                counts["approach_warning"] += 1
            elif isinstance(event, AttendanceOutcome):
                counts[f"attendance_{event.outcome.value}"] += 1
    typer.echo("alerts raised: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    typer.echo(f"done in {time.perf_counter() - started:.1f} s")
