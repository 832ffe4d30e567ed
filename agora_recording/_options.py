"""Frozen option objects and the library's defaults, as named constants (the README lists them)."""

from __future__ import annotations

import httpx

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_PRIMARY_DOMAIN",
    "DEFAULT_STOP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "RESOURCE_ID_TTL",
]

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
"""Every call but stop: 15 s to read the answer, 5 s to connect."""

DEFAULT_STOP_TIMEOUT = httpx.Timeout(35.0, connect=5.0)
"""stop: a synchronous stop waits for the uploads, which Agora expects within about 20 s; we allow 35 s."""

DEFAULT_PRIMARY_DOMAIN = "api.agora.io"
"""Agora's advice for servers outside mainland China; pass ``primary_domain="api.sd-rtn.com"`` inside it."""

DEFAULT_MAX_IN_FLIGHT = 10
"""Requests in flight inside httpx at once; more waiters queue cheaply on an anyio limiter instead."""

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""The largest answer body read, in bytes after decompression (4 MiB); Agora's answers are a few KiB, a query with
hundreds of files some tens of KiB. Larger bodies raise :class:`ResponseTooLargeError` (``max_response_bytes=``)."""

RESOURCE_ID_TTL = 300.0
"""A resourceId is valid for five minutes after acquire."""
