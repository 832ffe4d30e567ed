"""A supervisor fleet in the session store: the fleet name, its keys, and the record of one supervised channel.

Pure (it imports the errors only), so that :mod:`agora_recording._recovery` can tell a fleet's records apart
without importing the supervisor.

**Keys.** Every key of a fleet starts with ``/supervisor/<fleet>/`` (:func:`fleet_prefix`). A plain session's key
is ``<cname>/<uid>/<random>`` and a cname never holds ``/``, so the two never meet:

* ``/supervisor/<fleet>/h/<unit>``: one **unit record** per :meth:`RecordingSupervisor.add` (the primary handle and
  its backup, if any, in one record, so that one claim takes the pair);
* ``/supervisor/<fleet>/s/<cname>/<uid>/<random>``: the session records of the fleet's recordings (written by the
  client's session registry like any other session's, under this key).

**The unit record** (:class:`UnitData` / :func:`read_unit`) holds what a resuming supervisor needs and **no
secret**: the App ID, cname, mode, and per handle its uid pair, which uid is current, the restart counts, the
failure reason if it gave up, the last verified (sid, uid), and the store key of its current session. Never the
``clientRequest`` (token, storage keys) nor the acquire request (its ``startParameter`` mirrors the start).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from agora_recording._errors import InvalidRequestError

__all__ = [
    "FLEET_ROOT",
    "UNIT_VERSION",
    "HandleData",
    "UnitData",
    "check_fleet",
    "fleet_of",
    "fleet_prefix",
    "is_session_key",
    "is_unit_key",
    "new_session_key",
    "new_unit_key",
    "read_unit",
]

FLEET_ROOT = "/supervisor/"
"""Every fleet's keys start with this (no plain session key can: a cname never holds ``/``)."""
UNIT_VERSION = 1
"""The unit record's format version; :func:`read_unit` refuses any other."""
_KIND = "agora_recording.supervisor.unit"
_FLEET_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_fleet(fleet: object) -> str:
    """``fleet`` when it is a usable fleet name (1-64 of ``A-Z a-z 0-9 _ . -``), else :class:`InvalidRequestError`."""
    if not isinstance(fleet, str) or not _FLEET_RE.match(fleet):
        raise InvalidRequestError("fleet", f"must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-', got {fleet!r}")
    return fleet


def fleet_prefix(fleet: str) -> str:
    """The prefix of every key of ``fleet``."""
    return f"{FLEET_ROOT}{fleet}/"


def fleet_of(key: str) -> str | None:
    """The fleet a store key belongs to, or ``None`` for a key that is not a fleet's."""
    if not key.startswith(FLEET_ROOT):
        return None
    fleet, _, rest = key[len(FLEET_ROOT) :].partition("/")
    return fleet if _FLEET_RE.match(fleet) and rest[:2] in ("h/", "s/") else None


def is_unit_key(key: str, fleet: str) -> bool:
    """Whether ``key`` is a unit record of ``fleet``."""
    return key.startswith(fleet_prefix(fleet) + "h/")


def is_session_key(key: str, fleet: str) -> bool:
    """Whether ``key`` is a session record of ``fleet``."""
    return key.startswith(fleet_prefix(fleet) + "s/")


def new_unit_key(fleet: str) -> str:
    """A fresh unit record key of ``fleet``."""
    return f"{fleet_prefix(fleet)}h/{uuid.uuid4().hex[:16]}"


def new_session_key(fleet: str, cname: str, uid: str) -> str:
    """A fresh session record key of ``fleet`` (readable: it names the channel and the uid)."""
    return f"{fleet_prefix(fleet)}s/{cname}/{uid}/{uuid.uuid4().hex[:16]}"


@attrs.frozen(kw_only=True)
class HandleData:
    """One handle's part of a unit record (see the module docstring)."""

    uids: tuple[str, ...]
    uid_index: int = 0
    restarts: int = 0
    consecutive: int = 0
    state: str = "starting"
    session_key: str | None = None
    started: bool = False
    ran: tuple[str, str] | None = None
    failure_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-serialisable dict."""
        return {
            "uids": list(self.uids),
            "uid_index": self.uid_index,
            "restarts": self.restarts,
            "consecutive": self.consecutive,
            "state": self.state,
            "session_key": self.session_key,
            "started": self.started,
            "ran": list(self.ran) if self.ran is not None else None,
            "failure_reason": self.failure_reason,
        }


@attrs.frozen(kw_only=True)
class UnitData:
    """A unit record: a supervised channel's primary handle and its backup, as one supervisor left them."""

    fleet: str
    app_id: str
    cname: str
    mode: str
    primary: HandleData
    backup: HandleData | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-serialisable dict the store keeps."""
        return {
            "kind": _KIND,
            "version": UNIT_VERSION,
            "fleet": self.fleet,
            "app_id": self.app_id,
            "cname": self.cname,
            "mode": self.mode,
            "primary": self.primary.to_json(),
            "backup": self.backup.to_json() if self.backup is not None else None,
        }


def _text(data: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> Any:
    value = data.get(name)
    if (value is None and optional) or (isinstance(value, str) and value):
        return value
    raise InvalidRequestError(f"{where}.{name}", "must be a non-empty string" + (" or null" if optional else ""))


def _int(data: Mapping[str, Any], name: str, where: str) -> int:
    value = data.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError(f"{where}.{name}", "must be an integer >= 0")
    return value


def _handle(data: Any, where: str) -> HandleData:
    if not isinstance(data, Mapping):
        raise InvalidRequestError(where, "must be a mapping")
    uids = data.get("uids")
    if not isinstance(uids, list) or not 1 <= len(uids) <= 2 or not all(isinstance(u, str) and u for u in uids):
        raise InvalidRequestError(f"{where}.uids", "must be a list of one or two uids")
    index = _int(data, "uid_index", where)
    if index >= len(uids):
        raise InvalidRequestError(f"{where}.uid_index", "must index uids")
    ran = data.get("ran")
    if ran is not None and (not isinstance(ran, list) or len(ran) != 2 or not all(isinstance(v, str) for v in ran)):
        raise InvalidRequestError(f"{where}.ran", "must be [sid, uid] or null")
    started = data.get("started", False)
    if not isinstance(started, bool):
        raise InvalidRequestError(f"{where}.started", "must be a boolean")
    return HandleData(
        uids=tuple(uids),
        uid_index=index,
        restarts=_int(data, "restarts", where),
        consecutive=_int(data, "consecutive", where),
        state=_text(data, "state", where),
        session_key=_text(data, "session_key", where, optional=True),
        started=started or data.get("session_key") is not None,
        ran=(ran[0], ran[1]) if ran is not None else None,
        failure_reason=_text(data, "failure_reason", where, optional=True),
    )


def read_unit(data: Mapping[str, Any], *, fleet: str, app_id: str) -> UnitData:
    """Check a stored unit record (possibly another process's, possibly hostile) for ``fleet`` and ``app_id``.

    Raises :class:`InvalidRequestError` naming the first bad field (``unit.version``, ``unit.primary.uids``, ...).
    """
    if not isinstance(data, Mapping) or data.get("kind") != _KIND:
        raise InvalidRequestError("unit", "is not a supervisor unit record")
    version = data.get("version")
    if isinstance(version, bool) or version != UNIT_VERSION:
        raise InvalidRequestError("unit.version", f"must be {UNIT_VERSION}, got {version!r}")
    if data.get("fleet") != fleet:
        raise InvalidRequestError("unit.fleet", f"belongs to another fleet than {fleet!r}")
    if data.get("app_id") != app_id:
        raise InvalidRequestError("unit.app_id", "belongs to another App ID than this client's")
    backup = data.get("backup")
    return UnitData(
        fleet=fleet,
        app_id=app_id,
        cname=_text(data, "cname", "unit"),
        mode=_text(data, "mode", "unit"),
        primary=_handle(data.get("primary"), "unit.primary"),
        backup=_handle(backup, "unit.backup") if backup is not None else None,
    )
