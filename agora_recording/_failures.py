"""Transport failures as retry outcomes: which kind of failure an httpx transport error is (connect, DNS, timeout,
disconnect), for the decisions of :mod:`agora_recording._retry`. Pure: no I/O."""

from __future__ import annotations

import socket

import httpx

from agora_recording._retry import Outcome

__all__ = ["classify"]

_DNS_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "temporary failure in name resolution",
    "no address associated",
    "name resolution",
)


def _is_dns_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return True
        if any(marker in str(current).lower() for marker in _DNS_MARKERS):
            return True
        current = current.__cause__ or current.__context__
    return False


def classify(exc: httpx.TransportError) -> Outcome:
    """The retry outcome of a transport failure: connect, dns, timeout or disconnect."""
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Outcome(kind="connect")
    if isinstance(exc, httpx.ConnectError):
        return Outcome(kind="dns" if _is_dns_failure(exc) else "connect")
    if isinstance(exc, httpx.TimeoutException):
        return Outcome(kind="timeout")
    return Outcome(kind="disconnect")
