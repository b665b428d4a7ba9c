"""The PostgreSQL/PostGIS store: every repository of the contract over one database.

    store = PostgresStore("postgresql://tagwatch@db.example/tagwatch")
    store.open()                      # pool, migrations, partitions ahead
    with store.transaction() as tx:   # commit or roll back as a whole
        tx.fixes.add_fixes(fixes)
        tx.episodes.upsert_episodes(episodes)

The same unit-of-work semantics as the SQLite store (tagwatch.store.contract): each
repository call outside a transaction is its own transaction; inside `transaction()` every
call on this thread joins it, nested transactions are savepoints, and `snapshot()` is a
consistent read-only view.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from tagwatch.domain.rules import EngineSettings, RuleBook
from tagwatch.store.contract import Store, UnitOfWork
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.postgres.alerts import PostgresAlertHistory, PostgresAlerts
from tagwatch.store.postgres.audit import PostgresAudit
from tagwatch.store.postgres.commands import PostgresCommands
from tagwatch.store.postgres.database import Database
from tagwatch.store.postgres.events import PostgresDeviceEvents, PostgresEpisodes
from tagwatch.store.postgres.fixes import PostgresFixes
from tagwatch.store.postgres.holds import PostgresHolds, PostgresRetention
from tagwatch.store.postgres.organisations import PostgresGrants, PostgresOrganisations
from tagwatch.store.postgres.partitions import FixPartitions
from tagwatch.store.postgres.people import (
    PostgresAssignments,
    PostgresDevices,
    PostgresOrders,
    PostgresSubjects,
)
from tagwatch.store.postgres.requirements import (
    PostgresAppointments,
    PostgresCurfews,
    PostgresZones,
)
from tagwatch.store.postgres.signins import PostgresDeviceKeys, PostgresSignIns
from tagwatch.store.postgres.users import PostgresUsers
from tagwatch.store.rulebook import build_rule_book

DAYS_AHEAD = 2  # partitions made on open: today and the next days


class PostgresStore:
    """Repositories route by thread: inside `transaction()` they use its connection."""

    def __init__(
        self,
        url: str,
        *,
        hasher: SecretHasher | None = None,
        pool_size: int = 10,
        timeout_s: float = 30.0,
    ) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        hasher = hasher if hasher is not None else SecretHasher()
        self._db = Database(url, pool_size=pool_size, timeout_s=timeout_s)
        self._partitions = FixPartitions(self._db)
        self.subjects = PostgresSubjects(self._db)
        self.devices = PostgresDevices(self._db, hasher)
        self.assignments = PostgresAssignments(self._db)
        self.orders = PostgresOrders(self._db)
        self.zones = PostgresZones(self._db)
        self.curfews = PostgresCurfews(self._db)
        self.appointments = PostgresAppointments(self._db)
        self.fixes = PostgresFixes(self._db, self._partitions)
        self.device_events = PostgresDeviceEvents(self._db)
        self.episodes = PostgresEpisodes(self._db)
        self.alerts = PostgresAlerts(self._db)
        self.alert_history = PostgresAlertHistory(self._db)
        self.users = PostgresUsers(self._db, hasher)
        self.organisations = PostgresOrganisations(self._db)
        self.grants = PostgresGrants(self._db)
        self.sign_ins = PostgresSignIns(self._db)
        self.device_keys = PostgresDeviceKeys(self._db, hasher)
        self.audit = PostgresAudit(self._db)
        self.holds = PostgresHolds(self._db)
        self.retention = PostgresRetention(self._db, self._partitions)
        self.commands = PostgresCommands(self._db)

    @property
    def url(self) -> str:
        return self._db.url

    def open(self) -> None:
        if self._db.is_open:
            return
        self._db.open()
        today = datetime.now(UTC).date()
        self._partitions.ensure((today + timedelta(days=n) for n in range(DAYS_AHEAD + 1)), None)

    def close(self) -> None:
        self._partitions.close()
        self._db.close()

    def __enter__(self) -> PostgresStore:
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

    def rule_book(self, at: datetime, *, settings: EngineSettings | None = None) -> RuleBook:
        with self._db.snapshot():
            return build_rule_book(self, at, settings)


def _conforms(store: PostgresStore) -> Store:
    return store  # mypy checks here that PostgresStore implements the whole contract
