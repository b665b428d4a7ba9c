"""Device events and violation episodes in SQLite."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind
from tagwatch.store.codec import dumps
from tagwatch.store.sqlite.columns import (
    from_ms,
    from_us,
    opt_from_ms,
    opt_from_us,
    opt_ms,
    opt_us,
    placeholders,
    to_ms,
    to_us,
)
from tagwatch.store.sqlite.database import Database


class SqliteDeviceEvents:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_device_events(self, events: Iterable[DeviceEvent]) -> int:
        rows = [
            (e.device_id, to_ms(e.time), e.kind.value, e.value, opt_ms(e.received_at))
            for e in events
        ]
        if not rows:
            return 0
        with self._db.transaction() as conn:
            return conn.executemany(
                "INSERT INTO device_events (device_id, time_ms, kind, value, received_at_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, time_ms, kind) DO NOTHING",
                rows,
            ).rowcount

    def list_device_events(
        self,
        *,
        start: datetime,
        end: datetime,
        device_ids: Sequence[str] | None = None,
        kinds: Collection[DeviceEventKind] | None = None,
        limit: int | None = None,
    ) -> list[DeviceEvent]:
        where = ["time_ms BETWEEN ? AND ?"]
        args: list[Any] = [-(-to_us(start) // 1000), to_ms(end)]
        if device_ids is not None:
            where.append(f"device_id IN ({placeholders(len(device_ids))})")
            args += list(device_ids)
        if kinds is not None:
            where.append(f"kind IN ({placeholders(len(kinds))})")
            args += [DeviceEventKind(k).value for k in kinds]
        cap = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self._db.read().execute(
            "SELECT device_id, time_ms, kind, value, received_at_ms FROM device_events"  # noqa: S608
            f" WHERE {' AND '.join(where)} ORDER BY time_ms, device_id, kind{cap}",
            args,
        )
        return [
            DeviceEvent(r[0], from_ms(r[1]), DeviceEventKind(r[2]), r[3], opt_from_ms(r[4]))
            for r in rows
        ]

    def count_device_events(self) -> int:
        return int(self._db.read().execute("SELECT count(*) FROM device_events").fetchone()[0])


_EPISODE_COLUMNS = (
    "id, device_id, subject_id, rule, requirement_id, start_us, end_us, confirmed_at_us,"
    " deepest_penetration_m, confidence, evidence_json"
)


def _episode_values(e: Episode) -> tuple[Any, ...]:
    return (
        e.id,
        e.device_id,
        e.subject_id,
        e.rule.value,
        e.requirement_id,
        to_us(e.start),
        opt_us(e.end),
        to_us(e.confirmed_at),
        e.deepest_penetration_m,
        e.confidence,
        dumps([to_us(t) for t in e.evidence]),
    )


def _episode(r: Sequence[Any]) -> Episode:
    return Episode(
        id=r[0],
        device_id=r[1],
        subject_id=r[2],
        rule=RuleKind(r[3]),
        requirement_id=r[4],
        start=from_us(r[5]),
        end=opt_from_us(r[6]),
        confirmed_at=from_us(r[7]),
        deepest_penetration_m=r[8],
        confidence=r[9],
        evidence=tuple(from_us(t) for t in json.loads(r[10])),
    )


class SqliteEpisodes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert_episodes(self, episodes: Iterable[Episode]) -> None:
        rows = [_episode_values(e) for e in episodes]
        if not rows:
            return
        names = [c.strip() for c in _EPISODE_COLUMNS.split(",")]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
        with self._db.transaction() as conn:
            conn.executemany(
                f"INSERT INTO episodes ({_EPISODE_COLUMNS}) VALUES ({placeholders(len(names))})"  # noqa: S608
                f" ON CONFLICT (id) DO UPDATE SET {updates}, retracted_at_us = NULL",
                rows,
            )

    def get_episode(self, episode_id: str) -> Episode | None:
        row = (
            self._db.read()
            .execute(
                f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE id = ?",  # noqa: S608
                (episode_id,),
            )
            .fetchone()
        )
        return None if row is None else _episode(row)

    def open_episodes(
        self, *, subject_id: str | None = None, device_id: str | None = None
    ) -> list[Episode]:
        where = ["end_us IS NULL", "retracted_at_us IS NULL"]
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
            where.append("retracted_at_us IS NULL")
        if end is not None:
            where.append("start_us <= ?")
            args.append(to_us(end))
        if start is not None:
            where.append("(end_us IS NULL OR end_us >= ?)")
            args.append(to_us(start))
        if rules is not None:
            where.append(f"rule IN ({placeholders(len(rules))})")
            args += [RuleKind(r).value for r in rules]
        return self._select(where, args, subject_id=subject_id, device_id=device_id)

    def _select(
        self, where: list[str], args: list[Any], *, subject_id: str | None, device_id: str | None
    ) -> list[Episode]:
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        condition = " AND ".join(where) or "1"
        rows = self._db.read().execute(
            f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE {condition}"  # noqa: S608
            " ORDER BY start_us, id",
            args,
        )
        return [_episode(r) for r in rows]

    def retract_episode(self, episode_id: str, *, at: datetime) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE episodes SET retracted_at_us = ? WHERE id = ?", (to_us(at), episode_id)
            )
            return cursor.rowcount > 0

    def episode_retracted_at(self, episode_id: str) -> datetime | None:
        row = (
            self._db.read()
            .execute("SELECT retracted_at_us FROM episodes WHERE id = ?", (episode_id,))
            .fetchone()
        )
        return None if row is None else opt_from_us(row[0])
