"""Fixes in PostgreSQL/PostGIS: COPY-staged idempotent appends, trails, proximity, retention.

Layout (migrations/0001_initial.sql, partitions.py): `fixes` is range-partitioned by UTC
day on `fix_time`; every partition has the primary key (device_id, fix_time) - idempotency
and one device's trail - and a GiST index on (position, fix_time) for valid fixes - who
was near a place in a time window: the index narrows by place and time at once, and the
time bounds prune the query to the partitions of its days.

`add_fixes` COPYs the batch (binary) into a session-local staging table and moves it with
one INSERT ... SELECT ... ON CONFLICT DO NOTHING, which also advances `latest_fixes`: a
round trip per batch instead of per fix, and a duplicate (a device's retry, a replay after
a crash) is dropped by the primary key - the first fix stored for a key wins, also within
a batch (ordered by its place in the batch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import sql

from tagwatch.domain.positions import Fix, FixSource
from tagwatch.store.postgres.database import Database, instant, opt_whole_ms, whole_ms
from tagwatch.store.postgres.partitions import (
    DEFAULT_PARTITION,
    FixPartitions,
    day_bounds,
    existing_days,
    partition_name,
)
from tagwatch.store.records import NearbyFix
from tagwatch.store.sqlite.fix_layout import FixColumns  # the bulk-import columns, shared

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS fix_staging (n bigint, device_id text,"
    " fix_time timestamptz, lat float8, lon float8, accuracy_m float8, valid boolean,"
    " received_at timestamptz, device_time timestamptz, speed_mps float8, heading_deg float8,"
    " altitude_m float8, satellites integer, hdop float8, source text) ON COMMIT DELETE ROWS"
)
_IMPORT_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS fix_import_staging (device integer, fix_time_ms bigint,"
    " lat float8, lon float8, accuracy_m float8, received_at_ms bigint) ON COMMIT DELETE ROWS"
)
_IMPORT = """
WITH ins AS (
    INSERT INTO fixes (device_id, fix_time, position, accuracy_m, valid, received_at, source)
    SELECT (%(devices)s::text[])[device + 1],
        timestamptz 'epoch' + fix_time_ms * interval '1 millisecond',
        ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, accuracy_m, true,
        timestamptz 'epoch' + received_at_ms * interval '1 millisecond', 'gnss'
    FROM fix_import_staging
    ON CONFLICT (device_id, fix_time) DO NOTHING
    RETURNING device_id, fix_time
), newest AS (
    INSERT INTO latest_fixes (device_id, fix_time, valid_fix_time)
    SELECT device_id, max(fix_time), max(fix_time) FROM ins GROUP BY device_id
    ORDER BY device_id
    ON CONFLICT (device_id) DO UPDATE SET
        fix_time = greatest(latest_fixes.fix_time, excluded.fix_time),
        valid_fix_time = greatest(latest_fixes.valid_fix_time, excluded.valid_fix_time)
)
SELECT count(*) FROM ins
"""
_STAGING_COLUMNS = (
    "n, device_id, fix_time, lat, lon, accuracy_m, valid, received_at, device_time,"
    " speed_mps, heading_deg, altitude_m, satellites, hdop, source"
)
_STAGING_TYPES = [
    "int8",
    "text",
    "timestamptz",
    "float8",
    "float8",
    "float8",
    "bool",
    "timestamptz",
    "timestamptz",
    "float8",
    "float8",
    "float8",
    "int4",
    "float8",
    "text",
]
# A position is kept as geography when it is one (NaN fails BETWEEN in PostgreSQL).
_MOVE = """
WITH staged AS (
    SELECT *, (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180) AS on_map
    FROM fix_staging
), ins AS (
    INSERT INTO fixes (device_id, fix_time, position, accuracy_m, valid, received_at,
        device_time, speed_mps, heading_deg, altitude_m, satellites, hdop, source,
        off_map_lat, off_map_lon)
    SELECT DISTINCT ON (device_id, fix_time) device_id, fix_time,
        CASE WHEN on_map THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END,
        accuracy_m, valid, received_at, device_time, speed_mps, heading_deg, altitude_m,
        satellites, hdop, source,
        CASE WHEN NOT on_map THEN lat END, CASE WHEN NOT on_map THEN lon END
    FROM staged ORDER BY device_id, fix_time, n
    ON CONFLICT (device_id, fix_time) DO NOTHING
    RETURNING device_id, fix_time, valid
), newest AS (
    INSERT INTO latest_fixes (device_id, fix_time, valid_fix_time)
    SELECT device_id, max(fix_time), max(fix_time) FILTER (WHERE valid)
    FROM ins GROUP BY device_id ORDER BY device_id
    ON CONFLICT (device_id) DO UPDATE SET
        fix_time = greatest(latest_fixes.fix_time, excluded.fix_time),
        valid_fix_time = greatest(latest_fixes.valid_fix_time, excluded.valid_fix_time)
)
SELECT count(*) FROM ins
"""
COLUMNS = (
    "f.device_id, f.fix_time, ST_Y(f.position::geometry), ST_X(f.position::geometry),"
    " f.accuracy_m, f.valid, f.received_at, f.device_time, f.speed_mps, f.heading_deg,"
    " f.altitude_m, f.satellites, f.hdop, f.source, f.off_map_lat, f.off_map_lon"
)
_NEAR = f"""
SELECT {COLUMNS}, ST_Distance(f.position, %(point)s::geography, false),
    (SELECT a.subject_id FROM assignments a WHERE a.device_id = f.device_id
        AND a.start_at <= f.fix_time AND (a.end_at IS NULL OR a.end_at > f.fix_time)
        ORDER BY a.start_at DESC LIMIT 1)
FROM fixes f
WHERE f.valid AND f.fix_time BETWEEN %(start)s AND %(end)s
    AND ST_DWithin(f.position, %(point)s::geography, %(radius)s, false)
ORDER BY f.fix_time, f.device_id
"""  # noqa: S608 - COLUMNS is this module's constant


def _day_of_ms(ms: int) -> date:
    return (_EPOCH + timedelta(milliseconds=ms)).date()


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def _staging_row(n: int, fix: Fix) -> tuple[Any, ...]:
    return (
        n,
        fix.device_id,
        whole_ms(fix.fix_time),
        float(fix.lat),
        float(fix.lon),
        float(fix.accuracy_m),
        bool(fix.valid),
        opt_whole_ms(fix.received_at),
        opt_whole_ms(fix.device_time),
        _number(fix.speed_mps),
        _number(fix.heading_deg),
        _number(fix.altitude_m),
        fix.satellites,
        _number(fix.hdop),
        str.__str__(fix.source),
    )


def fix_from_row(r: Sequence[Any]) -> Fix:
    """A Fix from the COLUMNS values r[0:16]."""
    lat = r[2] if r[2] is not None else r[14]
    lon = r[3] if r[3] is not None else r[15]
    return Fix(
        device_id=r[0],
        fix_time=r[1],
        lat=math.nan if lat is None else lat,
        lon=math.nan if lon is None else lon,
        accuracy_m=math.nan if r[4] is None else r[4],
        valid=r[5],
        received_at=r[6],
        device_time=r[7],
        speed_mps=r[8],
        heading_deg=r[9],
        altitude_m=r[10],
        satellites=r[11],
        hdop=r[12],
        source=FixSource(r[13]),
    )


class PostgresFixes:
    def __init__(self, db: Database, partitions: FixPartitions) -> None:
        self._db = db
        self._partitions = partitions

    # -- writing -------------------------------------------------------------------------

    def add_fixes(self, fixes: Iterable[Fix]) -> int:
        rows = [_staging_row(n, fix) for n, fix in enumerate(fixes)]
        if not rows:
            return 0
        days = {row[2].date() for row in rows}
        days.add(max(days) + timedelta(days=1))  # the next day's partition is made ahead
        with self._db.transaction() as conn:
            self._partitions.ensure(days, conn)
            conn.execute(_STAGING)
            conn.execute("TRUNCATE fix_staging")
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    f"COPY fix_staging ({_STAGING_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(_STAGING_TYPES)
                for row in rows:
                    copy.write_row(row)
            result = conn.execute(_MOVE).fetchone()
        return int(result[0]) if result else 0

    def import_fix_columns(self, device_ids: Sequence[str], columns: FixColumns) -> int:
        """Bulk import (history from another system, a benchmark's stored fixes): valid
        GNSS fixes as columns, in one transaction; returns how many were new.

        Not in the store contract: the same fast path as the SQLite store's. Rows are
        COPYed as numbers (device index, epoch milliseconds) - no Fix or datetime per row -
        and turned into fixes by one INSERT ... SELECT ... ON CONFLICT DO NOTHING.
        """
        size = len(columns)
        if size == 0:
            return 0
        first, last = int(columns.fix_time_ms.min()), int(columns.fix_time_ms.max())
        day, days = _day_of_ms(first), set[date]()
        while day <= _day_of_ms(last) + timedelta(days=1):
            days.add(day)
            day += timedelta(days=1)
        received = columns.received_at_ms
        rows = zip(
            columns.device.tolist(),
            columns.fix_time_ms.tolist(),
            columns.lat.tolist(),
            columns.lon.tolist(),
            columns.accuracy_m.tolist(),
            [None] * size if received is None else received.tolist(),
            strict=True,
        )
        with self._db.transaction() as conn:
            self._partitions.ensure(days, conn)
            conn.execute(_IMPORT_STAGING)
            conn.execute("TRUNCATE fix_import_staging")
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    "COPY fix_import_staging (device, fix_time_ms, lat, lon, accuracy_m,"
                    " received_at_ms) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int4", "int8", "float8", "float8", "float8", "int8"])
                for row in rows:
                    copy.write_row(row)
            result = conn.execute(_IMPORT, {"devices": list(device_ids)}).fetchone()
        return int(result[0]) if result else 0

    def drop_fixes_before(self, cutoff: datetime) -> int:
        limit = instant(cutoff)
        removed, dropped = 0, list[date]()
        with self._db.transaction() as conn:
            for day in sorted(existing_days(conn)):
                if day_bounds(day)[1] > limit:
                    continue
                table = sql.Identifier(partition_name(day))
                row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
                removed += int(row[0]) if row else 0
                conn.execute(sql.SQL("DROP TABLE {}").format(table))
                dropped.append(day)
            cursor = conn.execute(
                sql.SQL("DELETE FROM {} WHERE fix_time < %s").format(
                    sql.Identifier(DEFAULT_PARTITION)
                ),
                (limit,),
            )
            removed += max(cursor.rowcount, 0)
        self._partitions.forget(dropped)
        return removed

    # -- reading -------------------------------------------------------------------------

    def trail(
        self,
        *,
        start: datetime,
        end: datetime,
        device_ids: Sequence[str] | None = None,
        subject_id: str | None = None,
        valid_only: bool = False,
        limit: int | None = None,
    ) -> list[Fix]:
        if (device_ids is None) == (subject_id is None):
            raise ValueError("give exactly one of device_ids or subject_id")
        args: list[Any] = [instant(start), instant(end)]
        if device_ids is not None:
            source = "fixes f WHERE f.device_id = ANY(%s) AND"
            args.insert(0, list(dict.fromkeys(device_ids)))
        else:
            source = (
                "assignments a JOIN fixes f ON f.device_id = a.device_id"
                " AND f.fix_time >= a.start_at AND (a.end_at IS NULL OR f.fix_time < a.end_at)"
                " WHERE a.subject_id = %s AND"
            )
            args.insert(0, subject_id)
        valid = " AND f.valid" if valid_only else ""
        cap = ""
        if limit is not None:
            cap = " LIMIT %s"
            args.append(int(limit))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM {source} f.fix_time BETWEEN %s AND %s{valid}"  # noqa: S608
                f" ORDER BY f.fix_time, f.device_id{cap}",
                args,
            ).fetchall()
        return [fix_from_row(r) for r in rows]

    def latest_fixes(
        self, device_ids: Sequence[str] | None = None, *, valid_only: bool = False
    ) -> dict[str, Fix]:
        column = "valid_fix_time" if valid_only else "fix_time"
        where, args = f"l.{column} IS NOT NULL", list[Any]()
        if device_ids is not None:
            where += " AND l.device_id = ANY(%s)"
            args.append(list(dict.fromkeys(device_ids)))
        # LATERAL: one primary-key probe per device, in the partition of its time.
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM latest_fixes l CROSS JOIN LATERAL"  # noqa: S608
                f" (SELECT * FROM fixes x WHERE x.device_id = l.device_id"
                f" AND x.fix_time = l.{column}) f WHERE {where} ORDER BY l.device_id",
                args,
            ).fetchall()
        return {r[0]: fix_from_row(r) for r in rows}

    def fixes_near(
        self, lon: float, lat: float, radius_m: float, start: datetime, end: datetime
    ) -> list[NearbyFix]:
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"position out of range: lat={lat} lon={lon}")
        if not radius_m >= 0:
            raise ValueError("the radius must not be negative")
        args = {
            "point": f"SRID=4326;POINT({float(lon)!r} {float(lat)!r})",
            "start": instant(start),
            "end": instant(end),
            "radius": float(radius_m),
        }
        with self._db.read() as conn:
            rows = conn.execute(_NEAR, args).fetchall()
        return [NearbyFix(fix_from_row(r), r[17], float(r[16])) for r in rows]

    def count_fixes(
        self,
        *,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        where, args = ["true"], list[Any]()
        if device_id is not None:
            where.append("device_id = %s")
            args.append(device_id)
        if start is not None:
            where.append("fix_time >= %s")
            args.append(instant(start))
        if end is not None:
            where.append("fix_time <= %s")
            args.append(instant(end))
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM fixes WHERE {' AND '.join(where)}",  # noqa: S608
                args,
            ).fetchone()
        return int(row[0]) if row else 0
