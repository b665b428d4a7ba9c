"""Arbitrary bytes on a logged-in Teltonika connection (splitter, frame decoding, mapping).

The contract, per input:

- a session never raises; it returns the login, then `Frame`s and `Rejection`s only;
- the chunking does not matter: the input fed whole, byte by byte and in chunks of the
  data's choosing gives the same items;
- every frame is decoded (AVL, Codec 12, Codec 13) with at most a `TeltonikaError`, and
  what it maps to is storable in the log;
- no poisoning: after the input, a good frame sent again and again is decoded once the
  bytes that can still be taken for one claimed frame have passed, and every time after.
"""

from __future__ import annotations

import math

import atheris

with atheris.instrument_imports(include=["tagwatch"]):
    from tagwatch.protocols.teltonika import (
        CRC_SIZE,
        HEADER_SIZE,
        Frame,
        Login,
        Rejection,
        TeltonikaSession,
        decode_data,
        encode_login,
    )
    from tagwatch.protocols.teltonika_avl import AvlPacket
    from tagwatch.protocols.teltonika_errors import TeltonikaError
    from tagwatch.protocols.teltonika_mapping import to_domain

import fuzzkit  # after the decoders: the checks it runs are not traced

# The recovery check runs a session whose longest frame is this (the same code, a lower
# limit): the bytes a corrupt length can still swallow are bounded by it.
RECOVERY_MAX_DATA = 1024
LOGIN = encode_login(fuzzkit.IMEI)
GOOD = fuzzkit.teltonika_frames()

Item = Login | Frame | Rejection


def _feed(chunks: list[bytes]) -> list[Item]:
    session = TeltonikaSession()
    return [item for chunk in chunks for item in session.feed(chunk)]


def _decode(frame: Frame) -> None:
    try:
        message = decode_data(frame.data)
    except TeltonikaError:
        return
    if isinstance(message, AvlPacket):
        decoded = to_domain(fuzzkit.IMEI, message.records, received_at=fuzzkit.RECEIVED_AT)
        assert all(isinstance(error, TeltonikaError) for error in decoded.refused)
        assert len(decoded.fixes) + len(decoded.refused) == len(message.records)
        fuzzkit.assert_storable(fuzzkit.IMEI, decoded.fixes, decoded.events)


def _recovers(data: bytes) -> None:
    good = GOOD[len(data) % len(GOOD)]
    expected = [Frame(fuzzkit.data_field(good))]
    session = TeltonikaSession(max_data_length=RECOVERY_MAX_DATA)
    session.feed(LOGIN)
    session.feed(data)
    swallowed = RECOVERY_MAX_DATA + HEADER_SIZE + CRC_SIZE
    rounds = 2 * math.ceil(swallowed / len(good)) + 2
    items: list[Item] = []
    for _ in range(rounds):
        items = session.feed(good)
    assert items[-1:] == expected, (good.hex(), items)
    for _ in range(3):
        assert session.feed(good) == expected


def test_one_input(data: bytes) -> None:
    whole = _feed([LOGIN + data])
    assert whole[:1] == [Login(fuzzkit.IMEI)], whole[:1]
    assert all(isinstance(item, Frame | Rejection) for item in whole[1:])
    assert _feed([LOGIN, *fuzzkit.cut(data)]) == whole
    if len(data) <= 1024:
        assert _feed([LOGIN] + [data[i : i + 1] for i in range(len(data))]) == whole
    for item in whole:
        if isinstance(item, Frame):
            _decode(item)
    _recovers(data)


if __name__ == "__main__":
    fuzzkit.run(
        test_one_input,
        [*GOOD, b"".join(GOOD), b"\x00\x17garbage\x00\x00\x00" + GOOD[0]],
        fuzzkit.TELTONIKA_TOKENS,
    )
