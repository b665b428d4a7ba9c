"""The PostgreSQL store's instant conversions: the UTC shortcut agrees with the general way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.store.postgres.database import instant, opt_whole_ms, whole_ms

_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_NAIVE_NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).replace(tzinfo=None)
_AWARE = st.datetimes(
    min_value=_NAIVE_NOON.replace(year=1971),  # hypothesis bounds are naive by its rule
    max_value=_NAIVE_NOON.replace(year=2100),
    timezones=_OFFSETS | st.just(UTC),
)


@given(_AWARE)
def test_instant_is_the_same_moment_in_utc(moment: datetime) -> None:
    converted = instant(moment)
    assert converted == moment
    assert converted.tzinfo is UTC


@given(_AWARE)
def test_whole_ms_truncates_to_the_millisecond_in_utc(moment: datetime) -> None:
    expected = moment.astimezone(UTC)
    expected = expected.replace(microsecond=expected.microsecond // 1000 * 1000)
    truncated = whole_ms(moment)
    assert truncated == expected
    assert truncated.tzinfo is UTC
    assert truncated.microsecond % 1000 == 0
    assert opt_whole_ms(moment) == expected


@pytest.mark.parametrize(
    ("moment", "expected_us"),
    [
        (datetime(2026, 11, 29, 12, 0, 1, 0, tzinfo=UTC), 0),
        (datetime(2026, 11, 29, 12, 0, 1, 999, tzinfo=UTC), 0),
        (datetime(2026, 11, 29, 12, 0, 1, 1000, tzinfo=UTC), 1000),
        (datetime(2026, 11, 29, 12, 0, 1, 999_999, tzinfo=UTC), 999_000),
    ],
)
def test_whole_ms_table(moment: datetime, expected_us: int) -> None:
    assert whole_ms(moment).microsecond == expected_us


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        whole_ms(_NAIVE_NOON)
    with pytest.raises(ValueError, match="time-zone aware"):
        instant(_NAIVE_NOON)
    assert opt_whole_ms(None) is None
