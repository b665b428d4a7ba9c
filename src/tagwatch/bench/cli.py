"""`tagwatch bench ...`: measured, never asserted; compare against a baseline in the same run."""

from __future__ import annotations

import typer

from tagwatch.bench.engine import engine_command

bench_app = typer.Typer(help="Benchmarks; each prints a JSON summary as its last line.")
bench_app.command("engine")(engine_command)
