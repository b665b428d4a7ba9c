"""The gateway's group commit: concurrent writes share one append, and every writer learns
whether the append that carried its records succeeded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from tagwatch.gateways.batching import GroupWriter, WriterClosedError


def run(test: Callable[[], Awaitable[None]]) -> None:
    """`asyncio.run` in a thread of its own, so an event loop that another test left
    running in this thread (Playwright's sync API keeps one) cannot get in the way."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(test())).result()


class Appends:
    """Records every group; the first append waits until released (a slow fsync)."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = threading.Event()
        self.fail_next = False

    def __call__(self, batches: Sequence[int]) -> None:
        if not self.groups:
            self.release.wait(5)
        self.groups.append(list(batches))
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")


def test_writes_arriving_during_an_append_go_together_in_the_next_one() -> None:
    appends = Appends()

    async def scenario() -> None:
        writer: GroupWriter[int] = GroupWriter(appends)
        writer.start()
        first = asyncio.create_task(writer.write(0))
        await asyncio.sleep(0.05)  # the first append is running (and held)
        rest = [asyncio.create_task(writer.write(i)) for i in range(1, 11)]
        await asyncio.sleep(0.05)
        appends.release.set()
        await asyncio.gather(first, *rest)
        await writer.stop()
        assert writer.appends == 2

    run(scenario)
    assert appends.groups == [[0], list(range(1, 11))]


def test_a_group_is_capped_by_the_size_of_its_batches() -> None:
    appends = Appends()
    appends.release.set()

    async def scenario() -> None:
        writer: GroupWriter[int] = GroupWriter(appends, size=lambda n: n, max_group=10)
        writer.start()
        await asyncio.gather(*(writer.write(4) for _ in range(6)))
        await writer.stop()

    run(scenario)
    assert all(sum(group) <= 10 for group in appends.groups)
    assert sum(len(group) for group in appends.groups) == 6


def test_every_writer_of_a_failed_append_gets_the_error_and_later_writes_succeed() -> None:
    appends = Appends()
    appends.release.set()
    appends.fail_next = True

    async def scenario() -> None:
        writer: GroupWriter[int] = GroupWriter(appends)
        writer.start()
        with pytest.raises(OSError, match="disk full"):
            await writer.write(1)
        await writer.write(2)
        await writer.stop()
        with pytest.raises(WriterClosedError):
            await writer.write(3)

    run(scenario)
    assert appends.groups == [[1], [2]]
