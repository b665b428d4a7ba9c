"""What the atheris harnesses share: seeds, the run loop, and the "storable" check.

A harness is run as a script, `python fuzz/fuzz_<decoder>.py [corpus dir] [libFuzzer
flags]` (`make fuzz` runs them all). It imports the decoders under test inside
`atheris.instrument_imports(include=["tagwatch"])`, so their code is traced for coverage,
and this module after them: the checks here (the log codec, ingest) are not traced.

Seeds are written into the corpus directory at start (`make fuzz` keeps it outside the
checkout, the test in a temporary directory): the captured frames of
`../shared/conformance/frames.json` (read from there, next to the checkout, or from
TAGWATCH_CONFORMANCE), and frames built here with tagwatch's encoders from the protocol
specification, so a harness has a start even without the shared file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import atheris

from tagwatch.domain.positions import DeviceEvent, Fix
from tagwatch.log.codec import decode_record, dumps, encode_event, encode_fix, loads
from tagwatch.log.contract import InboxRecord
from tagwatch.protocols import teltonika
from tagwatch.protocols.teltonika_avl import AvlRecord, Codec
from tagwatch.service.ingest import check_records, stamp

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = Path(
    os.environ.get("TAGWATCH_CONFORMANCE", REPO.parent / "shared" / "conformance" / "frames.json")
)
IMEI = "356307042441013"
RECEIVED_AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DEFAULT_MAX_LEN = 4096


def conformance() -> dict[str, Any] | None:
    """The shared conformance frames, or None where the file is not next to the checkout."""
    if not CONFORMANCE.exists():
        return None
    data: dict[str, Any] = json.loads(CONFORMANCE.read_text())
    return data


# --- Teltonika seeds --------------------------------------------------------------------


def _spec_records(codec: Codec) -> list[AvlRecord]:
    """Records with an IO element of every size (and NX for 8E), as the specification has."""
    wide = codec is not Codec.CODEC_8
    return [
        AvlRecord(
            timestamp_ms=1_764_331_200_000,
            priority=1,
            lon_e7=-3_360_000,
            lat_e7=517_520_000,
            altitude_m=88,
            angle_deg=270,
            satellites=9,
            speed_kmh=5,
            event_io=1,
            io1={1: 1, 69: 1, 113: 81, 240: 1},
            io2={66: 12_400, 67: 4_100, 182: 9},
            io4={241: 23_415},
            io8={78: 0x1122334455667788},
            iox={385: b"\x01\x02\x03"} if codec is Codec.CODEC_8E else {},
            generation_type=3 if codec is Codec.CODEC_16 else None,
        ),
        AvlRecord(
            timestamp_ms=1_764_331_260_000,
            satellites=0,  # no fix: the last position repeated
            lon_e7=-3_360_000,
            lat_e7=517_520_000,
            io1={1: 0, 69: 2, 113: 80},
            io2={318 if wide else 18: 2},
            generation_type=1 if codec is Codec.CODEC_16 else None,
        ),
    ]


def teltonika_frames() -> list[bytes]:
    """Whole frames (preamble .. CRC) that decode: conformance frames and our own."""
    frames = [
        teltonika.encode_avl_packet(codec, _spec_records(codec))
        for codec in (Codec.CODEC_8, Codec.CODEC_8E, Codec.CODEC_16)
    ]
    frames += [
        teltonika.encode_command("getgps"),
        teltonika.encode_command(
            "GPS:1 2026/11/28 12:00:00 51.752 -0.336", kind=teltonika.RESPONSE
        ),
        teltonika.encode_text_message(1_764_331_200, b"TSL|6|1|0|12749884|1|\r\n"),
    ]
    shared = conformance()
    if shared is not None:
        frames += [bytes.fromhex(frame["hex"]) for frame in shared["teltonika_tcp"]["frames"]]
    return frames


def teltonika_logins() -> list[bytes]:
    logins = [teltonika.encode_login(IMEI), teltonika.encode_login("FMB920-0001")]
    shared = conformance()
    if shared is not None:
        logins.append(bytes.fromhex(shared["teltonika_tcp"]["login"]["hex"]))
    return logins


# Preambles, lengths at and past the limits, codec ids: the values the splitter judges.
TELTONIKA_TOKENS = [
    bytes(4),
    bytes(8),
    *(n.to_bytes(4, "big") for n in (2, 3, 1024, 1025, 0xFFFF, 0x10000, 0x10001, 2**32 - 1)),
    *(bytes((codec,)) for codec in (0x08, 0x8E, 0x10, 0x0C, 0x0D, 0x05, 0x06)),
    b"\x00\x0f",
    b"\xff\xff",
]


def data_field(frame: bytes) -> bytes:
    """The data field (codec id .. last count byte) of a whole frame."""
    return frame[teltonika.HEADER_SIZE : -teltonika.CRC_SIZE]


# --- the run loop -----------------------------------------------------------------------


# Tokens for the text protocols: byte mutations alone rarely turn a number into a list.
JSON_TOKENS = [
    *(b'{ } [ ] : , true false null [] {} "" -1 0 -0.0 1e999 -1e999 NaN Infinity'.split()),
    b'"\\u0000"',
    b'"\\ud800"',
    b"12345678901234567890123",
    b'"2026-11-28T12:00:00Z"',
    b'"9999-12-31T23:59:59-01:00"',
    b'"0001-01-01T00:00:00+01:00"',
]


def json_tokens(*documents: object) -> list[bytes]:
    """`JSON_TOKENS` and every key and string of these documents, quoted as JSON."""
    found: dict[bytes, None] = dict.fromkeys(JSON_TOKENS)
    pending = list(documents)
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            found.update((json.dumps(key).encode(), None) for key in value)
            pending += value.values()
        elif isinstance(value, list):
            pending += value
        elif isinstance(value, str):
            found[json.dumps(value).encode()] = None
    return list(found)


class JsonMutator:
    """libFuzzer's custom mutator for JSON inputs: most of the time, one value somewhere in
    the document is replaced, wrapped, removed or given a sibling (a number becomes a list,
    a key disappears, a time goes past 9999), which byte mutations seldom reach while the
    text stays JSON; else, and for what is not JSON, libFuzzer's own mutation.

    With `after_newline`, the input is a line (an MQTT topic) and then the JSON.
    """

    def __init__(self, samples: Iterable[object], *, after_newline: bool = False) -> None:
        self.after_newline = after_newline
        self.keys = sorted({key for doc in samples for key in _walk_keys(doc)})
        self.strings = [json.loads(token) for token in JSON_TOKENS if token.startswith(b'"')]

    def __call__(self, data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        head, newline, body = data.partition(b"\n") if self.after_newline else (b"", b"", data)
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            document = None
        if document is None or rng.random() < 0.2:
            return bytes(atheris.Mutate(data, max_size))
        try:
            text = json.dumps(self._mutated(document, rng)).encode()
        except (ValueError, RecursionError):
            return bytes(atheris.Mutate(data, max_size))
        return (head + newline + text)[:max_size]

    def _mutated(self, document: object, rng: random.Random) -> object:
        slots: list[tuple[dict[str, object] | list[object], Any]] = []
        pending = [document]
        while pending:
            value = pending.pop()
            if isinstance(value, dict):
                slots += [(value, key) for key in value]
                pending += value.values()
            elif isinstance(value, list):
                slots += [(value, index) for index in range(len(value))]
                pending += value
        if not slots:
            return self._value(document, rng)
        container, where = rng.choice(slots)
        action = rng.random()
        if action < 0.1:
            del container[where]
        elif action < 0.25 and isinstance(container, dict):
            container[rng.choice(self.keys)] = self._value(None, rng)
        elif action < 0.35 and isinstance(container, list):
            container.append(self._value(container[where], rng))
        else:
            container[where] = self._value(container[where], rng)
        return document

    def _value(self, old: object, rng: random.Random) -> object:
        choices: list[object] = [None, True, False, 0, -1, 1, 0.5, 1e400, -1e400, math.nan]
        choices += [10**30, -(10**30), 2**63, 1e300, "", [], {}, [old], {"": old}]
        choices += [rng.choice(self.strings), rng.choice(self.keys)]
        if isinstance(old, int | float) and not isinstance(old, bool):
            choices += [old + 1, old - 1, -old, old * 1000, old / 1000, str(old)]
        if isinstance(old, str):
            choices += [old + old, old[: len(old) // 2], old.upper(), " " + old]
        return rng.choice(choices)


def _walk_keys(document: object) -> Iterable[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from _walk_keys(value)
    elif isinstance(document, list):
        for value in document:
            yield from _walk_keys(value)


def run(
    test_one_input: Callable[[bytes], None],
    seeds: Iterable[bytes],
    tokens: Iterable[bytes] = (),
    mutator: Callable[[bytes, int, int], bytes] | None = None,
) -> None:
    """Fuzz `test_one_input` with libFuzzer's flags from the command line.

    The first directory argument is the corpus (seeds are added to it); without one, a
    temporary corpus is made. File arguments are inputs to run once (a crash to replay).
    `tokens` become libFuzzer's dictionary (unless `-dict=` is given); `mutator` replaces
    libFuzzer's mutation (e.g. a `JsonMutator`).
    """
    args = list(sys.argv)
    paths = [Path(arg) for arg in args[1:] if not arg.startswith("-")]
    if not paths:
        corpus = Path(tempfile.mkdtemp(prefix="tagwatch-fuzz-"))
        args.append(str(corpus))
        paths = [corpus]
    if paths[0].is_dir():
        _write_seeds(paths[0], seeds)
    if not any(arg.startswith("-max_len=") for arg in args):
        args.append(f"-max_len={DEFAULT_MAX_LEN}")
    listed = list(tokens)
    if listed and not any(arg.startswith("-dict=") for arg in args):
        with tempfile.NamedTemporaryFile("w", prefix="tagwatch-fuzz-", delete=False) as file:
            file.writelines(f"{_dict_entry(token)}\n" for token in listed)
        args.append(f"-dict={file.name}")
    if mutator is None:
        atheris.Setup(args, test_one_input)
    else:
        atheris.Setup(args, test_one_input, custom_mutator=mutator)
    atheris.Fuzz()


def _dict_entry(token: bytes) -> str:
    """A libFuzzer dictionary line: the token quoted, other than plain ASCII as \\xNN."""
    plain = (chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02X}" for b in token)
    return '"' + "".join(plain) + '"'


def _write_seeds(corpus: Path, seeds: Iterable[bytes]) -> None:
    for seed in seeds:
        path = corpus / f"seed-{hashlib.sha1(seed, usedforsecurity=False).hexdigest()}"
        if not path.exists():
            path.write_bytes(seed)


def cut(data: bytes) -> list[bytes]:
    """`data` in chunks whose ends depend on the data itself (so the fuzzer steers them)."""
    chunks, start = [], 0
    for index, byte in enumerate(data):
        if (byte * 31 + index) % 7 == 0:
            chunks.append(data[start : index + 1])
            start = index + 1
    chunks.append(data[start:])
    return chunks


# --- what a gateway does with a decoded message -----------------------------------------


def assert_storable(device_id: str, fixes: Sequence[Fix], events: Sequence[DeviceEvent]) -> None:
    """Ingest takes the records (all of the device) and the log gives the same ones back.

    A decoded record the log cannot encode would be refused at every redelivery: a
    poisoned MQTT session or a Teltonika device that is never acknowledged.
    """
    check_records(device_id, fixes, events)
    records = stamp(fixes, events, RECEIVED_AT)
    assert len(records) == len(fixes) + len(events)
    originals: list[Fix | DeviceEvent] = [*fixes, *events]
    for record, original in zip(records, originals, strict=True):
        payload = loads(dumps(record.payload))
        back = decode_record(
            InboxRecord(1, record.key, record.kind, record.device_id, payload, RECEIVED_AT)
        )
        sent = original if original.received_at else replace(original, received_at=RECEIVED_AT)
        if isinstance(sent, Fix):
            assert isinstance(back, Fix)
            assert encode_fix(back) == encode_fix(sent), (back, sent)
        else:
            assert isinstance(back, DeviceEvent)
            assert encode_event(back) == encode_event(sent), (back, sent)
