"""What `tagwatch bench ingest` uploads: buffered batches, a steady feed, breaching fixes.

Each roaming tag's fixes lie within 500 m of its home, 3 km from its zone, with one fix
time per (tag, millisecond) so the log's idempotency keys never drop one as a duplicate.
A tag's batches are sent in time order, as a tag empties its buffer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tagwatch.bench.ingest_load import Upload, batch_body, fix_json
from tagwatch.bench.ingest_scene import METRES_PER_DEGREE_LAT, ROAM_M, Breach, Tag

BREACH_ACCURACY_M = 5.0


def _near(rng: random.Random, point: tuple[float, float]) -> tuple[float, float]:
    lon, lat = point
    dx, dy = rng.uniform(-ROAM_M, ROAM_M), rng.uniform(-ROAM_M, ROAM_M)
    return lon + dx / (METRES_PER_DEGREE_LAT * 0.62), lat + dy / METRES_PER_DEGREE_LAT


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def warm_up_uploads(tags: Sequence[Tag], at: datetime) -> list[Upload]:
    """One fix per tag at home: signs each device in once and lets the monitor start."""
    return [
        Upload(tag.device_id, batch_body([fix_json(_iso(at), *tag.home, 10.0)]), 1) for tag in tags
    ]


@dataclass(frozen=True, slots=True)
class Buffered:
    """`per_tag` fixes of each tag, `interval` apart, ending at `end`, in batches of `batch`."""

    tags: Sequence[Tag]
    per_tag: int
    batch: int
    interval: timedelta
    end: datetime

    @property
    def fixes(self) -> int:
        return self.per_tag * len(self.tags)

    @property
    def first_time(self) -> datetime:
        return self.end - self.interval * self.per_tag

    def uploads(self, seed: int = 7) -> Iterator[Upload]:
        """Round-robin over tags, each tag's batches in time order."""
        rng = random.Random(seed)
        for first in range(0, self.per_tag, self.batch):
            count = min(self.batch, self.per_tag - first)
            for tag in self.tags:
                fixes = [
                    fix_json(
                        _iso(self.end - self.interval * (self.per_tag - first - j)),
                        *_near(rng, tag.home),
                        rng.uniform(4.0, 30.0),
                    )
                    for j in range(count)
                ]
                yield Upload(tag.device_id, batch_body(fixes), count)


@dataclass(frozen=True, slots=True)
class Steady:
    """A steady feed of `rate` fixes/s for `seconds`, in requests of `batch` fixes of one tag
    each (tags in turn), starting at wall-clock `start` = monotonic `start_mono`."""

    tags: Sequence[Tag]
    rate: float
    batch: int
    seconds: float
    start: datetime
    start_mono: float

    def schedule(self, seed: int = 11) -> list[tuple[float, Upload]]:
        rng = random.Random(seed)
        requests = round(self.rate * self.seconds / self.batch)
        every = self.batch / self.rate  # seconds between requests
        per_tag = every * len(self.tags)  # seconds between two requests of one tag
        spacing = per_tag / self.batch  # between two fixes of one tag
        planned: list[tuple[float, Upload]] = []
        for n in range(requests):
            offset = n * every
            tag = self.tags[n % len(self.tags)]
            sent = self.start + timedelta(seconds=offset)
            fixes = [
                fix_json(
                    _iso(sent - timedelta(seconds=spacing * (self.batch - 1 - j))),
                    *_near(rng, tag.home),
                    rng.uniform(4.0, 30.0),
                )
                for j in range(self.batch)
            ]
            planned.append(
                (self.start_mono + offset, Upload(tag.device_id, batch_body(fixes), self.batch))
            )
        return planned


def breach_schedule(
    breaches: Sequence[Breach], start: datetime, start_mono: float, every_s: float, lead_s: float
) -> list[tuple[float, Upload]]:
    """One fix in the middle of each breach's zone, `every_s` apart after `lead_s`."""
    planned = []
    for n, breach in enumerate(breaches):
        offset = lead_s + n * every_s
        moment = start + timedelta(seconds=offset)
        body = batch_body([fix_json(_iso(moment), *breach.centre, BREACH_ACCURACY_M)])
        planned.append((start_mono + offset, Upload(breach.tag.device_id, body, 1, breach.zone_id)))
    return planned
