"""Arbitrary bytes where a Teltonika device sends its login (IMEI packet), and after it.

The contract, per input:

- `decode_login` raises nothing but `TeltonikaError`, and the IMEI it returns is 1 to 64
  printable ASCII characters;
- a new session fed the input (whole, byte by byte, or in chunks of the data's choosing)
  gives the same items: a `Login` with the IMEI `decode_login` reads from the same bytes,
  or one `BAD_LOGIN` rejection after which it takes nothing more, then frames and
  rejections only;
- no poisoning: a login refused or accepted, a good login and frame on a new connection
  are read as ever (sessions share nothing).
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["tagwatch"]):
    from tagwatch.protocols.teltonika import (
        MAX_LOGIN_LENGTH,
        Frame,
        Login,
        Rejection,
        TeltonikaSession,
        decode_login,
        encode_login,
    )
    from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError

import fuzzkit  # after the decoders: the checks it runs are not traced

GOOD_FRAME = fuzzkit.teltonika_frames()[0]
GOOD_STREAM = encode_login(fuzzkit.IMEI) + GOOD_FRAME
GOOD_ITEMS = [Login(fuzzkit.IMEI), Frame(fuzzkit.data_field(GOOD_FRAME))]


def _feed(chunks: list[bytes]) -> tuple[list[Login | Frame | Rejection], str | None]:
    session = TeltonikaSession()
    items = [item for chunk in chunks for item in session.feed(chunk)]
    return items, session.imei


def _login_of(packet: bytes) -> str | None:
    try:
        imei = decode_login(packet)
    except TeltonikaError:
        return None
    assert 0 < len(imei) <= MAX_LOGIN_LENGTH and imei.isascii() and imei.isprintable()
    return imei


def test_one_input(data: bytes) -> None:
    alone = _login_of(data)
    items, imei = _feed([data])
    assert _feed([data[i : i + 1] for i in range(len(data))]) == (items, imei)
    assert _feed(fuzzkit.cut(data)) == (items, imei)
    first = items[0] if items else None
    if isinstance(first, Login):
        assert first.imei == imei
        length = int.from_bytes(data[:2], "big")
        assert _login_of(data[: 2 + length]) == imei
        assert all(isinstance(item, Frame | Rejection) for item in items[1:])
    elif isinstance(first, Rejection):
        assert first.reason is Reason.BAD_LOGIN and items == [first] and imei is None
        assert alone is None
    else:
        assert len(data) < 2 + int.from_bytes(data[:2].ljust(2, b"\xff"), "big") and imei is None
    if alone is not None:
        assert items == [Login(alone)]
    session = TeltonikaSession()
    assert session.feed(GOOD_STREAM) == GOOD_ITEMS


if __name__ == "__main__":
    fuzzkit.run(
        test_one_input, [*fuzzkit.teltonika_logins(), GOOD_STREAM], fuzzkit.TELTONIKA_TOKENS
    )
