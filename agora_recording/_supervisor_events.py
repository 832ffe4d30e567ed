"""What a :class:`~agora_recording.RecordingSupervisor` tells its consumers, and what it is told.

* :class:`SupervisorEvent`: one frozen event per thing that happened to a supervised recording (``kind`` is
  ``"started"``, ``"restarted"``, ``"exited"``, ``"failover"``, ``"files"``, ``"stopped"``, ``"failed"``, and
  for a fleet across processes ``"resumed"``, ``"orphan"`` and ``"handed_off"``).
* :class:`EventStream`: one consumer's view of the events. Every stream gets every event published after it was
  opened. **Overflow policy**: each stream buffers at most ``buffer`` events; when a consumer falls behind, the
  *oldest* buffered event is dropped and counted in :attr:`EventStream.dropped` (events carry an increasing
  ``seq``, so a consumer can also see the gap). Publishing never waits for a consumer, so a slow bot can never
  slow down the supervision of the fleet, and memory stays bounded.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any, Literal

import anyio
import anyio.lowlevel
import attrs

__all__ = ["EventHub", "EventKind", "EventStream", "SupervisorEvent"]

EventKind = Literal[
    "started", "restarted", "exited", "failover", "files", "stopped", "failed", "resumed", "orphan", "handed_off"
]
"""The kinds of :class:`SupervisorEvent`."""

Role = Literal["primary", "backup"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen_details(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value)) if value else _EMPTY


def _show(details: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in details.items()) + "}"


@attrs.frozen(kw_only=True)
class SupervisorEvent:
    """One thing that happened to a supervised recording, in the order it happened (``seq`` increases).

    - ``kind``: ``"started"`` (the first recording of a handle was verified: status 4 or 5), ``"restarted"`` (a
      replacement was verified; ``details["previous_sid"]``, ``details["previous_uid"]``), ``"exited"`` (a
      recording ended without being asked to; ``reason`` says how: ``"status_20"``, ``"not_found"``,
      ``"session_exit"``, ``"recorder_leave"``, ...), ``"failover"`` (Agora's high availability moved the task; it
      was *not* restarted; ``details["lost_for"]`` seconds of 404s, ``details["new_uid"]`` when notified),
      ``"files"`` (the file list changed; ``details["files"]``), ``"stopped"`` (stopped by
      :meth:`~RecordingSupervisor.remove` or on exit; ``details["files"]``, ``details["already_stopped"]``),
      ``"failed"`` (the supervisor gave up; ``reason``), ``"resumed"`` (:meth:`~RecordingSupervisor.resume` took the
      handle over from another process; ``reason`` is the :class:`ResumeOutcome` value, ``details["key"]``,
      ``details["previous_owner"]``), ``"orphan"`` (a recording whose start's outcome was unknown runs and cannot be
      stopped: no sid; ``uid`` is its uid, ``details["resource_id"]``) and ``"handed_off"``
      (:meth:`~RecordingSupervisor.hand_off`: the recording keeps running for the next resume).
    - ``cname``, ``uid`` (the recorder uid of that recording), ``sid`` (``None`` when no recording ran), ``role``
      (``"primary"`` or ``"backup"``), ``restarts`` (the handle's count so far), ``at`` (the client's clock).
    """

    kind: EventKind
    cname: str
    uid: str
    sid: str | None
    role: Role = "primary"
    restarts: int = 0
    at: float = 0.0
    seq: int = 0
    reason: str | None = None
    details: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_details, hash=False, repr=_show)


class EventStream:
    """One consumer's bounded stream of :class:`SupervisorEvent`; get it from :meth:`RecordingSupervisor.events`.

    Iterate it with ``async for`` (one task per stream). It ends when the supervisor exits (after the buffered
    events) or when :meth:`aclose` is called. At most ``buffer`` events wait in it; past that the oldest is
    dropped and counted in :attr:`dropped`. Use it as an async context manager to unsubscribe on leaving::

        async with sup.events() as stream:
            async for event in stream:
                ...

    A stream that is no longer referenced unsubscribes by itself.
    """

    __slots__ = ("__weakref__", "_buffer", "_closed", "_dropped", "_hub", "_wakeup")

    def __init__(self, hub: EventHub, buffer: int) -> None:
        self._hub = hub
        self._buffer: deque[SupervisorEvent] = deque(maxlen=buffer)
        self._dropped = 0
        self._closed = False
        self._wakeup: anyio.Event | None = None

    def __repr__(self) -> str:
        return (
            f"EventStream(pending={len(self._buffer)}, buffer={self._buffer.maxlen}, dropped={self._dropped}, "
            f"closed={self._closed})"
        )

    @property
    def dropped(self) -> int:
        """How many events this stream dropped because its consumer fell behind (oldest first)."""
        return self._dropped

    @property
    def pending(self) -> int:
        """How many events wait in the buffer."""
        return len(self._buffer)

    @property
    def closed(self) -> bool:
        """True once the stream gets no new events (the supervisor exited, or :meth:`aclose` was called)."""
        return self._closed

    def _put(self, event: SupervisorEvent) -> None:
        if self._closed:
            return
        if len(self._buffer) == self._buffer.maxlen:
            self._dropped += 1  # the deque drops the oldest on append
        self._buffer.append(event)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    def _finish(self) -> None:
        self._closed = True
        self._wake()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> SupervisorEvent:
        while True:
            await anyio.lowlevel.checkpoint_if_cancelled()
            if self._buffer:
                event = self._buffer.popleft()
                await anyio.lowlevel.cancel_shielded_checkpoint()  # taken: not lost to a cancellation now
                return event
            if self._closed:
                raise StopAsyncIteration
            wakeup = self._wakeup = anyio.Event()
            await wakeup.wait()

    async def aclose(self) -> None:
        """Unsubscribe: drop what is buffered and end the iteration."""
        self._hub.discard(self)
        self._buffer.clear()
        self._finish()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class EventHub:
    """Internal: numbers events and hands each to every open stream; never blocks the publisher."""

    __slots__ = ("_closed", "_seq", "_streams")

    def __init__(self) -> None:
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        self._seq = 0
        self._closed = False

    def subscribe(self, buffer: int) -> EventStream:
        stream = EventStream(self, buffer)
        if self._closed:
            stream._finish()
        else:
            self._streams.add(stream)
        return stream

    def discard(self, stream: EventStream) -> None:
        self._streams.discard(stream)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def publish(self, event: SupervisorEvent) -> None:
        for stream in list(self._streams):
            stream._put(event)

    def close(self) -> None:
        self._closed = True
        for stream in list(self._streams):
            stream._finish()
        self._streams = weakref.WeakSet()
