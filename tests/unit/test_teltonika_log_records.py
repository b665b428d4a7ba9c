"""The Teltonika gateway writes log records straight from a packet's readings: they must be
the very records that the `Fix` and `DeviceEvent` objects of `to_domain` become."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tagwatch.log.codec import decode_record, dumps, event_records_of, fix_records_of
from tagwatch.log.contract import InboxRecord, NewRecord
from tagwatch.protocols.teltonika_avl import AvlRecord
from tagwatch.protocols.teltonika_mapping import IoMapping, read_packet, to_domain
from tagwatch.service.ingest import stamp

NOW = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
MAPPED_IDS = (1, 2, 21, 66, 67, 69, 113, 181, 182, 239, 240, 318)
MAX_MS = 253_402_214_400_000  # 9999-12-31: beyond it a record is refused alone

io_values = st.dictionaries(
    st.sampled_from(MAPPED_IDS) | st.integers(0, 255), st.integers(0, 5000), max_size=6
)


@st.composite
def avl_records(draw: st.DrawFn) -> AvlRecord:
    return AvlRecord(
        timestamp_ms=draw(st.integers(0, MAX_MS + 10) | st.just(2**64 - 1)),
        lon_e7=draw(st.integers(-(2**31), 2**31 - 1) | st.just(0)),
        lat_e7=draw(st.integers(-(2**31), 2**31 - 1) | st.just(0)),
        altitude_m=draw(st.integers(-(2**15), 2**15 - 1)),
        angle_deg=draw(st.integers(0, 2**16 - 1)),
        satellites=draw(st.integers(0, 20)),
        speed_kmh=draw(st.integers(0, 2**16 - 1)),
        io1=draw(io_values),
        io2=draw(io_values),
    )


mappings = st.builds(
    IoMapping,
    strap_input=st.none() | st.sampled_from([1, 2]),
    strap_closed_value=st.integers(0, 1),
    case_input=st.none() | st.just(2),
    external_power_min_mv=st.integers(0, 5000),
)


def stored(record: NewRecord, seq: int) -> InboxRecord:
    return InboxRecord(seq, record.key, record.kind, record.device_id, record.payload, NOW)


@given(st.lists(avl_records(), max_size=12), mappings)
def test_records_from_readings_are_the_records_of_the_domain_objects(
    records: list[AvlRecord], mapping: IoMapping
) -> None:
    readings = read_packet(records, mapping)
    direct = fix_records_of("352093081234567", readings.fixes, NOW)
    direct += event_records_of("352093081234567", readings.events, NOW)

    decoded = to_domain("352093081234567", records, received_at=NOW, mapping=mapping)
    through_objects = stamp(decoded.fixes, decoded.events, NOW)

    assert direct == through_objects
    assert [dumps(r.payload) for r in direct] == [dumps(r.payload) for r in through_objects]
    assert len(readings.refused) == len(decoded.refused)
    # and the monitor reads back the events to_domain made (fixes: NaN positions aside)
    events = [decode_record(stored(r, i)) for i, r in enumerate(direct) if r.kind == "event"]
    assert events == list(decoded.events)
