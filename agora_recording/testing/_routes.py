"""The route table and the request pipeline: from ``(method, path, headers, body)`` to an answer.

:class:`Router` runs rules 1-6 and 13 of :mod:`agora_recording.testing._rules` (route, faults before, auth,
rate limit, App ID, body envelope, faults after) and logs every request; :class:`Endpoints` answers the six
endpoints (rules 7-12) against :class:`~agora_recording.testing._state.RecordingState`.

A new endpoint goes here: a line in :func:`route`, a handler in :class:`Endpoints`, its body rules in
``_rules.py``, its name in ``_faults.ENDPOINTS``.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agora_recording._clock import Clock
from agora_recording.testing._access import Access
from agora_recording.testing._faults import NETWORK_KINDS, Fault, FaultBook, InjectedNetworkFault, fault_headers
from agora_recording.testing._files import Files
from agora_recording.testing._ids import Ids
from agora_recording.testing._rules import (
    MODES,
    check_acquire,
    check_envelope,
    check_layout,
    check_start,
    op_name,
    parse_update,
)
from agora_recording.testing._state import EXITING, RUNNING, Recording, RecordingState
from agora_recording.testing._stats import Counters, RequestRecord
from agora_recording.testing._wire import (
    JSON_CONTENT_TYPE,
    FakeResponse,
    PendingAnswer,
    Reply,
    dump,
    header,
    service_error,
)

__all__ = ["Endpoints", "Route", "Router", "route"]

Route = tuple[str, str, str, str, str]
"""``(endpoint, appid, resourceid, sid, mode)`` of a matched route."""

_SID_OPS = {"update": "POST", "updateLayout": "POST", "query": "GET", "stop": "POST"}

_NO_ROUTE = dump({"message": "no Route matched with those values"})
_UNAUTHORIZED = dump({"message": "Unauthorized"})
_BAD_CREDENTIALS = dump({"message": "Invalid authentication credentials"})
_RATE_LIMITED = dump({"message": "API rate limit exceeded"})
_BAD_APPID = dump({"message": "appid is invalid"})
_WORKER_NOT_FOUND = dump({"code": 404, "reason": "failed to find worker"})

# (status, body, code, extra headers, parsed request body, recording this request started)
_Outcome = tuple[int, bytes, "int | None", "list[tuple[str, str]] | None", Any, "Recording | None"]


def route(method: str, path: str) -> Route | None:
    """``(endpoint, appid, resourceid, sid, mode)`` for a known route and method, else ``None`` (rule 1)."""
    cut = path.find("?")
    if cut >= 0:
        path = path[:cut]
    parts = path.split("/")
    n = len(parts)
    if n < 6 or parts[0] or parts[1] != "v1" or parts[2] != "apps" or parts[4] != "cloud_recording":
        return None
    app_id = parts[3]
    if not app_id:
        return None
    if n == 6:
        return ("acquire", app_id, "", "", "") if parts[5] == "acquire" and method == "POST" else None
    if parts[5] != "resourceid" or not parts[6]:
        return None
    if n == 10:
        if parts[7] == "mode" and parts[8] and parts[9] == "start" and method == "POST":
            return ("start", app_id, parts[6], "", parts[8])
        return None
    if n == 12 and parts[7] == "sid" and parts[8] and parts[9] == "mode" and parts[10]:
        op = parts[11]
        if _SID_OPS.get(op) == method:
            return (op, app_id, parts[6], parts[8], parts[10])
    return None


class Router:
    """The request pipeline shared by both transports."""

    def __init__(
        self,
        *,
        access: Access,
        endpoints: Endpoints,
        faults: FaultBook,
        counters: Counters,
        ids: Ids,
        clock: Clock,
        sleep: Callable[[float], Awaitable[Any]],
    ) -> None:
        self.access = access
        self.endpoints = endpoints
        self.faults = faults
        self.counters = counters
        self.ids = ids
        self.clock = clock
        self.sleep = sleep

    def __repr__(self) -> str:
        return "Router()"

    async def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> PendingAnswer:
        """Answer one request (see :meth:`FakeAgoraServer.handle`); delivery is reported on the result."""
        now = self.clock()
        counters = self.counters
        matched = route(method, path)
        endpoint = matched[0] if matched is not None else None
        request_id = self.ids.request_id(counters.arrived(endpoint))
        fault = self.faults.take(endpoint) if endpoint is not None else None
        if fault is not None:
            counters.faults_fired += 1
            if fault.when == "before":
                if fault.kind != "delay":
                    return PendingAnswer(await self._fire(fault, method, path, matched, request_id, now, None))
                await self.sleep(fault.delay)
                now = self.clock()
        status, payload, code, extra, parsed, started = self._process(method, matched, headers, body, now)
        if fault is not None and fault.when == "after":
            if fault.kind != "delay":
                return PendingAnswer(await self._fire(fault, method, path, matched, request_id, now, parsed))
            await self.sleep(fault.delay)
        response_headers = [("content-type", JSON_CONTENT_TYPE), ("x-request-id", request_id)]
        if extra:
            response_headers.extend(extra)
        counters.answered(status)
        app_id = matched[1] if matched is not None else None
        kind = fault.kind if fault is not None else None
        counters.log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, status, code, kind, parsed))
        response = FakeResponse(status, response_headers, payload)
        on_delivered = None if started is None else lambda: setattr(started, "sid_delivered", True)
        return PendingAnswer(response, on_delivered, counters.lost)

    async def _fire(
        self, fault: Fault, method: str, path: str, matched: Route | None, request_id: str, now: float, parsed: Any
    ) -> FakeResponse:
        """Answer (or refuse to answer) a request with an injected fault."""
        kind = fault.kind
        endpoint = matched[0] if matched is not None else ""
        app_id = matched[1] if matched is not None else None
        log = self.counters.log
        if kind == "timeout":
            log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, None, None, kind, parsed))
            raise InjectedNetworkFault(kind, hold=fault.delay or None, request_id=request_id)
        if fault.delay:
            await self.sleep(fault.delay)
        if kind in NETWORK_KINDS:
            log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, None, None, kind, parsed))
            raise InjectedNetworkFault(kind, request_id=request_id)
        status, ctype, body = fault.answer(endpoint)
        code: int | None = None
        if ctype.startswith("application/json"):
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict) and type(decoded.get("code")) is int:
                code = decoded["code"]
        self.counters.answered(status)
        log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, status, code, kind, parsed))
        return FakeResponse(status, fault_headers(ctype, request_id, fault.headers), body)

    def _process(
        self, method: str, matched: Route | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> _Outcome:
        """Rules 1 and 3-6, then the endpoint."""
        if matched is None:
            return 404, _NO_ROUTE, None, None, None, None
        auth = header(headers, "authorization")
        if auth is None:
            return 401, _UNAUTHORIZED, None, None, None, None
        access = self.access
        if not access.check_auth(auth):
            return 401, _BAD_CREDENTIALS, None, None, None, None
        endpoint, app_id = matched[0], matched[1]
        wait = access.admit(app_id, now)
        if wait is not None:
            self.counters.rate_limited += 1
            extra = [("retry-after", str(max(1, math.ceil(wait))))] if access.retry_after else None
            return 429, _RATE_LIMITED, None, extra, None, None
        enabled = access.app_ids.get(app_id)
        if enabled is None:  # not this account's App ID: the credentials are not allowed for it
            return 401, _BAD_CREDENTIALS, None, None, None, None
        if not enabled:
            return 400, _BAD_APPID, None, None, None, None
        parsed: Any = None
        try:
            if method == "POST":
                parsed = check_envelope(endpoint, header(headers, "content-type") or "", body)
            if endpoint == "acquire":
                return self.endpoints.acquire(parsed, app_id, now)
            if endpoint == "start":
                return self.endpoints.start(parsed, matched, now)
            return self.endpoints.sid_op(endpoint, parsed, matched, now)
        except Reply as reply:
            return reply.status, reply.body, reply.code, None, parsed, None


class Endpoints:
    """The six endpoints (rules 7-12): validate with ``_rules``, change ``_state``, answer with ``_files``."""

    def __init__(self, *, state: RecordingState, files: Files, ids: Ids, strict_spelling: bool) -> None:
        self.state = state
        self.files = files
        self.ids = ids
        self.strict_spelling = strict_spelling

    def __repr__(self) -> str:
        return "Endpoints()"

    def acquire(self, body: dict[str, Any], app_id: str, now: float) -> _Outcome:
        """Rule 7."""
        scene = check_acquire(body)
        request = body["clientRequest"]
        cname, uid = body["cname"], body["uid"]
        digest = self.ids.request_digest(request["startParameter"]) if "startParameter" in request else None
        rid = self.ids.encode_rid(app_id, cname, uid, now, scene, digest)
        return 200, dump({"cname": cname, "uid": uid, "resourceId": rid}), None, None, body, None

    def start(self, body: dict[str, Any], matched: Route, now: float) -> _Outcome:
        """Rule 8."""
        _, app_id, rid, _, mode = matched
        state = self.state
        info = self.ids.decode_rid(rid)
        cname, uid = body["cname"], body["uid"]
        if info.get("a") != app_id or info.get("c") != cname or info.get("u") != uid:
            raise service_error(400, 432, "Start: appid, cname or uid does not match the resourceId")
        if rid in state.used_rids:
            raise service_error(201, 7, "already started")
        issued = info.get("t")
        if not isinstance(issued, (int, float)) or now - issued >= state.timings.resource_ttl:
            raise service_error(400, 433, "resource expired")
        if mode not in MODES:
            raise service_error(400, 2, "Start: invalid mode value!")
        if (mode == "web") != (info.get("s") == 1):
            raise service_error(400, 432, "Start: mode does not match the scene of the resourceId")
        request = body["clientRequest"]
        check_start(request, mode, strict=self.strict_spelling)
        expected = info.get("p")
        if expected is not None and not hmac.compare_digest(str(expected), self.ids.request_digest(request)):
            raise service_error(400, 2, "request_hash mismatch")
        if state.running_task(app_id, cname, uid, now) is not None:
            raise service_error(400, 53, "task conflict")
        sid = self.ids.sid()
        rec = Recording(sid=sid, resource_id=rid, app_id=app_id, cname=cname, uid=uid, mode=mode, now=now)
        state.add(rec, request, now, strict=self.strict_spelling)
        answer = dump({"cname": cname, "uid": uid, "resourceId": rid, "sid": sid})
        return 200, answer, None, None, body, rec

    def sid_op(self, endpoint: str, body: Any, matched: Route, now: float) -> _Outcome:
        """Rules 10-12: query, update, updateLayout and stop."""
        _, app_id, rid, sid, mode = matched
        op = op_name(endpoint)
        state = self.state
        rec = state.live.get(sid)
        if rec is None or rec.resource_id != rid or rec.app_id != app_id:
            info = self.ids.decode_rid(rid)
            if rec is None:
                raise Reply(404, _WORKER_NOT_FOUND, 404)
            if info.get("a") != app_id or rec.resource_id != rid or rec.app_id != app_id:
                raise service_error(400, 1003, f"{op}: appid or sid does not match the resourceId")
        if not state.advance(rec, now):
            raise Reply(404, _WORKER_NOT_FOUND, 404)
        rec.sid_delivered = True  # the client used the sid, so it has it
        if mode != rec.mode:
            raise service_error(400, 2, f"{op}: invalid mode value!")
        if body is not None and (body["cname"] != rec.cname or body["uid"] != rec.uid):
            raise service_error(400, 432, f"{op}: cname or uid does not match the resourceId")
        if endpoint == "query":
            if rec.phase == EXITING:
                raise Reply(404, _WORKER_NOT_FOUND, 404)
            return 200, dump(self.files.query_answer(rec, now)), None, None, body, None
        if endpoint == "stop":
            return self._stop(rec, body, now)
        if rec.phase != RUNNING:
            raise Reply(404, _WORKER_NOT_FOUND, 404)
        request = body["clientRequest"]
        if endpoint == "update":
            state.update(rec, parse_update(request, rec.mode, strict=self.strict_spelling), now)
            rec.updates += 1
        else:
            if rec.mode != "mix":
                raise service_error(400, 2, f"{op}: invalid mode value!")
            check_layout(request, 400, 1028, "UpdateLayout")
            rec.layout_updates += 1
        answer = dump({"cname": rec.cname, "uid": rec.uid, "resourceId": rec.resource_id, "sid": rec.sid})
        return 200, answer, None, None, body, None

    def _stop(self, rec: Recording, body: dict[str, Any], now: float) -> _Outcome:
        async_stop = body["clientRequest"].get("async_stop", False)
        if not isinstance(async_stop, bool):
            raise service_error(400, 2, "Stop: invalid async_stop value!")
        if rec.phase != RUNNING:
            self.state.emit("mismatch", rec, now)  # NCS: a call that does not match the service state
            raise service_error(400, 49, "invalid operation")
        if not self.state.stop(rec, now):
            raise Reply(206, dump({"code": 435, "reason": "no recorded data"}), 435)
        return 200, dump(self.files.stop_answer(rec, now)), None, None, body, None
