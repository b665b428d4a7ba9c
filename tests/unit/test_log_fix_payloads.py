"""The log's compact fix payload: what ingest writes for every fix and the monitor reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import Fix, FixSource
from tagwatch.log.codec import (
    FIX_FIELDS,
    PayloadError,
    decode_record,
    dumps,
    encode_fix,
    fix_key,
    fix_record,
    loads,
    stamped_fix_records,
)
from tagwatch.log.contract import FIX, InboxRecord

T = datetime(2026, 11, 2, 12, 0, 1, 123456, tzinfo=UTC)
FULL = Fix(
    "tag-1",
    T,
    51.752,
    -0.336,
    12.5,
    received_at=T + timedelta(seconds=3),
    device_time=T + timedelta(seconds=1),
    speed_mps=1.25,
    heading_deg=359.5,
    altitude_m=88.0,
    satellites=9,
    hdop=0.9,
    source=FixSource.CELL,
)


def stored(payload: dict[str, object], device_id: str = "tag-1") -> InboxRecord:
    """As the inbox hands it back: through JSON text."""
    return InboxRecord(1, "k", FIX, device_id, loads(dumps(payload)), T)


@pytest.mark.parametrize(
    "fix",
    [FULL, Fix("tag-1", T, 51.0, -1.0, 30.0), Fix("tag-1", T, math.nan, math.nan, 0.0, False)],
    ids=["every-field", "minimal", "invalid"],
)
def test_a_fix_record_comes_back_equal(fix: Fix) -> None:
    record = fix_record(fix, received_at=T)
    assert list(record.payload) == ["fix"]
    back = decode_record(stored(record.payload))
    assert isinstance(back, Fix)
    if fix.valid:
        assert back == fix
    else:
        assert math.isnan(back.lat) and back.fix_time == fix.fix_time and not back.valid


def test_instants_are_whole_microseconds_since_1970() -> None:
    local = T.astimezone(timezone(timedelta(hours=1)))
    [record] = stamped_fix_records([Fix("tag-1", local, 51.0, -1.0, 5.0)], T)
    fields = dict(zip(FIX_FIELDS, record.payload["fix"], strict=True))
    assert fields["fix_time"] == fields["received_at"] == 1_793_620_801_123_456
    back = decode_record(stored(record.payload))
    assert back.fix_time == T and back.fix_time.tzinfo is UTC


def test_ingest_stamps_received_at_only_where_the_fix_has_none() -> None:
    own = Fix("tag-1", T, 51.0, -1.0, 5.0, received_at=T - timedelta(seconds=5))
    bare = Fix("tag-1", T + timedelta(seconds=1), 51.0, -1.0, 5.0)
    records = stamped_fix_records([own, bare], T + timedelta(seconds=9))
    decoded = [decode_record(stored(r.payload)) for r in records]
    assert [f.received_at for f in decoded] == [own.received_at, T + timedelta(seconds=9)]
    assert [r.key for r in records] == [fix_key(own), fix_key(bare)]
    assert all(r.received_at == T + timedelta(seconds=9) for r in records)


def test_the_named_form_of_older_records_is_still_read() -> None:
    assert decode_record(stored(encode_fix(FULL))) == FULL


@pytest.mark.parametrize(
    "fields",
    [
        [],
        [
            "2026-11-02T12:00:00+00:00",
            51,
            0,
            5,
            True,
            None,
            None,
            None,
            None,
            None,
            9,
            None,
            "gnss",
        ],
        [1, "x", 0, 5, True, None, None, None, None, None, 9, None, "gnss"],
        [1, 91.0, 0, 5, True, None, None, None, None, None, 9, None, "gnss"],
        [1, 51, 0, 5, "yes", None, None, None, None, None, 9, None, "gnss"],
        [1, 51, 0, 5, True, None, None, None, None, None, True, None, "gnss"],
        [1, 51, 0, 5, True, None, None, None, None, None, 9, None, "radar"],
        [1, 51, 0, 5, True, 2.5, None, None, None, None, 9, None, "gnss"],
    ],
    ids=[
        "empty",
        "text-time",
        "text-latitude",
        "out-of-range",
        "text-valid",
        "boolean-satellites",
        "unknown-source",
        "fractional-instant",
    ],
)
def test_a_broken_compact_payload_is_a_payload_error(fields: list[object]) -> None:
    with pytest.raises(PayloadError):
        decode_record(stored({"fix": fields}))


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)


@given(
    fix_time=instants,
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    accuracy=st.floats(0, 1e6),
    received=st.none() | instants,
    sent=st.none() | instants,
    speed=st.none() | finite,
    satellites=st.none() | st.integers(0, 64),
    source=st.sampled_from(list(FixSource)),
)
def test_any_valid_fix_survives_the_log(
    fix_time: datetime,
    lat: float,
    lon: float,
    accuracy: float,
    received: datetime | None,
    sent: datetime | None,
    speed: float | None,
    satellites: int | None,
    source: FixSource,
) -> None:
    fix = Fix(
        "tag-9",
        fix_time,
        lat,
        lon,
        accuracy,
        received_at=received,
        device_time=sent,
        speed_mps=speed,
        satellites=satellites,
        source=source,
    )
    [record] = stamped_fix_records([fix], T)
    back = decode_record(stored(record.payload, "tag-9"))
    assert back == Fix(
        "tag-9",
        fix_time,
        lat,
        lon,
        accuracy,
        received_at=T if received is None else received,
        device_time=sent,
        speed_mps=speed,
        satellites=satellites,
        source=source,
    )
    assert record.key == fix_key(fix)


def _same(a: Fix, b: Fix) -> bool:
    """Equal, and equal in what `==` does not look at: time zones and number types."""
    return (
        a == b
        and all(
            getattr(a, name) is None or (getattr(a, name).tzinfo is getattr(b, name).tzinfo)
            for name in ("fix_time", "received_at", "device_time")
        )
        and all(
            type(getattr(a, name)) is type(getattr(b, name))
            for name in ("lat", "lon", "accuracy_m", "speed_mps", "altitude_m", "satellites")
        )
    )


# Fixes as the API, the gateways and older payloads make them: UTC or not, ints among the
# floats, infinities and NaN where no validation stops them.
any_stamped_fix = st.builds(
    Fix,
    device_id=st.just("tag-9"),
    fix_time=instants,
    lat=st.floats(-90, 90) | st.integers(-90, 90),
    lon=st.floats(-180, 180),
    accuracy_m=st.floats(0, 1e6) | st.just(math.inf),
    received_at=instants,
    device_time=st.none() | instants,
    speed_mps=st.none() | st.floats(width=64),
    altitude_m=st.none() | st.floats(width=64) | st.integers(-100, 9000),
    satellites=st.none() | st.integers(0, 64),
    source=st.sampled_from(list(FixSource)),
)


@given(fix=any_stamped_fix)
def test_a_record_hands_over_its_fix_only_as_the_payload_reads_back(fix: Fix) -> None:
    """The monitor takes `decoded` instead of decoding a record it was handed in process; it
    must be exactly what a restarted monitor would read from the stored payload."""
    [record] = stamped_fix_records([fix], T)
    if record.decoded is None:
        return  # decoded from its payload, as before (an infinite accuracy is even refused)
    assert record.decoded is fix
    back = decode_record(stored(record.payload, "tag-9"))
    assert isinstance(back, Fix)
    assert _same(back, fix)


def test_api_fixes_in_utc_are_handed_over_and_others_are_not() -> None:
    """What the batch route makes (UTC instants, received_at set, floats) skips decoding;
    a fix in another time zone or without its own received_at is decoded as before."""
    utc = Fix("tag-1", T, 51.0, -1.0, 5.0, received_at=T, speed_mps=1.0)
    [record] = stamped_fix_records([utc], T)
    assert record.decoded is utc
    local = Fix("tag-1", T.astimezone(timezone(timedelta(hours=1))), 51.0, -1.0, 5.0, received_at=T)
    unstamped = Fix("tag-1", T, 51.0, -1.0, 5.0)
    assert [r.decoded for r in stamped_fix_records([local, unstamped], T)] == [None, None]
