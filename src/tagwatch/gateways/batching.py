"""Group commit: many connections' records in one durable log append.

A log append is durable when it returns (an fsync), and an fsync costs about the same for
one record as for ten thousand. So connections do not append on their own: they hand their
records to one `GroupWriter` and wait. While an append runs in the writer's thread, the
next records queue up; when it returns, everything queued goes in the next append. Under
light load a packet is written alone at once; under heavy load one fsync serves hundreds of
packets, and a device's acknowledgement waits at most about two appends.

Each waiting connection learns the outcome of the append that carried its records: it may
acknowledge its device only if that append returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

B = TypeVar("B")

DEFAULT_MAX_GROUP = 20_000  # records; bounds one transaction's size and time


class WriterClosedError(RuntimeError):
    """The writer was stopped before it could take the records."""


class GroupWriter(Generic[B]):
    """Calls `append(batches)` in a thread of its own, grouping concurrent `write`s."""

    def __init__(
        self,
        append: Callable[[Sequence[B]], object],
        *,
        size: Callable[[B], int] = lambda _: 1,
        max_group: int = DEFAULT_MAX_GROUP,
        name: str = "log-writer",
    ) -> None:
        self._append = append
        self._size = size
        self._max_group = max_group
        self._name = name
        self._queue: list[tuple[B, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self.appends = 0  # how many appends ran (a group each)

    def start(self) -> None:
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def write(self, batch: B) -> None:
        """Return once `batch` is durable; raise what the append raised if it failed."""
        if self._task is None or self._wake is None or self._closing:
            raise WriterClosedError("the log writer is not running")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, done))
        self._wake.set()
        await done

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None or self._wake is None:
            return
        self._closing = True
        self._wake.set()
        await self._task
        self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _run(self) -> None:
        wake = self._wake
        if wake is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            await wake.wait()
            wake.clear()
            while self._queue:
                group = self._take()
                batches = [batch for batch, _ in group]
                try:
                    await loop.run_in_executor(self._executor, self._append, batches)
                except Exception as error:  # every waiter learns its records were not stored
                    for _, done in group:
                        if not done.done():
                            done.set_exception(error)
                else:
                    for _, done in group:
                        if not done.done():
                            done.set_result(None)
                self.appends += 1
            if self._closing:
                return

    def _take(self) -> list[tuple[B, asyncio.Future[None]]]:
        taken = 0
        count = 0
        for batch, _ in self._queue:
            if count and taken + self._size(batch) > self._max_group:
                break
            taken += self._size(batch)
            count += 1
        group, self._queue = self._queue[:count], self._queue[count:]
        return group
