"""What the fake tells a test about itself: the request log, the counters, snapshots of recordings.

:class:`Counters` is the fake's tally (the request side here; the recording side is counted by
:class:`~agora_recording.testing._state.RecordingState`); :class:`FakeStats` is the frozen snapshot a test reads
through :attr:`FakeAgoraServer.stats`. Nothing here holds a credential, and ``repr()`` of a record never shows
its body. :class:`Inspection` holds the facade's read-only methods (``requests``, ``stats``, ``orphans``, ...).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agora_recording._clock import Clock
from agora_recording.testing._faults import normalize_endpoint
from agora_recording.testing._files import Files
from agora_recording.testing._state import RecordingInfo, RecordingState

__all__ = ["Counters", "FakeStats", "Inspection", "RequestRecord"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the fake saw it, for assertions. ``repr()`` never shows the body.

    Example: ``[r.status for r in fake.requests if r.endpoint == "start"] == [200]``.
    """

    request_id: str
    """The ``X-Request-Id`` the fake assigned."""
    at: float
    """Arrival time on the fake's clock."""
    method: str
    """The HTTP method."""
    path: str
    """The request path (with any query string)."""
    endpoint: str | None
    """The endpoint name (``"acquire"``, ``"start"``, ...), or ``None`` for an unmatched route."""
    app_id: str | None
    """The App ID in the path, if the route matched."""
    status: int | None
    """The HTTP status answered; ``None`` if a network fault meant no answer."""
    code: int | None = None
    """Agora's ``code`` in the answer, when there was one."""
    fault: str | None = None
    """The kind of injected fault that hit this request, if any."""
    body: Any = field(default=None, repr=False, compare=False)
    """The parsed JSON body (``None`` if the request was not parsed). Not shown in ``repr()``."""


@dataclass(frozen=True, slots=True)
class FakeStats:
    """Counters for assertions (a snapshot; take a new one with :attr:`FakeAgoraServer.stats`).

    Example: ``assert fake.stats.rate_limited == 0 and fake.stats.running == 0``.
    """

    requests: int
    """Every request the fake received."""
    by_endpoint: Mapping[str, int]
    """Requests per endpoint name (``"unmatched"`` for unknown routes)."""
    by_status: Mapping[int, int]
    """Answers per HTTP status (requests lost to a network fault are not counted here)."""
    rate_limited: int
    """429 answers served by the rate limiter (not by injected faults)."""
    faults_fired: int
    """Requests hit by an injected or random fault."""
    recordings_started: int
    """Recordings started (start answered 200 or was lost after the work was done)."""
    recordings_stopped: int
    """Recordings stopped by a stop request (200 or 206/435)."""
    recordings_ended: int
    """Recordings that ended without a stop (idle, abnormal exit, maxRecordingHour)."""
    running: int
    """Recordings running now."""
    undelivered_sids: int
    """Started recordings whose sid never reached the client."""
    answers_lost: int = 0
    """Answers the fake computed that the client could not read: over TCP, the client had closed the connection
    before the answer was written (answers withheld by a network fault are counted in ``faults_fired``)."""


class Counters:
    """The request-side counters and the bounded request log."""

    __slots__ = ("answers_lost", "by_endpoint", "by_status", "faults_fired", "log", "rate_limited", "requests")

    def __init__(self, log_size: int) -> None:
        self.requests = 0
        self.by_endpoint: dict[str, int] = {}
        self.by_status: dict[int, int] = {}
        self.rate_limited = 0
        self.faults_fired = 0
        self.answers_lost = 0
        self.log: deque[RequestRecord] = deque(maxlen=log_size)

    def arrived(self, endpoint: str | None) -> int:
        """Count one request (``None``: an unmatched route); return its serial number."""
        self.requests += 1
        key = endpoint or "unmatched"
        self.by_endpoint[key] = self.by_endpoint.get(key, 0) + 1
        return self.requests

    def lost(self) -> None:
        """Count one answer the client could not read."""
        self.answers_lost += 1

    def answered(self, status: int) -> None:
        """Count one HTTP answer."""
        self.by_status[status] = self.by_status.get(status, 0) + 1


class Inspection:
    """The inspection methods of :class:`FakeAgoraServer` (a mixin over its state, files and counters)."""

    _clock: Clock
    _state: RecordingState
    _files: Files
    _counters: Counters

    @property
    def requests(self) -> tuple[RequestRecord, ...]:
        """The request log, oldest first (at most ``request_log_size`` entries)."""
        return tuple(self._counters.log)

    def requests_to(self, endpoint: str) -> tuple[RequestRecord, ...]:
        """The logged requests to one endpoint (``"acquire"``, ``"start"``, ...), oldest first."""
        name = normalize_endpoint(endpoint)
        return tuple(r for r in self._counters.log if name in ("*", r.endpoint))

    @property
    def stats(self) -> FakeStats:
        """A snapshot of the counters (see :class:`FakeStats`)."""
        state, counters = self._state, self._counters
        running = len(state.running(self._clock()))
        return FakeStats(
            requests=counters.requests,
            by_endpoint=dict(counters.by_endpoint),
            by_status=dict(counters.by_status),
            rate_limited=counters.rate_limited,
            faults_fired=counters.faults_fired,
            recordings_started=state.started,
            recordings_stopped=state.stopped,
            recordings_ended=state.ended,
            running=running,
            undelivered_sids=sum(1 for rec in state.recordings.values() if not rec.sid_delivered),
            answers_lost=counters.answers_lost,
        )

    def recording(self, sid: str) -> RecordingInfo | None:
        """A snapshot of the recording with this sid (running or not), or ``None`` if the fake never started it."""
        rec = self._state.recordings.get(sid)
        return None if rec is None else self._files.info(rec, self._clock())

    def recordings(self) -> list[RecordingInfo]:
        """Snapshots of every recording the fake ever started, in start order."""
        now = self._clock()
        return [self._files.info(rec, now) for rec in list(self._state.recordings.values())]

    def running_recordings(self) -> list[RecordingInfo]:
        """Snapshots of the recordings running now (not stopped, not ended), in start order."""
        now = self._clock()
        return [self._files.info(rec, now) for rec in self._state.running(now)]

    def undelivered_sids(self) -> list[str]:
        """Sids of started recordings whose start answer never reached the client (running or not)."""
        return [rec.sid for rec in self._state.recordings.values() if not rec.sid_delivered]

    def orphans(self) -> list[RecordingInfo]:
        """Running recordings whose sid the client never received: nobody can stop them but idle timeout."""
        return [info for info in self.running_recordings() if not info.sid_delivered]
