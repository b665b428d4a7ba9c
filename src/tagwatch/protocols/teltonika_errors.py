"""Why a Teltonika frame or login was refused: one exception type, with a named reason.

Every decoder in `tagwatch.protocols.teltonika*` raises only `TeltonikaError` for bad
input (a property test feeds them arbitrary bytes), so a gateway needs one `except`. The
reason is a short fixed vocabulary (`Reason`) fit for a metrics label; `detail` says more
for the log.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    BAD_LOGIN = "bad login"  # the IMEI packet is not a length and printable text
    BAD_PREAMBLE = "bad preamble"  # bytes where a frame should start with four zero bytes
    BAD_LENGTH = "bad length"  # a data field length no frame can have
    BAD_CRC = "bad crc"  # the CRC-16/IBM over codec id .. number of data 2 does not match
    UNKNOWN_CODEC = "unknown codec"
    COUNT_MISMATCH = "count mismatch"  # number of data 1 != number of data 2, or IO counts
    BAD_RECORD = "bad record"  # a record that runs past its frame, or bytes left over
    BAD_VALUE = "bad value"  # a field no encoder may write (e.g. a timestamp past 9999)


class TeltonikaError(ValueError):
    """Input that is not valid Teltonika; `reason` names why, `detail` says more."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
