"""Request and response bodies: a request body that never shows its secrets, and a bounded response read.

* :class:`RequestBody` holds the JSON bytes of a request. Request bodies carry the RTC token, storage keys, the STS
  token and decryption secrets, and error trackers (Sentry, ``TracebackException(capture_locals=True)``) record the
  ``repr`` of every local of every frame of a traceback; so the library keeps bodies only inside this object, whose
  ``repr`` is ``<RequestBody: N bytes, hidden>``, never in a plain dict or bytes local.
* :func:`read_body` reads an answer with a limit on its size *after* decompression, decompressing in bounded steps,
  so a compression bomb (300 KB of gzip that inflates to 300 MB) costs at most the limit in memory. httpx's own
  decoders inflate each received chunk in one go (a 64 KiB chunk of zeros is 64 MB), so the body is read raw and
  decoded here (gzip, deflate, identity; the client asks for no other encoding).
"""

from __future__ import annotations

import contextlib
import json
import typing
import zlib
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import Any

import httpx

from agora_recording._errors import InvalidRequestError

__all__ = ["ACCEPT_ENCODING", "BODY_TOO_LARGE", "BODY_UNDECODABLE", "MAX_ENCODINGS", "RequestBody", "read_body"]

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings :func:`read_body` decodes, sent as ``Accept-Encoding`` (httpx would add ``br``/``zstd``)."""

BODY_TOO_LARGE = "too_large"
BODY_UNDECODABLE = "undecodable"
MAX_ENCODINGS = 4
"""At most this many stacked ``Content-Encoding`` layers are decoded; more is :data:`BODY_UNDECODABLE`."""
_STEP = 64 * 1024  # decompressed bytes produced per step


class RequestBody:
    """A request's JSON body. ``repr`` shows its size only; :attr:`content` gives the bytes to send."""

    __slots__ = ("_content",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        try:
            content: bytes | None = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError):  # a caller's raw mapping (e.g. an unmodelled serviceParam) holding odd values
            content = None
        del data  # not left in this frame's locals for a traceback to show
        if content is None:
            raise InvalidRequestError(
                "client_request", "must be JSON-serialisable (a mapping holds a value JSON lacks)"
            )
        self._content = content

    @property
    def content(self) -> bytes:
        """The bytes to send."""
        return self._content

    def __repr__(self) -> str:
        content = getattr(self, "_content", None)  # absent while __init__ runs (a traceback may show it then)
        return "<RequestBody: hidden>" if content is None else f"<RequestBody: {len(content)} bytes, hidden>"

    def __reduce__(self) -> Any:  # never pickled (pickling would write the secrets out)
        raise TypeError("RequestBody cannot be pickled")


class _Inflater:
    """One ``Content-Encoding`` step, producing at most ``_STEP`` bytes per call of zlib."""

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        self._first = True
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._zlib.decompress(data, _STEP)
            except zlib.error:
                if not (self._deflate and self._first):
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, without the zlib header
                self._first = False
                continue
            self._first = False
            data = self._zlib.unconsumed_tail
            if out:
                yield out
            elif data:  # no progress (cannot happen with input left), but never spin
                break

    def flush(self) -> Iterator[bytes]:
        out = self._zlib.flush(_STEP)
        if out:
            yield out


def _decoders(content_encoding: str | None) -> list[_Inflater] | None:
    """The decoders for a ``Content-Encoding`` value, outermost first; ``None`` for an encoding we cannot decode."""
    steps: list[_Inflater] = []
    for token in reversed([t.strip().lower() for t in (content_encoding or "").split(",") if t.strip()]):
        if token == "identity":
            continue
        if token not in ("gzip", "x-gzip", "deflate"):
            return None
        if len(steps) == MAX_ENCODINGS:  # no server stacks more; a hostile one could stack thousands
            return None
        steps.append(_Inflater(token))
    return steps


def _run(stages: list[_Inflater], data: bytes, index: int = 0) -> Iterator[bytes]:
    """``data`` through ``stages[index:]``, lazily; a loop over a stack, not one recursion per layer."""
    if index == len(stages):
        yield data
        return
    stack = [(index, stages[index].feed(data))]
    while stack:
        level, pieces = stack[-1]
        piece = next(pieces, None)
        if piece is None:
            stack.pop()
        elif level + 1 == len(stages):
            yield piece
        else:
            stack.append((level + 1, stages[level + 1].feed(piece)))


def _flush(stages: list[_Inflater], index: int = 0) -> Iterator[bytes]:
    """Flush each stage from ``index`` on, in order, passing what it releases through the stages after it."""
    for level in range(index, len(stages)):
        for piece in stages[level].flush():
            yield from _run(stages, piece, level + 1)


async def read_body(response: httpx.Response, limit: int) -> tuple[bytes, str | None]:
    """Read ``response``'s body, at most ``limit`` bytes after decompression.

    Returns ``(body, problem)``: ``problem`` is ``None``, :data:`BODY_TOO_LARGE` (the body, compressed or not, passed
    the limit: reading stopped there) or :data:`BODY_UNDECODABLE` (its ``Content-Encoding`` did not decode); with a
    problem the body is ``b""``. Transport errors while reading (a timeout, a reset) propagate as httpx raises them.
    """
    try:
        already = response.content  # an in-process transport built the response with its content already read
    except httpx.ResponseNotRead:
        pass
    else:
        return (already, None) if len(already) <= limit else (b"", BODY_TOO_LARGE)
    declared = response.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        return b"", BODY_TOO_LARGE
    decoders = _decoders(response.headers.get("content-encoding"))
    broken = decoders is None  # an encoding we did not ask for and cannot decode
    stages = decoders or []
    body = bytearray()
    received = 0
    # aiter_raw is an async generator (typed as a plain iterator): close it at once when reading stops early.
    raw_chunks = typing.cast("AsyncGenerator[bytes, None]", response.aiter_raw())
    async with contextlib.aclosing(raw_chunks) as chunks:
        async for raw in chunks:
            received += len(raw)
            if received > limit:
                return b"", BODY_TOO_LARGE
            if broken:
                continue  # an undecodable body is still read to its end (bounded), so the connection ends cleanly
            try:
                for piece in _run(stages, raw):
                    if len(body) + len(piece) > limit:
                        return b"", BODY_TOO_LARGE
                    body += piece
            except zlib.error:
                broken = True
                body = bytearray()
    if broken:
        return b"", BODY_UNDECODABLE
    try:
        for piece in _flush(stages):
            if len(body) + len(piece) > limit:
                return b"", BODY_TOO_LARGE
            body += piece
    except zlib.error:
        return b"", BODY_UNDECODABLE
    return bytes(body), None
