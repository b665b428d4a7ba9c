"""`tagwatch organisation add|list` and `tagwatch device rotate-key`: what an operator of the
server does at the console, acting as `Principal.console()` (audited with source "cli")."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from tagwatch.api.commands import DbOption, _store
from tagwatch.service.admin import DEFAULT_ROTATION_GRACE, AdminService
from tagwatch.service.clock import SystemClock
from tagwatch.store import ConflictError, NotFoundError
from tagwatch.store.records import OrganisationKind

organisation_app = typer.Typer(
    help="Police forces, probation regions, the monitoring centre, administrators.",
    no_args_is_help=True,
)
device_app = typer.Typer(help="Device credentials.", no_args_is_help=True)


@organisation_app.command("add")
def organisation_add_command(
    organisation_id: Annotated[str, typer.Argument(help="A short id, e.g. herts-police.")],
    name: Annotated[str, typer.Argument(help="The name people see.")],
    kind: Annotated[OrganisationKind, typer.Option(help="What sort of organisation.")],
    db: DbOption = None,
) -> None:
    """Add an organisation (then: tagwatch user add NAME --organisation ID)."""
    store = _store(db)
    try:
        AdminService(store, SystemClock()).create_organisation(organisation_id, name, kind)
    except (ConflictError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"added {organisation_id} ({kind.value})")


@organisation_app.command("list")
def organisation_list_command(db: DbOption = None) -> None:
    """Every organisation: id, kind, name."""
    store = _store(db)
    try:
        for organisation in store.organisations.list_organisations():
            typer.echo(f"{organisation.id}\t{organisation.kind.value}\t{organisation.name}")
    finally:
        store.close()


@device_app.command("rotate-key")
def rotate_key_command(
    device_id: Annotated[str, typer.Argument(help="The device whose secret to replace.")],
    grace_days: Annotated[
        float,
        typer.Option(help="How long the old secret keeps working.", min=0, max=90),
    ] = DEFAULT_ROTATION_GRACE.days,
    db: DbOption = None,
) -> None:
    """Generate a new secret for the device (printed once); the old one works for the grace
    period, so the tag can be reconfigured without losing reports."""
    store = _store(db)
    try:
        admin = AdminService(store, SystemClock())
        secret, until = admin.rotate_device_secret(device_id, grace=timedelta(days=grace_days))
    except (NotFoundError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(secret)
    typer.echo(f"the old secret works until {until.isoformat()}", err=True)
