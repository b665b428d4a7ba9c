"""Organisations, which organisation manages each subject, and sharing grants, in PostgreSQL.

The managing organisation is a column of `subjects` with a foreign key; `save_subject`
leaves it alone, so a new subject belongs to the default organisation until
`set_subject_organisation` moves it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from tagwatch.store.errors import ConflictError, MissingReferenceError, NotFoundError, StoreError
from tagwatch.store.grant_rows import grant_from_row
from tagwatch.store.postgres.database import Database, as_read, instant, opt_instant
from tagwatch.store.records import Organisation, OrganisationKind, SharingGrant

_COLUMNS = "id, name, kind, created_at"


def _organisation(row: Any) -> Organisation:
    return Organisation(row[0], row[1], OrganisationKind(row[2]), row[3])


class PostgresOrganisations:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_organisation(
        self, organisation_id: str, name: str, kind: OrganisationKind, *, now: datetime
    ) -> Organisation:
        if not organisation_id:
            raise ValueError("an organisation id must not be empty")
        created = Organisation(organisation_id, name, OrganisationKind(kind), instant(now))
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO organisations ({_COLUMNS}) VALUES (%s, %s, %s, %s)"  # noqa: S608
                " ON CONFLICT (id) DO NOTHING",
                (created.id, created.name, created.kind.value, created.created_at),
            )
            if cursor.rowcount == 0:
                raise ConflictError(f"organisation {organisation_id!r} already exists")
        return created

    def rename_organisation(self, organisation_id: str, name: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE organisations SET name = %s WHERE id = %s", (name, organisation_id)
            )
            return cursor.rowcount > 0

    def get_organisation(self, organisation_id: str) -> Organisation | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM organisations WHERE id = %s",  # noqa: S608
                (organisation_id,),
            ).fetchone()
        return None if row is None else _organisation(row)

    def list_organisations(self) -> list[Organisation]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM organisations ORDER BY id"  # noqa: S608
            ).fetchall()
        return [_organisation(r) for r in rows]

    def set_subject_organisation(self, subject_id: str, organisation_id: str) -> None:
        with self._db.transaction() as conn:
            found = conn.execute("SELECT 1 FROM organisations WHERE id = %s", (organisation_id,))
            if found.fetchone() is None:
                raise MissingReferenceError(f"no organisation {organisation_id!r}")
            cursor = conn.execute(
                "UPDATE subjects SET organisation_id = %s WHERE id = %s",
                (organisation_id, subject_id),
            )
            if cursor.rowcount == 0:
                raise MissingReferenceError(f"no subject {subject_id!r}")

    def subject_organisation(self, subject_id: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT organisation_id FROM subjects WHERE id = %s", (subject_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def subject_organisations(self, subject_ids: Collection[str] | None = None) -> dict[str, str]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id, organisation_id FROM subjects"
                " WHERE %(ids)s::text[] IS NULL OR id = ANY(%(ids)s)",
                {"ids": None if subject_ids is None else list(dict.fromkeys(subject_ids))},
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def managed_subjects(self, organisation_id: str) -> list[str]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM subjects WHERE organisation_id = %s ORDER BY id",
                (organisation_id,),
            ).fetchall()
        return [r[0] for r in rows]


# In the order store.grant_rows reads them: change both together.
_GRANT_COLUMNS = (
    "id, subject_id, grantee_organisation_id, granted_by, valid_from, valid_until,"
    " reason, created_at, revoked_at"
)


class PostgresGrants:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_grant(self, grant: SharingGrant) -> SharingGrant:
        start, end = instant(grant.valid_from), instant(grant.valid_until)
        if end <= start:
            raise ValueError("a sharing grant must end after it starts")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO sharing_grants ({_GRANT_COLUMNS})"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (
                    grant.id,
                    grant.subject_id,
                    grant.grantee_organisation_id,
                    grant.granted_by,
                    start,
                    end,
                    grant.reason,
                    instant(grant.created_at),
                    opt_instant(grant.revoked_at),
                ),
            )
            if cursor.rowcount == 0:
                raise ConflictError(f"sharing grant {grant.id!r} already exists")
            found = self.get_grant(grant.id)
        if found is None:
            raise StoreError(f"sharing grant {grant.id!r} vanished while it was written")
        return found

    def get_grant(self, grant_id: str) -> SharingGrant | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_GRANT_COLUMNS} FROM sharing_grants WHERE id = %s",  # noqa: S608
                (grant_id,),
            ).fetchone()
        return None if row is None else grant_from_row(row, as_read)

    def list_grants(
        self,
        *,
        subject_id: str | None = None,
        grantee_organisation_id: str | None = None,
        active_at: datetime | None = None,
    ) -> list[SharingGrant]:
        where, args = ["true"], list[Any]()
        if subject_id is not None:
            where.append("subject_id = %s")
            args.append(subject_id)
        if grantee_organisation_id is not None:
            where.append("grantee_organisation_id = %s")
            args.append(grantee_organisation_id)
        if active_at is not None:
            moment = instant(active_at)
            where.append(
                "valid_from <= %s AND valid_until > %s AND (revoked_at IS NULL OR revoked_at > %s)"
            )
            args += [moment, moment, moment]
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_GRANT_COLUMNS} FROM sharing_grants WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY valid_from, id",
                args,
            ).fetchall()
        return [grant_from_row(r, as_read) for r in rows]

    def granted_subjects(self, organisation_id: str, at: datetime) -> set[str]:
        return {
            grant.subject_id
            for grant in self.list_grants(grantee_organisation_id=organisation_id, active_at=at)
        }

    def revoke_grant(self, grant_id: str, *, at: datetime) -> SharingGrant:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sharing_grants SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s",
                (instant(at), grant_id),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no sharing grant {grant_id!r}")
            found = self.get_grant(grant_id)
        if found is None:
            raise NotFoundError(f"no sharing grant {grant_id!r}")
        return found
