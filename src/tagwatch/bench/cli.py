"""`tagwatch bench ...`: measured, never asserted; compare against a baseline in the same run."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks; each prints a JSON summary as its last line.")
