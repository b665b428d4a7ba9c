"""Arbitrary bytes as the data field of a Teltonika frame (codec id .. last count byte).

This is what `decode_data` meets once a frame's CRC matched: AVL packets (Codec 8, 8
Extended, 16), Codec 12 commands and replies, Codec 13 texts. The contract, per input:

- `decode_data` and `decode_avl_data` raise nothing but `TeltonikaError`, and agree;
- an AVL packet holds the records its count says, encodes back to a packet that decodes
  to the same records, and maps (`to_domain`, `device_status`) to fixes and events that
  are storable in the log, a record refused alone with a `TeltonikaError`;
- a Codec 12 reply's text is readable, a Codec 13 text round-trips;
- the data framed with its CRC comes out of a `FrameSplitter` whole;
- no poisoning: the good data fields still decode to what they did before the input.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["tagwatch"]):
    from tagwatch.protocols.teltonika import (
        MAX_DATA_LENGTH,
        MIN_DATA_LENGTH,
        CommandMessage,
        Frame,
        FrameSplitter,
        TextMessage,
        decode_data,
        encode_frame,
        encode_text_message,
    )
    from tagwatch.protocols.teltonika_avl import (
        AVL_CODECS,
        AvlPacket,
        decode_avl_data,
        encode_avl_data,
    )
    from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError
    from tagwatch.protocols.teltonika_mapping import IoMapping, device_status, to_domain

import fuzzkit  # after the decoders: the checks it runs are not traced

GOOD = [fuzzkit.data_field(frame) for frame in fuzzkit.teltonika_frames()]
EXPECTED = [decode_data(data) for data in GOOD]
MAPPINGS = (IoMapping(), IoMapping(strap_input=2, strap_closed_value=0, case_input=3))

Decoded = AvlPacket | CommandMessage | TextMessage | TeltonikaError


def _outcome(decoder: object, data: bytes) -> Decoded:
    assert callable(decoder)
    try:
        result = decoder(data)
    except TeltonikaError as error:
        return error
    assert isinstance(result, AvlPacket | CommandMessage | TextMessage)
    return result


def _same(a: Decoded, b: Decoded) -> bool:
    if isinstance(a, TeltonikaError) and isinstance(b, TeltonikaError):
        return a.reason is b.reason
    return a == b


def _packet(data: bytes, packet: AvlPacket) -> None:
    assert len(packet.records) == data[1]
    again = decode_avl_data(encode_avl_data(packet.codec, packet.records))
    assert again == packet
    mapping = MAPPINGS[len(data) % len(MAPPINGS)]
    decoded = to_domain(
        fuzzkit.IMEI, packet.records, received_at=fuzzkit.RECEIVED_AT, mapping=mapping
    )
    assert len(decoded.fixes) + len(decoded.refused) == len(packet.records)
    assert all(error.reason is Reason.BAD_VALUE for error in decoded.refused)
    fuzzkit.assert_storable(fuzzkit.IMEI, decoded.fixes, decoded.events)
    for record in packet.records:
        device_status(record)


def _message(message: CommandMessage | TextMessage) -> None:
    if isinstance(message, CommandMessage):
        assert isinstance(message.text, str)
        return
    again = decode_data(
        encode_text_message(message.timestamp_s, message.payload, kind=message.kind)[8:-4]
    )
    assert again == message


def test_one_input(data: bytes) -> None:
    outcome = _outcome(decode_data, data)
    if data and data[0] in AVL_CODECS:
        assert _same(_outcome(decode_avl_data, data), outcome)
    if isinstance(outcome, AvlPacket):
        _packet(data, outcome)
    elif isinstance(outcome, CommandMessage | TextMessage):
        _message(outcome)
    if MIN_DATA_LENGTH <= len(data) <= MAX_DATA_LENGTH:
        assert FrameSplitter().feed(encode_frame(data)) == [Frame(data)]
    for good, expected in zip(GOOD, EXPECTED, strict=True):
        assert decode_data(good) == expected


if __name__ == "__main__":
    fuzzkit.run(test_one_input, GOOD, fuzzkit.TELTONIKA_TOKENS)
