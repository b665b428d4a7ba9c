"""The OsmAnd decoder against captured requests, its own tables, and arbitrary input."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import DeviceEventKind, Fix
from tagwatch.protocols.osmand import (
    DEFAULT_ACCURACY_M,
    R95_PER_DRMS,
    R95_PER_R68,
    UERE_M,
    OsmAndError,
    OsmAndReport,
    decode_json,
    decode_query,
    normalised_accuracy_m,
)

FRAMES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "frames.json"
RECEIVED = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)
K = DeviceEventKind


def fix_of(report: OsmAndReport) -> Fix:
    assert report.fix is not None, report
    return report.fix


def kinds(report: OsmAndReport) -> list[DeviceEventKind]:
    return [event.kind for event in report.events]


# --- conformance: requests from Traccar's test suite ---


def _conformance_cases() -> list[Any]:
    if not FRAMES.exists():
        return [pytest.param(None, id="frames.json missing")]
    cases = json.loads(FRAMES.read_text())["osmand_http"]
    return [pytest.param(case, id=case["request"][:48]) for case in cases]


def _compare(fix: Fix, name: str, expected: Any) -> None:
    match name:
        case "fix_time":
            assert fix.fix_time == datetime.fromisoformat(expected)
        case "lat" | "lon" | "hdop":
            assert getattr(fix, name) == pytest.approx(expected)
        case "heading":
            assert fix.heading_deg == pytest.approx(expected)
        case "altitude_m":
            assert fix.altitude_m == pytest.approx(expected)
        case "speed_knots":
            assert fix.speed_mps == pytest.approx(expected * 1852 / 3600)
        case _:
            pytest.fail(f"the conformance data names a field the test does not know: {name}")


@pytest.mark.parametrize("case", _conformance_cases())
def test_captured_requests_decode_to_the_listed_values(case: dict[str, Any] | None) -> None:
    if case is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"conformance frames missing: {FRAMES}")
        pytest.skip(f"conformance frames missing: {FRAMES}")
    if "asserted" in case:
        reason = case["asserted"].removeprefix("rejected: ")
        with pytest.raises(OsmAndError, match=reason):
            decode_query(case["request"], RECEIVED)
        return
    fix = fix_of(decode_query(case["request"], RECEIVED))
    for name, expected in case["decoded"].items():
        _compare(fix, name, expected)


def test_the_conformance_path_is_the_shared_one() -> None:
    assert FRAMES.parent.name == "conformance"
    assert FRAMES.parents[1].name == "shared"


# --- the query / form variant ---


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1504763810", datetime(2017, 9, 7, 5, 56, 50, tzinfo=UTC)),
        ("1504763810123", datetime(2017, 9, 7, 5, 56, 50, 123000, tzinfo=UTC)),
        ("1504763810.5", datetime(2017, 9, 7, 5, 56, 50, 500000, tzinfo=UTC)),
        ("4102444800", datetime(2100, 1, 1, tzinfo=UTC)),  # seconds after 2038 stay seconds
        ("2016-01-27T18:55:47Z", datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC)),
        ("2016-01-27T18%3A55%3A47Z", datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC)),
        ("2016-01-27T18:55:47.250Z", datetime(2016, 1, 27, 18, 55, 47, 250000, tzinfo=UTC)),
        ("2016-01-27T18:55:47%2B01:00", datetime(2016, 1, 27, 17, 55, 47, tzinfo=UTC)),
        ("2016-01-27T18:55:47+01:00", datetime(2016, 1, 27, 17, 55, 47, tzinfo=UTC)),  # '+' lost
        ("2016-01-27T18:55:47-05:00", datetime(2016, 1, 27, 23, 55, 47, tzinfo=UTC)),
        ("2016-01-27T18:55:47", datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC)),
        ("2016-01-27 18:55:47", datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC)),
        ("2016-01-27+18:55:47", datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC)),
    ],
)
def test_timestamps_in_seconds_milliseconds_and_iso_8601(
    timestamp: str, expected: datetime
) -> None:
    report = decode_query(f"id=7&lat=51.5&lon=-0.1&timestamp={timestamp}", RECEIVED)
    assert fix_of(report).fix_time == expected
    assert fix_of(report).fix_time.tzinfo is UTC


def test_without_a_timestamp_the_fix_time_is_when_it_arrived() -> None:
    fix = fix_of(decode_query("id=7&lat=51.5&lon=-0.1", RECEIVED))
    assert fix.fix_time == RECEIVED
    assert fix.received_at == RECEIVED
    assert fix.device_time is None


def test_received_at_in_another_zone_is_stored_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    fix = fix_of(decode_query("id=7&lat=51.5&lon=-0.1", RECEIVED.astimezone(paris)))
    assert fix.received_at == RECEIVED
    assert fix.received_at is not None
    assert fix.received_at.tzinfo is UTC


@pytest.mark.parametrize(
    "request_",
    [
        "id=dev-1&lat=51.752&lon=-0.336",
        "deviceid=dev-1&lat=51.752&lon=-0.336",
        "id=dev-1&location=51.752,-0.336",
        "id=dev-1&location=51.752%2C-0.336",
        "/?id=dev-1&lat=51.752&lon=-0.336",
        "?id=dev-1&lat=51.752&lon=-0.336",
        "http://tracker.example:5055/?id=dev-1&lat=51.752&lon=-0.336",
        "http://[::1]:5055/?id=dev-1&lat=51.752&lon=-0.336#fragment",
        "  id=dev-1&lat=51.752&lon=-0.336\r\n",  # a form body with a trailing newline
        "id=dev-1&lat=51.752&lon=-0.336&ignition=true&rpm=933&driverUniqueId=x&empty=",
    ],
)
def test_device_and_position_in_every_accepted_spelling(request_: str) -> None:
    report = decode_query(request_, RECEIVED)
    assert report.device_id == "dev-1"
    fix = fix_of(report)
    assert (fix.device_id, fix.lat, fix.lon, fix.valid) == ("dev-1", 51.752, -0.336, True)
    assert report.events == ()


def test_a_mapping_of_parameters_decodes_like_the_query_string() -> None:
    params = {"id": "dev-1", "lat": "51.752", "lon": "-0.336", "speed": "10", "batt": ""}
    assert decode_query(params, RECEIVED) == decode_query(urlencode(params), RECEIVED)


def test_id_wins_over_deviceid_and_the_last_repeat_wins() -> None:
    assert decode_query("deviceid=b&id=a&lat=1&lon=1", RECEIVED).device_id == "a"
    assert fix_of(decode_query("id=a&lat=1&lat=2&lon=1", RECEIVED)).lat == 2.0


def test_every_reading_in_tagwatch_units() -> None:
    query = (
        "id=dev-1&timestamp=1700000000&lat=51.752&lon=-0.336&speed=10&bearing=370"
        "&altitude=92.5&accuracy=10&hdop=1.2&sat=9"
    )
    fix = fix_of(decode_query(query, RECEIVED))
    assert fix.speed_mps == pytest.approx(10 * 0.514444, rel=1e-5)
    assert fix.heading_deg == pytest.approx(10.0)
    assert fix.altitude_m == 92.5
    assert fix.accuracy_m == pytest.approx(10 * R95_PER_R68)
    assert fix.hdop == 1.2
    assert fix.satellites == 9


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ("heading=45", "heading_deg", 45.0),
        ("heading=-1", "heading_deg", None),  # unknown
        ("bearing=360", "heading_deg", 0.0),
        ("speed=-1.9", "speed_mps", None),  # unknown
        ("speed=0", "speed_mps", 0.0),
        ("satellites=12", "satellites", 12),
        ("sat=7.0", "satellites", 7),
        ("hdop=0", "hdop", None),  # no dilution given
        ("altitude=-12.5", "altitude_m", -12.5),
    ],
)
def test_optional_readings(extra: str, field: str, expected: object) -> None:
    fix = fix_of(decode_query(f"id=7&lat=51.5&lon=-0.1&{extra}", RECEIVED))
    assert getattr(fix, field) == expected


@pytest.mark.parametrize(
    ("extra", "expected_m"),
    [
        ("accuracy=10", 10 * R95_PER_R68),
        ("accuracy=10&hdop=9", 10 * R95_PER_R68),  # the receiver's own estimate wins
        ("hdop=2", 2 * UERE_M * R95_PER_DRMS),
        ("accuracy=0&hdop=2", 2 * UERE_M * R95_PER_DRMS),  # Android's 0 is "no accuracy"
        ("accuracy=-1&hdop=2", 2 * UERE_M * R95_PER_DRMS),  # iOS's negative is "invalid"
        ("", DEFAULT_ACCURACY_M),
        ("accuracy=0&hdop=0", DEFAULT_ACCURACY_M),
    ],
)
def test_accuracy_is_a_95_percent_radius(extra: str, expected_m: float) -> None:
    fix = fix_of(decode_query(f"id=7&lat=51.5&lon=-0.1&{extra}", RECEIVED))
    assert fix.accuracy_m == pytest.approx(expected_m)


def test_the_68_to_95_percent_factor_follows_from_a_circular_normal_error() -> None:
    # P(|e| <= r) = 1 - exp(-r^2 / 2 sigma^2) for a 2-D normal error of per-axis sigma.
    def within(r: float) -> float:
        return 1.0 - math.exp(-(r**2) / 2.0)

    r68 = math.sqrt(-2.0 * math.log(0.32))
    assert within(r68) == pytest.approx(0.68)
    assert within(r68 * R95_PER_R68) == pytest.approx(0.95)
    assert abs(R95_PER_R68 - 1.6214) < 1e-4
    # HDOP x UERE is the RMS radial error, sigma * sqrt(2).
    assert within(math.sqrt(2.0) * R95_PER_DRMS) == pytest.approx(0.95)
    assert normalised_accuracy_m(None, 1.0) == pytest.approx(8.65, abs=0.01)


@pytest.mark.parametrize(
    "query",
    [
        "id=7",
        "id=7&timestamp=1700000000",
        "id=7&lat=0&lon=0",  # "null island": no position
        "id=7&lat=0.0&lon=0.0&valid=true",
        "id=7&valid=false",
        "id=7&lat=&lon=",
    ],
)
def test_a_report_without_a_position_is_a_heartbeat(query: str) -> None:
    report = decode_query(query, RECEIVED)
    assert report.fix is None
    assert kinds(report) == [K.HEARTBEAT]
    assert report.events[0].device_id == "7"
    assert report.events[0].received_at == RECEIVED


def test_a_heartbeat_is_timed_by_its_timestamp() -> None:
    report = decode_query("id=7&timestamp=1700000000", RECEIVED)
    assert report.events[0].time == datetime.fromtimestamp(1700000000, UTC)


@pytest.mark.parametrize(("flag", "valid"), [("true", True), ("1", True), ("False", False)])
def test_valid_false_with_a_position_is_an_invalid_fix(flag: str, valid: bool) -> None:
    fix = fix_of(decode_query(f"id=7&lat=51.5&lon=-0.1&valid={flag}", RECEIVED))
    assert fix.valid is valid
    assert (fix.lat, fix.lon) == (51.5, -0.1)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("batt=57", [(K.BATTERY_LEVEL, 57.0)]),
        ("batt=0", [(K.BATTERY_LEVEL, 0.0)]),
        ("charge=true", [(K.CHARGING_ON, None)]),
        ("charge=false", [(K.CHARGING_OFF, None)]),
        ("batt=99.5&charge=1", [(K.BATTERY_LEVEL, 99.5), (K.CHARGING_ON, None)]),
    ],
)
def test_battery_and_charging_become_device_events(
    extra: str, expected: list[tuple[DeviceEventKind, float | None]]
) -> None:
    report = decode_query(f"id=7&timestamp=1700000000&lat=51.5&lon=-0.1&{extra}", RECEIVED)
    assert [(event.kind, event.value) for event in report.events] == expected
    assert all(event.time == fix_of(report).fix_time for event in report.events)


def test_a_heartbeat_carries_its_battery_level_too() -> None:
    report = decode_query("id=7&batt=15", RECEIVED)
    assert [(e.kind, e.value) for e in report.events] == [
        (K.HEARTBEAT, None),
        (K.BATTERY_LEVEL, 15.0),
    ]


def test_a_form_body_decodes_like_a_query_string() -> None:
    body = "id=dev-9&timestamp=2024-05-01+12%3A00%3A00&lat=51.752&lon=-0.336&speed=2&batt=80"
    report = decode_query(body, RECEIVED)
    assert fix_of(report).fix_time == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert kinds(report) == [K.BATTERY_LEVEL]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("timestamp=1377177267&lat=60.0&lon=30.0", "no device id"),
        ("id=&lat=1&lon=1", "no device id"),
        ("id=%20%20&lat=1&lon=1", "no device id"),
        ("id=a%00b", "device id has control characters"),
        ("id=" + "x" * 129, "device id longer than 128 characters"),
        ("id=7&lat=abc&lon=1", "latitude is not a number"),
        ("id=7&lat=91&lon=1", "latitude out of range"),
        ("id=7&lat=-90.5&lon=1", "latitude out of range"),
        ("id=7&lat=1&lon=180.1", "longitude out of range"),
        ("id=7&lat=nan&lon=1", "latitude is not a finite number"),
        ("id=7&lat=1&lon=inf", "longitude is not a finite number"),
        ("id=7&lat=1", "latitude without longitude"),
        ("id=7&lon=1", "longitude without latitude"),
        ("id=7&location=51.5", "location is not 'lat,lon'"),
        ("id=7&location=1,2,3", "location is not 'lat,lon'"),
        ("id=7&location=x,2", "latitude is not a number"),
        ("id=7&timestamp=yesterday", "timestamp is not a time"),
        ("id=7&timestamp=2016-01-27", "timestamp is not a time"),
        ("id=7&timestamp=2016-13-27T00:00:00Z", "timestamp is not a time"),
        ("id=7&timestamp=99999999999999999999", "timestamp out of range"),
        ("id=7&timestamp=" + "9" * 5000, "timestamp out of range"),
        ("id=7&speed=fast", "speed is not a number"),
        ("id=7&bearing=north", "bearing is not a number"),
        ("id=7&altitude=1e999", "altitude is not a finite number"),
        ("id=7&accuracy=x", "accuracy is not a number"),
        ("id=7&hdop=-1", "hdop is negative"),
        ("id=7&lat=1&lon=1&accuracy=1e308", "accuracy out of range"),
        ("id=7&lat=1&lon=1&hdop=200000", "accuracy out of range"),
        ("id=7&sat=2.5", "satellites is not a whole number"),
        ("id=7&sat=-1", "satellites is negative"),
        ("id=7&batt=101", "battery level out of range"),
        ("id=7&batt=-3", "battery level out of range"),
        ("id=7&valid=maybe", "valid is not true or false"),
        ("id=7&charge=yes", "charge is not true or false"),
        ("//[broken/?lat=1&lon=2", "no device id"),
        ("http://[x", "no device id"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(query: str, reason: str) -> None:
    with pytest.raises(OsmAndError, match=reason) as refused:
        decode_query(query, RECEIVED)
    assert refused.value.reason == str(refused.value)


def test_a_naive_received_at_is_a_programming_error_not_a_bad_request() -> None:
    with pytest.raises(ValueError, match="time-zone aware") as raised:
        decode_query("id=7", datetime(2024, 1, 1))  # noqa: DTZ001
    assert not isinstance(raised.value, OsmAndError)


# --- the JSON variant (Traccar Client 9+) ---


def traccar_client_body(**location: object) -> dict[str, Any]:
    """A body as Traccar Client sends it; keyword arguments replace parts of `location`."""
    body: dict[str, Any] = {
        "location": {
            "event": "motionchange",
            "is_moving": True,
            "uuid": "5c1e2d6a-1f9b-4c3e-9d7a-0e6f1b2c3d4e",
            "timestamp": "2024-05-01T11:59:58.250Z",
            "odometer": 1204.5,
            "coords": {
                "latitude": 51.752,
                "longitude": -0.336,
                "accuracy": 8.0,
                "speed": 1.5,
                "speed_accuracy": -1,
                "heading": 90.5,
                "heading_accuracy": -1,
                "altitude": 92.1,
                "ellipsoidal_altitude": 139.0,
                "altitude_accuracy": 3.2,
                "age": 12,
            },
            "activity": {"type": "walking", "confidence": 100},
            "battery": {"is_charging": False, "level": 0.57},
            "extras": {},
        },
        "device_id": "tc-123",
    }
    body["location"].update(location)
    return body


def test_a_traccar_client_json_body() -> None:
    report = decode_json(json.dumps(traccar_client_body()).encode(), RECEIVED)
    fix = fix_of(report)
    assert report.device_id == fix.device_id == "tc-123"
    assert fix.fix_time == datetime(2024, 5, 1, 11, 59, 58, 250000, tzinfo=UTC)
    assert (fix.lat, fix.lon, fix.valid) == (51.752, -0.336, True)
    assert fix.speed_mps == 1.5  # already m/s in JSON
    assert fix.heading_deg == 90.5
    assert fix.altitude_m == 92.1
    assert fix.accuracy_m == pytest.approx(8.0 * R95_PER_R68)
    assert fix.received_at == RECEIVED
    assert [(e.kind, e.value) for e in report.events] == [
        (K.BATTERY_LEVEL, 57.0),
        (K.CHARGING_OFF, None),
    ]


def test_json_as_text_bytes_or_mapping_decodes_the_same() -> None:
    body = traccar_client_body()
    text = json.dumps(body)
    assert decode_json(text, RECEIVED) == decode_json(text.encode(), RECEIVED)
    assert decode_json(body, RECEIVED) == decode_json(text, RECEIVED)


@pytest.mark.parametrize(
    ("coords", "field", "expected"),
    [
        ({"speed": -1}, "speed_mps", None),
        ({"heading": -1}, "heading_deg", None),
        ({"accuracy": -1}, "accuracy_m", DEFAULT_ACCURACY_M),
        ({"accuracy": None}, "accuracy_m", DEFAULT_ACCURACY_M),
        ({"altitude": None}, "altitude_m", None),
        ({"speed": 0}, "speed_mps", 0.0),
    ],
)
def test_json_unknown_readings(coords: dict[str, object], field: str, expected: object) -> None:
    body = traccar_client_body()
    body["location"]["coords"].update(coords)
    assert getattr(fix_of(decode_json(body, RECEIVED)), field) == expected


def test_json_charging_and_unknown_battery_level() -> None:
    report = decode_json(traccar_client_body(battery={"level": -1, "is_charging": True}), RECEIVED)
    assert kinds(report) == [K.CHARGING_ON]


def test_a_mock_location_is_decoded_as_an_invalid_fix() -> None:
    fix = fix_of(decode_json(traccar_client_body(mock=True), RECEIVED))
    assert fix.valid is False


def test_json_without_coords_or_location_is_a_heartbeat() -> None:
    no_coords = traccar_client_body(coords=None, battery=None)
    report = decode_json(no_coords, RECEIVED)
    assert report.fix is None
    assert kinds(report) == [K.HEARTBEAT]
    assert report.events[0].time == datetime(2024, 5, 1, 11, 59, 58, 250000, tzinfo=UTC)
    bare = decode_json({"device_id": 12345}, RECEIVED)
    assert (bare.device_id, kinds(bare), bare.events[0].time) == ("12345", [K.HEARTBEAT], RECEIVED)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (None, RECEIVED),
        ("2024-05-01T12:00:00+01:00", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        (1714564800, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800500, datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_json_timestamps(timestamp: object, expected: datetime) -> None:
    body = traccar_client_body(timestamp=timestamp)
    assert fix_of(decode_json(body, RECEIVED)).fix_time == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[" * 100_000, "body is not JSON"),
        (b"[1, 2]", "JSON body is not an object"),
        (b'{"location": {}}', "no device id"),
        (b'{"device_id": true}', "no device id"),
        (b'{"device_id": ""}', "no device id"),
        (b'{"device_id": "a", "location": [{}, {}]}', "batched locations are not supported"),
        (b'{"device_id": "a", "location": "here"}', "location is not an object"),
        (b'{"device_id": "a", "location": {"coords": []}}', "coords is not an object"),
        (b'{"device_id": "a", "location": {"coords": {"longitude": 1}}}', "no latitude"),
        (
            b'{"device_id": "a", "location": {"coords": {"latitude": "51", "longitude": 1}}}',
            "latitude is not a number",
        ),
        (
            b'{"device_id": "a", "location": {"coords": {"latitude": 95, "longitude": 1}}}',
            "latitude out of range",
        ),
        (
            b'{"device_id": "a", "location": {"coords": {"latitude": NaN, "longitude": 1}}}',
            "latitude is not a finite number",
        ),
        (
            b'{"device_id": "a", "location": {"coords": {"latitude": 1e400, "longitude": 1}}}',
            "latitude is not a finite number",
        ),
        (b'{"device_id": "a", "location": {"timestamp": "soon"}}', "timestamp is not a time"),
        (b'{"device_id": "a", "location": {"timestamp": true}}', "timestamp is not a number"),
        (b'{"device_id": "a", "location": {"battery": 0.5}}', "battery is not an object"),
        (
            b'{"device_id": "a", "location": {"battery": {"level": 57}}}',
            r"battery level out of range \(0 to 1\)",
        ),
        (
            b'{"device_id": "a", "location": {"battery": {"is_charging": "yes"}}}',
            "is_charging is not true or false",
        ),
    ],
)
def test_bad_json_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(OsmAndError, match=reason):
        decode_json(body, RECEIVED)


# --- arbitrary input never raises anything but OsmAndError ---

KEYS = [
    "id", "deviceid", "timestamp", "lat", "lon", "location", "speed", "bearing", "heading",
    "altitude", "accuracy", "hdop", "batt", "charge", "valid", "sat", "satellites", "x",
]  # fmt: skip
NUMBERISH = st.one_of(
    st.text(),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["true", "false", "1", "0", "-1", "2016-01-27T18:55:47Z", "1,2", ""]),
)


def _check_report(report: OsmAndReport) -> None:
    assert report.device_id.strip() == report.device_id != ""
    assert (report.fix is None) == (K.HEARTBEAT in kinds(report))
    if report.fix is not None:
        assert report.fix.fix_time.tzinfo is not None
        assert -90 <= report.fix.lat <= 90 and -180 <= report.fix.lon <= 180
        assert math.isfinite(report.fix.accuracy_m) and report.fix.accuracy_m > 0


@given(st.text())
def test_any_query_string_decodes_or_is_refused_with_a_reason(text: str) -> None:
    with contextlib.suppress(OsmAndError):
        _check_report(decode_query(text, RECEIVED))


@given(st.sampled_from(["/", "?", "//", "http://", "https://[", "/?id=7&"]), st.text())
def test_any_request_target_decodes_or_is_refused_with_a_reason(prefix: str, text: str) -> None:
    with contextlib.suppress(OsmAndError):
        _check_report(decode_query(prefix + text, RECEIVED))


@given(st.dictionaries(st.sampled_from(KEYS), NUMBERISH))
def test_any_values_of_the_known_parameters_decode_or_are_refused(params: dict[str, str]) -> None:
    for given_as in (params, urlencode(params)):
        with contextlib.suppress(OsmAndError):
            _check_report(decode_query(given_as, RECEIVED))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
JSON_LEAVES = st.none() | st.booleans() | st.floats() | st.integers() | st.text() | JSON_VALUES


@given(JSON_VALUES)
def test_any_json_decodes_or_is_refused_with_a_reason(value: object) -> None:
    with contextlib.suppress(OsmAndError):
        _check_report(decode_json(json.dumps(value), RECEIVED))


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "device_id": JSON_LEAVES,
            "timestamp": JSON_LEAVES,
            "latitude": JSON_LEAVES,
            "longitude": JSON_LEAVES,
            "accuracy": JSON_LEAVES,
            "speed": JSON_LEAVES,
            "heading": JSON_LEAVES,
            "level": JSON_LEAVES,
            "is_charging": JSON_LEAVES,
            "mock": JSON_LEAVES,
        },
    )
)
def test_any_values_in_a_traccar_client_body_decode_or_are_refused(
    parts: Mapping[str, object],
) -> None:
    body = traccar_client_body()
    location = body["location"]
    for name, value in parts.items():
        if name == "device_id":
            body["device_id"] = value
        elif name in ("timestamp", "mock"):
            location[name] = value
        elif name in ("level", "is_charging"):
            location["battery"][name] = value
        else:
            location["coords"][name] = value
    with contextlib.suppress(OsmAndError):
        _check_report(decode_json(body, RECEIVED))
