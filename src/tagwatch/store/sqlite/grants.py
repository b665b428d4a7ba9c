"""Sharing grants: a managing organisation lets another see one subject, for a while."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.store.errors import ConflictError, NotFoundError
from tagwatch.store.grant_rows import grant_from_row
from tagwatch.store.records import SharingGrant
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database

# In the order store.grant_rows reads them: change both together.
_COLUMNS = (
    "id, subject_id, grantee_organisation_id, granted_by, valid_from_us, valid_until_us,"
    " reason, created_at_us, revoked_at_us"
)


class SqliteGrants:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_grant(self, grant: SharingGrant) -> SharingGrant:
        """ConflictError for a taken id; MissingReferenceError for an unknown subject or
        organisation; ValueError if it ends before it starts."""
        start, end = to_us(grant.valid_from), to_us(grant.valid_until)
        if end <= start:
            raise ValueError("a sharing grant must end after it starts")
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM sharing_grants WHERE id = ?", (grant.id,)).fetchone():
                raise ConflictError(f"sharing grant {grant.id!r} already exists")
            conn.execute(
                f"INSERT INTO sharing_grants ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    grant.id,
                    grant.subject_id,
                    grant.grantee_organisation_id,
                    grant.granted_by,
                    start,
                    end,
                    grant.reason,
                    to_us(grant.created_at),
                    None if grant.revoked_at is None else to_us(grant.revoked_at),
                ),
            )
        found = self.get_grant(grant.id)
        assert found is not None  # noqa: S101 - just written in this thread
        return found

    def get_grant(self, grant_id: str) -> SharingGrant | None:
        row = (
            self._db.read()
            .execute(f"SELECT {_COLUMNS} FROM sharing_grants WHERE id = ?", (grant_id,))  # noqa: S608
            .fetchone()
        )
        return None if row is None else grant_from_row(row, from_us)

    def list_grants(
        self,
        *,
        subject_id: str | None = None,
        grantee_organisation_id: str | None = None,
        active_at: datetime | None = None,
    ) -> list[SharingGrant]:
        """Filtered by whichever are given; ordered by (valid_from, id)."""
        where, args = ["1"], list[Any]()
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        if grantee_organisation_id is not None:
            where.append("grantee_organisation_id = ?")
            args.append(grantee_organisation_id)
        if active_at is not None:
            moment = to_us(active_at)
            where.append(
                "valid_from_us <= ? AND valid_until_us > ?"
                " AND (revoked_at_us IS NULL OR revoked_at_us > ?)"
            )
            args += [moment, moment, moment]
        rows = self._db.read().execute(
            f"SELECT {_COLUMNS} FROM sharing_grants WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY valid_from_us, id",
            args,
        )
        return [grant_from_row(r, from_us) for r in rows]

    def granted_subjects(self, organisation_id: str, at: datetime) -> set[str]:
        """The subjects an active grant lets the organisation see at `at`."""
        return {
            grant.subject_id
            for grant in self.list_grants(grantee_organisation_id=organisation_id, active_at=at)
        }

    def revoke_grant(self, grant_id: str, *, at: datetime) -> SharingGrant:
        """End the grant at `at` (revoking twice keeps the first revocation)."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sharing_grants SET revoked_at_us = coalesce(revoked_at_us, ?) WHERE id = ?",
                (to_us(at), grant_id),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no sharing grant {grant_id!r}")
        found = self.get_grant(grant_id)
        assert found is not None  # noqa: S101 - just written in this thread
        return found
