"""EventHub: one dispatch point for events (notifications, supervisor events), with bounded streams for consumers.

``await hub.publish(event)`` hands ``event`` to every subscriber in order of subscription, then to every open
:class:`EventStream`. A subscriber that raises is logged (with its traceback) and counted in ``errors``; the next
one still runs, and nothing is raised to the publisher. Streams are always bounded: when a consumer does not
keep up, ``when_full="block"`` makes ``publish`` wait for it, ``"drop"`` drops the event for that stream only,
logs a WARNING and counts it (``EventStream.dropped`` and ``EventHub.dropped``). Never an unbounded queue.

Used by :class:`agora_recording.webhooks.WebhookReceiver` (its ``subscribe()`` and ``events()``) and by the
client and supervisor for what notifications tell them. anyio only: works on asyncio and trio.
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from agora_recording._errors import InvalidRequestError

__all__ = ["DEFAULT_STREAM_BUFFER", "EventHub", "EventStream", "WhenFull", "as_async_handler"]

E = TypeVar("E")
WhenFull = Literal["block", "drop"]
Subscriber = Callable[[E], Awaitable[None]]

DEFAULT_STREAM_BUFFER = 1000
"""Events an :class:`EventStream` buffers for a consumer that is not reading."""


def as_async_handler(handler: Callable[[E], Any]) -> Callable[[E], Awaitable[None]]:
    """``handler`` itself if it is async; a plain function is run in a worker thread (so it may block)."""
    if not callable(handler):
        raise InvalidRequestError("handler", "must be callable")
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__):
        return handler

    async def in_thread(event: E) -> None:
        result = await anyio.to_thread.run_sync(handler, event)
        if inspect.isawaitable(result):
            await result

    in_thread.__qualname__ = getattr(handler, "__qualname__", type(handler).__name__)
    return in_thread


class _Sink(Generic[E]):
    """The hub's side of one :class:`EventStream`: a subscriber that puts events into a memory stream."""

    __slots__ = ("__weakref__", "_hub", "dropped", "send", "when_full")

    def __init__(self, hub: EventHub[E], send: MemoryObjectSendStream[E], when_full: WhenFull) -> None:
        self._hub = weakref.ref(hub)
        self.send = send
        self.when_full = when_full
        self.dropped = 0

    async def __call__(self, event: E) -> None:
        try:
            if self.when_full == "block":
                await self.send.send(event)
                return
            self.send.send_nowait(event)
        except anyio.WouldBlock:
            self.dropped += 1
            hub = self._hub()
            if hub is not None:
                hub.dropped += 1
                hub.logger.warning(
                    "event stream full: dropped %s; %d dropped from this stream so far",
                    hub.describe(event),
                    self.dropped,
                )
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the consumer has gone; the stream unsubscribes itself

    def close(self) -> None:
        hub = self._hub()
        if hub is not None:
            hub._remove_sink(self)
        self.send.close()


def _finalize_stream(sink: _Sink[Any], receive: MemoryObjectReceiveStream[Any]) -> None:
    sink.close()
    receive.close()


class EventStream(Generic[E]):
    """An async iterator over a hub's events: ``async for event in stream: ...``.

    Subscribed from the moment it is created, it buffers up to ``buffer`` events; a full buffer is handled as
    ``when_full`` says (see :mod:`agora_recording._hub`). Close it (``aclose()``, ``close()``, ``async with`` or
    ``with``) when done; a stream that is garbage collected unsubscribes itself. Iteration ends when the stream is
    closed (buffered events are discarded) or its hub closes its streams (after the buffered events).
    """

    __slots__ = ("__weakref__", "_finalizer", "_receive", "_sink")

    def __init__(self, hub: EventHub[E], buffer: int, when_full: WhenFull) -> None:
        send, receive = anyio.create_memory_object_stream[E](buffer)
        self._sink = _Sink(hub, send, when_full)
        self._receive = receive
        self._finalizer = weakref.finalize(self, _finalize_stream, self._sink, receive)
        hub._add_sink(self._sink)

    @property
    def dropped(self) -> int:
        """Events dropped for this stream because its buffer was full (``when_full="drop"`` only)."""
        return self._sink.dropped

    def __repr__(self) -> str:
        stats = self._receive.statistics()
        return (
            f"EventStream(buffered={stats.current_buffer_used}, buffer={stats.max_buffer_size}, "
            f"when_full={self._sink.when_full!r}, dropped={self._sink.dropped})"
        )

    def __aiter__(self) -> EventStream[E]:
        return self

    async def __anext__(self) -> E:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Unsubscribe and end the iteration; buffered events are discarded."""
        self._finalizer()

    async def aclose(self) -> None:
        """Unsubscribe and end the iteration (async form of :meth:`close`)."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def __enter__(self) -> EventStream[E]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> EventStream[E]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class EventHub(Generic[E]):
    """Subscribers and bounded streams of events of one kind (see the module docstring).

    ``describe(event)`` names an event in log lines (metadata only: never a secret); ``logger`` is where failures
    and drops are logged.
    """

    __slots__ = ("__weakref__", "_sinks", "_subscribers", "describe", "dropped", "errors", "logger")

    def __init__(self, *, logger: logging.Logger, describe: Callable[[E], str] = repr) -> None:
        self.logger = logger
        self.describe = describe
        self._subscribers: list[Subscriber[E]] = []
        self._sinks: list[_Sink[E]] = []
        self.dropped = 0
        self.errors = 0

    def __repr__(self) -> str:
        return f"EventHub(subscribers={len(self._subscribers)}, streams={len(self._sinks)}, dropped={self.dropped})"

    @property
    def subscriber_count(self) -> int:
        """Subscribers and open streams."""
        return len(self._subscribers)

    def subscribe(self, handler: Callable[[E], Any]) -> Callable[[], None]:
        """Add ``handler`` (async, or plain and run in a worker thread); returns a function that removes it."""
        subscriber = as_async_handler(handler)
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def stream(self, *, buffer: int = DEFAULT_STREAM_BUFFER, when_full: WhenFull = "block") -> EventStream[E]:
        """A new :class:`EventStream` of every event published from now on.

        Raises :class:`~agora_recording.InvalidRequestError` for ``buffer`` < 1 or an unknown ``when_full``.
        """
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise InvalidRequestError("buffer", "must be an integer >= 1 (streams are bounded)")
        if when_full not in ("block", "drop"):
            raise InvalidRequestError("when_full", "must be 'block' or 'drop'")
        return EventStream(self, buffer, when_full)

    async def publish(self, event: E) -> None:
        """Hand ``event`` to each subscriber and stream in order; failures are logged, never raised."""
        for subscriber in tuple(self._subscribers):
            try:
                await subscriber(event)
            except Exception:
                self.errors += 1
                self.logger.exception(
                    "event handler %s failed on %s",
                    getattr(subscriber, "__qualname__", type(subscriber).__name__),
                    self.describe(event),
                )

    def close_streams(self) -> None:
        """End every open stream: consumers get the events already buffered, then their iteration ends."""
        for sink in tuple(self._sinks):
            sink.send.close()

    def _add_sink(self, sink: _Sink[E]) -> None:
        self._sinks.append(sink)
        self._subscribers.append(sink)

    def _remove_sink(self, sink: _Sink[E]) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
        if sink in self._subscribers:
            self._subscribers.remove(sink)
