"""Scratch PostgreSQL databases for the benchmarks: one per run part, made fresh on the
server a `postgresql://` URL names (the URL's own database is only used to connect)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def with_database(server: str, name: str) -> str:
    """The URL `server` with its database replaced by `name`."""
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def create_database(server: str, name: str, *, reuse: bool = False) -> str:
    """Make database `name` (dropped first unless `reuse`); its URL."""
    with psycopg.connect(server, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reuse:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server, name)


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
