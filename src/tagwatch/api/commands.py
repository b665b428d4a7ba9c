"""The `tagwatch serve`, `tagwatch user add` and `tagwatch import` commands.

Settings come from the environment (tagwatch.service.config, tagwatch.api.settings);
options given here win over it.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tagwatch.api.imports import IMPORTERS, ImportFileError
from tagwatch.api.settings import ApiSettings
from tagwatch.server import ServeOptions, serve
from tagwatch.service.admin import AdminService
from tagwatch.service.clock import SystemClock
from tagwatch.service.config import Config
from tagwatch.store import ConflictError, MissingReferenceError, Store, create_store
from tagwatch.store.records import UserRole

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="The SQLite database file (default: $TAGWATCH_DB or ./tagwatch.db)."),
]


def _config(db: Path | None) -> Config:
    config = Config.from_env()
    return config if db is None else dataclasses.replace(config, db_path=db, store_url="")


def _store(db: Path | None) -> Store:
    store = create_store(_config(db).effective_store_url)
    store.open()
    return store


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="API address (default $TAGWATCH_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="API port (default $TAGWATCH_PORT or 8080).", min=0)
    ] = None,
    osmand_host: Annotated[
        str | None,
        typer.Option(help="OsmAnd listener address (default 127.0.0.1; 0.0.0.0 for devices)."),
    ] = None,
    osmand_port: Annotated[
        int | None, typer.Option(help="OsmAnd listener port (default 5055).", min=0)
    ] = None,
    teltonika_host: Annotated[
        str | None,
        typer.Option(help="Teltonika gateway address (default 127.0.0.1; 0.0.0.0 for devices)."),
    ] = None,
    teltonika_port: Annotated[
        int | None, typer.Option(help="Teltonika gateway TCP port (default 5027; 0: off).", min=0)
    ] = None,
    db: DbOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the API (docs at /docs), the OsmAnd listener and the monitor until stopped."""
    settings = ApiSettings.from_env()
    settings = dataclasses.replace(
        settings,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        osmand_host=settings.osmand_host if osmand_host is None else osmand_host,
        osmand_port=settings.osmand_port if osmand_port is None else osmand_port,
        teltonika_host=settings.teltonika_host if teltonika_host is None else teltonika_host,
        teltonika_port=settings.teltonika_port if teltonika_port is None else teltonika_port,
    )
    raise typer.Exit(serve(_config(db), settings, ServeOptions(log_level=log_level)))


user_app = typer.Typer(help="People who sign in.", no_args_is_help=True)


@user_app.command("add")
def user_add_command(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[
        str,
        typer.Option(
            help="admin, monitoring_operator (or operator), police_officer, probation_officer,"
            " auditor or viewer (README: who can see what)."
        ),
    ] = UserRole.VIEWER.value,
    organisation: Annotated[
        str | None,
        typer.Option(help="Their organisation's id (default: the administrators, 'default')."),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="The password (asked for, hidden, if not given).", show_default=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add a user (the first one is usually an admin: --role admin)."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _store(db)
    try:
        admin = AdminService(store, SystemClock())
        user = admin.create_user(username, password, UserRole(role), organisation_id=organisation)
    except (ConflictError, MissingReferenceError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"added {user.username} ({user.role.value}) to {user.organisation_id}")


class ImportKind(StrEnum):
    SUBJECTS = "subjects"
    ORDERS = "orders"
    ZONES = "zones"


def import_command(
    kind: Annotated[ImportKind, typer.Argument(help="What the file holds.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (subjects, orders) or GeoJSON (zones).", exists=True, dir_okay=False
        ),
    ],
    db: DbOption = None,
) -> None:
    """Import subjects or orders from CSV, zones from a GeoJSON FeatureCollection.

    Subjects: id,name,risk_level,reference. Orders: id,subject_id,order_type,start,end,
    time_zone,reference,conditions (times ISO 8601 with a zone, conditions split by ';').
    Zones: Features as POST /api/v1/zones takes them. Existing ids are updated.
    """
    importer = IMPORTERS[kind.value]
    store = _store(db)
    try:
        records = importer.read(file)
        with store.transaction() as tx:
            result = importer.save(AdminService(tx, SystemClock()), tx, records)
    except (ImportFileError, MissingReferenceError, ConflictError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"{kind.value}: {result.created} created, {result.updated} updated")
