"""Many rows in few INSERT statements.

Why not `executemany`: Python's sqlite3 releases the GIL around every `sqlite3_step`, so
an `executemany` of n rows gives the GIL away n times and must win it back n times. In a
server whose other threads are busy in Python (the event loop parsing requests, the
monitor running the engine) each win-back can wait for another thread's turn, and all
the while the writer holds SQLite's one write lock, which every other write then waits
for. A multi-row `INSERT ... VALUES (...), (...)` steps once per statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

ROWS_PER_STATEMENT = 100  # 16 columns x 100 = 1,600 parameters, far below SQLite's 32,766


@lru_cache(maxsize=512)
def _statement(head: str, width: int, rows: int, tail: str) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return f"{head} VALUES {', '.join([one] * rows)}{tail}"


class Inserted(NamedTuple):
    rows: int  # how many rows were inserted (a conflict clause may skip some)
    last_rowid: int | None  # the rowid of the last row inserted, from the cursor


def insert_rows(
    conn: sqlite3.Connection,
    head: str,
    rows: Sequence[Sequence[Any]],
    *,
    tail: str = "",
    per_statement: int = ROWS_PER_STATEMENT,
) -> Inserted:
    """`head VALUES (..), (..) tail` for `rows`, `per_statement` rows at a time."""
    if not rows:
        return Inserted(0, None)
    width = len(rows[0])
    inserted = 0
    last_rowid = None
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        values = [value for row in part for value in row]
        cursor = conn.execute(_statement(head, width, len(part), tail), values)
        inserted += cursor.rowcount
        last_rowid = cursor.lastrowid  # read off the cursor: no statement, no GIL hand-off
    return Inserted(inserted, last_rowid)
