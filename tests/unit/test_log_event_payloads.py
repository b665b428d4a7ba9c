"""The log's compact device-event payload, and `dumps` writing what the json module writes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind
from tagwatch.log.codec import (
    EVENT_FIELDS,
    PayloadError,
    decode_record,
    dumps,
    encode_event,
    event_key,
    event_record,
    loads,
    stamped_event_records,
)
from tagwatch.log.contract import EVENT, InboxRecord

T = datetime(2026, 11, 2, 12, 0, 1, 123456, tzinfo=UTC)


def stored(payload: dict[str, object], device_id: str = "tag-1") -> InboxRecord:
    """As the inbox hands it back: through JSON text."""
    return InboxRecord(1, "k", EVENT, device_id, loads(dumps(payload)), T)


def test_an_event_record_holds_the_compact_form() -> None:
    event = DeviceEvent("tag-1", T, DeviceEventKind.BATTERY_LEVEL, 42.5, T + timedelta(seconds=2))
    record = event_record(event, received_at=T)
    assert record.payload == {
        "event": [
            (T - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1),
            "battery_level",
            42.5,
            (T + timedelta(seconds=2) - datetime(1970, 1, 1, tzinfo=UTC))
            // timedelta(microseconds=1),
        ]
    }
    assert len(record.payload["event"]) == len(EVENT_FIELDS)  # type: ignore[arg-type]
    assert decode_record(stored(record.payload)) == event


def test_the_named_form_of_older_event_records_is_still_read() -> None:
    event = DeviceEvent("tag-1", T, DeviceEventKind.STRAP_TAMPER, None, T)
    assert decode_record(stored(encode_event(event))) == event


def test_stamping_sets_received_at_only_where_the_event_has_none() -> None:
    own = DeviceEvent("tag-1", T, DeviceEventKind.CHARGING_ON, None, T + timedelta(seconds=1))
    bare = DeviceEvent("tag-1", T + timedelta(seconds=5), DeviceEventKind.CHARGING_OFF)
    later = T + timedelta(seconds=9)
    records = stamped_event_records([own, bare], later)
    assert [r.key for r in records] == [event_key(own), event_key(bare)]
    assert [decode_record(stored(r.payload)) for r in records] == [
        own,
        DeviceEvent("tag-1", T + timedelta(seconds=5), DeviceEventKind.CHARGING_OFF, None, later),
    ]
    assert all(r.received_at == later for r in records)


@pytest.mark.parametrize(
    "fields",
    [
        [],
        [1, "battery_level", 5.0],
        ["2026-11-02T12:00:00+00:00", "battery_level", 5.0, None],
        [1, "teleported", None, None],
        [1, "battery_level", "five", None],
        [1, "battery_level", None, 2.5],
        "not a list",
    ],
    ids=[
        "empty",
        "too-few",
        "text-time",
        "unknown-kind",
        "text-value",
        "fractional-instant",
        "not-a-list",
    ],
)
def test_a_broken_compact_event_payload_is_a_payload_error(fields: object) -> None:
    with pytest.raises(PayloadError):
        decode_record(stored({"event": fields}))


instants = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)


@given(
    time=instants,
    kind=st.sampled_from(list(DeviceEventKind)),
    value=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    received=st.none() | instants,
)
def test_any_event_survives_the_log(
    time: datetime, kind: DeviceEventKind, value: float | None, received: datetime | None
) -> None:
    event = DeviceEvent("tag-9", time, kind, value, received)
    [record] = stamped_event_records([event], T)
    assert record.key == event_key(event)
    back = decode_record(stored(record.payload, "tag-9"))
    assert back == DeviceEvent("tag-9", time, kind, value, T if received is None else received)


def test_a_value_without_a_number_is_written_as_null() -> None:
    record = event_record(
        DeviceEvent("t", T, DeviceEventKind.BATTERY_LEVEL, math.nan), received_at=T
    )
    assert "NaN" not in dumps(record.payload)
    back = decode_record(stored(record.payload, "t"))
    assert isinstance(back, DeviceEvent) and back.value is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_dumps_writes_what_the_json_module_writes(payload: dict[str, object]) -> None:
    assert dumps(payload) == json.dumps(payload, separators=(",", ":"), allow_nan=False)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_dumps_refuses_numbers_json_has_not(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON"):
        dumps({"fix": [bad]})


def test_dumps_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        dumps({"when": T})
