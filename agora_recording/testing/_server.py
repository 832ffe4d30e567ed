"""Serve a fake over real TCP: HTTP/1.1 with keep-alive, parsed by h11, on anyio sockets.

The fake is any :class:`~agora_recording.testing._wire.FakeHandler` (``FakeAgoraServer`` is one); this module
never imports the fake itself.

Everything is bounded: a request (headers and body) must arrive within ``keepalive_timeout`` seconds of the
previous answer, headers within 64 KiB and bodies within 1 MiB (else 431/413 and the connection closes); a
``timeout`` fault withholds its answer at most ``fault_hold_limit`` seconds.

Delivery, for :meth:`FakeAgoraServer.orphans`: an answer counts as delivered once it was fully written to a
connection the client had not closed while the fake worked on it (the socket is watched meanwhile); an answer
the client cannot read (it closed first, or the write failed) is counted in ``FakeStats.answers_lost`` and a
start's sid stays undelivered until the client uses it in a later request. Leaving :func:`serve_fake` closes
the listener and every connection. Runs on asyncio and trio.
"""

from __future__ import annotations

import http
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
import h11
from anyio.abc import SocketAttribute, SocketStream

from agora_recording.testing._faults import InjectedNetworkFault
from agora_recording.testing._wire import JSON_CONTENT_TYPE, FakeHandler, PendingAnswer

__all__ = ["serve_fake"]

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
_READ_CHUNK = 65536
_CLOSED_ERRORS = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class _Close(Exception):
    """Internal: the connection is over (closed by the peer, idle too long, or unusable)."""


@asynccontextmanager
async def serve_fake(
    fake: FakeHandler, *, host: str = "127.0.0.1", port: int = 0, keepalive_timeout: float = 15.0
) -> AsyncIterator[str]:
    """Serve ``fake`` on ``host:port`` until the block exits; yield the base URL (``http://host:port``).

    Used by :meth:`FakeAgoraServer.serve`, which is the public spelling.
    """
    if keepalive_timeout <= 0:
        raise ValueError("keepalive_timeout must be > 0")
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    async with listener:
        bound = listener.extra(SocketAttribute.local_port)
        shown = f"[{host}]" if ":" in host else host
        base_url = f"http://{shown}:{bound}"

        async def handler(stream: SocketStream) -> None:
            await _serve_connection(fake, stream, keepalive_timeout)

        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handler)
            try:
                yield base_url
            finally:
                tg.cancel_scope.cancel()


async def _serve_connection(fake: FakeHandler, stream: SocketStream, keepalive_timeout: float) -> None:
    """Answer requests on one connection until either side closes it; never raises (but for cancellation)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
    async with stream:
        try:
            while True:
                request = None
                with anyio.move_on_after(keepalive_timeout):  # idle (or too slow) for too long: close
                    request = await _read_request(conn, stream)
                if request is None:
                    return
                method = request[0]
                outcome, peer_gone = await _respond_watching(fake, conn, stream, request)
                if isinstance(outcome, InjectedNetworkFault):
                    if outcome.kind == "timeout" and not peer_gone:
                        await _hold(stream, min(outcome.hold or fake.fault_hold_limit, fake.fault_hold_limit))
                    return  # drop the connection without an answer
                if isinstance(outcome, PendingAnswer):
                    if peer_gone:  # the client closed while the fake worked: nobody will read this answer
                        outcome.lost()
                        return
                    status, response_headers, content = outcome.response
                else:  # a bug in the fake must not take the server down; answer as Agora's 500
                    status, content = 500, b'{"code":500,"reason":"internal_error"}'
                    response_headers = [("content-type", JSON_CONTENT_TYPE)]
                try:
                    await _send_response(conn, stream, status, response_headers, content, head=method == "HEAD")
                except _Close:
                    if isinstance(outcome, PendingAnswer):
                        outcome.lost()
                    raise
                if isinstance(outcome, PendingAnswer):
                    outcome.delivered()
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (_Close, h11.LocalProtocolError):
            return
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status = exc.error_status_hint
                message = json.dumps({"message": http.HTTPStatus(status).phrase}).encode()
                error_headers = [("content-type", JSON_CONTENT_TYPE), ("connection", "close")]
                with suppress(_Close, h11.LocalProtocolError):
                    await _send_response(conn, stream, status, error_headers, message)
        except Exception:  # never let one broken connection take the whole server down
            return


async def _respond_watching(
    fake: FakeHandler, conn: h11.Connection, stream: SocketStream, request: tuple[str, str, dict[str, str], bytes]
) -> tuple[PendingAnswer | Exception, bool]:
    """Let the fake answer while watching the socket; return ``(answer or exception, peer closed meanwhile)``.

    The watch reads at most once: end of stream (or a reset) means the client has gone and will not read the
    answer; data (a pipelined request) is handed to h11 for the next cycle. A client that half-closes its side
    after sending counts as gone too (httpx and curl do not do that).
    """
    gone = False

    async def watch() -> None:
        nonlocal gone
        try:
            data = await stream.receive(_READ_CHUNK)
        except _CLOSED_ERRORS:
            gone = True
            return
        conn.receive_data(data)

    method, target, headers, body = request
    outcome: PendingAnswer | Exception
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            outcome = await fake.respond(method, target, headers, body)
        except Exception as exc:  # InjectedNetworkFault, or a bug in the fake: the caller decides
            outcome = exc
        tg.cancel_scope.cancel()
    return outcome, gone


async def _read_request(conn: h11.Connection, stream: SocketStream) -> tuple[str, str, dict[str, str], bytes] | None:
    """The next request as ``(method, target, headers, body)``, or ``None`` when the connection is over."""
    request: h11.Request | None = None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(_READ_CHUNK)
            except _CLOSED_ERRORS:
                data = b""
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY_BYTES:
                body = json.dumps({"message": "Request body too large"}).encode()
                close_headers = [("content-type", JSON_CONTENT_TYPE), ("connection", "close")]
                await _send_response(conn, stream, 413, close_headers, body)
                return None
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers}
            return request.method.decode("latin-1"), request.target.decode("latin-1"), headers, b"".join(chunks)
        else:  # ConnectionClosed or PAUSED: nothing more to read on this connection
            return None


async def _send_response(
    conn: h11.Connection,
    stream: SocketStream,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    head: bool = False,
) -> None:
    try:
        reason = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b""
    all_headers = [*headers, ("content-length", str(len(body)))]
    try:
        await stream.send(conn.send(h11.Response(status_code=status, headers=all_headers, reason=reason)))
        if body and not head:  # a HEAD answer declares the length but carries no body
            await stream.send(conn.send(h11.Data(data=body)))
        await stream.send(conn.send(h11.EndOfMessage()))
    except _CLOSED_ERRORS:
        raise _Close from None


async def _hold(stream: SocketStream, seconds: float) -> None:
    """Withhold the answer: wait until the client gives up and closes, or ``seconds`` pass."""
    with anyio.move_on_after(seconds):
        try:
            while True:
                await stream.receive(_READ_CHUNK)
        except _CLOSED_ERRORS:
            return
