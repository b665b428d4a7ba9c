"""Arbitrary bytes as an OsmAnd request: query string, form body, JSON body, credentials.

The listener (`tagwatch.api.osmand`) hands a request's query and body to
`tagwatch.protocols.osmand`; this harness drives both, with the input as the query
string (latin-1, as Starlette reads it), as a form or JSON body, and as the Basic
credentials. The contract, per input:

- the decoders and the listener's `decode` raise nothing but `OsmAndError` (a 400), and
  reading the device's key nothing but the listener's `Refused` (a 401);
- a report names a printable device id, and its fix and events are storable in the log
  with a position in range and an accuracy within `MAX_ACCURACY_M`;
- no poisoning: the good requests still decode to what they did before the input.
"""

from __future__ import annotations

import json
from datetime import UTC
from urllib.parse import quote_from_bytes

import atheris
from starlette.requests import Request

with atheris.instrument_imports(include=["tagwatch"]):
    from tagwatch.api.osmand import Refused, decode, device_key
    from tagwatch.protocols.osmand import (
        MAX_ACCURACY_M,
        MAX_DEVICE_ID_LENGTH,
        OsmAndError,
        OsmAndReport,
        decode_json,
        decode_query,
    )

import fuzzkit  # after the decoders: the checks it runs are not traced

RECEIVED_AT = fuzzkit.RECEIVED_AT
# What reaches the app of a request line and a header: h11 (uvicorn's HTTP parser here)
# answers 400 itself to a target with other bytes, or a header with CR, LF or NUL.
VISIBLE_ASCII = bytes(range(0x21, 0x7F))
TRACCAR_CLIENT = {
    "location": {
        "timestamp": "2026-11-28T11:59:58.250Z",
        "coords": {
            "latitude": 51.752,
            "longitude": -0.336,
            "accuracy": 8.0,
            "speed": 1.5,
            "heading": 90.5,
            "altitude": 92.1,
        },
        "is_moving": True,
        "mock": False,
        "battery": {"is_charging": False, "level": 0.57},
    },
    "device_id": "tc-123",
}
QUERIES = [
    "/?id=tag-1&timestamp=1764331200&lat=51.752&lon=-0.336&speed=1.2&bearing=270"
    "&altitude=88&accuracy=12&hdop=0.9&batt=81&charge=false&valid=true&sat=9",
    "deviceid=tag-1&location=51.752,-0.336&timestamp=2026-11-28 12:00:00 01:00&heading=-1",
    "id=tag-1&timestamp=1764331200000&lat=0&lon=0&batt=12.5",  # a heartbeat
]
BODIES = [json.dumps(TRACCAR_CLIENT).encode(), json.dumps({"device_id": 42}).encode()]


def seeds() -> list[bytes]:
    found = [query.encode() for query in QUERIES] + BODIES
    shared = fuzzkit.conformance()
    if shared is not None:
        found += [case["request"].encode() for case in shared["osmand_http"]]
    return found


def _request(query: bytes, headers: list[tuple[bytes, bytes]]) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 5055),
        "query_string": query,
        "headers": headers,
    }
    return Request(scope)


def _checked(report: OsmAndReport) -> OsmAndReport:
    device_id = report.device_id
    assert 0 < len(device_id) <= MAX_DEVICE_ID_LENGTH and device_id.isprintable()
    fix = report.fix
    if fix is not None:
        assert -90.0 <= fix.lat <= 90.0 and -180.0 <= fix.lon <= 180.0
        assert 0.0 < fix.accuracy_m <= MAX_ACCURACY_M
        assert fix.fix_time.tzinfo is UTC
    fuzzkit.assert_storable(device_id, [] if fix is None else [fix], report.events)
    return report


def _outcome(decoded: object) -> OsmAndReport | None:
    assert callable(decoded)
    try:
        return _checked(decoded())
    except OsmAndError:
        return None


def _listener(query: bytes, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    request = _request(query, headers)
    try:
        report, params = decode(request, body, RECEIVED_AT)
    except OsmAndError:
        return
    _checked(report)
    try:
        device_key(request, report, params)
    except Refused as refusal:
        assert refusal.status == 401


def _good() -> list[OsmAndReport | None]:
    return [_outcome(lambda q=query: decode_query(q, RECEIVED_AT)) for query in QUERIES] + [
        _outcome(lambda b=body: decode_json(b, RECEIVED_AT)) for body in BODIES
    ]


EXPECTED = _good()


def test_one_input(data: bytes) -> None:
    text = data.decode("latin-1")
    _outcome(lambda: decode_query(text, RECEIVED_AT))
    _outcome(lambda: decode_json(data, RECEIVED_AT))
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        _outcome(lambda: decode_query(utf8, RECEIVED_AT))
        _outcome(lambda: decode_json(utf8, RECEIVED_AT))
    kinds = (b"application/json", b"application/x-www-form-urlencoded", b"text/plain")
    kind = kinds[len(data) % len(kinds)]
    _listener(b"", data, [(b"content-type", kind)])
    query = quote_from_bytes(data.partition(b"?")[2] or data, safe=VISIBLE_ASCII).encode()
    credentials = data[-48:].translate(None, b"\r\n\x00").strip()
    _listener(query, b"", [(b"authorization", b"Basic " + credentials)])
    assert _good() == EXPECTED


if __name__ == "__main__":
    names = "id deviceid timestamp lat lon location speed bearing heading altitude accuracy"
    names += " hdop batt charge valid sat satellites key"
    query = [f"&{name}=".encode() for name in names.split()]
    query += [b"?", b"%", b"%2B", b"%00", b"+", b"nan", b"inf", b"1e309", b"true", b"false"]
    tokens = [*fuzzkit.json_tokens(TRACCAR_CLIENT), *query]
    fuzzkit.run(test_one_input, seeds(), tokens, fuzzkit.JsonMutator([TRACCAR_CLIENT]))
