"""The `tagwatch` command. Each group lives beside the code it drives."""

from __future__ import annotations

import typer

from tagwatch.api.commands import import_command, serve_command, user_app
from tagwatch.bench.cli import bench_app
from tagwatch.bench.quality import quality_command
from tagwatch.sim.cli import simulate_command
from tagwatch.sim.demo import demo_command

app = typer.Typer(
    help="tagwatch: GPS electronic monitoring: zones, curfews, alerts and evidence.",
    no_args_is_help=True,
)
bench_app.command("quality")(quality_command)
app.add_typer(bench_app, name="bench")
app.command("simulate")(simulate_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.add_typer(user_app, name="user")
app.command("import")(import_command)


@app.callback()
def main() -> None:
    """GPS electronic monitoring: zones, curfews, alerts and evidence."""


if __name__ == "__main__":
    app()
