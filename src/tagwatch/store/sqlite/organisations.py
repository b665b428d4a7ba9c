"""Organisations, and which organisation manages each subject, in SQLite.

The managing organisation is a column of `subjects` (kept valid by triggers, see the
organisations migration); `save_subject` leaves it alone, so a subject created without one
belongs to the default organisation until `set_subject_organisation` moves it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from tagwatch.store.errors import ConflictError, MissingReferenceError
from tagwatch.store.records import Organisation, OrganisationKind
from tagwatch.store.sqlite.columns import from_us, placeholders, to_us
from tagwatch.store.sqlite.database import Database

_COLUMNS = "id, name, kind, created_at_us"


def _organisation(row: Any) -> Organisation:
    return Organisation(row[0], row[1], OrganisationKind(row[2]), from_us(row[3]))


class SqliteOrganisations:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_organisation(
        self, organisation_id: str, name: str, kind: OrganisationKind, *, now: datetime
    ) -> Organisation:
        if not organisation_id:
            raise ValueError("an organisation id must not be empty")
        created = Organisation(organisation_id, name, OrganisationKind(kind), now)
        with self._db.transaction() as conn:
            taken = conn.execute(
                "SELECT 1 FROM organisations WHERE id = ?", (organisation_id,)
            ).fetchone()
            if taken:
                raise ConflictError(f"organisation {organisation_id!r} already exists")
            conn.execute(
                f"INSERT INTO organisations ({_COLUMNS}) VALUES (?, ?, ?, ?)",  # noqa: S608
                (created.id, created.name, created.kind.value, to_us(now)),
            )
        return Organisation(created.id, created.name, created.kind, from_us(to_us(now)))

    def rename_organisation(self, organisation_id: str, name: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE organisations SET name = ? WHERE id = ?", (name, organisation_id)
            )
            return cursor.rowcount > 0

    def get_organisation(self, organisation_id: str) -> Organisation | None:
        row = (
            self._db.read()
            .execute(
                f"SELECT {_COLUMNS} FROM organisations WHERE id = ?",  # noqa: S608
                (organisation_id,),
            )
            .fetchone()
        )
        return None if row is None else _organisation(row)

    def list_organisations(self) -> list[Organisation]:
        rows = self._db.read().execute(
            f"SELECT {_COLUMNS} FROM organisations ORDER BY id"  # noqa: S608
        )
        return [_organisation(r) for r in rows]

    def set_subject_organisation(self, subject_id: str, organisation_id: str) -> None:
        """MissingReferenceError names the subject or organisation that is missing."""
        with self._db.transaction() as conn:
            found = conn.execute("SELECT 1 FROM organisations WHERE id = ?", (organisation_id,))
            if found.fetchone() is None:
                raise MissingReferenceError(f"no organisation {organisation_id!r}")
            cursor = conn.execute(
                "UPDATE subjects SET organisation_id = ? WHERE id = ?",
                (organisation_id, subject_id),
            )
            if cursor.rowcount == 0:
                raise MissingReferenceError(f"no subject {subject_id!r}")

    def subject_organisation(self, subject_id: str) -> str | None:
        row = (
            self._db.read()
            .execute("SELECT organisation_id FROM subjects WHERE id = ?", (subject_id,))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def subject_organisations(self, subject_ids: Collection[str] | None = None) -> dict[str, str]:
        """Subject id -> managing organisation id (of every subject if None)."""
        if subject_ids is None:
            rows = self._db.read().execute("SELECT id, organisation_id FROM subjects")
            return {r[0]: r[1] for r in rows}
        wanted = list(dict.fromkeys(subject_ids))
        found: dict[str, str] = {}
        for at in range(0, len(wanted), 500):  # SQLite limits the number of parameters
            chunk = wanted[at : at + 500]
            rows = self._db.read().execute(
                "SELECT id, organisation_id FROM subjects"  # noqa: S608
                f" WHERE id IN ({placeholders(len(chunk))})",
                chunk,
            )
            found.update({r[0]: r[1] for r in rows})
        return found

    def managed_subjects(self, organisation_id: str) -> list[str]:
        """Ids of the subjects the organisation manages, ordered."""
        rows = self._db.read().execute(
            "SELECT id FROM subjects WHERE organisation_id = ? ORDER BY id", (organisation_id,)
        )
        return [r[0] for r in rows]
