"""The Teltonika TCP protocol (FMB, FMC, FMM, TAT, GH and kin): login, frames, commands.

A connection starts with the **login**: two bytes of length and the IMEI as ASCII digits
(`000F` + 15 digits); the server answers one byte, 0x01 to accept or 0x00 to refuse. Then
the device sends **frames**:

    preamble 00000000 (4) | data field length (4) | data | CRC (4)

where the data runs from the codec id to the last count byte, and the CRC field holds two
zero bytes and the CRC-16/IBM (poly 0x8005 reflected, init 0; also called CRC-16/ARC) of
the data. An AVL packet (Codec 8, 8 Extended, 16: `teltonika_avl`) is acknowledged with
the number of records accepted, four bytes big-endian. Codec 12 carries a command from the
server (type 0x05) and the device's response (type 0x06); Codec 13 a device's text message
with a timestamp.

The CRC comes from `fastcrc` (a maintained Rust extension) rather than a table in Python:
at tens of thousands of records a second the checksum is on every byte received.

`TeltonikaSession` is the pure state of one connection: feed it byte chunks as TCP delivers
them (split anywhere, or several frames at once) and it returns the login, then whole
frames, or `Rejection`s with a reason. A rejected frame is skipped whole when its length
can be trusted (a bad CRC), else bytes are dropped until the next plausible frame start, so
one bad frame never spoils the frames after it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from fastcrc import crc16

from tagwatch.protocols.teltonika_avl import (
    AVL_CODECS,
    AvlPacket,
    AvlRecord,
    Codec,
    decode_avl_data,
    encode_avl_data,
)
from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError

PORT = 5027
PREAMBLE = bytes(4)
HEADER_SIZE = 8  # preamble and data field length
CRC_SIZE = 4
MIN_DATA_LENGTH = 3  # codec id, number of data 1 and 2 of an empty packet
# Far above any Teltonika packet (FMB devices send at most 1280 bytes, 8E with BLE data a
# few kilobytes); a length beyond it is corruption, not a frame to wait for.
MAX_DATA_LENGTH = 64 * 1024
MAX_LOGIN_LENGTH = 64  # IMEIs are 15 digits; some firmwares send a serial number instead
LOGIN_ACCEPTED = b"\x01"
LOGIN_REFUSED = b"\x00"
COMMAND = 0x05
RESPONSE = 0x06
KNOWN_CODECS = frozenset(int(codec) for codec in Codec)

_LENGTH = struct.Struct(">I")
_MESSAGE_HEAD = struct.Struct(">BBBI")  # codec, quantity 1, type, size (Codec 12 and 13)


def crc16_ibm(data: bytes) -> int:
    """CRC-16/IBM (a.k.a. CRC-16/ARC) as Teltonika computes it over the data field."""
    return crc16.arc(data)


# --- whole frames -----------------------------------------------------------------------


def encode_frame(data: bytes) -> bytes:
    """Preamble, length and CRC around a data field (codec id .. last count byte)."""
    return PREAMBLE + _LENGTH.pack(len(data)) + data + _LENGTH.pack(crc16_ibm(data))


def encode_avl_packet(codec: Codec, records: Sequence[AvlRecord]) -> bytes:
    return encode_frame(encode_avl_data(codec, records))


def encode_ack(records: int) -> bytes:
    """The server's answer to an AVL packet: how many records it accepted."""
    return _LENGTH.pack(records)


def encode_login(imei: str) -> bytes:
    text = imei.encode("ascii")
    if not 0 < len(text) <= MAX_LOGIN_LENGTH:
        raise ValueError(f"a login holds 1 to {MAX_LOGIN_LENGTH} characters")
    return struct.pack(">H", len(text)) + text


@dataclass(frozen=True, slots=True)
class CommandMessage:
    """A Codec 12 message: a command (type 0x05) or a device's response (0x06)."""

    kind: int
    payload: bytes

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A Codec 13 message from the device: a text (e.g. from a serial port) and its time."""

    kind: int
    timestamp_s: int
    payload: bytes


def encode_command(text: str, *, kind: int = COMMAND) -> bytes:
    """A Codec 12 frame carrying `text` (kind RESPONSE builds what a device answers)."""
    payload = text.encode("utf-8")
    data = _MESSAGE_HEAD.pack(Codec.CODEC_12, 1, kind, len(payload)) + payload + b"\x01"
    return encode_frame(data)


def encode_text_message(timestamp_s: int, payload: bytes, *, kind: int = RESPONSE) -> bytes:
    """A Codec 13 frame, as a device sends it."""
    body = struct.pack(">I", timestamp_s) + payload
    return encode_frame(_MESSAGE_HEAD.pack(Codec.CODEC_13, 1, kind, len(body)) + body + b"\x01")


def _decode_message(data: bytes) -> tuple[int, int, bytes]:
    """Codec, type and body of a Codec 12/13 data field.

    Quantity 2 is not checked: the specification says devices do not parse it either.
    """
    if len(data) < _MESSAGE_HEAD.size + 1:
        raise TeltonikaError(Reason.BAD_RECORD, f"{len(data)} bytes are too few for a message")
    codec, _quantity, kind, size = _MESSAGE_HEAD.unpack_from(data)
    if _MESSAGE_HEAD.size + size + 1 != len(data):
        raise TeltonikaError(
            Reason.BAD_RECORD,
            f"message size {size} does not fit a data field of {len(data)} bytes",
        )
    return codec, kind, bytes(data[_MESSAGE_HEAD.size : _MESSAGE_HEAD.size + size])


def decode_data(data: bytes) -> AvlPacket | CommandMessage | TextMessage:
    """Decode a CRC-checked data field by its codec id."""
    if not data:
        raise TeltonikaError(Reason.BAD_LENGTH, "empty data field")
    codec = data[0]
    if codec in AVL_CODECS:
        return decode_avl_data(data)
    if codec == Codec.CODEC_12:
        _, kind, body = _decode_message(data)
        return CommandMessage(kind, body)
    if codec == Codec.CODEC_13:
        _, kind, body = _decode_message(data)
        if len(body) < 4:
            raise TeltonikaError(Reason.BAD_RECORD, "a Codec 13 message without its timestamp")
        return TextMessage(kind, int.from_bytes(body[:4], "big"), body[4:])
    raise TeltonikaError(Reason.UNKNOWN_CODEC, f"codec 0x{codec:02X}")


# --- splitting a byte stream ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    imei: str


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame whose CRC matched: its data field, codec id first."""

    data: bytes

    @property
    def codec(self) -> int:
        return self.data[0]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Bytes that were not a valid login or frame, and were dropped."""

    reason: Reason
    detail: str

    def error(self) -> TeltonikaError:
        return TeltonikaError(self.reason, self.detail)


def decode_login(packet: bytes) -> str:
    """The IMEI of a whole login packet (length and text)."""
    if len(packet) < 2:
        raise TeltonikaError(Reason.BAD_LOGIN, "shorter than its length field")
    length = int.from_bytes(packet[:2], "big")
    if not 0 < length <= MAX_LOGIN_LENGTH or len(packet) != 2 + length:
        raise TeltonikaError(Reason.BAD_LOGIN, f"length {length} for {len(packet) - 2} bytes")
    return _login_text(bytes(packet[2:]))


def _login_text(raw: bytes) -> str:
    if not (raw.isascii() and raw.decode("ascii").isprintable()) or not raw.strip():
        raise TeltonikaError(Reason.BAD_LOGIN, "the IMEI is not printable ASCII")
    return raw.decode("ascii").strip()


class FrameSplitter:
    """Turns a byte stream into CRC-checked frames and rejections, whatever the chunking."""

    def __init__(self, *, max_data_length: int = MAX_DATA_LENGTH) -> None:
        self._buffer = bytearray()
        self._max = max_data_length
        self._in_sync = True

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Frame | Rejection]:
        self._buffer += chunk
        buffer = self._buffer
        found: list[Frame | Rejection] = []
        start = 0
        while len(buffer) - start >= HEADER_SIZE:
            if not self._in_sync:
                start = self._resync(start)
                if not self._in_sync:
                    break
                continue
            if buffer[start : start + 4] != PREAMBLE:
                found.append(Rejection(Reason.BAD_PREAMBLE, "bytes between frames dropped"))
                self._in_sync = False
                continue
            (length,) = _LENGTH.unpack_from(buffer, start + 4)
            if not MIN_DATA_LENGTH <= length <= self._max:
                found.append(Rejection(Reason.BAD_LENGTH, f"data field length {length}"))
                self._in_sync = False
                start += 1
                continue
            end = start + HEADER_SIZE + length + CRC_SIZE
            if len(buffer) < end:
                break
            data = bytes(buffer[start + HEADER_SIZE : end - CRC_SIZE])
            (sent,) = _LENGTH.unpack_from(buffer, end - CRC_SIZE)
            computed = crc16_ibm(data)
            if sent != computed:
                found.append(
                    Rejection(Reason.BAD_CRC, f"sent 0x{sent:08X}, computed 0x{computed:04X}")
                )
            else:
                found.append(Frame(data))
            start = end
        del buffer[:start]
        return found

    def _resync(self, start: int) -> int:
        """Drop bytes up to the next plausible frame start (silently: one rejection a run).

        A start is judged with its codec id, so only once that byte has arrived: judged
        without it, where TCP happened to cut the stream would decide what is a frame.
        """
        buffer = self._buffer
        position = start
        while len(buffer) - position > HEADER_SIZE:
            position = buffer.find(PREAMBLE, position)
            if position < 0 or len(buffer) - position <= HEADER_SIZE:
                break
            (length,) = _LENGTH.unpack_from(buffer, position + 4)
            codec = buffer[position + HEADER_SIZE]
            if MIN_DATA_LENGTH <= length <= self._max and codec in KNOWN_CODECS:
                self._in_sync = True
                return position
            position += 1
        # Keep a tail that may be the start of a frame.
        return max(start, len(buffer) - HEADER_SIZE)


class _State(Enum):
    LOGIN = "login"
    FRAMES = "frames"
    REFUSED = "refused"


class TeltonikaSession:
    """One connection's byte stream: the login first, then frames (pure, no I/O)."""

    def __init__(self, *, max_data_length: int = MAX_DATA_LENGTH) -> None:
        self._state = _State.LOGIN
        self._login = bytearray()
        self._frames = FrameSplitter(max_data_length=max_data_length)
        self.imei: str | None = None

    @property
    def buffered(self) -> int:
        return len(self._login) + self._frames.buffered

    def feed(self, chunk: bytes) -> list[Login | Frame | Rejection]:
        if self._state is _State.FRAMES:
            return list(self._frames.feed(chunk))
        if self._state is _State.REFUSED:
            return []
        self._login += chunk
        if len(self._login) < 2:
            return []
        length = int.from_bytes(self._login[:2], "big")
        if not 0 < length <= MAX_LOGIN_LENGTH:
            self._state = _State.REFUSED
            return [Rejection(Reason.BAD_LOGIN, f"login length {length}")]
        if len(self._login) < 2 + length:
            return []
        raw, rest = bytes(self._login[2 : 2 + length]), bytes(self._login[2 + length :])
        self._login.clear()
        try:
            imei = _login_text(raw)
        except TeltonikaError as error:
            self._state = _State.REFUSED
            return [Rejection(error.reason, error.detail)]
        self.imei = imei
        self._state = _State.FRAMES
        found: list[Login | Frame | Rejection] = [Login(imei)]
        if rest:
            found += self._frames.feed(rest)
        return found
