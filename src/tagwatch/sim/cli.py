"""`tagwatch simulate`."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from tagwatch.sim.model import Scenario
from tagwatch.sim.output import write_simulation
from tagwatch.sim.population import simulate


def simulate_command(
    subjects: Annotated[
        int, typer.Option(help="How many subjects (each with a tag) to simulate.", min=1)
    ] = 200,
    days: Annotated[int, typer.Option(help="How many local days to simulate.", min=1)] = 5,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same output.")
    ] = 7,
    out: Annotated[
        Path, typer.Option(help="Directory to write fixes, events, truth and zones into.")
    ] = Path("out/sim"),
) -> None:
    """Simulate tagged subjects around Hertfordshire, with ground truth, and write files."""
    began = time.perf_counter()
    sim = simulate(Scenario(seed=seed, subjects=subjects, days=days))
    generated = time.perf_counter() - began
    counts = write_simulation(sim, out)
    rules = Counter(v.rule.value for v in sim.truth)
    typer.echo(
        f"{subjects} subjects x {days} days ({sim.scenario.start:%Y-%m-%d %H:%M} UTC "
        f"to {sim.end:%Y-%m-%d %H:%M} UTC), seed {seed}: generated in {generated:.1f} s"
    )
    typer.echo(
        f"{len(sim.fixes):,} fixes, {len(sim.device_events):,} device events, "
        f"{len(sim.truth)} violations ({', '.join(f'{k} {n}' for k, n in sorted(rules.items()))}), "
        f"{len(sim.near_misses)} near misses"
    )
    typer.echo(f"wrote {', '.join(counts)} to {out}")
