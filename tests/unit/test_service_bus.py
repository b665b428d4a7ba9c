"""The live-feed bus: thread-safe publish, async subscribe, bounded queues with gap markers."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from tagwatch.domain.positions import Fix
from tagwatch.service.bus import Bus, Message, position_message


def numbered(n: int) -> Message:
    return {"type": "test", "n": n}


def test_every_subscriber_gets_every_message_in_order() -> None:
    bus = Bus()

    async def scenario() -> tuple[list[Message], list[Message]]:
        async with bus.subscribe() as a, bus.subscribe() as b:
            bus.publish_many(numbered(n) for n in range(3))
            bus.publish(numbered(3))
            got_a = [await a.get() for _ in range(4)]
            got_b = [await b.get() for _ in range(4)]
        return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert got_a == got_b == [numbered(n) for n in range(4)]
    assert bus.subscriber_count == 0  # leaving the block unsubscribes


def test_a_slow_subscriber_loses_the_oldest_and_is_told_how_many() -> None:
    bus = Bus(queue_size=3)

    async def scenario() -> list[Message]:
        feed = bus.subscribe()
        for n in range(5):
            bus.publish(numbered(n))
        got = [await feed.get() for _ in range(4)]
        bus.publish(numbered(5))
        got.append(await feed.get())
        feed.close()
        return got

    assert asyncio.run(scenario()) == [
        {"type": "gap", "dropped": 2},
        numbered(2),
        numbered(3),
        numbered(4),
        numbered(5),
    ]


def test_messages_published_from_other_threads_wake_the_subscriber() -> None:
    bus = Bus()

    async def scenario() -> list[int]:
        feed = bus.subscribe()

        def publisher(start: int) -> None:
            for n in range(start, start + 50):
                bus.publish(numbered(n))

        threads = [threading.Thread(target=publisher, args=(i * 50,)) for i in range(4)]
        for thread in threads:
            thread.start()
        got = [int((await asyncio.wait_for(feed.get(), 5))["n"]) for _ in range(200)]
        for thread in threads:
            thread.join()
        feed.close()
        return got

    got = asyncio.run(scenario())
    assert sorted(got) == list(range(200))
    for i in range(4):  # one publisher's messages keep their order
        mine = [n for n in got if i * 50 <= n < (i + 1) * 50]
        assert mine == sorted(mine)


def test_a_closed_subscription_ends_its_iteration() -> None:
    bus = Bus()

    async def scenario() -> list[Message]:
        feed = bus.subscribe()
        bus.publish(numbered(1))

        async def close_soon() -> None:
            await asyncio.sleep(0.01)
            feed.close()

        closer = asyncio.create_task(close_soon())
        got = [message async for message in feed]
        await closer
        return got

    assert asyncio.run(scenario()) == [numbered(1)]
    bus.publish(numbered(2))  # nobody listens: nothing happens
    assert bus.published == 2


def test_a_subscriber_whose_loop_has_gone_is_dropped() -> None:
    bus = Bus()

    async def subscribe() -> None:
        bus.subscribe()

    asyncio.run(subscribe())  # the loop closes with the subscription still registered
    bus.publish(numbered(1))
    assert bus.subscriber_count == 0


def test_subscribing_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        Bus().subscribe()


def test_a_position_message_is_json_ready() -> None:
    fix = Fix("tag-1", datetime(2026, 11, 2, 12, tzinfo=UTC), 51.75, -0.33, 10.0)
    message = position_message(fix, "subject-1")
    assert message["type"] == "position"
    assert (message["device_id"], message["subject_id"]) == ("tag-1", "subject-1")
    assert message["fix"]["fix_time"] == "2026-11-02T12:00:00.000000+00:00"
    assert message["fix"]["lat"] == 51.75
