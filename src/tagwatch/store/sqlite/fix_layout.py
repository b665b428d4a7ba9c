"""How fixes are laid out in SQLite: monthly tables, time slots, rows.

The decision, and why (measured: tests/contract/measure_add_fixes.py):

- One rowid table per UTC month, `fixes_YYYY_MM`, created on demand and listed in
  `fix_partitions`; queries are routed here in code (a view over a union of tables would
  hide the time bounds from the planner). A fix goes to the month of its `fix_time`, so a
  late upload lands in its own month. Retention drops whole months: `DROP TABLE` is
  instant and leaves no free pages scattered through live data.
- Rows are appended in arrival order (rowid), never inserted into the middle of a
  random-order primary key.
- Both indexes lead with a five-minute time slot (`slot = fix_time_ms // 300000`):
    UNIQUE (slot, device_key, fix_time_ms)  idempotency (ON CONFLICT DO NOTHING) and trails
    (slot, cell, fix_time_ms)               proximity (cell: see grid.py)
  The slot is a function of the time, so the unique key means "(device, fix_time)". Leading
  with the slot keeps a live batch's index entries on the few pages of the current slot.
  An index led by the device, as (device_id, fix_time), puts every device's entry on its
  own page: a 1,000-fix batch from 1,000 devices then dirties (and, in WAL, writes) about
  1,000 pages per index, and throughput fell from 40,000 to under 9,000 fixes/s within
  400,000 fixes; with slots it stays flat. Reads seek each slot of their range
  (`slot IN (...)`): a day's trail of one device is 288 index seeks.
- Times are integer milliseconds UTC; devices are small integers (`fix_devices`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from tagwatch.domain.positions import Fix, FixSource
from tagwatch.store.sqlite.columns import EPOCH, MS, from_ms, opt_from_ms, to_ms, to_us
from tagwatch.store.sqlite.grid import COLS, LAT_STEP, LON_STEP, ROWS, cell_of

SLOT_MS = 300_000
SLOTS_PER_QUERY = 500  # and cells or devices per IN list: well under SQLite's 32,766

COLUMNS = (
    "fix_time_ms, lat, lon, accuracy_m, valid, received_at_ms, device_time_ms,"
    " speed_mps, heading_deg, altitude_m, satellites, hdop, source"
)


def partition_ddl(table: str) -> list[str]:
    return [
        f"CREATE TABLE {table} (device_key INTEGER NOT NULL, slot INTEGER NOT NULL,"
        " fix_time_ms INTEGER NOT NULL, lat REAL, lon REAL, accuracy_m REAL,"
        " valid INTEGER NOT NULL, received_at_ms INTEGER, device_time_ms INTEGER,"
        " speed_mps REAL, heading_deg REAL, altitude_m REAL, satellites INTEGER, hdop REAL,"
        " source TEXT NOT NULL, cell INTEGER)",
        f"CREATE UNIQUE INDEX {table}_key ON {table} (slot, device_key, fix_time_ms)",
        f"CREATE INDEX {table}_place ON {table} (slot, cell, fix_time_ms)",
    ]


def table_name(month: int) -> str:
    return f"fixes_{month // 100:04d}_{month % 100:02d}"


def month_bounds(ms: int) -> tuple[int, int, int]:
    """(year * 100 + month, first ms of the month, first ms of the next) of an instant."""
    moment = from_ms(ms)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if first.month == 12:
        after = first.replace(year=first.year + 1, month=1)
    else:
        after = first.replace(month=first.month + 1)
    return first.year * 100 + first.month, to_ms(first), to_ms(after)


def ceil_ms(moment: datetime) -> int:
    """The first whole millisecond at or after `moment` (a range's lower bound)."""
    return -(-to_us(moment) // 1000)


def slot_chunks(low: int, high: int) -> Iterator[tuple[list[int], int, int]]:
    """Slots covering [low, high] ms in time order, in chunks: (slots, first ms, last ms)."""
    first_slot, last_slot = low // SLOT_MS, high // SLOT_MS
    for start in range(first_slot, last_slot + 1, SLOTS_PER_QUERY):
        stop = min(start + SLOTS_PER_QUERY - 1, last_slot)
        yield (
            list(range(start, stop + 1)),
            max(low, start * SLOT_MS),
            min(high, (stop + 1) * SLOT_MS - 1),
        )


def chunks(values: Sequence[Any], size: int = SLOTS_PER_QUERY) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


FixRow = tuple[Any, ...]  # device_key, slot, the COLUMNS values, cell


def fix_rows(
    batch: Sequence[Fix], keys: dict[str, int]
) -> tuple[dict[int, list[FixRow]], list[list[Any]]]:
    """`add_fixes`' rows by month (year * 100 + month), and per device [key, newest fix
    time, newest valid fix time] in ms: the monitor's commit of every fix, so one pass
    with the conversions inline. Non-finite numbers are written as NULL."""
    months: dict[int, list[FixRow]] = {}
    newest: dict[int, list[Any]] = {}
    rows: list[FixRow] = []
    low, high = 0, -1
    epoch, ms_unit, isfinite = EPOCH, MS, math.isfinite
    try:
        for fix in batch:
            fix_time = fix.fix_time
            ms = (fix_time - epoch) // ms_unit
            if not low <= ms < high:
                month, low, high = month_bounds(ms)
                rows = months.setdefault(month, [])
            received, sent, valid = fix.received_at, fix.device_time, fix.valid
            lat, lon, accuracy = fix.lat, fix.lon, fix.accuracy_m
            key = keys[fix.device_id]
            rows.append(
                (
                    key,
                    ms // SLOT_MS,
                    ms,
                    lat if isfinite(lat) else None,
                    lon if isfinite(lon) else None,
                    accuracy if isfinite(accuracy) else None,
                    1 if valid else 0,
                    None if received is None else (received - epoch) // ms_unit,
                    None if sent is None else ms if sent is fix_time else (sent - epoch) // ms_unit,
                    fix.speed_mps,
                    fix.heading_deg,
                    fix.altitude_m,
                    fix.satellites,
                    fix.hdop,
                    str.__str__(fix.source),  # the value, without the slow enum descriptor
                    cell_of(lat, lon) if valid else None,
                )
            )
            best = newest.get(key)
            if best is None:
                newest[key] = [key, ms, ms if valid else None]
                continue
            best[1] = max(best[1], ms)
            if valid and (best[2] is None or ms > best[2]):
                best[2] = ms
    except TypeError as error:  # a naive instant minus an aware one, a position not a number
        raise ValueError(f"a fix the store cannot write: {error}") from None
    return months, list(newest.values())


def fix_from_row(device_id: str, r: Sequence[Any]) -> Fix:
    """A Fix from its device and the COLUMNS values r[0:13]."""
    return Fix(
        device_id=device_id,
        fix_time=from_ms(r[0]),
        lat=math.nan if r[1] is None else r[1],
        lon=math.nan if r[2] is None else r[2],
        accuracy_m=math.nan if r[3] is None else r[3],
        valid=bool(r[4]),
        received_at=opt_from_ms(r[5]),
        device_time=opt_from_ms(r[6]),
        speed_mps=r[7],
        heading_deg=r[8],
        altitude_m=r[9],
        satellites=r[10],
        hdop=r[11],
        source=FixSource(r[12]),
    )


@dataclass(frozen=True, slots=True)
class FixColumns:
    """Valid fixes as parallel arrays, for bulk imports: `device` indexes a list of ids."""

    device: npt.NDArray[np.int64]
    fix_time_ms: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    accuracy_m: npt.NDArray[np.float64]
    received_at_ms: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        size = len(self.fix_time_ms)
        arrays = (self.device, self.lat, self.lon, self.accuracy_m, self.received_at_ms)
        if any(a is not None and len(a) != size for a in arrays):
            raise ValueError("fix columns must all have the same length")
        if size and not (
            np.all(np.abs(self.lat) <= 90.0)
            and np.all(np.abs(self.lon) <= 180.0)
            and np.all(self.accuracy_m >= 0.0)
        ):
            raise ValueError("fix columns hold a position out of range or a negative accuracy")

    def __len__(self) -> int:
        return len(self.fix_time_ms)

    def take(self, mask: npt.NDArray[np.bool_]) -> FixColumns:
        received = None if self.received_at_ms is None else self.received_at_ms[mask]
        return FixColumns(
            self.device[mask],
            self.fix_time_ms[mask],
            self.lat[mask],
            self.lon[mask],
            self.accuracy_m[mask],
            received,
        )

    def by_month(self) -> Iterator[tuple[int, int, int, FixColumns]]:
        """(month, first ms, end ms, the rows of that month), months in time order."""
        times = self.fix_time_ms
        if not len(times):
            return
        ms = int(times.min())
        last = int(times.max())
        while ms <= last:
            month, first, after = month_bounds(ms)
            yield month, first, after, self.take((times >= first) & (times < after))
            ms = after

    def rows(self, device_keys: npt.NDArray[np.int64]) -> Iterator[tuple[Any, ...]]:
        """(device_key, slot, fix_time_ms, lat, lon, accuracy_m, received_at_ms, cell)."""
        times = self.fix_time_ms
        received = [None] * len(times) if self.received_at_ms is None else self.received_at_ms
        return zip(
            device_keys[self.device].tolist(),
            (times // SLOT_MS).tolist(),
            times.tolist(),
            self.lat.tolist(),
            self.lon.tolist(),
            self.accuracy_m.tolist(),
            received if isinstance(received, list) else received.tolist(),
            cells_of(self.lat, self.lon).tolist(),
            strict=True,
        )

    def newest_per_device(self, devices: int) -> list[tuple[int, int]]:
        """(device index, its newest fix time) of each device that has a row here."""
        newest = np.full(devices, -1, dtype=np.int64)
        np.maximum.at(newest, self.device, self.fix_time_ms)
        return [(int(d), int(newest[d])) for d in np.flatnonzero(newest >= 0)]


def cells_of(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """grid.cell_of for arrays of valid positions (the same float operations, so the same keys)."""
    rows = np.minimum(((lat + 90.0) / LAT_STEP).astype(np.int64), ROWS - 1)
    cols = np.minimum(((lon + 180.0) / LON_STEP).astype(np.int64), COLS - 1)
    return rows * COLS + cols
