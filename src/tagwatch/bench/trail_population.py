"""The population of `tagwatch bench trail`: tags wandering near their homes around St Albans.

Shared by the benchmark's fill (the stored history) and its live writer (the minutes after
it), so both place a tag the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from tagwatch.store.sqlite.fix_layout import FixColumns

START = datetime(2026, 10, 1, tzinfo=UTC)
CENTRE = (-0.336, 51.752)  # St Albans, lon/lat
HALF_SIDE_M = 20_000.0
WANDER_M = 3_000.0
NOISE_M = 10.0
RECEIVED_AFTER = timedelta(seconds=2)  # from a fix's time to tagwatch receiving it
M_PER_DEG_LAT = 111_195.0  # on the mean sphere


@dataclass(frozen=True, slots=True)
class Population:
    tags: int
    minutes: int
    seed: int

    @property
    def fixes(self) -> int:
        return self.tags * self.minutes

    @property
    def end(self) -> datetime:
        """The instant after the history's last minute."""
        return START + timedelta(minutes=self.minutes)

    def device_ids(self) -> list[str]:
        return [f"tag-{i:06d}" for i in range(self.tags)]

    def _params(self) -> dict[str, npt.NDArray[np.float64]]:
        rng = np.random.default_rng(self.seed)
        n = self.tags
        return {
            "home_e": rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, n),
            "home_n": rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, n),
            "amp_e": rng.uniform(0.0, WANDER_M, n),
            "amp_n": rng.uniform(0.0, WANDER_M, n),
            "per_e": rng.uniform(180.0, 720.0, n),
            "per_n": rng.uniform(180.0, 720.0, n),
            "ph_e": rng.uniform(0.0, 2 * math.pi, n),
            "ph_n": rng.uniform(0.0, 2 * math.pi, n),
        }

    def positions(
        self, tags: npt.NDArray[np.int64], minutes: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(lon, lat) of the tags at the minutes, noise included (seeded by tag and minute)."""
        p = self._params()
        t = minutes.astype(np.float64)
        east = p["home_e"][tags] + p["amp_e"][tags] * np.sin(
            2 * np.pi * t / p["per_e"][tags] + p["ph_e"][tags]
        )
        north = p["home_n"][tags] + p["amp_n"][tags] * np.sin(
            2 * np.pi * t / p["per_n"][tags] + p["ph_n"][tags]
        )
        noise = np.random.default_rng([self.seed, int(minutes.min()) if len(minutes) else 0])
        east += noise.normal(0.0, NOISE_M / 2, len(t))
        north += noise.normal(0.0, NOISE_M / 2, len(t))
        lat = CENTRE[1] + north / M_PER_DEG_LAT
        lon = CENTRE[0] + east / (M_PER_DEG_LAT * math.cos(math.radians(CENTRE[1])))
        return lon, lat

    def chunks(self, batch: int) -> Iterator[FixColumns]:
        """Every fix in time order, `batch` at a time (whole minutes)."""
        per_chunk = max(1, batch // self.tags)
        for first in range(0, self.minutes, per_chunk):
            minutes = np.arange(first, min(first + per_chunk, self.minutes), dtype=np.int64)
            tags = np.tile(np.arange(self.tags, dtype=np.int64), len(minutes))
            at = np.repeat(minutes, self.tags)
            lon, lat = self.positions(tags, at)
            time_ms = int(START.timestamp() * 1000) + at * 60_000
            yield FixColumns(
                device=tags,
                fix_time_ms=time_ms,
                lat=lat,
                lon=lon,
                accuracy_m=np.full(len(at), NOISE_M),
                received_at_ms=time_ms + RECEIVED_AFTER // timedelta(milliseconds=1),
            )
