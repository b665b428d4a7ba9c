"""Teltonika AVL data: the records inside Codec 8, Codec 8 Extended and Codec 16 packets.

The data field of an AVL packet (what the CRC covers) is

    codec id (1) | number of data 1 (1) | records | number of data 2 (1)

and every record is

    timestamp (8, ms since 1970 UTC) | priority (1: 0 low, 1 high, 2 panic)
    | longitude (4) | latitude (4)      signed two's complement, degrees x 10^7, longitude first
    | altitude (2, signed, m) | angle (2, degrees from north) | satellites (1)
    | speed (2, km/h)
    | IO element

The IO element differs by codec (sizes in bytes):

| codec | event IO id | generation type | total, N1, N2, N4, N8 | IO ids | NX (variable length) |
|---|---|---|---|---|---|
| 8 (0x08) | 1 | - | 1 each | 1 | - |
| 8E (0x8E) | 2 | - | 2 each | 2 | 2-byte count, then id (2), length (2), value |
| 16 (0x10) | 2 | 1 | 1 each | 2 | - |

N1 elements of one byte follow their count, then N2 of two bytes and so on; the total must
equal N1 + N2 + N4 + N8 (+ NX). Values are kept unsigned as sent: what an IO id means (and
whether it is signed) depends on the device model, which `teltonika_mapping` knows.

When a record has no GNSS fix the device repeats the last valid position and sends 0
satellites, angle and speed (Teltonika's specification), so a decoder must not take those
coordinates for a position.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import NamedTuple

from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError


class Codec(IntEnum):
    CODEC_8 = 0x08
    CODEC_8E = 0x8E
    CODEC_16 = 0x10
    CODEC_12 = 0x0C  # GPRS commands and their responses
    CODEC_13 = 0x0D  # device-to-server text messages with a timestamp


AVL_CODECS = frozenset({Codec.CODEC_8, Codec.CODEC_8E, Codec.CODEC_16})
FIXED_SIZES = (1, 2, 4, 8)
_VALUE_FORMAT = {1: "B", 2: "H", 4: "I", 8: "Q"}
_GPS = struct.Struct(">QBiihHBH")  # timestamp .. speed: 24 bytes
_MAX_CACHED_RUN = 64
_MAX_CACHED_SHAPES = 256  # whole-record layouts kept per codec (devices send a few each)
NO_IO: Mapping[int, int] = MappingProxyType({})
NO_IO_BYTES: Mapping[int, bytes] = MappingProxyType({})


class AvlRecord(NamedTuple):
    """One record, as the device sent it (units of the protocol, values unsigned).

    A named tuple rather than a frozen dataclass: equally immutable, and built in a tenth
    of the time (a frozen dataclass sets each of its 15 fields through
    `object.__setattr__`), which at tens of thousands of records a second is a visible
    share of the gateway's CPU. Absent IO sizes are one shared, read-only empty mapping.
    """

    timestamp_ms: int
    priority: int = 0
    lon_e7: int = 0
    lat_e7: int = 0
    altitude_m: int = 0
    angle_deg: int = 0
    satellites: int = 0
    speed_kmh: int = 0
    event_io: int = 0  # the IO id whose change produced the record; 0 for a periodic one
    io1: Mapping[int, int] = NO_IO
    io2: Mapping[int, int] = NO_IO
    io4: Mapping[int, int] = NO_IO
    io8: Mapping[int, int] = NO_IO
    iox: Mapping[int, bytes] = NO_IO_BYTES  # Codec 8E variable-length (NX)
    generation_type: int | None = None  # Codec 16 only: on exit, on entrance, on both, ...

    @property
    def lat(self) -> float:
        return self.lat_e7 / 1e7

    @property
    def lon(self) -> float:
        return self.lon_e7 / 1e7

    def io(self, io_id: int) -> int | None:
        """The value of a fixed-size IO element, whatever its size; None if absent."""
        for values in (self.io1, self.io2, self.io4, self.io8):
            value = values.get(io_id)
            if value is not None:
                return value
        return None

    @property
    def io_count(self) -> int:
        return len(self.io1) + len(self.io2) + len(self.io4) + len(self.io8) + len(self.iox)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Field formats of one AVL codec's IO element (struct codes)."""

    event: str  # event IO id
    count: str  # total and per-size counts
    io_id: str
    generation: bool = False
    variable: bool = False


_LAYOUTS = {
    Codec.CODEC_8: _Layout(event="B", count="B", io_id="B"),
    Codec.CODEC_8E: _Layout(event="H", count="H", io_id="H", variable=True),
    Codec.CODEC_16: _Layout(event="H", count="B", io_id="H", generation=True),
}


@dataclass(frozen=True, slots=True)
class _Shape:
    """One record's layout, given its IO counts: everything up to the NX part as one struct.

    `runs` says where each size's ids and values sit in the unpacked tuple (None: no
    element of that size); `head` is how many fields the event id, generation type and
    total take after the 8 GPS fields.
    """

    struct: struct.Struct
    head: int
    runs: tuple[tuple[slice, slice] | None, ...]


class _Formats:
    """Precompiled structs of one layout: decoding a record is mostly one `unpack_from`."""

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        head = ">" + layout.event + ("B" if layout.generation else "") + layout.count
        self.head = struct.Struct(head)
        self.count = struct.Struct(">" + layout.count)
        self.pairs = {
            size: struct.Struct(">" + layout.io_id + _VALUE_FORMAT[size]) for size in FIXED_SIZES
        }
        self.variable_head = struct.Struct(">HH")  # NX element: id, length
        self.wide_counts = self.count.size == 2
        self.pair_sizes = tuple(struct.calcsize(">" + layout.io_id) + size for size in FIXED_SIZES)
        self.first_count = _GPS.size + self.head.size - self.count.size  # from the record start
        self._shapes: dict[tuple[int, int, int, int], _Shape] = {}

    def shape(self, counts: tuple[int, int, int, int]) -> _Shape:
        made = self._shapes.get(counts)
        if made is not None:
            return made
        layout = self.layout
        text = _GPS.format + self.head.format[1:]
        head = len(self.head.format) - 1
        position = 8 + head  # fields unpacked so far: the first count is next
        runs: list[tuple[slice, slice] | None] = []
        for size, count in zip(FIXED_SIZES, counts, strict=True):
            text += layout.count + (layout.io_id + _VALUE_FORMAT[size]) * count
            position += 1
            end = position + 2 * count
            runs.append((slice(position, end, 2), slice(position + 1, end, 2)) if count else None)
            position = end
        made = _Shape(struct.Struct(text), head, tuple(runs))
        if len(self._shapes) < _MAX_CACHED_SHAPES:  # arbitrary input must not grow the cache
            self._shapes[counts] = made
        return made


_FORMATS = {codec: _Formats(layout) for codec, layout in _LAYOUTS.items()}


@dataclass(frozen=True, slots=True)
class AvlPacket:
    codec: Codec
    records: tuple[AvlRecord, ...]


# --- decoding ---------------------------------------------------------------------------


def decode_avl_data(data: bytes) -> AvlPacket:
    """Decode the CRC-checked data field (codec id .. number of data 2) of an AVL packet."""
    if len(data) < 3:
        raise TeltonikaError(Reason.BAD_LENGTH, f"{len(data)} bytes of AVL data")
    codec_id, count = data[0], data[1]
    if codec_id not in _FORMATS:
        raise TeltonikaError(Reason.UNKNOWN_CODEC, f"codec 0x{codec_id:02X} is not AVL data")
    codec = Codec(codec_id)
    if data[-1] != count:
        raise TeltonikaError(
            Reason.COUNT_MISMATCH, f"number of data 1 is {count}, number of data 2 {data[-1]}"
        )
    formats = _FORMATS[codec]
    end = len(data) - 1
    offset = 2
    records = []
    try:
        for index in range(count):
            record, offset = _decode_record(data, offset, formats)
            if offset > end:
                raise TeltonikaError(Reason.BAD_RECORD, f"record {index + 1} runs past the frame")
            records.append(record)
    except (struct.error, IndexError):
        raise TeltonikaError(
            Reason.BAD_RECORD, f"record {len(records) + 1} of {count} runs past the frame"
        ) from None
    if offset != end:
        raise TeltonikaError(
            Reason.BAD_RECORD,
            f"{end - offset} bytes after {count} records",
        )
    return AvlPacket(codec, tuple(records))


def _decode_record(data: bytes, offset: int, formats: _Formats) -> tuple[AvlRecord, int]:
    """One record at `offset`, and the offset after it.

    The IO counts are read first (each follows the previous size's elements), then the
    record up to the NX part is one `unpack_from` of a struct made for those counts. Bytes
    past the end raise struct.error or IndexError, which the caller reports.
    """
    position = offset + formats.first_count  # the total; the N1 count follows it
    sizes = formats.pair_sizes
    if formats.wide_counts:
        position += 2
        n1 = (data[position] << 8) | data[position + 1]
        position += 2 + n1 * sizes[0]
        n2 = (data[position] << 8) | data[position + 1]
        position += 2 + n2 * sizes[1]
        n4 = (data[position] << 8) | data[position + 1]
        position += 2 + n4 * sizes[2]
        n8 = (data[position] << 8) | data[position + 1]
    else:
        position += 1
        n1 = data[position]
        position += 1 + n1 * sizes[0]
        n2 = data[position]
        position += 1 + n2 * sizes[1]
        n4 = data[position]
        position += 1 + n4 * sizes[2]
        n8 = data[position]
    shape = formats.shape((n1, n2, n4, n8))
    flat = shape.struct.unpack_from(data, offset)
    offset += shape.struct.size
    run1, run2, run4, run8 = shape.runs  # ids and values slices have equal lengths
    io1 = NO_IO if run1 is None else dict(zip(flat[run1[0]], flat[run1[1]]))  # noqa: B905
    io2 = NO_IO if run2 is None else dict(zip(flat[run2[0]], flat[run2[1]]))  # noqa: B905
    io4 = NO_IO if run4 is None else dict(zip(flat[run4[0]], flat[run4[1]]))  # noqa: B905
    io8 = NO_IO if run8 is None else dict(zip(flat[run8[0]], flat[run8[1]]))  # noqa: B905
    found = n1 + n2 + n4 + n8
    variable: Mapping[int, bytes] = NO_IO_BYTES
    if formats.layout.variable:
        (n,) = formats.count.unpack_from(data, offset)
        offset += formats.count.size
        if n:
            variable = {}
            for _ in range(n):
                io_id, length = formats.variable_head.unpack_from(data, offset)
                offset += formats.variable_head.size
                if offset + length > len(data):
                    raise struct.error("variable-length IO element past the end")
                variable[io_id] = bytes(data[offset : offset + length])
                offset += length
        found += n
    if shape.head == 3:  # Codec 16: event id, generation type, total
        event_io, generation, total = flat[8], flat[9], flat[10]
    else:
        event_io, generation, total = flat[8], None, flat[9]
    if found != total:
        raise TeltonikaError(
            Reason.COUNT_MISMATCH, f"IO total says {total} elements, the counts add up to {found}"
        )
    record = _new_record(
        AvlRecord,
        (*flat[:8], event_io, io1, io2, io4, io8, variable, generation),
    )
    return record, offset


_new_record = tuple.__new__  # AvlRecord without its __new__'s argument handling


# --- encoding ---------------------------------------------------------------------------


def encode_avl_data(codec: Codec, records: Sequence[AvlRecord]) -> bytes:
    """The data field (codec id .. number of data 2) of an AVL packet of these records.

    ValueError if a value does not fit its field or the codec cannot carry the record
    (e.g. variable-length elements in Codec 8, more than 255 records).
    """
    if codec not in _FORMATS:
        raise ValueError(f"codec {codec!r} does not carry AVL records")
    if len(records) > 255:
        raise ValueError("an AVL packet holds at most 255 records")
    formats = _FORMATS[codec]
    parts = [bytes((codec, len(records)))]
    try:
        parts += [_encode_record(record, formats) for record in records]
    except struct.error as error:
        raise ValueError(f"a record does not fit codec {codec.name}: {error}") from None
    parts.append(bytes((len(records),)))
    return b"".join(parts)


def _encode_record(record: AvlRecord, formats: _Formats) -> bytes:
    layout = formats.layout
    if record.iox and not layout.variable:
        raise ValueError("only Codec 8 Extended carries variable-length IO elements")
    if layout.generation and record.generation_type is None:
        raise ValueError("a Codec 16 record needs a generation type")
    parts = [
        _GPS.pack(
            record.timestamp_ms,
            record.priority,
            record.lon_e7,
            record.lat_e7,
            record.altitude_m,
            record.angle_deg,
            record.satellites,
            record.speed_kmh,
        )
    ]
    if layout.generation:
        parts.append(formats.head.pack(record.event_io, record.generation_type, record.io_count))
    else:
        parts.append(formats.head.pack(record.event_io, record.io_count))
    for size, values in zip(
        FIXED_SIZES, (record.io1, record.io2, record.io4, record.io8), strict=True
    ):
        pair = formats.pairs[size]
        parts.append(formats.count.pack(len(values)))
        parts += [pair.pack(io_id, value) for io_id, value in values.items()]
    if layout.variable:
        parts.append(formats.count.pack(len(record.iox)))
        for io_id, value in record.iox.items():
            parts.append(formats.variable_head.pack(io_id, len(value)))
            parts.append(value)
    return b"".join(parts)
