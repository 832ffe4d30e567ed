"""EventHub: the one dispatch point for events of any kind (used by webhooks, the client and the supervisor)."""

from __future__ import annotations

import logging

import anyio
import pytest

from agora_recording import InvalidRequestError
from agora_recording._hub import EventHub

pytestmark = pytest.mark.anyio
LOG = logging.getLogger("agora_recording.test_hub")


async def test_subscribers_in_order_failures_isolated_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """Each event reaches every subscriber in subscription order; one that raises is logged, the next still runs."""
    hub: EventHub[int] = EventHub(logger=LOG, describe=lambda e: f"event {e}")
    seen: list[tuple[str, int]] = []

    async def first(event: int) -> None:
        seen.append(("first", event))
        if event == 2:
            raise RuntimeError("boom")

    def second(event: int) -> None:  # a plain function: run in a worker thread
        seen.append(("second", event))

    unsubscribe = hub.subscribe(first)
    hub.subscribe(second)
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        for event in (1, 2):
            await hub.publish(event)
    assert seen == [("first", 1), ("second", 1), ("first", 2), ("second", 2)]
    assert hub.errors == 1
    assert "event 2" in caplog.text
    unsubscribe()
    await hub.publish(3)
    assert seen[-1] == ("second", 3)
    assert hub.subscriber_count == 1


async def test_streams_are_bounded_and_end_after_their_buffer() -> None:
    """A drop stream keeps its first ``buffer`` events and counts the rest; closing the hub's streams ends
    iteration after the buffered events."""
    hub: EventHub[int] = EventHub(logger=LOG)
    dropping = hub.stream(buffer=2, when_full="drop")
    for event in range(5):
        await hub.publish(event)
    assert dropping.dropped == 3
    assert hub.dropped == 3
    hub.close_streams()
    assert [event async for event in dropping] == [0, 1]


async def test_a_blocking_stream_holds_the_publisher_until_read() -> None:
    """``when_full="block"``: publish waits for the consumer instead of dropping."""
    hub: EventHub[int] = EventHub(logger=LOG)
    stream = hub.stream(buffer=1)
    published: list[int] = []

    async def producer() -> None:
        for event in range(3):
            await hub.publish(event)
            published.append(event)

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        await anyio.wait_all_tasks_blocked()
        assert published == [0]  # event 1 waits for room
        got = [await stream.__anext__() for _ in range(3)]
    assert got == [0, 1, 2]
    assert stream.dropped == 0


def test_stream_arguments_are_checked() -> None:
    hub: EventHub[int] = EventHub(logger=LOG)
    with pytest.raises(InvalidRequestError, match="buffer"):
        hub.stream(buffer=0)
    with pytest.raises(InvalidRequestError, match="when_full"):
        hub.stream(when_full="grow")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="handler"):
        hub.subscribe(42)  # type: ignore[arg-type]
