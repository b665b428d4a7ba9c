"""Teltonika AVL records as tagwatch fixes and device events: validity, accuracy, IO
elements, change compression and the strap mapping."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import DeviceEventKind
from tagwatch.protocols.osmand import DEFAULT_ACCURACY_M, R95_PER_DRMS, UERE_M
from tagwatch.protocols.teltonika_avl import AvlRecord
from tagwatch.protocols.teltonika_errors import Reason
from tagwatch.protocols.teltonika_mapping import (
    IoMapping,
    device_status,
    to_domain,
    to_fix,
)

K = DeviceEventKind
T0_MS = 1_700_000_000_000
T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
ST_ALBANS = {"lon_e7": -3_360_000, "lat_e7": 517_520_000}


def record(second: int = 0, *, satellites: int = 9, **fields: object) -> AvlRecord:
    return AvlRecord(T0_MS + second * 1000, satellites=satellites, **{**ST_ALBANS, **fields})  # type: ignore[arg-type]


def test_a_record_with_satellites_is_a_valid_fix_at_its_timestamp() -> None:
    fix = to_fix("tag", record(speed_kmh=36, angle_deg=450, altitude_m=-3))
    assert fix.valid
    assert (fix.fix_time, fix.device_time) == (T0, T0)
    assert (fix.lat, fix.lon) == (51.752, -0.336)
    assert fix.speed_mps == pytest.approx(10.0)
    assert fix.heading_deg == 90.0  # reduced to [0, 360)
    assert (fix.altitude_m, fix.satellites) == (-3.0, 9)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"satellites": 0}, "no satellites: the last valid position repeated"),
        ({"io1": {69: 2}}, "GNSS on without fix"),
        ({"io1": {69: 0}}, "GNSS off"),
        ({"lat_e7": 0, "lon_e7": 0}, "null island"),
    ],
)
def test_records_without_a_real_position_are_invalid_fixes(
    fields: dict[str, object], why: str
) -> None:
    fix = to_fix("tag", record(**fields))  # type: ignore[arg-type]
    assert fix.valid is False, why


def test_coordinates_out_of_range_are_dropped_from_an_invalid_fix() -> None:
    fix = to_fix("tag", record(lat_e7=2_000_000_000))
    assert fix.valid is False
    assert math.isnan(fix.lat) and math.isnan(fix.lon)


@pytest.mark.parametrize(
    ("io2", "accuracy_m", "hdop"),
    [
        ({}, DEFAULT_ACCURACY_M, None),
        ({182: 12}, 1.2 * UERE_M * R95_PER_DRMS, 1.2),
        ({181: 20}, 2.0 * UERE_M * R95_PER_DRMS, 2.0),  # PDOP, never below HDOP
        ({181: 20, 182: 9}, 0.9 * UERE_M * R95_PER_DRMS, 0.9),
    ],
)
def test_accuracy_is_the_95_percent_radius_from_hdop_else_pdop_else_the_default(
    io2: dict[int, int], accuracy_m: float, hdop: float | None
) -> None:
    fix = to_fix("tag", record(io2=io2))
    assert fix.accuracy_m == pytest.approx(accuracy_m)
    assert fix.hdop == hdop


def test_io_elements_become_battery_power_and_strap_events() -> None:
    decoded = to_domain(
        "tag", [record(io1={1: 0, 113: 15}, io2={66: 5000})], received_at=T0 + timedelta(seconds=3)
    )
    assert [(e.kind, e.value) for e in decoded.events] == [
        (K.BATTERY_LEVEL, 15.0),
        (K.CHARGING_ON, None),
        (K.STRAP_TAMPER, None),
    ]
    assert all(e.time == T0 and e.received_at == T0 + timedelta(seconds=3) for e in decoded.events)
    assert decoded.fixes[0].received_at == T0 + timedelta(seconds=3)


def test_within_a_packet_only_state_changes_become_events_in_time_order() -> None:
    records = [
        record(20, io1={1: 1, 113: 60}),
        record(0, io1={1: 1, 113: 61}),
        record(10, io1={1: 1, 113: 61}),
        record(30, io1={1: 0, 113: 60}),
    ]
    events = to_domain("tag", records).events
    assert [(e.time - T0, e.kind, e.value) for e in events] == [
        (timedelta(0), K.BATTERY_LEVEL, 61.0),
        (timedelta(0), K.STRAP_RESTORED, None),
        (timedelta(seconds=20), K.BATTERY_LEVEL, 60.0),
        (timedelta(seconds=30), K.STRAP_TAMPER, None),
    ]


def test_the_strap_input_and_its_closed_value_are_configurable() -> None:
    mapping = IoMapping(strap_input=2, strap_closed_value=0, case_input=3)
    events = to_domain("tag", [record(io1={1: 0, 2: 0, 3: 0})], mapping=mapping).events
    assert [e.kind for e in events] == [K.STRAP_RESTORED, K.CASE_TAMPER]
    assert to_domain("tag", [record(io1={1: 0})], mapping=IoMapping(strap_input=None)).events == ()


def test_gnss_jamming_raises_and_clears() -> None:
    events = to_domain(
        "tag", [record(0, io1={318: 2}), record(5, io1={318: 1}), record(9, io1={318: 0})]
    ).events
    assert [e.kind for e in events] == [K.GPS_JAMMING_SUSPECTED, K.GPS_JAMMING_CLEARED]


def test_a_battery_level_over_100_is_not_an_event() -> None:
    assert to_domain("tag", [record(io1={113: 180})]).events == ()


def test_a_record_with_an_impossible_timestamp_is_refused_alone() -> None:
    decoded = to_domain("tag", [record(0), AvlRecord(2**64 - 1, satellites=5), record(1)])
    assert len(decoded.fixes) == 2
    (refused,) = decoded.refused
    assert refused.reason is Reason.BAD_VALUE


def test_device_status_reads_the_plain_io_elements() -> None:
    status = device_status(
        record(io1={239: 1, 240: 0, 21: 4, 69: 1, 113: 80, 2: 1}, io2={66: 12000, 67: 4100})
    )
    assert status.ignition is True and status.movement is False
    assert (status.gsm_signal, status.gnss_status, status.battery_pct) == (4, 1, 80)
    assert (status.external_mv, status.battery_mv) == (12000, 4100)
    assert status.digital_inputs == (None, 1, None, None)


@given(
    st.lists(
        st.tuples(st.integers(0, 600), st.integers(0, 1), st.integers(0, 100)),
        max_size=20,
        unique_by=lambda reading: reading[0],
    )
)
def test_compressed_events_give_the_same_state_at_every_record_time(
    readings: list[tuple[int, int, int]],
) -> None:
    """The engine folds state events by time: compression must not change the folded state."""
    records = [record(second, io1={1: strap, 113: battery}) for second, strap, battery in readings]
    events = to_domain("tag", records).events
    strap_kinds = (K.STRAP_TAMPER, K.STRAP_RESTORED)
    for second, strap, battery in readings:
        moment = T0 + timedelta(seconds=second)
        straps = [e.kind for e in events if e.time <= moment and e.kind in strap_kinds]
        batteries = [e.value for e in events if e.time <= moment and e.kind is K.BATTERY_LEVEL]
        assert straps[-1] is (K.STRAP_RESTORED if strap == 1 else K.STRAP_TAMPER)
        assert batteries[-1] == battery
