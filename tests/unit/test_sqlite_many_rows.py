"""`insert_rows`: many rows in few statements, the same rows and counts as executemany."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from tagwatch.store.sqlite.many_rows import insert_rows

ROWS = st.lists(st.tuples(st.integers(0, 40), st.text(max_size=5)), max_size=120)


def table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    return conn


@given(ROWS, st.integers(1, 30))
def test_the_same_rows_and_count_as_one_statement_per_row(
    rows: list[tuple[int, str]], per_statement: int
) -> None:
    many, one_by_one = table(), table()
    inserted = insert_rows(
        many,
        "INSERT INTO t (id, name)",
        rows,
        tail=" ON CONFLICT (id) DO NOTHING",
        per_statement=per_statement,
    )
    expected = one_by_one.executemany(
        "INSERT INTO t (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", rows
    ).rowcount
    assert inserted.rows == expected == len({key for key, _ in rows})
    if inserted.rows and rows[-1][0] not in {key for key, _ in rows[:-1]}:
        assert inserted.last_rowid == rows[-1][0]  # the last row was new: its rowid
    query = "SELECT id, name FROM t ORDER BY id"
    assert many.execute(query).fetchall() == one_by_one.execute(query).fetchall()


def test_no_rows_is_no_statement() -> None:
    conn = table()
    assert insert_rows(conn, "INSERT INTO nowhere (a)", []) == (0, None)  # would fail if run
