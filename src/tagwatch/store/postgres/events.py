"""Device events and violation episodes in PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind
from tagwatch.store.postgres.database import (
    Database,
    instant,
    opt_instant,
    opt_whole_ms,
    whole_ms,
)


class PostgresDeviceEvents:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_device_events(self, events: Iterable[DeviceEvent]) -> int:
        rows = [
            (e.device_id, whole_ms(e.time), e.kind.value, e.value, opt_whole_ms(e.received_at))
            for e in events
        ]
        if not rows:
            return 0
        # One statement for the batch; duplicates within it are dropped by ON CONFLICT too,
        # the first one winning (ORDER BY its place in the batch).
        with self._db.transaction() as conn:
            row = conn.execute(
                "WITH batch AS (SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[],"
                " %s::float8[], %s::timestamptz[]) WITH ORDINALITY"
                " AS b (device_id, time, kind, value, received_at, n)),"
                " ins AS (INSERT INTO device_events (device_id, time, kind, value, received_at)"
                " SELECT device_id, time, kind, value, received_at FROM batch ORDER BY n"
                " ON CONFLICT (device_id, time, kind) DO NOTHING RETURNING 1)"
                " SELECT count(*) FROM ins",
                [list(column) for column in zip(*rows, strict=True)],
            ).fetchone()
        return int(row[0]) if row else 0

    def list_device_events(
        self,
        *,
        start: datetime,
        end: datetime,
        device_ids: Sequence[str] | None = None,
        kinds: Collection[DeviceEventKind] | None = None,
        limit: int | None = None,
    ) -> list[DeviceEvent]:
        where = ["time BETWEEN %s AND %s"]
        args: list[Any] = [instant(start), instant(end)]
        if device_ids is not None:
            where.append("device_id = ANY(%s)")
            args.append(list(device_ids))
        if kinds is not None:
            where.append("kind = ANY(%s)")
            args.append([DeviceEventKind(k).value for k in kinds])
        cap = ""
        if limit is not None:
            cap = " LIMIT %s"
            args.append(int(limit))
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT device_id, time, kind, value, received_at FROM device_events"  # noqa: S608
                f" WHERE {' AND '.join(where)} ORDER BY time, device_id, kind{cap}",
                args,
            ).fetchall()
        return [DeviceEvent(r[0], r[1], DeviceEventKind(r[2]), r[3], r[4]) for r in rows]

    def count_device_events(self) -> int:
        with self._db.read() as conn:
            row = conn.execute("SELECT count(*) FROM device_events").fetchone()
        return int(row[0]) if row else 0


_EPISODE_COLUMNS = (
    "id, device_id, subject_id, rule, requirement_id, start_at, end_at, confirmed_at,"
    " deepest_penetration_m, confidence, evidence"
)


def _episode_values(e: Episode) -> tuple[Any, ...]:
    return (
        e.id,
        e.device_id,
        e.subject_id,
        e.rule.value,
        e.requirement_id,
        instant(e.start),
        opt_instant(e.end),
        instant(e.confirmed_at),
        e.deepest_penetration_m,
        e.confidence,
        [instant(t) for t in e.evidence],
    )


def _episode(r: Sequence[Any]) -> Episode:
    return Episode(
        id=r[0],
        device_id=r[1],
        subject_id=r[2],
        rule=RuleKind(r[3]),
        requirement_id=r[4],
        start=r[5],
        end=r[6],
        confirmed_at=r[7],
        deepest_penetration_m=r[8],
        confidence=r[9],
        evidence=tuple(r[10]),
    )


class PostgresEpisodes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert_episodes(self, episodes: Iterable[Episode]) -> None:
        rows = [_episode_values(e) for e in episodes]
        if not rows:
            return
        names = [c.strip() for c in _EPISODE_COLUMNS.split(",")]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
        values = ", ".join(["%s"] * (len(names) - 1) + ["%s::timestamptz[]"])
        with self._db.transaction() as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO episodes ({_EPISODE_COLUMNS}) VALUES ({values})"  # noqa: S608
                f" ON CONFLICT (id) DO UPDATE SET {updates}, retracted_at = NULL",
                rows,
            )

    def get_episode(self, episode_id: str) -> Episode | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE id = %s",  # noqa: S608
                (episode_id,),
            ).fetchone()
        return None if row is None else _episode(row)

    def open_episodes(
        self, *, subject_id: str | None = None, device_id: str | None = None
    ) -> list[Episode]:
        where = ["end_at IS NULL", "retracted_at IS NULL"]
        return self._select(where, [], subject_id=subject_id, device_id=device_id)

    def list_episodes(
        self,
        *,
        subject_id: str | None = None,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        rules: Collection[RuleKind] | None = None,
        include_retracted: bool = False,
    ) -> list[Episode]:
        where: list[str] = []
        args: list[Any] = []
        if not include_retracted:
            where.append("retracted_at IS NULL")
        if end is not None:
            where.append("start_at <= %s")
            args.append(instant(end))
        if start is not None:
            where.append("(end_at IS NULL OR end_at >= %s)")
            args.append(instant(start))
        if rules is not None:
            where.append("rule = ANY(%s)")
            args.append([RuleKind(r).value for r in rules])
        return self._select(where, args, subject_id=subject_id, device_id=device_id)

    def _select(
        self, where: list[str], args: list[Any], *, subject_id: str | None, device_id: str | None
    ) -> list[Episode]:
        if subject_id is not None:
            where.append("subject_id = %s")
            args.append(subject_id)
        if device_id is not None:
            where.append("device_id = %s")
            args.append(device_id)
        condition = " AND ".join(where) or "true"
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE {condition}"  # noqa: S608
                " ORDER BY start_at, id",
                args,
            ).fetchall()
        return [_episode(r) for r in rows]

    def retract_episode(self, episode_id: str, *, at: datetime) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE episodes SET retracted_at = %s WHERE id = %s", (instant(at), episode_id)
            )
            return cursor.rowcount > 0

    def episode_retracted_at(self, episode_id: str) -> datetime | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT retracted_at FROM episodes WHERE id = %s", (episode_id,)
            ).fetchone()
        return None if row is None else row[0]
