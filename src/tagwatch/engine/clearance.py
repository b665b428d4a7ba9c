"""Whole rows settled at once: a fix clear of every zone of its tag never becomes pairs.

Most fixes are kilometres from every zone edge. `advance` settles such a (fix, slot) pair
with two cheap tests in degrees (outside an exclusion zone's lon/lat box by the reach, inside
an inclusion zone's inner box by it), but only after making every pair of the batch, three
per fix and more: a dozen numpy passes over all pairs to conclude "compliant" for 93 % of
them. Here the same two tests run per *row*, on the device's slots laid side by side in
dense columns (a tag has a handful of zones), so a row whose every slot passes costs a few
row-wise operations and only the slot clocks are advanced for it.

The arithmetic is that of `advance.clear_of_box` and `advance.inside_inner_box`, operation
for operation, so a row settled here is exactly a row all of whose pairs the pair path would
settle; tests/unit/test_engine_fast_paths.py compares the engine with and without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tagwatch.engine.batch import FixBatch

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Devices with more slots of a side than this take the pair path: a few tags with many
# zones must not widen the dense columns of every tag.
MAX_OUTER_COLUMNS = 4
MAX_INNER_COLUMNS = 2
# Distances beyond accuracy + warning buffer + this only need their sign and a lower bound
# (the pair path in `advance` uses this same constant).
REACH_MARGIN_M = 1.0


@dataclass(frozen=True, slots=True)
class DeviceClearance:
    """Per device, the cheap tests of its slots as dense columns (padding always passes).

    eligible: devices whose every slot has a cheap test (exclusion zones, inclusion zones
    and curfews with an inner box) and which fit the columns; others take the pair path.
    outer: (4, columns, devices) exclusion zones' lon/lat boxes (min lon, min lat, max lon,
    max lat); padding is an empty box at infinity. outer_warning_m: (columns, devices),
    their warning buffers. outer_union: (4, devices), the box holding all of a device's
    exclusion boxes; outer_union_warning_m: their largest warning buffer.
    inner: (4, columns, devices) inclusion zones' inner boxes; padding is the whole plane,
    infinitely deep (inner_m). inner_warning_m: the slots' warning buffers (0 for
    inclusion slots, kept so the reach is summed exactly as the pair path sums it).
    lat_degrees_per_m: degrees of latitude per metre with the pair path's allowance.
    Each (coordinate, column) is one contiguous array, gathered by device.
    """

    lat_degrees_per_m: float
    eligible: BoolArray
    outer: FloatArray
    outer_warning_m: FloatArray
    outer_union: FloatArray
    outer_union_warning_m: FloatArray
    inner: FloatArray
    inner_m: FloatArray
    inner_warning_m: FloatArray

    @classmethod
    def none(cls, devices: int) -> DeviceClearance:
        """No device eligible: every row takes the pair path."""
        return cls(
            0.0,
            np.zeros(devices, np.bool_),
            np.empty((4, 0, devices)),
            np.empty((0, devices)),
            np.empty((4, devices)),
            np.empty(devices),
            np.empty((4, 0, devices)),
            np.empty((0, devices)),
            np.empty((0, devices)),
        )

    def settled_rows(
        self, rows: FixBatch, lon_per_m: FloatArray, device_busy: BoolArray
    ) -> BoolArray:
        """Rows (sorted by device) whose every pair the pair path would settle as compliant,
        of devices none of whose rows needs more: those rows need no pairs at all.

        `lon_per_m`: `advance.lon_degrees_per_metre` of each row. `device_busy`: devices
        with a slot that has a machine (its machine needs the real evidence).
        """
        device = rows.device
        candidate = np.flatnonzero(self.eligible[device] & rows.valid & ~device_busy[device])
        settled = np.zeros(len(rows), np.bool_)
        if candidate.shape[0] == 0:
            return settled
        d = device[candidate].astype(np.intp)  # an int32 index would be cast by every gather
        lon, lat = rows.lon[candidate], rows.lat[candidate]
        accuracy = rows.accuracy_m[candidate]
        ok = np.ones(candidate.shape[0], np.bool_)
        # Column by column, each a contiguous 1-d gather: numpy reduces a short axis and
        # computes on strided views several times slower.
        if self.outer.shape[1]:
            self._clear_of_outer_boxes(ok, d, lon, lat, accuracy, lon_per_m[candidate])
        for k in range(self.inner.shape[1]):
            box = self.inner[:, k]
            ok &= accuracy + self.inner_warning_m[k][d] + REACH_MARGIN_M <= self.inner_m[k][d]
            ok &= lon >= box[0][d]
            ok &= lon <= box[2][d]
            ok &= lat >= box[1][d]
            ok &= lat <= box[3][d]
        settled[candidate[ok]] = True
        # A device with one unsettled row runs all its rows through the pair path: its
        # machine must see them all, in order.
        unsettled = np.zeros(self.eligible.shape[0], np.bool_)
        unsettled[device[~settled]] = True
        settled &= ~unsettled[device]
        return settled

    def _clear_of_outer_boxes(
        self,
        ok: BoolArray,
        d: npt.NDArray[np.intp],
        lon: FloatArray,
        lat: FloatArray,
        accuracy: FloatArray,
        lon_per_m: FloatArray,
    ) -> None:
        """`ok &=` clear of every exclusion box of the device, grown by each one's reach.

        First against the union of the device's boxes grown by the largest reach: a fix
        clear of that is clear of each box, with the same floating-point operations on
        smaller bounds (rounding is monotone), and most fixes are. Only the others are
        tested box by box.
        """
        union = self.outer_union
        reach = accuracy + self.outer_union_warning_m[d] + REACH_MARGIN_M
        dlat = reach * self.lat_degrees_per_m
        dlon = reach * lon_per_m
        clear = lon < union[0][d] - dlon
        clear |= lon > union[2][d] + dlon
        clear |= lat < union[1][d] - dlat
        clear |= lat > union[3][d] + dlat
        rest = np.flatnonzero(ok & ~clear)
        if rest.shape[0] == 0:
            return
        d, lon, lat = d[rest], lon[rest], lat[rest]
        accuracy, lon_per_m = accuracy[rest], lon_per_m[rest]
        each = np.ones(rest.shape[0], np.bool_)
        for k in range(self.outer.shape[1]):
            box = self.outer[:, k]
            reach = accuracy + self.outer_warning_m[k][d] + REACH_MARGIN_M
            dlat = reach * self.lat_degrees_per_m
            dlon = reach * lon_per_m
            clear = lon < box[0][d] - dlon
            clear |= lon > box[2][d] + dlon
            clear |= lat < box[1][d] - dlat
            clear |= lat > box[3][d] + dlat
            each &= clear
        ok[rest] = each


def device_clearance(
    slot_device: npt.NDArray[np.int32],
    exclusion: BoolArray,
    box_deg: FloatArray,
    warning_m: FloatArray,
    inner_deg: FloatArray,
    inner_m: FloatArray,
    devices: int,
    lat_degrees_per_m: float,
) -> DeviceClearance:
    """Lay each device's slots (sorted by device) into the dense columns."""
    inner = ~exclusion & (inner_m > 0) & np.isfinite(inner_deg).all(axis=1)
    has_test = exclusion | inner
    # Rank of each slot among its device's slots of the same side.
    outer_rank = _rank_within_device(slot_device, exclusion)
    inner_rank = _rank_within_device(slot_device, inner)
    outer_count = np.bincount(slot_device[exclusion], minlength=devices)
    inner_count = np.bincount(slot_device[inner], minlength=devices)
    untested = np.bincount(slot_device[~has_test], minlength=devices)
    slots = np.bincount(slot_device, minlength=devices)
    eligible = (
        (untested == 0)
        & (slots > 0)
        & (outer_count <= MAX_OUTER_COLUMNS)
        & (inner_count <= MAX_INNER_COLUMNS)
    )
    ko = int(outer_count[eligible].max(initial=0))
    ki = int(inner_count[eligible].max(initial=0))
    # (coordinate, column, device): each (coordinate, column) is one contiguous array.
    outer = np.empty((4, ko, devices))
    outer[:2] = np.inf  # min corner at +inf, max corner at -inf: every fix is clear
    outer[2:] = -np.inf
    outer_warning = np.zeros((ko, devices))
    inner_box = np.empty((4, ki, devices))
    inner_box[:2] = -np.inf  # the whole plane, infinitely deep: every fix is inside
    inner_box[2:] = np.inf
    inner_depth = np.full((ki, devices), np.inf)
    inner_warning = np.zeros((ki, devices))
    put = np.flatnonzero(exclusion & eligible[slot_device])
    if put.shape[0]:
        d, k = slot_device[put], outer_rank[put]
        outer[:, k, d] = box_deg[put].T
        outer_warning[k, d] = warning_m[put]
    put = np.flatnonzero(inner & eligible[slot_device])
    if put.shape[0]:
        d, k = slot_device[put], inner_rank[put]
        inner_box[:, k, d] = inner_deg[put].T
        inner_depth[k, d] = inner_m[put]
        inner_warning[k, d] = warning_m[put]
    union = np.empty((4, devices))
    union[:2] = outer[:2].min(axis=1, initial=np.inf)
    union[2:] = outer[2:].max(axis=1, initial=-np.inf)
    return DeviceClearance(
        lat_degrees_per_m,
        eligible,
        outer,
        outer_warning,
        union,
        outer_warning.max(axis=0, initial=0.0),
        inner_box,
        inner_depth,
        inner_warning,
    )


def _rank_within_device(
    slot_device: npt.NDArray[np.int32], chosen: BoolArray
) -> npt.NDArray[np.int64]:
    """For each chosen slot, how many chosen slots of its device come before it."""
    index = np.flatnonzero(chosen)
    rank = np.zeros(slot_device.shape[0], np.int64)
    if index.shape[0] == 0:
        return rank
    dev = slot_device[index]
    head = np.ones(index.shape[0], np.bool_)
    head[1:] = dev[1:] != dev[:-1]
    heads = np.flatnonzero(head)
    rank[index] = np.arange(index.shape[0]) - heads[np.cumsum(head) - 1]
    return rank
