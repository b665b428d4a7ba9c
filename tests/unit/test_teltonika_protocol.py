"""The Teltonika decoder against captured frames, frames written from the specification,
and arbitrary input: logins, Codec 8/8E/16 AVL packets, Codec 12/13 messages, splitting."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagwatch.protocols.teltonika import (
    COMMAND,
    LOGIN_ACCEPTED,
    RESPONSE,
    CommandMessage,
    Frame,
    FrameSplitter,
    Login,
    Rejection,
    TeltonikaSession,
    TextMessage,
    crc16_ibm,
    decode_data,
    decode_login,
    encode_ack,
    encode_avl_packet,
    encode_command,
    encode_frame,
    encode_login,
    encode_text_message,
)
from tagwatch.protocols.teltonika_avl import (
    AvlPacket,
    AvlRecord,
    Codec,
    decode_avl_data,
    encode_avl_data,
)
from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError
from tagwatch.protocols.teltonika_mapping import to_domain

FRAMES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "frames.json"
IMEI = "356307042441013"


def reference_crc(data: bytes) -> int:
    """CRC-16/IBM bit by bit, as the specification describes it (checks the library)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def packet_of(frame: bytes) -> AvlPacket:
    items = FrameSplitter().feed(frame)
    assert len(items) == 1 and isinstance(items[0], Frame), items
    packet = decode_data(items[0].data)
    assert isinstance(packet, AvlPacket)
    return packet


# --- conformance: frames from Traccar's test suite (../shared/conformance) ---------------


def _teltonika() -> dict[str, Any]:
    if not FRAMES.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"conformance frames missing: {FRAMES}")
        pytest.skip(f"conformance frames missing: {FRAMES}")
    data: dict[str, Any] = json.loads(FRAMES.read_text())["teltonika_tcp"]
    return data


def _frames(codec: str | None = None, *, key: str) -> list[Any]:
    if not FRAMES.exists():
        return [pytest.param(None, id="frames.json missing")]
    frames = json.loads(FRAMES.read_text())["teltonika_tcp"]["frames"]
    return [
        pytest.param(frame, id=frame["id"])
        for frame in frames
        if key in frame and (codec is None or frame["codec"] == codec)
    ]


def test_the_conformance_login_is_the_imei_and_is_answered_01() -> None:
    login = _teltonika()["login"]
    raw = bytes.fromhex(login["hex"])
    assert decode_login(raw) == login["imei"]
    assert encode_login(login["imei"]) == raw
    assert TeltonikaSession().feed(raw) == [Login(login["imei"])]
    assert bytes.fromhex(login["reply_hex"]) == LOGIN_ACCEPTED


@pytest.mark.parametrize("frame", _frames(key="decoded"))
def test_conformance_frames_decode_to_the_listed_values(frame: dict[str, Any] | None) -> None:
    if frame is None:
        _teltonika()
        return
    raw = bytes.fromhex(frame["hex"])
    assert int.from_bytes(raw[-4:], "big") == reference_crc(raw[8:-4])
    packet = packet_of(raw)
    assert packet.codec == {"8": Codec.CODEC_8, "8E": Codec.CODEC_8E}[frame["codec"]]
    expected = frame["decoded"]
    assert len(packet.records) == expected["records"]
    record = packet.records[0]
    fix = to_domain(IMEI, packet.records).fixes[0]
    for name, value in expected.items():
        match name:
            case "records":
                pass
            case "fix_time":
                assert fix.fix_time == datetime.fromisoformat(value.replace("Z", "+00:00"))
                assert fix.device_time == fix.fix_time
            case "lat":
                assert record.lat == pytest.approx(value, abs=1e-9)
                assert fix.lat == pytest.approx(value, abs=1e-9)
            case "lon":
                assert record.lon == pytest.approx(value, abs=1e-9)
                assert fix.lon == pytest.approx(value, abs=1e-9)
            case "altitude_m":
                assert record.altitude_m == value
                assert fix.altitude_m == value
            case "heading":
                assert record.angle_deg == value
                assert fix.heading_deg == value
            case "satellites":
                assert record.satellites == value
                assert fix.satellites == value
            case "speed_kmh":
                assert record.speed_kmh == value
                assert fix.speed_mps == pytest.approx(value / 3.6)
            case "valid":
                assert fix.valid is value
            case _:
                pytest.fail(f"no check for decoded field {name!r}")
    if expected.get("satellites", 1) == 0:
        assert fix.valid is False  # 0 satellites: the device repeated its last position


def test_conformance_codec_8e_frame_keeps_its_variable_length_ble_element() -> None:
    (frame,) = [f for f in _teltonika()["frames"] if f["id"] == "A2"]
    packet = packet_of(bytes.fromhex(frame["hex"]))
    assert packet.codec is Codec.CODEC_8E
    assert len(packet.records) == frame["asserted"]["records"]
    (record,) = packet.records
    assert record.event_io == 10831
    assert list(record.iox) == [10831]
    ble = record.iox[10831]
    assert len(ble) == 30
    # The BLE sensor block ends with parameter 0x0E (battery, mV): Traccar's tag1Battery=3030.
    assert ble[-4:-2] == b"\x0e\x02" and int.from_bytes(ble[-2:], "big") == 3030
    assert record.satellites == 14 and record.lat == pytest.approx(54.70086)


def test_conformance_codec_13_frame_is_a_timestamped_text_message() -> None:
    (frame,) = [f for f in _teltonika()["frames"] if f["id"] == "A3"]
    (item,) = FrameSplitter().feed(bytes.fromhex(frame["hex"]))
    assert isinstance(item, Frame)
    message = decode_data(item.data)
    assert isinstance(message, TextMessage)
    assert message.kind == RESPONSE
    assert datetime.fromtimestamp(message.timestamp_s, UTC).year == 2023
    fields = message.payload.decode("ascii").split("|")
    assert fields[0] == "GTSL" and fields[4] == "12749884"  # Traccar's driverUniqueId


# --- frames written from the specification ---------------------------------------------

# Codec 8, one record, one IO element of each size (1, 2, 4, 8 bytes).
SPEC_CODEC_8 = (
    "00000000"
    "0000003b"  # preamble, data field length 59
    "08"
    "01"  # codec 8, one record
    "0000018bcfe56800"
    "01"  # 2023-11-14T22:13:20Z, priority high
    "ffccbb00"
    "1ed8ba80"  # longitude -0.336, latitude 51.752
    "0057"
    "00b4"
    "09"
    "0024"  # altitude 87 m, angle 180, 9 satellites, 36 km/h
    "01"
    "07"  # event IO 1 (DIN1), 7 elements
    "03"
    "0100"
    "4501"
    "714b"  # N1: DIN1=0, GNSS status 1, battery 75 %
    "02"
    "421234"
    "b6000c"  # N2: external 4660 mV, HDOP 1.2
    "01"
    "c70001e240"  # N4: trip odometer 123456 m
    "01"
    "4e0102030405060708"  # N8: iButton 0x0102030405060708
    "01"  # number of data 2
    "0000aefd"  # CRC-16/IBM
)

# Codec 8 Extended, two records: every size including a variable-length (NX) element, and
# a record without a GNSS fix.
SPEC_CODEC_8E = (
    "00000000"
    "00000070"  # preamble, data field length 112
    "8e"
    "02"
    # record 1: no fix (0 satellites), altitude -12 m
    "0000018bcfe56800"
    "00"
    "ffccbb00"
    "1ed8ba80"
    "fff4"
    "0000"
    "00"
    "0000"
    "0000"
    "0005"  # event IO 0 (periodic), 5 elements
    "0001"
    "000101"  # N1: DIN1=1
    "0001"
    "00430fa0"  # N2: battery 4000 mV
    "0001"
    "00f100005c2b"  # N4: GSM operator 23595
    "0001"
    "00ee0000000000abcdef"  # N8: user id
    "0001"
    "01010003616263"  # NX: IO 257, 3 bytes "abc"
    # record 2: 15 s later, 12 satellites, battery 20 % (the event)
    "0000018bcfe5a298"
    "00"
    "ffccbb00"
    "1ed8ba80"
    "0057"
    "005a"
    "0c"
    "0005"
    "0071"
    "0001"
    "0001"
    "007114"
    "0000"
    "0000"
    "0000"
    "0000"
    "02"
    "00009b78"
)


def test_a_codec_8_frame_from_the_specification_covers_every_io_size() -> None:
    raw = bytes.fromhex(SPEC_CODEC_8)
    assert crc16_ibm(raw[8:-4]) == reference_crc(raw[8:-4]) == 0xAEFD
    (record,) = packet_of(raw).records
    assert record == AvlRecord(
        timestamp_ms=1_700_000_000_000,
        priority=1,
        lon_e7=-3_360_000,
        lat_e7=517_520_000,
        altitude_m=87,
        angle_deg=180,
        satellites=9,
        speed_kmh=36,
        event_io=1,
        io1={1: 0, 69: 1, 113: 75},
        io2={66: 4660, 182: 12},
        io4={199: 123456},
        io8={78: 0x0102030405060708},
    )
    assert encode_avl_packet(Codec.CODEC_8, [record]) == raw


def test_a_codec_8e_frame_from_the_specification_covers_every_io_size_and_nx() -> None:
    raw = bytes.fromhex(SPEC_CODEC_8E)
    packet = packet_of(raw)
    assert packet.codec is Codec.CODEC_8E
    first, second = packet.records
    assert (first.io1, first.io2, first.io4, first.io8) == (
        {1: 1},
        {67: 4000},
        {241: 23595},
        {238: 0xABCDEF},
    )
    assert first.iox == {257: b"abc"}
    assert (first.altitude_m, first.satellites) == (-12, 0)
    assert second.timestamp_ms - first.timestamp_ms == 15_000
    assert (second.event_io, second.io1, second.satellites) == (113, {113: 20}, 12)
    assert encode_avl_packet(Codec.CODEC_8E, packet.records) == raw


def test_a_codec_16_record_carries_its_generation_type() -> None:
    record = AvlRecord(1_700_000_000_000, event_io=385, io1={1: 1}, io2={385: 7}, generation_type=2)
    data = encode_avl_packet(Codec.CODEC_16, [record])
    assert packet_of(data).records == (record,)


def test_the_ack_is_the_record_count_in_four_bytes() -> None:
    assert encode_ack(2) == b"\x00\x00\x00\x02"


# --- Codec 12 ---------------------------------------------------------------------------


def test_a_codec_12_command_matches_the_specification_example() -> None:
    # "getinfo" as the Teltonika specification shows it.
    assert encode_command("getinfo") == bytes.fromhex(
        "000000000000000f0c010500000007676574696e666f0100004312"
    )


def test_a_codec_12_response_decodes_to_its_text() -> None:
    answer = "INI:2019/7/22 7:22 RTC:2019/7/22 7:53 RST:2 ERR:1 SR:0 BR:0"
    (frame,) = FrameSplitter().feed(encode_command(answer, kind=RESPONSE))
    assert isinstance(frame, Frame)
    message = decode_data(frame.data)
    assert message == CommandMessage(RESPONSE, answer.encode())
    assert message.text == answer


def test_a_codec_12_message_whose_size_does_not_fit_is_refused() -> None:
    data = bytes.fromhex("0c010500000009676574696e666f01")  # says 9 bytes, has 7
    with pytest.raises(TeltonikaError) as refused:
        decode_data(data)
    assert refused.value.reason is Reason.BAD_RECORD


def test_a_codec_13_message_round_trips() -> None:
    (frame,) = FrameSplitter().feed(encode_text_message(1_680_554_705, b"hello\r\n"))
    assert isinstance(frame, Frame)
    assert decode_data(frame.data) == TextMessage(RESPONSE, 1_680_554_705, b"hello\r\n")


# --- refusals ---------------------------------------------------------------------------


def _corrupt_crc(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0xFF])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes.fromhex("08010001"), Reason.BAD_RECORD),  # a record cut short
        (bytes.fromhex("080102"), Reason.COUNT_MISMATCH),  # number of data 1 != 2
        (bytes.fromhex("99010001"), Reason.UNKNOWN_CODEC),
        (bytes.fromhex("0800ff00"), Reason.BAD_RECORD),  # a byte left over
        (b"", Reason.BAD_LENGTH),
    ],
)
def test_malformed_data_is_refused_with_its_reason(data: bytes, reason: Reason) -> None:
    with pytest.raises(TeltonikaError) as refused:
        decode_data(data)
    assert refused.value.reason is reason


def test_an_io_total_that_does_not_add_up_is_a_count_mismatch() -> None:
    raw = bytearray(bytes.fromhex(SPEC_CODEC_8)[8:-4])
    raw[2 + 24 + 1] = 6  # "6 elements" where 3 + 2 + 1 + 1 follow
    with pytest.raises(TeltonikaError) as refused:
        decode_avl_data(bytes(raw))
    assert refused.value.reason is Reason.COUNT_MISMATCH


def test_a_bad_crc_is_refused_and_the_next_frame_still_arrives() -> None:
    good = bytes.fromhex(SPEC_CODEC_8)
    items = FrameSplitter().feed(_corrupt_crc(good) + good)
    assert [type(item) for item in items] == [Rejection, Frame]
    assert isinstance(items[0], Rejection) and items[0].reason is Reason.BAD_CRC


def test_garbage_between_frames_is_one_rejection_and_loses_no_frame() -> None:
    good = bytes.fromhex(SPEC_CODEC_8)
    items = FrameSplitter().feed(good + b"\x00\x17garbage\x00\x00\x00" + good)
    assert [type(item) for item in items] == [Frame, Rejection, Frame]
    assert isinstance(items[1], Rejection) and items[1].reason is Reason.BAD_PREAMBLE


def test_garbage_ending_like_a_frame_header_loses_no_frame_however_tcp_cuts_it() -> None:
    # Found by fuzz/fuzz_teltonika_stream.py: when a read ended right after a plausible
    # preamble and length, the splitter took them for a frame before its codec id arrived,
    # and the next frame's bytes went into that false frame (lost to a bad CRC).
    good = bytes.fromhex(SPEC_CODEC_8)
    header_of_16_bytes = bytes(4) + (16).to_bytes(4, "big")  # and no codec id yet
    stream = b"\x01\x02" + header_of_16_bytes + good
    whole = FrameSplitter().feed(stream)
    assert [type(item) for item in whole] == [Rejection, Frame]
    for cut in range(len(stream) + 1):
        splitter = FrameSplitter()
        assert splitter.feed(stream[:cut]) + splitter.feed(stream[cut:]) == whole, cut


def test_an_impossible_length_is_refused_and_the_stream_recovers() -> None:
    good = bytes.fromhex(SPEC_CODEC_8)
    items = FrameSplitter().feed(b"\x00\x00\x00\x00\x7f\xff\xff\xff" + good)
    assert [type(item) for item in items] == [Rejection, Frame]
    assert isinstance(items[0], Rejection) and items[0].reason is Reason.BAD_LENGTH


@pytest.mark.parametrize(
    "raw", [b"\x00\x00", b"\x00\x02  ", b"\x00\x03\x01\x02\x03", b"\xff\xff" + b"1" * 10]
)
def test_a_bad_login_is_refused(raw: bytes) -> None:
    session = TeltonikaSession()
    (item,) = session.feed(raw) or [None]
    assert isinstance(item, Rejection) and item.reason is Reason.BAD_LOGIN
    assert session.feed(bytes.fromhex(SPEC_CODEC_8)) == []  # nothing after a refused login


def test_a_login_split_anywhere_and_followed_by_a_frame_is_read() -> None:
    stream = encode_login(IMEI) + bytes.fromhex(SPEC_CODEC_8)
    for cut in range(len(stream) + 1):
        session = TeltonikaSession()
        items = session.feed(stream[:cut]) + session.feed(stream[cut:])
        assert [type(item) for item in items] == [Login, Frame], cut
        assert session.imei == IMEI


# --- properties -------------------------------------------------------------------------

u8, u16, u32 = (st.integers(0, 2**bits - 1) for bits in (8, 16, 32))
u64 = st.integers(0, 2**64 - 1)


@st.composite
def records(draw: st.DrawFn, codec: Codec) -> AvlRecord:
    io_id = u8 if codec is Codec.CODEC_8 else u16
    sized = [draw(st.dictionaries(io_id, values, max_size=4)) for values in (u8, u16, u32, u64)]
    variable = (
        draw(st.dictionaries(u16, st.binary(max_size=40), max_size=3))
        if codec is Codec.CODEC_8E
        else {}
    )
    return AvlRecord(
        timestamp_ms=draw(u64),
        priority=draw(st.integers(0, 2)),
        lon_e7=draw(st.integers(-(2**31), 2**31 - 1)),
        lat_e7=draw(st.integers(-(2**31), 2**31 - 1)),
        altitude_m=draw(st.integers(-(2**15), 2**15 - 1)),
        angle_deg=draw(u16),
        satellites=draw(u8),
        speed_kmh=draw(u16),
        event_io=draw(io_id),
        io1=sized[0],
        io2=sized[1],
        io4=sized[2],
        io8=sized[3],
        iox=variable,
        generation_type=draw(u8) if codec is Codec.CODEC_16 else None,
    )


@st.composite
def packets(draw: st.DrawFn) -> tuple[Codec, list[AvlRecord]]:
    codec = draw(st.sampled_from([Codec.CODEC_8, Codec.CODEC_8E, Codec.CODEC_16]))
    return codec, draw(st.lists(records(codec), min_size=1, max_size=5))


@given(packets())
def test_encoding_then_decoding_gives_the_same_records(
    packet: tuple[Codec, list[AvlRecord]],
) -> None:
    codec, sent = packet
    decoded = packet_of(encode_avl_packet(codec, sent))
    assert decoded == AvlPacket(codec, tuple(sent))


def _decode_all(session: TeltonikaSession, chunks: list[bytes]) -> None:
    """Feed and decode everything; a frame that does not decode is refused alone."""
    for chunk in chunks:
        for item in session.feed(chunk):
            if isinstance(item, Frame):
                with contextlib.suppress(TeltonikaError):
                    message = decode_data(item.data)
                    if isinstance(message, AvlPacket):
                        to_domain(IMEI, message.records)


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_arbitrary_bytes_raise_nothing_but_teltonika_errors(chunks: list[bytes]) -> None:
    for decoder in (decode_data, decode_avl_data, decode_login):
        for chunk in chunks:
            with contextlib.suppress(TeltonikaError):
                decoder(chunk)
    logged_in = TeltonikaSession()
    logged_in.feed(encode_login(IMEI))
    _decode_all(logged_in, chunks)  # sessions never raise: they return rejections
    _decode_all(TeltonikaSession(), chunks)


@settings(max_examples=200)
@given(
    st.lists(packets(), min_size=1, max_size=3),
    st.lists(st.integers(0, 2), max_size=3),
    st.data(),
)
def test_corrupted_frames_raise_nothing_but_teltonika_errors(
    sent: list[tuple[Codec, list[AvlRecord]]], flips: list[int], data: st.DataObject
) -> None:
    stream = bytearray(b"".join(encode_avl_packet(codec, records) for codec, records in sent))
    for _ in flips:
        stream[data.draw(st.integers(0, len(stream) - 1))] = data.draw(u8)
    _decode_all(TeltonikaSession(), [encode_login(IMEI), bytes(stream)])


def _items(splitter: FrameSplitter, chunks: list[bytes]) -> list[Frame | Rejection]:
    return [item for chunk in chunks for item in splitter.feed(chunk)]


MIXED_STREAM = (
    bytes.fromhex(SPEC_CODEC_8)
    + _corrupt_crc(bytes.fromhex(SPEC_CODEC_8E))
    + bytes.fromhex(SPEC_CODEC_8E)
    + b"\x01\x02junk"
    + encode_command("ok", kind=RESPONSE)
    + bytes.fromhex(SPEC_CODEC_8)
)


def test_splitting_a_stream_at_every_byte_boundary_gives_the_same_frames() -> None:
    whole = _items(FrameSplitter(), [MIXED_STREAM])
    assert [type(item) for item in whole] == [Frame, Rejection, Frame, Rejection, Frame, Frame]
    for cut in range(len(MIXED_STREAM) + 1):
        split = _items(FrameSplitter(), [MIXED_STREAM[:cut], MIXED_STREAM[cut:]])
        assert split == whole, cut
    one_by_one = _items(FrameSplitter(), [bytes([b]) for b in MIXED_STREAM])
    assert one_by_one == whole


@given(st.lists(packets(), min_size=1, max_size=4), st.data())
def test_any_chunking_of_a_stream_gives_the_same_records(
    sent: list[tuple[Codec, list[AvlRecord]]], data: st.DataObject
) -> None:
    stream = b"".join(encode_avl_packet(codec, records) for codec, records in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    items = _items(FrameSplitter(), chunks)
    assert all(isinstance(item, Frame) for item in items)
    decoded = [decode_data(item.data) for item in items if isinstance(item, Frame)]
    assert decoded == [AvlPacket(codec, tuple(records)) for codec, records in sent]


def test_commands_are_type_05() -> None:
    (frame,) = FrameSplitter().feed(encode_command("setdigout 1"))
    assert isinstance(frame, Frame)
    assert decode_data(frame.data) == CommandMessage(COMMAND, b"setdigout 1")


def test_encode_frame_wraps_data_with_length_and_crc() -> None:
    data = bytes.fromhex(SPEC_CODEC_8)[8:-4]
    assert encode_frame(data) == bytes.fromhex(SPEC_CODEC_8)


@given(packets(), st.data())
def test_avl_data_cut_short_anywhere_is_a_bad_record_not_a_crash(
    packet: tuple[Codec, list[AvlRecord]], data: st.DataObject
) -> None:
    codec, sent = packet
    whole = encode_avl_data(codec, sent)
    cut = data.draw(st.integers(3, len(whole) - 1))
    body = whole[: cut - 1] + whole[-1:]  # the end count kept, so only the records are short
    with pytest.raises(TeltonikaError) as refused:
        decode_avl_data(body)
    assert refused.value.reason in (Reason.BAD_RECORD, Reason.COUNT_MISMATCH)


def test_records_of_every_io_layout_decode_alike_however_many_layouts_were_seen() -> None:
    """The decoder keeps a bounded number of per-layout structs; past it, it still decodes."""
    sent = [
        AvlRecord(
            1_700_000_000_000 + n,
            io1=dict.fromkeys(range(n % 40), 1),
            io2=dict.fromkeys(range(100, 100 + n // 40), n),
        )
        for n in range(300)
    ]
    for first in range(0, len(sent), 100):
        chunk = sent[first : first + 100]
        assert decode_avl_data(encode_avl_data(Codec.CODEC_8, chunk)).records == tuple(chunk)
