"""`tagwatch demo`: a simulated population around Hertfordshire, judged by tagwatch.

By default the demo runs the real server (`tagwatch.sim.server_demo`): the API with its
docs, the OsmAnd listener fed with the simulated tags' data in compressed time, and the
monitor; it prints the URL, a login and its progress. `--console` instead replays the
simulation through the engine in this process and prints every alert as it is raised, in
simulated time, with a summary at the end.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from tagwatch.domain.episodes import ApproachWarning, AttendanceOutcome, EpisodeChange, EpisodeEvent
from tagwatch.sim.population import Scenario, simulate
from tagwatch.sim.replay import replay
from tagwatch.sim.server_demo import run_server_demo

LONDON = ZoneInfo("Europe/London")


def demo_command(
    subjects: int = typer.Option(25, help="How many tagged subjects to simulate."),
    days: int = typer.Option(1, help="How many days of their lives."),
    seed: int = typer.Option(7, help="Seed of the simulation (same seed, same people)."),
    speedup: float = typer.Option(60.0, help="Simulated seconds per wall second.", min=1.0),
    port: int = typer.Option(8080, help="API port.", min=0),
    osmand_port: int = typer.Option(5055, help="OsmAnd listener port.", min=0),
    db: Annotated[
        Path | None, typer.Option(help="The SQLite file (default: in a new temp dir).")
    ] = None,
    duration_s: float | None = typer.Option(
        None, help="Stop after this many wall seconds (default: at the simulation's end)."
    ),
    console: bool = typer.Option(
        False, "--console", help="No server: replay through the engine and print alerts."
    ),
    quiet: bool = typer.Option(False, help="--console: print only the summary."),
) -> None:
    """Run tagwatch on a simulated population around Hertfordshire (URL and login printed)."""
    if console:
        console_demo(subjects, days, seed, quiet=quiet)
        return
    try:
        result = run_server_demo(
            subjects,
            days,
            seed,
            speedup,
            port,
            osmand_port,
            db,
            duration_s=duration_s,
            echo=typer.echo,
        )
    except FileExistsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if result.exit_code != 0:  # the server did not start, or did not stop cleanly
        raise typer.Exit(1)


def console_demo(subjects: int, days: int, seed: int, *, quiet: bool = False) -> None:
    """Replay the simulation through the engine here, printing alerts in simulated time."""
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
