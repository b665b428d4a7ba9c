"""How a benchmark reports: readable lines first, the JSON summary as the very last line.

Scripts read only the last line (`tagwatch bench engine | tail -1 | jq .speedup`), so
nothing may be printed after it; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any


def progress(message: str) -> None:
    """A progress note for the person watching; stderr, so it never follows the summary."""
    print(message, file=sys.stderr, flush=True)


def emit(summary: Mapping[str, Any], details: Iterable[str] = ()) -> None:
    """Print `details` (one line each), then the summary as one line of JSON, last."""
    for line in details:
        print(line)
    print(json.dumps(summary), flush=True)
