"""The fast signals a RecordingSupervisor takes (notifications), and what each one means: pure, table-tested.

:func:`decide` maps one signal about the *current* recording of a handle to an :class:`Action`; the supervisor
applies it. :func:`signal_from_event` reads a parsed NCS notification (anything with ``event_type``, ``cname``,
``uid``, ``sid`` and a ``details`` mapping, such as the events of :mod:`agora_recording.webhooks`) into the
keyword form of :meth:`RecordingSupervisor.notify`.

==========================  =======================================  =============================================
signal                      condition                                action
==========================  =======================================  =============================================
``session_exit``            exitStatus 1                             restart now
``session_exit``            exitStatus 0 (or absent)                 query now; a 404 then means gone
``recorder_leave``          leaveCode 8 (timer catch)                ignore
``recorder_leave``          leaveCode 2 (signalling; maybe failover) query now
``recorder_leave``          any other code (0, 4, 16, ...)           restart now (the recorder is gone)
``recorder_leave``          a uid other than the current recorder's  ignore (the old recorder, after a failover)
``session_failover``        -                                        no restart; expect 404s for the window
``web_recorder_stopped``    code other than 0                        restart now (Agora: abnormal stop)
``uploaded``, ``backuped``  -                                        query now; a 404 then means gone
``error``                   errorLevel 5 (fatal)                     query now
``status_update``, ...      -                                        query now
==========================  =======================================  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = ["SIGNALS", "Action", "decide", "signal_from_event"]

# NCS eventType (productId 3) -> signal kind (agora-api-notes 7.2 and 3.6).
EVENT_TYPES: dict[int, str] = {
    1: "error",
    3: "status_update",
    4: "file_infos",
    11: "session_exit",
    12: "session_failover",
    31: "uploaded",
    32: "backuped",
    41: "recorder_leave",
    71: "web_recorder_stopped",
}
SIGNALS = frozenset(EVENT_TYPES.values())
"""Every signal kind :meth:`RecordingSupervisor.notify` understands."""

LEAVE_TIMER_CATCH = 8
LEAVE_SIGNALLING = 2


@attrs.frozen
class Action:
    """What to do about a signal: ``"restart"``, ``"query"`` (now), ``"failover"`` or ``"ignore"``."""

    what: Literal["restart", "query", "failover", "ignore"]
    reason: str = ""
    exit_reported: bool = False  # the task said it ended: a 404 now means gone, without the failover window


_IGNORE = Action("ignore")


def decide(
    kind: str,
    *,
    uid: str | None,
    recorder_uid: str,
    exit_status: int | None = None,
    leave_code: int | None = None,
    code: int | None = None,
    error_level: int | None = None,
) -> Action:
    """The action for one signal about the current recording, whose recorder joined as ``recorder_uid``."""
    if kind == "session_exit":
        if exit_status == 1:
            return Action("restart", "session_exit")
        return Action("query", "session_exit", exit_reported=True)
    if kind == "recorder_leave":
        if uid is not None and uid != recorder_uid:
            return _IGNORE
        if leave_code == LEAVE_TIMER_CATCH:
            return _IGNORE
        if leave_code is not None and leave_code & ~LEAVE_TIMER_CATCH == LEAVE_SIGNALLING:
            return Action("query", "recorder_leave")
        return Action("restart", "recorder_leave")
    if kind == "session_failover":
        return Action("failover", "session_failover")
    if kind == "web_recorder_stopped":
        return Action("restart", "web_recorder_stopped") if code not in (None, 0) else _IGNORE
    if kind in ("uploaded", "backuped"):
        return Action("query", kind, exit_reported=True)
    if kind == "error":
        return Action("query", "error") if error_level == 5 else _IGNORE
    return Action("query", kind)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def signal_from_event(event: Any) -> dict[str, Any] | None:
    """Read a parsed NCS notification into the keyword arguments of :meth:`RecordingSupervisor.notify`.

    ``event`` is anything with ``event_type`` (int), ``cname``, ``uid``, ``sid`` and ``details`` (a mapping with
    Agora's keys: ``exitStatus``, ``leaveCode``, ``newUid``, ``code``, ``errorLevel``). Returns ``None`` for an
    event type the supervisor does not act on.
    """
    kind = EVENT_TYPES.get(_int_or_none(getattr(event, "event_type", None)) or -1)
    if kind is None:
        return None
    details = getattr(event, "details", None)
    details = details if isinstance(details, Mapping) else {}
    signal: dict[str, Any] = {
        "kind": kind,
        "sid": _text(getattr(event, "sid", None)),
        "cname": _text(getattr(event, "cname", None)),
        "uid": _text(getattr(event, "uid", None)),
    }
    if kind == "session_exit":
        signal["exit_status"] = _int_or_none(details.get("exitStatus"))
    elif kind == "recorder_leave":
        signal["leave_code"] = _int_or_none(details.get("leaveCode"))
    elif kind == "session_failover":
        signal["new_uid"] = _text(details.get("newUid"))
    elif kind == "web_recorder_stopped":
        signal["code"] = _int_or_none(details.get("code"))
    elif kind == "error":
        signal["error_level"] = _int_or_none(details.get("errorLevel"))
    return signal
