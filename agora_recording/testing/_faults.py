"""Fault injection for :class:`~agora_recording.testing.FakeAgoraServer`: what can go wrong, and when.

A :class:`Fault` says "the next ``count`` requests to ``endpoint`` go wrong in this way". ``when`` says where:

- ``"before"``: the request is lost on its way in. The fake does not authenticate it, does not count it against
  the rate limit and does not process it; the client gets the fault instead.
- ``"after"``: the request is processed (and counted) as usual, then its answer is lost or replaced. For
  ``start`` this is the case that matters: the recording runs, but its ``sid`` never reaches the client, so the
  fake counts it in :meth:`~agora_recording.testing.FakeAgoraServer.undelivered_sids`.

The kinds (:data:`FaultKind`) and what the client sees:

=====================  ==============================================================================
kind                   answer
=====================  ==============================================================================
``"status"``           the given ``status``, ``body`` and ``headers`` (required: ``status``)
``"internal_error"``   500 ``{"code":500,"reason":"internal_error"}``
``"allocate_failed"``  500 ``{"code":502,"reason":"Failed to allocate worker"}``
``"request_timeout"``  504 ``{"code":62,"reason":"request timeout"}`` (500 on ``start``, as documented)
``"proxy_error"``      503 with an HTML page (``text/html``), as a proxy or load balancer answers
``"not_completed"``    206 ``{"code":65,"reason":"request not completed"}``
``"rate_limited"``     429 ``{"message":"API rate limit exceeded"}``
``"worker_not_found"`` 404 ``{"code":404,"reason":"failed to find worker"}`` (a transient 404 during failover)
``"timeout"``          no answer. In-process: :class:`httpx.ReadTimeout`. Over TCP: the response is withheld
                       until the client closes the connection (or ``delay``, or the fake's
                       ``fault_hold_limit``, passes; then the connection is closed without an answer)
``"disconnect"``       the connection drops. In-process: :class:`httpx.RemoteProtocolError`. Over TCP: the
                       socket is closed without an answer
``"connect_error"``    ``"before"`` only. In-process: :class:`httpx.ConnectError` (the request was never sent).
                       Over TCP the connection already exists, so it is closed without an answer
``"delay"``            the normal answer, ``delay`` seconds late (``"before"``: the request is processed late;
                       ``"after"``: it is processed at once and answered late)
=====================  ==============================================================================

Any kind also takes ``delay`` (seconds slept, through the fake's ``sleep``, before the fault acts) and
``status``/``body``/``headers`` overrides. Faults are deterministic: explicit faults fire in the order they were
injected; :meth:`~agora_recording.testing.FakeAgoraServer.random_faults` draws from an RNG seeded by the fake's
``seed``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ENDPOINTS",
    "FAULT_KINDS",
    "Fault",
    "FaultBook",
    "FaultControls",
    "FaultKind",
    "FaultWhen",
    "InjectedNetworkFault",
    "RandomFaults",
]

ENDPOINTS: tuple[str, ...] = ("acquire", "start", "update", "updateLayout", "query", "stop")
"""The endpoint names the fake uses in its counters, its request log and its fault API (Agora's REST names)."""

_ENDPOINT_ALIASES: dict[str, str] = {"update_layout": "updateLayout"}

FaultKind = Literal[
    "status",
    "internal_error",
    "allocate_failed",
    "request_timeout",
    "proxy_error",
    "not_completed",
    "rate_limited",
    "worker_not_found",
    "timeout",
    "disconnect",
    "connect_error",
    "delay",
]
"""What an injected fault does; see the table in this module's docstring."""

FaultWhen = Literal["before", "after"]
"""Where a fault acts: ``"before"`` the request is processed (it is lost), or ``"after"`` (its answer is lost)."""

FAULT_KINDS: tuple[str, ...] = (
    "status",
    "internal_error",
    "allocate_failed",
    "request_timeout",
    "proxy_error",
    "not_completed",
    "rate_limited",
    "worker_not_found",
    "timeout",
    "disconnect",
    "connect_error",
    "delay",
)
"""Every :data:`FaultKind`, in documentation order."""

NETWORK_KINDS = frozenset({"timeout", "disconnect", "connect_error"})

_JSON = "application/json;charset=utf-8"

_PROXY_PAGE = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _dump(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# kind -> (status, content type, body). "request_timeout" is 500 on start, 504 elsewhere (see preset_answer).
_PRESETS: dict[str, tuple[int, str, bytes]] = {
    "internal_error": (500, _JSON, _dump({"code": 500, "reason": "internal_error"})),
    "allocate_failed": (500, _JSON, _dump({"code": 502, "reason": "Failed to allocate worker"})),
    "request_timeout": (504, _JSON, _dump({"code": 62, "reason": "request timeout"})),
    "proxy_error": (503, "text/html", _PROXY_PAGE),
    "not_completed": (206, _JSON, _dump({"code": 65, "reason": "request not completed"})),
    "rate_limited": (429, _JSON, _dump({"message": "API rate limit exceeded"})),
    "worker_not_found": (404, _JSON, _dump({"code": 404, "reason": "failed to find worker"})),
}


def normalize_endpoint(endpoint: str) -> str:
    """Return the canonical endpoint name (``"*"`` for every endpoint); raise :class:`ValueError` if unknown."""
    endpoint = _ENDPOINT_ALIASES.get(endpoint, endpoint)
    if endpoint != "*" and endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)} or '*'")
    return endpoint


def _encode_body(body: object) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return _dump(body)


class InjectedNetworkFault(Exception):
    """Raised by :meth:`FakeAgoraServer.handle` when an injected fault means "no HTTP answer at all".

    The transports turn it into what a client would see: in-process, an :mod:`httpx` exception
    (``timeout`` -> :class:`httpx.ReadTimeout`, ``disconnect`` -> :class:`httpx.RemoteProtocolError`,
    ``connect_error`` -> :class:`httpx.ConnectError`); over TCP, a withheld answer or a closed socket.
    Only code that calls ``handle()`` directly ever sees this exception.

    Attributes:
        kind: ``"timeout"``, ``"disconnect"`` or ``"connect_error"``.
        hold: for ``"timeout"`` over TCP, how long to withhold the answer before closing (``None``: the fake's
            ``fault_hold_limit``).
        request_id: the ``X-Request-Id`` the fake assigned to the lost request.
    """

    def __init__(self, kind: str, *, hold: float | None = None, request_id: str = "") -> None:
        super().__init__(f"injected {kind} fault (request id {request_id or '-'})")
        self.kind = kind
        self.hold = hold
        self.request_id = request_id


@dataclass(eq=False)
class Fault:
    """One injected fault: the next ``count`` requests to ``endpoint`` go wrong as ``kind`` says.

    Create faults with :meth:`FakeAgoraServer.inject`, which returns the :class:`Fault` so a test can check how
    often it fired::

        fault = fake.inject("start", kind="timeout", when="after")
        ...
        assert fault.fired == 1 and fault.exhausted

    ``repr()`` shows the endpoint, kind, status and counters, never the body.
    """

    endpoint: str
    """The canonical endpoint name, or ``"*"`` for every endpoint."""
    kind: str
    """The :data:`FaultKind`."""
    when: str = "before"
    """``"before"`` or ``"after"`` (see :data:`FaultWhen`)."""
    status: int | None = None
    """The HTTP status answered (``None``: the kind's preset, or the normal answer for ``"delay"``)."""
    body: bytes | None = field(default=None, repr=False)
    """The body answered (``None``: the kind's preset)."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Extra response headers (added to, or replacing, the fake's own)."""
    delay: float = 0.0
    """Seconds to sleep (through the fake's ``sleep``) before the fault acts."""
    remaining: int = 1
    """How many more requests this fault will hit."""
    fired: int = 0
    """How many requests this fault has hit so far."""

    @property
    def exhausted(self) -> bool:
        """True once the fault has hit its ``count`` requests."""
        return self.remaining <= 0

    def cancel(self) -> None:
        """Stop the fault from hitting any more requests."""
        self.remaining = 0

    def answer(self, endpoint: str) -> tuple[int, str, bytes]:
        """Return the ``(status, content type, body)`` this fault answers on ``endpoint`` (HTTP kinds only)."""
        return preset_answer(self.kind, endpoint, status=self.status, body=self.body)


def preset_answer(kind: str, endpoint: str, *, status: int | None, body: bytes | None) -> tuple[int, str, bytes]:
    """The documented answer of a fault kind on an endpoint, with ``status``/``body`` overrides applied."""
    preset = _PRESETS.get(kind)
    if preset is None:
        base_status, ctype, base_body = 500, _JSON, _PRESETS["internal_error"][2]
    else:
        base_status, ctype, base_body = preset
        if kind == "request_timeout" and endpoint == "start":
            base_status = 500  # the status-codes page lists code 62 as 500 on start and 504 elsewhere
    if body is not None:
        head = body.lstrip()[:1]
        ctype = _JSON if head in (b"{", b"[") else ("text/html" if head == b"<" else "text/plain;charset=utf-8")
    return (status if status is not None else base_status, ctype, body if body is not None else base_body)


def make_fault(
    endpoint: str,
    *,
    kind: str | None,
    status: int | None,
    body: object,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
    delay: float,
    count: int,
    when: str,
) -> Fault:
    """Validate the arguments of :meth:`FakeAgoraServer.inject` and build the :class:`Fault`."""
    endpoint = normalize_endpoint(endpoint)
    if kind is None:
        if status is not None:
            kind = "status"
        elif delay > 0:
            kind = "delay"
        else:
            raise ValueError("inject() needs a kind, a status or a delay")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    if kind == "status" and status is None:
        raise ValueError("a 'status' fault needs status=")
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code, got {status!r}")
    if when not in ("before", "after"):
        raise ValueError(f"when must be 'before' or 'after', got {when!r}")
    if kind == "connect_error" and when != "before":
        raise ValueError("a 'connect_error' fault can only act before the request is processed")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay!r}")
    if headers is None:
        header_items: tuple[tuple[str, str], ...] = ()
    elif isinstance(headers, Mapping):
        header_items = tuple((str(k), str(v)) for k, v in headers.items())
    else:
        header_items = tuple((str(k), str(v)) for k, v in headers)
    return Fault(
        endpoint=endpoint,
        kind=kind,
        when=when,
        status=status,
        body=_encode_body(body),
        headers=header_items,
        delay=float(delay),
        remaining=count,
    )


@dataclass(eq=False)
class RandomFaults:
    """Random faults: each request to one of ``endpoints`` fails with ``probability``, as one of ``kinds``.

    Created by :meth:`FakeAgoraServer.random_faults`; the draws come from an RNG seeded by the fake's ``seed``,
    so the same requests in the same order meet the same faults. Set :attr:`probability` to 0 (or call
    :meth:`cancel`) to stop them.
    """

    probability: float
    """The chance, per matching request, of a fault."""
    kinds: tuple[str, ...]
    """The kinds to choose from (uniformly)."""
    endpoints: frozenset[str]
    """The endpoints affected (canonical names)."""
    when: str = "before"
    """``"before"`` or ``"after"``."""
    delay: float = 0.0
    """Seconds to sleep before each fault acts."""
    fired: int = 0
    """How many requests these random faults have hit."""

    def cancel(self) -> None:
        """Stop drawing random faults."""
        self.probability = 0.0

    def matches(self, endpoint: str) -> bool:
        """True if a request to ``endpoint`` is subject to these random faults."""
        return self.probability > 0 and endpoint in self.endpoints


def make_random_faults(
    *,
    probability: float,
    kinds: Sequence[str] | None,
    endpoints: Sequence[str] | None,
    when: str,
    delay: float,
) -> RandomFaults:
    """Validate the arguments of :meth:`FakeAgoraServer.random_faults` and build the :class:`RandomFaults`."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be within [0, 1], got {probability!r}")
    if when not in ("before", "after"):
        raise ValueError(f"when must be 'before' or 'after', got {when!r}")
    chosen = tuple(kinds) if kinds is not None else ("internal_error", "timeout", "disconnect")
    if not chosen:
        raise ValueError("kinds must not be empty")
    for kind in chosen:
        if kind not in FAULT_KINDS or kind in ("status", "delay"):
            raise ValueError(f"random faults take preset kinds, got {kind!r}")
        if kind == "connect_error" and when != "before":
            raise ValueError("a 'connect_error' fault can only act before the request is processed")
    names = ENDPOINTS if endpoints is None else tuple(normalize_endpoint(e) for e in endpoints)
    resolved = frozenset(ENDPOINTS if "*" in names else names)
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay!r}")
    return RandomFaults(probability=probability, kinds=chosen, endpoints=resolved, when=when, delay=float(delay))


def fault_headers(content_type: str, request_id: str, extra: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The headers of a fault's answer: the fake's own, then ``extra`` (which replaces same-named ones)."""
    headers = [("content-type", content_type), ("x-request-id", request_id)]
    if extra:
        names = {name.lower() for name, _ in extra}
        headers = [(n, v) for n, v in headers if n not in names]
        headers.extend(extra)
    return headers


class FaultBook:
    """The faults a fake holds: explicit ones (in injection order) and random ones (seeded draws)."""

    __slots__ = ("_rng", "faults", "random")

    def __init__(self, seed: int) -> None:
        self.faults: list[Fault] = []
        self.random: list[RandomFaults] = []
        self._rng = random.Random(seed + 0x5EED)

    def __repr__(self) -> str:
        return f"FaultBook(faults={len(self.faults)}, random={len(self.random)})"

    def clear(self) -> None:
        """Forget every fault."""
        self.faults.clear()
        self.random.clear()

    def take(self, endpoint: str) -> Fault | None:
        """The fault that hits the next request to ``endpoint``, if any (explicit faults first)."""
        if self.faults:
            for fault in self.faults:
                if fault.remaining > 0 and fault.endpoint in ("*", endpoint):
                    fault.remaining -= 1
                    fault.fired += 1
                    if fault.remaining == 0:
                        self.faults = [f for f in self.faults if f.remaining > 0]
                    return fault
        for spec in self.random:
            if spec.matches(endpoint) and self._rng.random() < spec.probability:
                spec.fired += 1
                kind = spec.kinds[0] if len(spec.kinds) == 1 else self._rng.choice(spec.kinds)
                return Fault(endpoint=endpoint, kind=kind, when=spec.when, delay=spec.delay, remaining=0, fired=1)
        return None


class FaultControls:
    """The fault-injection methods of :class:`FakeAgoraServer` (a mixin over its :class:`FaultBook`)."""

    _faults: FaultBook

    def inject(
        self,
        endpoint: str,
        *,
        kind: FaultKind | None = None,
        status: int | None = None,
        body: object = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        delay: float = 0.0,
        count: int = 1,
        when: FaultWhen = "before",
    ) -> Fault:
        """Make the next ``count`` requests to ``endpoint`` (``"*"``: any endpoint) go wrong.

        ``kind`` picks a documented failure (see :mod:`agora_recording.testing._faults`); ``status``, ``body``
        (bytes, str, or a JSON-able object) and ``headers`` give or override the answer; ``delay`` sleeps first.
        With only ``status``, the kind is ``"status"``; with only ``delay``, ``"delay"``. Faults fire in the order
        injected, one per request.

        Examples::

            fake.inject("start", kind="timeout", when="after")      # a recording runs, its sid is lost
            fake.inject("query", kind="worker_not_found", count=2)   # a failover's transient 404s
            fake.inject("acquire", status=503, body="<html>busy</html>")

        Raises:
            ValueError: for an unknown endpoint or kind, or inconsistent arguments.
        """
        fault = make_fault(
            endpoint, kind=kind, status=status, body=body, headers=headers, delay=delay, count=count, when=when
        )
        self._faults.faults.append(fault)
        return fault

    def random_faults(
        self,
        probability: float,
        *,
        kinds: Sequence[FaultKind] | None = None,
        endpoints: Sequence[str] | None = None,
        when: FaultWhen = "before",
        delay: float = 0.0,
    ) -> RandomFaults:
        """Make each request to ``endpoints`` (default: all) fail with ``probability``, as one of ``kinds``.

        The draws use an RNG seeded by the fake's ``seed``: the same requests in the same order meet the same
        faults. Explicit :meth:`inject` faults take precedence. Default kinds: internal_error, timeout, disconnect.

        Example: ``fake.random_faults(0.1, kinds=["internal_error", "not_completed"], endpoints=["query"])``.

        Raises:
            ValueError: for a probability outside [0, 1], an unknown kind or endpoint.
        """
        spec = make_random_faults(probability=probability, kinds=kinds, endpoints=endpoints, when=when, delay=delay)
        self._faults.random.append(spec)
        return spec

    def clear_faults(self) -> None:
        """Remove every injected and random fault."""
        self._faults.clear()

    @property
    def pending_faults(self) -> tuple[Fault, ...]:
        """Injected faults that have not yet hit all their requests."""
        return tuple(f for f in self._faults.faults if not f.exhausted)
