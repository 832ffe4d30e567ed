"""The fake's world: channels, recordings and their progress on the fake's clock.

:class:`RecordingState` owns every :class:`Recording` the fake started (by sid, by running task, by used
resourceId), the channels a test described, the recording-side counters and :class:`FakeTimings`. Recordings
move lazily: whoever looks at one at time ``now`` calls :meth:`RecordingState.advance` first, which applies idle
timeouts, ``maxRecordingHour`` and the end of "exiting". The request rules are in
:mod:`agora_recording.testing._rules`; what query and stop report is in :mod:`agora_recording.testing._files`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agora_recording._clock import Clock
from agora_recording.testing._rules import ALLSTREAM, UpdateRequest, uid_lists

__all__ = [
    "ABNORMAL",
    "DEFAULT_CHANNEL_UIDS",
    "EXITING",
    "GONE",
    "RUNNING",
    "Channel",
    "FakeTimings",
    "Recording",
    "RecordingInfo",
    "RecordingState",
    "resolve_uids",
]

DEFAULT_CHANNEL_UIDS: tuple[str, ...] = ("1001", "1002")
"""Who is in a channel the test did not configure (used for ``#allstream#`` and blacklists)."""

RUNNING = "running"
EXITING = "exiting"
ABNORMAL = "abnormal"
GONE = "gone"

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class FakeTimings:
    """How recordings and resourceIds move on the fake's clock (seconds).

    Example: ``FakeAgoraServer(timings=FakeTimings(ready_after=0.0, first_file_after=0.0))`` makes every
    recording report status 5 as soon as it starts.
    """

    ready_after: float = 3.0
    """Seconds from start until status 4 (all components ready); statuses 1-3 come on the way."""
    first_file_after: float = 5.0
    """Seconds from start until status 5 (first file uploaded), if anything is being recorded."""
    resource_ttl: float = 300.0
    """How long a resourceId can start a recording (Agora: five minutes)."""
    exiting_for: float = 10.0
    """How long a stopped (or idle-ended) task stays "exiting": stop answers 49 during it, 404 after."""
    abnormal_exit_for: float = 30.0
    """How long an abnormally ended recording shows status 20 before query answers 404."""

    def __post_init__(self) -> None:
        for name in ("ready_after", "first_file_after", "resource_ttl", "exiting_for", "abnormal_exit_for"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"FakeTimings.{name} must be a finite number >= 0, got {value!r}")
        if self.first_file_after < self.ready_after:
            raise ValueError("FakeTimings.first_file_after must not be less than ready_after")


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """A snapshot of one recording the fake started. No storage credentials, no request bodies.

    ``state`` is ``"running"``, ``"exiting"`` (stopped or idle-ended, stop answers 49), ``"abnormal"``
    (status 20 shown) or ``"gone"`` (every call answers 404).
    """

    sid: str
    """The recording ID."""
    resource_id: str
    """The resourceId that started it."""
    app_id: str
    """The App ID."""
    cname: str
    """The channel name."""
    uid: str
    """The recorder's uid."""
    mode: str
    """``"individual"``, ``"mix"`` or ``"web"``."""
    state: str
    """``"running"``, ``"exiting"``, ``"abnormal"`` or ``"gone"``."""
    status: int | None
    """What query would show now (0-5 or 20); ``None`` once query answers 404."""
    started_at: float
    """Start time on the fake's clock."""
    ended_at: float | None
    """When it stopped or ended, on the fake's clock."""
    end_reason: str | None
    """``"stop"``, ``"idle"``, ``"abnormal"`` or ``"max_recording_hour"``."""
    sid_delivered: bool
    """True once the start answer carrying the sid was delivered (or the sid was used in a later request)."""
    has_files: bool
    """True once the first file was "uploaded" (status 5 reached)."""
    onhold: bool
    """Web mode: the page recording is paused."""
    snapshot: bool
    """Individual mode with ``snapshotConfig``: screenshots, no file list."""
    file_names: tuple[str, ...]
    """The file names a query or stop would list now."""
    updates: int
    """How many ``update`` calls succeeded."""
    layout_updates: int
    """How many ``updateLayout`` calls succeeded."""


@dataclass(slots=True)
class Channel:
    """A channel as the test described it (:meth:`FakeAgoraServer.set_channel`)."""

    uids: tuple[str, ...] | None = None
    silent: bool = False
    uploading_status: str = "uploaded"


_DEFAULT_CHANNEL = Channel()


class Recording:
    """One recording the fake started: everything the fake knows about it (mutable, internal)."""

    __slots__ = (
        "app_id",
        "audio_uids",
        "auto_end_reason",
        "cname",
        "end_reason",
        "ended_at",
        "file_cname",
        "file_due_at",
        "first_file_at",
        "has_rtmp",
        "hour_deadline",
        "idle_deadline",
        "layout_updates",
        "max_idle_time",
        "mode",
        "mp4",
        "onhold",
        "phase",
        "phase_until",
        "resource_id",
        "rtmp_urls",
        "sid",
        "sid_delivered",
        "slice_start_at",
        "snapshot",
        "started_at",
        "uid",
        "updates",
        "video_uids",
    )

    def __init__(self, *, sid: str, resource_id: str, app_id: str, cname: str, uid: str, mode: str, now: float):
        self.sid = sid
        self.resource_id = resource_id
        self.app_id = app_id
        self.cname = cname
        self.uid = uid
        self.mode = mode
        self.started_at = now
        self.file_cname = _FILE_UNSAFE.sub("-", cname)
        self.phase = RUNNING
        self.phase_until = math.inf
        self.ended_at: float | None = None
        self.end_reason: str | None = None
        self.auto_end_reason: str | None = None
        self.sid_delivered = False
        self.file_due_at: float | None = None
        self.first_file_at: float | None = None
        self.slice_start_at: float | None = None
        self.idle_deadline: float | None = None
        self.hour_deadline: float | None = None
        self.max_idle_time = 30.0
        self.snapshot = False
        self.mp4 = False
        self.onhold = False
        self.has_rtmp = False
        self.rtmp_urls: list[str] = []
        self.audio_uids: dict[str, None] = {}
        self.video_uids: dict[str, None] = {}
        self.updates = 0
        self.layout_updates = 0

    def __repr__(self) -> str:
        return f"<recording sid={self.sid} mode={self.mode} phase={self.phase}>"


def resolve_uids(
    lists: tuple[list[str] | None, list[str] | None], channel: Channel, *, enabled: bool, others_listed: bool
) -> list[str]:
    """The uids recorded for one media type (see :meth:`FakeAgoraServer.set_channel`)."""
    if not enabled:
        return []
    sub, unsub = lists
    present = channel.uids if channel.uids is not None else DEFAULT_CHANNEL_UIDS
    if sub is not None:
        return list(present) if ALLSTREAM in sub else list(dict.fromkeys(sub))
    if unsub is not None:
        return [u for u in present if u not in unsub]
    # "If you set up a subscription list for audio, but not for video, then no video is subscribed" (and v.v.)
    return [] if others_listed else list(present)


class RecordingState:
    """Every recording and channel of the fake, the recording counters, and how time moves them."""

    def __init__(self, *, clock: Clock, timings: FakeTimings, unix_time_origin: float) -> None:
        self.clock = clock
        self.timings = timings
        self.channels: dict[str, Channel] = {}
        self.recordings: dict[str, Recording] = {}  # every recording ever started, by sid
        self.live: dict[str, Recording] = {}  # not yet gone
        self.tasks: dict[tuple[str, str, str], Recording] = {}  # running, by (app_id, cname, uid)
        self.used_rids: dict[str, str] = {}
        self.started = 0
        self.stopped = 0
        self.ended = 0
        self._clock_origin = clock()
        self._unix_origin = unix_time_origin
        self.listener: Callable[[str, Recording, float], None] | None = None
        """Called with ``(event, recording, at)``: "started", "uploaded", "stopped", "ended", "mismatch" (notify)."""

    def __repr__(self) -> str:
        return f"RecordingState(recordings={len(self.recordings)}, live={len(self.live)})"

    # ------------------------------------------------------------------------------------------ lookups

    def channel(self, cname: str) -> Channel:
        """The channel as described, or the default one (:data:`DEFAULT_CHANNEL_UIDS`, not silent)."""
        channel = self.channels.get(cname)
        return channel if channel is not None else _DEFAULT_CHANNEL

    def running_task(self, app_id: str, cname: str, uid: str, now: float) -> Recording | None:
        """The recording running now for this App ID, channel and uid, if any."""
        rec = self.tasks.get((app_id, cname, uid))
        return rec if rec is not None and self.advance(rec, now) and rec.phase == RUNNING else None

    def running(self, now: float) -> list[Recording]:
        """The recordings running now, in start order."""
        return [rec for rec in list(self.live.values()) if self.advance(rec, now) and rec.phase == RUNNING]

    def next_deadline(self, now: float) -> float | None:
        """The earliest moment after ``now`` at which a running recording changes by itself, if any."""
        times = [
            t
            for rec in self.live.values()
            if rec.phase == RUNNING
            for t in (None if rec.first_file_at is not None else rec.file_due_at, rec.idle_deadline, rec.hour_deadline)
            if t is not None and t > now
        ]
        return min(times, default=None)

    def unix_ms(self, t: float | None) -> int:
        """A time on the fake's clock as Unix milliseconds (0 for ``None``)."""
        if t is None:
            return 0
        return round((self._unix_origin + (t - self._clock_origin)) * 1000)

    # ------------------------------------------------------------------------------------------ changes

    def set_channel(self, cname: str, channel: Channel, now: float) -> None:
        """Describe a channel; recordings running in it follow at once."""
        self.channels[cname] = channel
        for rec in list(self.live.values()):
            if rec.cname == cname and self.advance(rec, now) and rec.phase == RUNNING:
                self._apply_channel(rec, channel, now)

    def add(self, rec: Recording, request: dict[str, Any], now: float, *, strict: bool) -> None:
        """Register a recording a start created, configured from its (valid) ``clientRequest``."""
        self._configure(rec, request, now, strict=strict)
        self.used_rids[rec.resource_id] = rec.sid
        self.recordings[rec.sid] = rec
        self.live[rec.sid] = rec
        self.tasks[(rec.app_id, rec.cname, rec.uid)] = rec
        self.started += 1
        self.emit("started", rec, now)

    def update(self, rec: Recording, update: UpdateRequest, now: float) -> None:
        """Apply a valid update (rule 11)."""
        if update.audio is not None and update.video is not None:  # streamSubscribe
            channel = self.channel(rec.cname)
            for lists, target in ((update.audio, rec.audio_uids), (update.video, rec.video_uids)):
                if lists != (None, None):
                    target.update(dict.fromkeys(resolve_uids(lists, channel, enabled=True, others_listed=False)))
            self._schedule_files(rec, channel, now)
        if update.onhold is not None:
            self.has_files(rec, now)
            rec.onhold = update.onhold
            self._schedule_files(rec, self.channel(rec.cname), now)
        if update.rtmp_urls is not None:
            rec.rtmp_urls = update.rtmp_urls
            rec.has_rtmp = True

    def stop(self, rec: Recording, now: float) -> bool:
        """Stop a running recording (it goes "exiting"); return whether it ever produced a file."""
        has_files = self.has_files(rec, now)
        self._finish(rec, now, EXITING, "stop", now + self.timings.exiting_for)
        self.stopped += 1
        return has_files

    def end(self, rec: Recording, reason: str, now: float) -> None:
        """End a running recording without a stop: ``"idle"`` (it exits) or ``"abnormal"`` (status 20)."""
        self.has_files(rec, now)
        if reason == "idle":
            self._finish(rec, now, EXITING, "idle", now + self.timings.exiting_for)
        else:
            self._finish(rec, now, ABNORMAL, "abnormal", now + self.timings.abnormal_exit_for)
        self.ended += 1

    # -------------------------------------------------------------------------------------- progress

    def advance(self, rec: Recording, now: float) -> bool:
        """Apply what happened since the last look (idle timeout, maxRecordingHour, exit); False once gone."""
        if rec.phase == RUNNING:
            deadline, reason = rec.idle_deadline, "idle"
            if rec.hour_deadline is not None and (deadline is None or rec.hour_deadline < deadline):
                deadline, reason = rec.hour_deadline, "max_recording_hour"
            if deadline is not None and now >= deadline:
                self.has_files(rec, deadline)
                self._finish(rec, deadline, EXITING, reason, deadline + self.timings.exiting_for)
                self.ended += 1
        if rec.phase != RUNNING and now >= rec.phase_until:
            rec.phase = GONE
            self.live.pop(rec.sid, None)
            return False
        return rec.phase != GONE

    def has_files(self, rec: Recording, now: float) -> bool:
        """True once the first file is "uploaded" (it is marked so the first time someone looks after it)."""
        if rec.first_file_at is not None:
            return True
        due = rec.file_due_at
        if due is not None and now >= due and rec.phase == RUNNING:
            rec.first_file_at = due
            self.emit("uploaded", rec, due)
            return True
        return False

    def status(self, rec: Recording, now: float) -> int | None:
        """What query shows: 0-5, 20 (abnormal), ``None`` once not running."""
        if rec.phase == ABNORMAL:
            return 20
        if rec.phase != RUNNING:
            return None
        if self.has_files(rec, now):
            return 5
        elapsed = now - rec.started_at
        ready = self.timings.ready_after
        if elapsed >= ready:
            return 4
        if elapsed >= ready * 2 / 3:
            return 3
        if elapsed >= ready / 3:
            return 2
        return 1 if elapsed >= ready / 6 else 0

    # -------------------------------------------------------------------------------------- internals

    def emit(self, event: str, rec: Recording, at: float) -> None:
        """Tell the listener (notifications) that ``event`` happened to ``rec`` at ``at``."""
        if self.listener is not None:
            self.listener(event, rec, at)

    def _configure(self, rec: Recording, request: dict[str, Any], now: float, *, strict: bool) -> None:
        rec.snapshot = "snapshotConfig" in request
        files = request.get("recordingFileConfig")
        rec.mp4 = isinstance(files, dict) and "mp4" in files.get("avFileType", ())
        channel = self.channel(rec.cname)
        if rec.mode == "web":
            for service in request["extensionServiceConfig"]["extensionServices"]:
                params = service.get("serviceParam", {})
                if service.get("serviceName") == "web_recorder_service":
                    rec.onhold = params.get("onhold", False)
                    rec.hour_deadline = now + params["maxRecordingHour"] * 3600.0
                elif service.get("serviceName") == "rtmp_publish_service":
                    rec.has_rtmp = True
                    rec.rtmp_urls = [output["rtmpUrl"] for output in params.get("outputs", ())]
        else:
            config = request["recordingConfig"]
            rec.max_idle_time = float(config.get("maxIdleTime", 30))
            stream_types = config.get("streamTypes", 2)
            audio = uid_lists(config, "Audio", "Start", "recordingConfig", strict=strict)
            video = uid_lists(config, "Video", "Start", "recordingConfig", strict=strict)
            listed = audio != (None, None) or video != (None, None)
            rec.audio_uids = dict.fromkeys(
                resolve_uids(audio, channel, enabled=stream_types in (0, 2), others_listed=listed)
            )
            rec.video_uids = dict.fromkeys(
                resolve_uids(video, channel, enabled=stream_types in (1, 2), others_listed=listed)
            )
        self._apply_channel(rec, channel, now)

    def _apply_channel(self, rec: Recording, channel: Channel, now: float) -> None:
        if rec.mode != "web":
            if channel.uids is not None and not channel.uids:
                if rec.idle_deadline is None:
                    rec.idle_deadline = now + rec.max_idle_time
            else:
                rec.idle_deadline = None
        self._schedule_files(rec, channel, now)

    def _schedule_files(self, rec: Recording, channel: Channel, now: float) -> None:
        if self.has_files(rec, now):
            return
        if rec.mode == "web":
            producing = not rec.onhold and not channel.silent
        else:
            empty = channel.uids is not None and not channel.uids
            producing = not channel.silent and not empty and bool(rec.audio_uids or rec.video_uids)
        if not producing:
            rec.file_due_at = None
            rec.slice_start_at = None
        elif rec.file_due_at is None:
            t = self.timings
            gap = t.first_file_after - t.ready_after
            rec.slice_start_at = max(rec.started_at + t.ready_after, now)
            rec.file_due_at = rec.slice_start_at + gap

    def _finish(self, rec: Recording, at: float, phase: str, reason: str, until: float) -> None:
        rec.phase = phase
        rec.phase_until = until
        rec.ended_at = at
        rec.end_reason = reason
        key = (rec.app_id, rec.cname, rec.uid)
        if self.tasks.get(key) is rec:
            del self.tasks[key]
        self.emit("stopped" if reason == "stop" else "ended", rec, at)
