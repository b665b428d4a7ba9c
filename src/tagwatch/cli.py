"""The `tagwatch` command. Each group lives beside the code it drives."""

from __future__ import annotations

import typer

from tagwatch.api.access_commands import device_app, organisation_app
from tagwatch.api.audit_commands import audit_app, retention_app
from tagwatch.api.commands import import_command, serve_command, user_app
from tagwatch.bench.cli import bench_app
from tagwatch.bench.quality import quality_command
from tagwatch.monitor_process import monitor_command
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
app.command("monitor")(monitor_command)
app.add_typer(user_app, name="user")
app.add_typer(organisation_app, name="organisation")
app.add_typer(device_app, name="device")
app.command("import")(import_command)
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")


@app.callback()
def main() -> None:
    """GPS electronic monitoring: zones, curfews, alerts and evidence."""


if __name__ == "__main__":
    app()
