"""`tagwatch bench ...`: measured, never asserted; compare against a baseline in the same run."""

from __future__ import annotations

import typer

from tagwatch.bench.engine import engine_command
from tagwatch.bench.gateway import gateway_command
from tagwatch.bench.ingest import ingest_command
from tagwatch.bench.trail import trail_command

bench_app = typer.Typer(help="Benchmarks; each prints a JSON summary as its last line.")
bench_app.command("engine")(engine_command)
bench_app.command("gateway")(gateway_command)
bench_app.command("ingest")(ingest_command)
bench_app.command("trail")(trail_command)
