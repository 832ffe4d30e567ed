"""The seam between the fake and the ways to reach it: the answer type, error answers, the handler protocol.

This is the lowest room of :mod:`agora_recording.testing`: it imports nothing else of the fake. The two
transports (:mod:`._transport` in-process, :mod:`._server` over TCP) depend only on :class:`FakeHandler` and
:class:`FakeResponse` (and :class:`~._faults.InjectedNetworkFault`), never on ``FakeAgoraServer`` itself, so the
dependency runs one way: facade -> transports -> this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

__all__ = [
    "JSON_CONTENT_TYPE",
    "FakeHandler",
    "FakeResponse",
    "PendingAnswer",
    "Reply",
    "dump",
    "header",
    "invalid",
    "service_error",
]

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
"""The content type of every JSON answer of the fake."""

_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dump(obj: object) -> bytes:
    """Compact JSON bytes (as Agora sends them: no spaces)."""
    return _ENCODER.encode(obj).encode()


class FakeResponse(NamedTuple):
    """What :meth:`FakeAgoraServer.handle` answers: unpack it as ``status, headers, body``."""

    status: int
    """The HTTP status code."""
    headers: list[tuple[str, str]]
    """Response headers, lower-case names (``content-type``, ``x-request-id``, sometimes ``retry-after``)."""
    body: bytes
    """The raw body (JSON, except for a ``proxy_error`` fault's HTML page)."""

    def __repr__(self) -> str:  # never show the body
        return f"FakeResponse(status={self.status}, body=<{len(self.body)} bytes>)"


class PendingAnswer:
    """An answer the fake has computed but that has not (yet) reached the client.

    A transport calls :meth:`delivered` once the client could read the answer (in-process: returned to the
    caller; over TCP: fully written on a connection the client had not closed), or :meth:`lost` when it knows
    the client cannot. Only a delivered start answer makes its sid count as delivered
    (:meth:`FakeAgoraServer.orphans`); a later request that uses the sid counts too.
    """

    __slots__ = ("_on_delivered", "_on_lost", "response")

    def __init__(
        self,
        response: FakeResponse,
        on_delivered: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.response = response
        self._on_delivered = on_delivered
        self._on_lost = on_lost

    def __repr__(self) -> str:
        return f"PendingAnswer({self.response!r})"

    def delivered(self) -> None:
        """Record that the client could read this answer (once; later calls do nothing)."""
        callback, self._on_delivered, self._on_lost = self._on_delivered, None, None
        if callback is not None:
            callback()

    def lost(self) -> None:
        """Record that the client cannot read this answer (once; later calls do nothing)."""
        callback, self._on_delivered, self._on_lost = self._on_lost, None, None
        if callback is not None:
            callback()


class FakeHandler(Protocol):
    """What a transport needs from the fake (``FakeAgoraServer`` is one).

    ``respond`` may raise :class:`~agora_recording.testing._faults.InjectedNetworkFault` when an injected fault
    means "no HTTP answer"; the transport turns it into what a client would see.
    """

    @property
    def fault_hold_limit(self) -> float:
        """Over TCP, the longest a ``timeout`` fault withholds an answer (seconds)."""
        ...

    async def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> PendingAnswer:
        """Answer one request; the caller reports delivery with :meth:`PendingAnswer.delivered`."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the fake's clock (how in-process timeouts withhold their answer)."""
        ...


class Reply(Exception):
    """Internal: an error answer, raised from deep inside request validation and turned into the response."""

    def __init__(self, status: int, body: bytes, code: int | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.code = code


def service_error(status: int, code: int, reason: str) -> Reply:
    """A service error answer ``{"code": code, "reason": reason}`` with ``status``."""
    return Reply(status, dump({"code": code, "reason": reason}), code)


def invalid(op: str, name: str) -> Reply:
    """Agora's 400 code 2: ``"<Op>: invalid <name> value!"``."""
    return service_error(400, 2, f"{op}: invalid {name} value!")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by lower-case ``name``: direct for case-insensitive or lower-cased mappings, else a scan."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value
