"""Requester: one call to Agora, from permit to typed answer, with Agora's retry rules and domain failover.

The client builds the request (path, :class:`~agora_recording._body.RequestBody`) and the :class:`Requester` sends
it: an in-flight slot (:class:`~agora_recording._gate.InFlightGate`), a rate-limit permit, the send (the
``SEND_OBSERVER`` hook fires right before it), the bounded read of the answer, its interpretation (a model, or the
typed error of :mod:`agora_recording._errors`), and the retry decision of :mod:`agora_recording._retry` with backoff
on the injectable clock. No response body, header or credential reaches a log line or an error message.
"""

from __future__ import annotations

import functools
import logging
import random
import typing
import urllib.parse
from collections.abc import Mapping
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import attrs
import httpx

import agora_recording._json as _json
from agora_recording._body import BODY_TOO_LARGE, RequestBody, read_body
from agora_recording._clock import Clock
from agora_recording._converter import from_wire
from agora_recording._domains import failover_host
from agora_recording._errors import (
    CODE_ALREADY_STARTED,
    CODE_NO_RECORDED_DATA,
    AlreadyStartedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    RateLimitError,
    ResourceExpiredError,
    ResponseFormatError,
    ResponseTooLargeError,
    StartOutcomeUnknownError,
    error_from_response,
    parse_code,
    parse_retry_after,
)
from agora_recording._failures import classify
from agora_recording._gate import InFlightGate
from agora_recording._limiter import RateLimiter, Sleep
from agora_recording._retry import Decision, Outcome, RetryPolicy, decide
from agora_recording._session_host import SEND_OBSERVER, TimeoutArg
from agora_recording._session_keeper import Keeper
from agora_recording.models._responses import StopResponse
from agora_recording.models._validation import is_valid_id

__all__ = ["PREFIX", "ROUTES", "Requester", "as_timeout", "quote_segment"]

logger = logging.getLogger("agora_recording")
_httpx_logger = logging.getLogger("httpx")
T = TypeVar("T")
TransportFor = typing.Callable[[httpx.URL], httpx.AsyncBaseTransport]


def direct_transport(http: httpx.AsyncClient) -> TransportFor | None:
    """How to reach the transport of a client the library built itself, or ``None`` to send through ``send()``.

    The library's own client has no auth, no event hooks and follows no redirects, and Agora sets no cookies: its
    ``send()`` layers (auth flow, redirect loop, single-request wrapper, four coroutine frames and an async generator,
    about 3 KB per request in flight) do nothing for it. The transport is found the way ``send()`` finds it (proxy
    mounts from the environment included) through httpx's one private method ``_transport_for_url``; if a later httpx
    renames it, or the client has auth or hooks, this returns ``None`` and every request goes through ``send()``.
    """
    transport_for = getattr(http, "_transport_for_url", None)
    hooks = http.event_hooks
    if not callable(transport_for) or http.auth is not None or hooks["request"] or hooks["response"]:
        return None
    return typing.cast(TransportFor, transport_for)


PREFIX = "/v1/apps/{appid}/cloud_recording"
ROUTES = {
    "acquire": PREFIX + "/acquire",
    "start": PREFIX + "/resourceid/{resourceid}/mode/{mode}/start",
    "update": PREFIX + "/resourceid/{resourceid}/sid/{sid}/mode/{mode}/update",
    "updateLayout": PREFIX + "/resourceid/{resourceid}/sid/{sid}/mode/{mode}/updateLayout",
    "query": PREFIX + "/resourceid/{resourceid}/sid/{sid}/mode/{mode}/query",
    "stop": PREFIX + "/resourceid/{resourceid}/sid/{sid}/mode/{mode}/stop",
}
# A session polls the same URL again and again: parse each URL once (httpx's parse costs 20-40 us a request) and
# percent-encode each path segment once (the 178-character resourceId). Both are bounded (a few hundred KB at most).
_parsed_url = functools.lru_cache(maxsize=512)(httpx.URL)


@functools.lru_cache(maxsize=2048)
def quote_segment(segment: str) -> str:
    """``quote(segment, safe="")``, remembered under the segment itself (no key tuple per entry).

    A session's resourceId (178 characters) and sid are encoded on every call; an id that needs no encoding (Agora's
    do not) is remembered as itself, so the cache holds no copy of it.
    """
    quoted = urllib.parse.quote(segment, safe="")
    return segment if quoted == segment else quoted


def as_timeout(value: float | httpx.Timeout) -> httpx.Timeout:
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)


class Requester:
    """Sends one endpoint call with retries; owned by one :class:`~agora_recording.CloudRecordingClient`.

    ``closed`` is set by the client when it has closed: no attempt is sent after that. While the client's
    :class:`Keeper` is closing, only stops are sent.
    """

    __slots__ = (
        "_base_url",
        "_clock",
        "_http",
        "_in_flight",
        "_keeper",
        "_limiter",
        "_max_response_bytes",
        "_primary",
        "_region",
        "_request_headers",
        "_retry",
        "_rng",
        "_sleep",
        "_timeout",
        "_transport_for",
        "closed",
    )

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        request_headers: dict[str, str] | None,
        limiter: RateLimiter,
        max_in_flight: int,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        max_response_bytes: int,
        base_url: str | None,
        primary: str,
        region: str | None,
        clock: Clock,
        sleep: Sleep,
        rng: random.Random,
        keeper: Keeper,
        direct: bool = False,
    ) -> None:
        self._http = http
        # The library's own client (``direct``): requests go to its transport, past send()'s layers.
        self._transport_for = direct_transport(http) if direct else None
        self._request_headers = request_headers
        self._limiter = limiter
        self._in_flight = InFlightGate(max_in_flight)
        self._retry = retry
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._base_url = base_url
        self._primary = primary
        self._region = region
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._keeper = keeper
        self.closed = False

    def __repr__(self) -> str:
        return f"Requester(base_url={self._base_url!r}, primary={self._primary!r}, closed={self.closed})"

    def _url(
        self, path: str, transport_failures: int, dns_failure: bool, parse: typing.Callable[[str], httpx.URL]
    ) -> httpx.URL:
        if self._base_url is not None:
            return parse(self._base_url + path)
        host = failover_host(
            self._primary, self._region, transport_failures=transport_failures, dns_failure=dns_failure
        )
        return parse(f"https://{host}{path}")

    def _decide(
        self,
        endpoint: str,
        attempt: int,
        outcome: Outcome,
        policy: RetryPolicy,
        started: float,
        retry_window: float | None,
    ) -> Decision:
        return decide(
            endpoint=endpoint,
            attempt=attempt,
            outcome=outcome,
            policy=policy,
            elapsed=self._clock() - started,
            rand=self._rng.random,
            retry_window=retry_window,
        )

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: RequestBody | None,
        model: type[T],
        *,
        timeout: TimeoutArg,
        retries: int | None,
        resource_id: str | None = None,
        sid: str | None = None,
        retry_window: float | None = None,
    ) -> T:
        if self.closed:
            raise APIConnectionError("the client is closed", endpoint=endpoint)
        if self._keeper.closing and endpoint != "stop":
            raise APIConnectionError("the client is closing: only stops are sent now", endpoint=endpoint)
        policy = self._retry
        if retries is not None:
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise InvalidRequestError("retries", f"must be a non-negative integer, got {retries!r}")
            policy = attrs.evolve(policy, max_retries=retries)
        route = ROUTES[endpoint]
        effective_timeout = as_timeout(timeout) if timeout is not None else self._timeout
        started = self._clock()
        attempt = 0
        transport_failures = 0
        dns_failure = False
        maybe_started = False  # start only: an earlier attempt may have started the recording
        gate = self._in_flight
        debug = logger.isEnabledFor(logging.DEBUG)
        # A session sends its start once and polls one URL again and again: only the URLs sent again are remembered.
        parse = httpx.URL if endpoint == "start" else _parsed_url

        while True:
            attempt += 1
            url = self._url(path, transport_failures, dns_failure, parse)
            failure: httpx.RequestError | None = None
            try:
                # The in-flight slot first, then the permit: the permit is granted right before the send, so
                # requests reach Agora in the order and spacing the limiter granted them.
                await gate.acquire()  # awaited directly, not through ``async with``: one coroutine level less
                try:
                    await self._limiter.acquire()
                    # A cancellation that arrived while queued ends the call here, before anything is sent.
                    await anyio.lowlevel.checkpoint_if_cancelled()
                    if self.closed or (attempt == 1 and endpoint != "stop" and self._keeper.closing):
                        raise APIConnectionError("the client was closed before the request was sent", endpoint=endpoint)
                    observer = SEND_OBSERVER.get()
                    if observer is not None:
                        observer()
                    if debug:
                        sent_at = self._clock()
                        logger.debug("agora request endpoint=%s route=%s attempt=%d", endpoint, route, attempt)
                    # Streamed (what ``stream()`` does, without its context-manager generator: less memory per request
                    # in flight), so the body is read with a limit (counted after decompression); the bytes to send
                    # stay inside the RequestBody and the request (whose repr shows no header), never in a local of
                    # their own. On the library's own client straight to the transport (see direct_transport).
                    request = self._http.build_request(
                        method,
                        url,
                        content=None if body is None else body.content,
                        headers=self._request_headers,
                        timeout=effective_timeout,  # also the timeout extension the transport reads
                    )
                    transport_for = self._transport_for
                    if transport_for is None:
                        response = await self._http.send(request, stream=True)
                    else:
                        response = await transport_for(url).handle_async_request(request)
                        response.request = request
                        if _httpx_logger.isEnabledFor(logging.INFO):  # the line send() logs for every request
                            _httpx_logger.info(
                                'HTTP Request: %s %s "%s %d %s"',
                                method,
                                url,
                                response.http_version,
                                response.status_code,
                                response.reason_phrase,
                            )
                    try:
                        raw, unreadable = await read_body(response, self._max_response_bytes)
                    finally:
                        await response.aclose()
                finally:
                    gate.release()
            except httpx.RequestError as exc:
                # Handled below, outside this block: the library's error must not chain httpx's exception, whose
                # request still carries the Authorization header.
                failure = exc
            if failure is not None:
                if not isinstance(failure, httpx.TransportError):  # e.g. a body an in-process transport cannot decode
                    maybe_started = True  # an answer came, so the request may have been acted on
                    decision = self._decide(endpoint, attempt, Outcome(kind="malformed"), policy, started, retry_window)
                    if decision.retry:
                        await self._backoff(endpoint, route, attempt, decision, failure="unreadable")
                        continue
                    raise ResponseFormatError(
                        f"the answer could not be read ({type(failure).__name__})", endpoint=endpoint
                    )
                outcome = classify(failure)
                transport_failures += 1
                dns_failure = dns_failure or outcome.kind == "dns"
                maybe_started = maybe_started or outcome.maybe_sent
                decision = self._decide(endpoint, attempt, outcome, policy, started, retry_window)
                if decision.retry:
                    await self._backoff(endpoint, route, attempt, decision, failure=outcome.kind)
                    continue
                logger.warning(
                    "agora request failed endpoint=%s route=%s failure=%s attempt=%d elapsed=%.3f",
                    endpoint,
                    route,
                    outcome.kind,
                    attempt,
                    self._clock() - started,
                )
                detail = str(failure)[:200]
                message = f"{outcome.kind} failure after {attempt} attempt(s) ({type(failure).__name__}: {detail})"
                if outcome.kind == "timeout":
                    if endpoint == "start":
                        message += "; the recording may have started"
                    raise APITimeoutError(message, endpoint=endpoint)
                raise APIConnectionError(message, endpoint=endpoint)

            transport_failures = 0
            status = response.status_code
            if debug:
                logger.debug(
                    "agora response endpoint=%s route=%s status=%d attempt=%d elapsed=%.3f",
                    endpoint,
                    route,
                    status,
                    attempt,
                    self._clock() - sent_at,
                )
            result = _interpret(
                endpoint,
                response,
                model,
                raw=raw,
                unreadable=unreadable,
                resource_id=resource_id,
                sid=sid,
                max_response_bytes=self._max_response_bytes,
            )
            if not isinstance(result, BaseException):
                return result
            error = result
            if (
                isinstance(error, (AlreadyStartedError, ResourceExpiredError))
                and endpoint == "start"
                and (maybe_started or attempt > 1)
            ):
                # Code 7 on a resend: one of our earlier attempts was processed, whatever it answered. Code 433 on a
                # resend: the resourceId's five minutes ended since, so it does not say what the earlier one did.
                raise StartOutcomeUnknownError(
                    resource_id=resource_id,
                    endpoint=endpoint,
                    status_code=error.status_code or 400,
                    code=error.code,
                    reason=error.reason,
                    request_id=error.request_id,
                )
            if (
                not isinstance(error, (APIStatusError, ResourceExpiredError, ResponseFormatError))
                or error.status_code is None
            ):
                raise error
            if isinstance(error, RateLimitError):
                # Hold everyone back, but never longer than this call would wait itself.
                hold = None if error.retry_after is None else min(error.retry_after, policy.max_delay)
                self._limiter.on_rate_limited(hold)
            outcome = _outcome_of(error)
            maybe_started = maybe_started or outcome.maybe_sent
            decision = self._decide(endpoint, attempt, outcome, policy, started, retry_window)
            if not decision.retry:
                logger.info(
                    "agora error endpoint=%s route=%s status=%d code=%s attempt=%d elapsed=%.3f",
                    endpoint,
                    route,
                    status,
                    outcome.code,
                    attempt,
                    self._clock() - started,
                )
                raise error
            await self._backoff(endpoint, route, attempt, decision, status=status, code=outcome.code)

    async def _backoff(
        self,
        endpoint: str,
        route: str,
        attempt: int,
        decision: Decision,
        *,
        status: int | None = None,
        code: int | None = None,
        failure: str | None = None,
    ) -> None:
        logger.info(
            "agora retry endpoint=%s route=%s status=%s code=%s failure=%s attempt=%d delay=%.3f reason=%s",
            endpoint,
            route,
            status,
            code,
            failure,
            attempt,
            decision.delay,
            decision.reason,
        )
        if decision.delay > 0:
            await self._sleep(decision.delay)


def _request_id(response: httpx.Response) -> str | None:
    return typing.cast("str | None", response.headers.get("x-request-id"))


def _interpret(
    endpoint: str,
    response: httpx.Response,
    model: type[T],
    *,
    raw: bytes,
    unreadable: str | None,
    resource_id: str | None,
    sid: str | None,
    max_response_bytes: int,
) -> T | APIStatusError | ResourceExpiredError | ResponseFormatError:
    status = response.status_code
    # x-request-id is read only for an error: a success does not need it (a header lookup saved per call).
    if unreadable is not None and 200 <= status < 300:
        if unreadable == BODY_TOO_LARGE:
            return ResponseTooLargeError(
                endpoint=endpoint,
                limit=max_response_bytes,
                status_code=status,
                request_id=_request_id(response),
            )
        return ResponseFormatError(
            "the answer could not be read (its Content-Encoding does not decode)",
            endpoint=endpoint,
            status_code=status,
            request_id=_request_id(response),
        )
    # An error status with an unreadable body is still that error (no code, no reason): raw is b"" then.
    if status in (200, 201):
        data = _json.object_or_none(raw)
        if data is None:
            return ResponseFormatError(
                "the answer is not a JSON object",
                endpoint=endpoint,
                status_code=status,
                request_id=_request_id(response),
            )
        code = parse_code(data.get("code")) if "resourceId" not in data else None
        if code == CODE_ALREADY_STARTED and endpoint == "start":
            # The one error Agora puts inside a 2xx body (201 + code 7 on start): no resourceId, no sid.
            return error_from_response(
                endpoint=endpoint,
                status_code=status,
                body=raw,
                request_id=_request_id(response),
                resource_id=resource_id,
            )
        if code is not None:
            return ResponseFormatError(
                f"a {status} answer with code {code} is not one Agora gives",
                endpoint=endpoint,
                status_code=status,
                request_id=_request_id(response),
            )
        try:
            result = from_wire(model, data, endpoint=endpoint)
        except ResponseFormatError as exc:
            return exc.with_answer(status_code=status, request_id=_request_id(response))
        mismatch = _not_about(endpoint, data, result, resource_id=resource_id, sid=sid)
        if mismatch is not None:
            return ResponseFormatError(
                mismatch, endpoint=endpoint, status_code=status, request_id=_request_id(response)
            )
        return result
    if 200 <= status < 300 and status != 206:
        return ResponseFormatError(
            f"HTTP {status} is not an answer Agora gives",
            endpoint=endpoint,
            status_code=status,
            request_id=_request_id(response),
        )
    if status == 206 and endpoint == "stop":
        data = _json.object_or_none(raw)
        if data is not None and parse_code(data.get("code")) == CODE_NO_RECORDED_DATA:
            return typing.cast(T, StopResponse(resource_id=resource_id, sid=sid, no_recorded_data=True))
    retry_after = (
        parse_retry_after(response.headers.get("retry-after"), date=response.headers.get("date"))
        if status == 429
        else None
    )
    return error_from_response(
        endpoint=endpoint,
        status_code=status,
        body=raw,
        request_id=_request_id(response),
        retry_after=retry_after,
        resource_id=resource_id,
    )


def _outcome_of(error: APIStatusError | ResourceExpiredError | ResponseFormatError) -> Outcome:
    """The retry outcome of an answer that is an error."""
    if isinstance(error, ResponseFormatError):
        # A 2xx that is not Agora's answer (a proxy's, a broken middlebox's): Agora may or may not have acted.
        return Outcome(
            kind="oversized" if isinstance(error, ResponseTooLargeError) else "malformed", status=error.status_code
        )
    return Outcome(
        kind="status",
        status=error.status_code,
        code=error.code,
        retry_after=error.retry_after if isinstance(error, RateLimitError) else None,
    )


def _not_about(
    endpoint: str, data: Mapping[str, Any], result: Any, *, resource_id: str | None, sid: str | None
) -> str | None:
    """Why a 2xx answer that fits the model is still not Agora's answer to this request; ``None`` when it is.

    Agora's answers name the recording: start echoes the resourceId and gives the sid; update, updateLayout, query
    and stop echo both; stop also carries ``serverResponse``. A bare ``{}`` or ``{"status": "error"}`` from a proxy
    would otherwise read as success: a stop taken as done while the recording runs and bills.
    """
    if endpoint == "acquire":
        if not result.resource_id:
            return "the answer has an empty resourceId"
        return None if is_valid_id(result.resource_id) else "the answer's resourceId is not an id Agora issues"
    if resource_id is not None and result.resource_id != resource_id:
        return "the answer's resourceId is missing or not this request's; it is not Agora's answer to it"
    if endpoint == "start":
        if not result.sid:
            return "the answer has no sid; the recording may or may not have started"
        return None if is_valid_id(result.sid) else "the answer's sid is not an id Agora issues (not visible ASCII)"
    if sid is not None and result.sid != sid:
        return "the answer's sid is missing or not this request's; it is not Agora's answer to it"
    if endpoint == "stop" and not isinstance(data.get("serverResponse"), Mapping):
        return "the stop answer has no serverResponse; it is not Agora's, and the recording may still run"
    return None
