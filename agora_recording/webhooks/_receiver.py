"""The ASGI receiver: a thin shell around :func:`verify`, :func:`parse` and a dedupe store.

One request: POST only (405 with ``Allow: POST``), ``Content-Type`` JSON when given (415), at most
``max_body_bytes`` read (413, reading stops there), signature verified (401), body parsed (400), ``noticeId``
deduplicated (a resend answers 200 and goes no further), then 200 with a JSON body, and only then the handlers.

Where the handlers run (the answer never waits for them):

- **Running receiver** (served alone by uvicorn, which sends the ASGI lifespan, or entered with
  ``async with receiver:``, for example in FastAPI's lifespan): each notification is handed to a task in the
  receiver's own task group and the answer goes out at once. At most ``max_pending`` notifications are being
  handled at a time; past that the receiver answers 503 and forgets the ``noticeId``, so that NCS resends it
  later. On exit it waits up to ``drain_timeout`` seconds for the handlers, then cancels the rest (logged).
- **Not running** (mounted with ``app.mount(...)``, whose lifespan does not reach mounted apps): the handlers run
  in the request's own task after the answer has been sent, like Starlette's background tasks. The server keeps
  the task (uvicorn waits for it on shutdown); the next request on the connection does not wait for it.

A handler that raises is logged (``agora_recording.webhooks``, with the traceback) and the next handler still
runs; nothing is raised into the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs
from anyio.abc import TaskGroup

from agora_recording._errors import InvalidRequestError, log_safe
from agora_recording._hub import DEFAULT_STREAM_BUFFER, EventHub, EventStream, WhenFull
from agora_recording._notifications import NotificationRouter, attach
from agora_recording.webhooks._dedupe import DedupeStore, MemoryDedupeStore
from agora_recording.webhooks._errors import WebhookPayloadError, WebhookVerificationError
from agora_recording.webhooks._events import NotificationEvent, parse
from agora_recording.webhooks._signature import Secrets, verify

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_PENDING",
    "ReceiverStats",
    "WebhookReceiver",
]

logger = logging.getLogger("agora_recording.webhooks")

DEFAULT_MAX_BODY_BYTES = 256 * 1024
"""The largest body read (256 KiB); Agora's notifications are a few KiB even with long file lists."""

DEFAULT_MAX_PENDING = 1000
"""At most this many notifications are being handled at once by a running receiver; past it, 503."""

DEFAULT_DRAIN_TIMEOUT = 30.0
"""Seconds a running receiver waits on exit for its handlers before cancelling them."""


Handler = Callable[[NotificationEvent], Any]
"""``on_event``: ``async def handler(event)`` or a plain function (run in a worker thread)."""


# The ASGI callable's types, as Starlette spells them, so that ``Mount(app=receiver)`` type-checks.
ASGIScope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@attrs.frozen(kw_only=True)
class ReceiverStats:
    """Counters of a :class:`WebhookReceiver` since it was built (a snapshot).

    ``accepted`` notifications were answered 200 and handed to the handlers; ``duplicates`` were answered 200
    and dropped as resends; ``forged`` failed verification (401); ``malformed`` failed parsing (400);
    ``too_large`` (413), ``refused_method`` (405), ``refused_type`` (415); ``busy`` were answered 503 (too many
    pending or the dedupe store failed); ``handler_errors`` counts handler exceptions; ``dropped`` counts events an
    :class:`EventStream` in ``drop`` mode could not buffer.
    """

    accepted: int = 0
    duplicates: int = 0
    forged: int = 0
    malformed: int = 0
    too_large: int = 0
    refused_method: int = 0
    refused_type: int = 0
    busy: int = 0
    handler_errors: int = 0
    dropped: int = 0


class _ClientGone(Exception):
    pass


def _describe(event: NotificationEvent) -> str:
    return f"noticeId {event.notice_id} (eventType {event.event_type}, sid {event.sid})"


class WebhookReceiver:
    """An ASGI application that receives Agora's NCS notifications for Cloud Recording.

    - ``secret``: the NCS secret (Console -> Project -> Notifications), or several during a rotation.
    - ``client``: a :class:`~agora_recording.CloudRecordingClient` whose sessions the notifications feed (subscribed
      first): a session learns ``session_exit``/``recorder_leave`` without polling, and a start whose answer was
      lost is reclaimed through the sid its notifications carry (see :mod:`agora_recording._notifications`).
    - ``on_event``: called once per new notification with the parsed :class:`NotificationEvent`; an async
      function, or a plain function (run in a worker thread, so it may block).
    - ``dedupe``: a :class:`DedupeStore`; by default a :class:`MemoryDedupeStore` (this process only).
    - ``max_body_bytes``: the largest body read (413 past it); ``max_pending``: notifications handled at once by a
      running receiver (503 past it); ``drain_timeout``: seconds to wait for handlers on exit.

    Serve it alone (``uvicorn.run(receiver, host=..., port=...)``: uvicorn's lifespan runs the receiver) or mount
    it (``app.mount("/agora/ncs", receiver)``; enter it in the app's lifespan, ``async with receiver:``, to run
    handlers in the receiver's task group). See the module docstring for what each answer means. More handlers:
    :meth:`subscribe`; an async iterator: :meth:`events`.

    Raises :class:`~agora_recording.InvalidRequestError` for an empty secret or a limit that is not positive.
    No secret appears in its ``repr`` or any log line.
    """

    def __init__(
        self,
        *,
        secret: str | Sequence[str] | Secrets,
        client: Any = None,
        on_event: Handler | None = None,
        dedupe: DedupeStore | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_pending: int = DEFAULT_MAX_PENDING,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> None:
        try:
            self._secrets = Secrets(secret)
        finally:
            del secret
        for name, value in (("max_body_bytes", max_body_bytes), ("max_pending", max_pending)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequestError(name, "must be an integer >= 1")
        if isinstance(drain_timeout, bool) or not isinstance(drain_timeout, (int, float)) or not drain_timeout >= 0:
            raise InvalidRequestError("drain_timeout", "must be a number of seconds >= 0")
        if dedupe is not None and not isinstance(dedupe, DedupeStore):
            raise InvalidRequestError("dedupe", "must implement DedupeStore (async seen_before and forget)")
        self._dedupe: DedupeStore = dedupe if dedupe is not None else MemoryDedupeStore()
        self._max_body_bytes = max_body_bytes
        self._max_pending = max_pending
        self._drain_timeout = float(drain_timeout)
        # The one dispatch point: every accepted event goes to each subscriber, in order of subscription.
        self._hub: EventHub[NotificationEvent] = EventHub(logger=logger, describe=_describe)
        self._task_group: TaskGroup | None = None
        self._pending = 0
        self._drained: anyio.Event | None = None
        self._counts: dict[str, int] = dict.fromkeys(
            (name for name in attrs.fields_dict(ReceiverStats) if name not in ("dropped", "handler_errors")), 0
        )
        self._router: NotificationRouter | None = None
        if client is not None:
            if not (hasattr(client, "keeper") and hasattr(client, "clock") and hasattr(client, "stop")):
                raise InvalidRequestError("client", "must be a CloudRecordingClient")
            self._router = attach(client)
            self.subscribe(self._router.handle)
        if on_event is not None:
            self.subscribe(on_event)

    def __repr__(self) -> str:
        return (
            f"WebhookReceiver(secret={self._secrets!r}, dedupe={self._dedupe!r}, "
            f"max_body_bytes={self._max_body_bytes}, running={self.running}, subscribers={self._hub.subscriber_count})"
        )

    @property
    def dedupe(self) -> DedupeStore:
        """The dedupe store in use."""
        return self._dedupe

    @property
    def router(self) -> NotificationRouter | None:
        """With ``client=``: the :class:`NotificationRouter` feeding the client's sessions (``router.stats``)."""
        return self._router

    @property
    def running(self) -> bool:
        """True between entering (``async with``, or the ASGI lifespan's startup) and exiting."""
        return self._task_group is not None

    @property
    def pending(self) -> int:
        """Notifications a running receiver is handling right now."""
        return self._pending

    @property
    def stats(self) -> ReceiverStats:
        """A snapshot of the receiver's counters."""
        return ReceiverStats(**self._counts, dropped=self._hub.dropped, handler_errors=self._hub.errors)

    # -- the dispatch point ---------------------------------------------------------------------------------------

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Add ``handler`` (async, or plain and run in a worker thread); returns a function that removes it.

        Every accepted notification goes to each handler in subscription order; an exception is logged and the
        next handler still runs.
        """
        return self._hub.subscribe(handler)

    def attach_supervisor(self, supervisor: Any) -> Callable[[], None]:
        """Give every notification to a :class:`~agora_recording.RecordingSupervisor`'s fast path; returns the remover.

        ``supervisor.notify_event(event)`` is called on the event loop (not in a worker thread, as a plain
        :meth:`subscribe` handler would be), after the client's routing when the receiver was built with
        ``client=``: a ``session_exit`` with ``exitStatus`` 1 or a ``recorder_leave`` restarts the recording at once
        instead of at the next query.
        """
        notify_event = getattr(supervisor, "notify_event", None)
        if not callable(notify_event):
            raise InvalidRequestError("supervisor", "must be a RecordingSupervisor (it needs notify_event)")

        async def feed(event: NotificationEvent) -> None:
            notify_event(event)

        return self.subscribe(feed)

    def events(
        self, *, buffer: int = DEFAULT_STREAM_BUFFER, when_full: WhenFull = "block"
    ) -> EventStream[NotificationEvent]:
        """A new :class:`EventStream` of every notification accepted from now on (see its policy for a full buffer).

        Several streams may be open at once; each gets every event. ``when_full="block"`` (the default) makes the
        receiver's handling of later events wait for the consumer (the HTTP answers never wait; a running receiver
        answers 503 past ``max_pending``, so NCS resends); ``"drop"`` drops the new event for this stream only,
        logs a warning with its ``noticeId`` and counts it. Iteration ends when the stream is closed or the running
        receiver exits (after the buffered events). Raises :class:`~agora_recording.InvalidRequestError` for
        ``buffer`` < 1 or an unknown ``when_full``.
        """
        return self._hub.stream(buffer=buffer, when_full=when_full)

    async def _dispatch(self, event: NotificationEvent) -> None:
        await self._hub.publish(event)

    async def _run_pending(self, event: NotificationEvent) -> None:
        try:
            await self._dispatch(event)
        finally:
            self._pending -= 1
            if self._pending == 0 and self._drained is not None:
                self._drained.set()

    # -- running: the task group ----------------------------------------------------------------------------------

    async def __aenter__(self) -> WebhookReceiver:
        """Start the receiver's task group; handlers then run there. Enter and exit in the same task."""
        if self._task_group is not None:
            raise RuntimeError("this WebhookReceiver is already running")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Wait up to ``drain_timeout`` for the handlers (none when leaving by an error), then stop the rest."""
        task_group = self._task_group
        assert task_group is not None, "the receiver was not entered"
        try:
            if exc_type is None:
                with anyio.move_on_after(self._drain_timeout, shield=True):
                    while self._pending:
                        self._drained = anyio.Event()
                        await self._drained.wait()
            if self._pending:
                logger.error("receiver exiting: cancelling %d notification handler(s) still running", self._pending)
                task_group.cancel_scope.cancel()
        finally:
            self._task_group = None
            self._drained = None
            self._hub.close_streams()  # consumers finish the buffered events, then their iteration ends
            await task_group.__aexit__(None, None, None)

    # -- ASGI -----------------------------------------------------------------------------------------------------

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        """The ASGI entry point: ``http`` requests and the ``lifespan`` protocol."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1008})
        else:
            raise RuntimeError(f"WebhookReceiver does not handle ASGI scope type {kind!r}")

    async def _lifespan(self, receive: ASGIReceive, send: ASGISend) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        started = False
        try:
            async with self:
                started = True
                await send({"type": "lifespan.startup.complete"})
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
        except Exception as exc:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _respond(
        self, send: ASGISend, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _read_body(self, receive: ASGIReceive) -> bytes | None:
        """The body, or ``None`` once more than ``max_body_bytes`` arrived (nothing more is read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _http(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else "?"
        if scope.get("method") != "POST":
            self._counts["refused_method"] += 1
            await self._respond(send, 405, {"error": "method not allowed"}, [(b"allow", b"POST")])
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), None)
        if content_type is not None:
            media = content_type.split(b";", 1)[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                self._counts["refused_type"] += 1
                await self._respond(send, 415, {"error": "content type must be application/json"})
                return
        declared = next((v for k, v in headers if k.lower() == b"content-length"), None)
        too_large = declared is not None and declared.strip().isdigit() and int(declared) > self._max_body_bytes
        try:
            body = None if too_large else await self._read_body(receive)
        except _ClientGone:
            return
        if body is None:
            self._counts["too_large"] += 1
            logger.warning("notification from %s refused: body over %d bytes", peer, self._max_body_bytes)
            limit = {"error": "body too large", "maxBytes": self._max_body_bytes}
            await self._respond(send, 413, limit, [(b"connection", b"close")])
            return
        try:
            verify(body, headers, self._secrets)
        except WebhookVerificationError as exc:
            self._counts["forged"] += 1
            logger.warning("notification from %s refused: %s", peer, exc)
            await self._respond(send, 401, {"error": "signature verification failed"})
            return
        try:
            event = parse(body)
        except WebhookPayloadError as exc:
            self._counts["malformed"] += 1
            logger.warning("signed notification from %s could not be read: %s", peer, exc)
            await self._respond(send, 400, {"error": "invalid notification", "detail": str(exc)})
            return
        try:
            duplicate = await self._dedupe.seen_before(event.notice_id)
        except Exception:
            self._counts["busy"] += 1
            logger.exception("dedupe store failed on noticeId %s; answering 503 so NCS resends", event.notice_id)
            await self._respond(send, 503, {"error": "try again later"})
            return
        if duplicate:
            self._counts["duplicates"] += 1
            logger.debug("duplicate noticeId %s (eventType %s) ignored", log_safe(event.notice_id), event.event_type)
            await self._respond(send, 200, {"ok": True, "duplicate": True})
            return
        task_group = self._task_group
        if task_group is not None and self._pending >= self._max_pending:
            self._counts["busy"] += 1
            logger.warning(
                "%d notifications pending: noticeId %s refused with 503 so NCS resends it",
                self._pending,
                log_safe(event.notice_id),
            )
            await self._forget(event.notice_id)
            await self._respond(send, 503, {"error": "busy, try again later"})
            return
        self._counts["accepted"] += 1
        logger.debug(
            "notification noticeId %s eventType %s cname %s uid %s sid %s accepted",
            log_safe(event.notice_id),
            event.event_type,
            log_safe(event.cname),
            log_safe(event.uid),
            log_safe(event.sid),
        )
        if task_group is not None:
            self._pending += 1
            task_group.start_soon(self._run_pending, event)
            await self._respond(send, 200, {"ok": True})
            return
        await self._respond(send, 200, {"ok": True})
        await self._dispatch(event)  # after the answer, in this request's task

    async def _forget(self, notice_id: str) -> None:
        try:
            await self._dedupe.forget(notice_id)
        except Exception:
            logger.exception(
                "dedupe store could not forget noticeId %s; its resend will count as a duplicate", notice_id
            )
