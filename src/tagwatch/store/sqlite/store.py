"""The SQLite store: every repository of the contract over one database file.

    store = SqliteStore("tagwatch.db")
    store.open()                      # WAL, migrations
    with store.transaction() as tx:   # one writer; commit or roll back as a whole
        tx.fixes.add_fixes(fixes)
        tx.episodes.upsert_episodes(episodes)

The SQLite inbox of the log lives in the same file; inside `transaction()` its adapter
writes through `write_connection()`, so inbox marks commit atomically with the batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tagwatch.domain.rules import EngineSettings, RuleBook
from tagwatch.store.contract import Store, UnitOfWork
from tagwatch.store.errors import StoreError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.rulebook import build_rule_book
from tagwatch.store.sqlite.alerts import SqliteAlertHistory, SqliteAlerts
from tagwatch.store.sqlite.audit import SqliteAudit
from tagwatch.store.sqlite.commands import SqliteCommands
from tagwatch.store.sqlite.database import Database
from tagwatch.store.sqlite.device_keys import SqliteDeviceKeys
from tagwatch.store.sqlite.events import SqliteDeviceEvents, SqliteEpisodes
from tagwatch.store.sqlite.fixes import SqliteFixes
from tagwatch.store.sqlite.grants import SqliteGrants
from tagwatch.store.sqlite.holds import SqliteHolds
from tagwatch.store.sqlite.organisations import SqliteOrganisations
from tagwatch.store.sqlite.people import (
    SqliteAssignments,
    SqliteDevices,
    SqliteOrders,
    SqliteSubjects,
)
from tagwatch.store.sqlite.requirements import SqliteAppointments, SqliteCurfews, SqliteZones
from tagwatch.store.sqlite.retention import SqliteRetention
from tagwatch.store.sqlite.signins import SqliteSignIns
from tagwatch.store.sqlite.users import SqliteUsers


class SqliteStore:
    """Repositories route by thread: inside `transaction()` they use the writer."""

    def __init__(
        self,
        path: str | Path,
        *,
        hasher: SecretHasher | None = None,
        busy_timeout_s: float = 30.0,
    ) -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError("the SQLite store needs a file path (readers share it with WAL)")
        hasher = hasher if hasher is not None else SecretHasher()
        self._db = Database(path, busy_timeout_s=busy_timeout_s)
        self.subjects = SqliteSubjects(self._db)
        self.devices = SqliteDevices(self._db, hasher)
        self.assignments = SqliteAssignments(self._db)
        self.orders = SqliteOrders(self._db)
        self.zones = SqliteZones(self._db)
        self.curfews = SqliteCurfews(self._db)
        self.appointments = SqliteAppointments(self._db)
        self.fixes = SqliteFixes(self._db)
        self.device_events = SqliteDeviceEvents(self._db)
        self.episodes = SqliteEpisodes(self._db)
        self.alerts = SqliteAlerts(self._db)
        self.alert_history = SqliteAlertHistory(self._db)
        self.users = SqliteUsers(self._db, hasher)
        self.audit = SqliteAudit(self._db)
        self.holds = SqliteHolds(self._db)
        self.retention = SqliteRetention(self._db)
        self.commands = SqliteCommands(self._db)
        self.organisations = SqliteOrganisations(self._db)
        self.grants = SqliteGrants(self._db)
        self.sign_ins = SqliteSignIns(self._db)
        self.device_keys = SqliteDeviceKeys(self._db, hasher)

    @property
    def path(self) -> Path:
        return self._db.path

    def open(self) -> None:
        self._db.open()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStore:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self._db.schema_version

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        with self._db.transaction():
            yield self

    @contextmanager
    def snapshot(self) -> Iterator[UnitOfWork]:
        with self._db.snapshot():
            yield self

    def write_connection(self) -> sqlite3.Connection:
        """The writer, for adapters sharing this file (the log's inbox), inside transaction()."""
        if not self._db.in_transaction:
            raise StoreError("write_connection() is only for use inside store.transaction()")
        return self._db.writer

    def rule_book(self, at: datetime, *, settings: EngineSettings | None = None) -> RuleBook:
        with self._db.snapshot():
            return build_rule_book(self, at, settings)


def _conforms(store: SqliteStore) -> Store:
    return store  # mypy checks here that SqliteStore implements the whole contract
