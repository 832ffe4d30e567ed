"""CloudRecordingClient: the six endpoints over httpx, with typed errors, Agora's retry rules and domain failover."""

from __future__ import annotations

import base64
import logging
import random
import types
from collections.abc import Mapping
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import httpx

from agora_recording._body import ACCEPT_ENCODING
from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording._domains import check_primary, check_region
from agora_recording._endpoints import EndpointCalls
from agora_recording._errors import (
    APIConnectionError,
    InvalidRequestError,
)
from agora_recording._limiter import RateLimiter, Sleep, TokenBucket, shared_limiter
from agora_recording._options import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_PRIMARY_DOMAIN,
    DEFAULT_STOP_TIMEOUT,
    DEFAULT_TIMEOUT,
)
from agora_recording._recovery import StoreSide
from agora_recording._requester import PREFIX, Requester, as_timeout, quote_segment
from agora_recording._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from agora_recording._session import (
    DEFAULT_EXPIRY_MARGIN,
    DEFAULT_START_DEADLINE,
    DEFAULT_STOP_DEADLINE,
    DEFAULT_VERIFY_TIMEOUT,
    RecordingSession,
)
from agora_recording._session_host import SEND_OBSERVER
from agora_recording._session_keeper import Keeper
from agora_recording._session_registry import DEFAULT_STORE_TIMEOUT, SessionRegistry
from agora_recording._session_snapshot import SessionSnapshot
from agora_recording._store import SessionStore
from agora_recording._version import __version__
from agora_recording.models._enums import Mode
from agora_recording.models._requests import (
    AcquireClientRequest,
    ClientRequest,
)
from agora_recording.models._validation import check_id, check_non_empty

__all__ = ["SEND_OBSERVER", "CloudRecordingClient"]

logger = logging.getLogger("agora_recording")
T = TypeVar("T")


class CloudRecordingClient(EndpointCalls, StoreSide):
    """The Agora Cloud Recording REST client. An async context manager; one per event loop.

    ``app_id``, ``customer_id`` and ``customer_secret`` are your project's App ID and RESTful API credentials.
    The secret (and the Customer ID) never appear in ``repr``, logs or error messages.

    Keyword options:

    * ``base_url`` pins one host (the fake server, a proxy); without it the client uses Agora's domains with the
      documented failover order, starting at ``primary_domain`` (``"api.agora.io"``; ``"api.sd-rtn.com"`` inside
      mainland China), adding the region adjacent to ``failover_region`` (e.g. ``"eu-central-1"``) when given.
    * ``http_client``: your own ``httpx.AsyncClient`` (never closed by this library); or ``transport``: an httpx
      transport for the client this library creates (e.g. ``FakeAgoraServer().transport()``).
    * ``timeout`` (default :data:`DEFAULT_TIMEOUT`) and ``stop_timeout`` (:data:`DEFAULT_STOP_TIMEOUT`).
    * ``retry``: a :class:`RetryPolicy`; ``max_in_flight`` caps requests inside httpx at once.
    * ``max_response_bytes`` (default :data:`DEFAULT_MAX_RESPONSE_BYTES`, 4 MiB): the largest answer body read, counted
      after decompression; a larger one raises :class:`ResponseTooLargeError` and its connection is closed.
    * ``rate_limiter``: by default the process-wide limiter of this Customer ID (10 requests per second, shared by
      every client of the process with the same Customer ID, also clients that do not overlap: it outlives them);
      with an injected ``clock``/``sleep``, a private ``TokenBucket`` on
      that clock. Pass your own, or ``Unlimited()`` to disable limiting in tests.
    * ``clock`` (monotonic seconds) and ``sleep`` (backoff waits) are injectable so tests can move time.
    * ``session_store``: a :class:`SessionStore` (``MemorySessionStore``, ``agora_recording.redis.RedisSessionStore``)
      where every session this client starts is recorded, before its start is sent and at every change, so
      :meth:`recover_sessions` in another process can stop what a crashed one left running, and
      :meth:`claim_session` can take a session by key in another worker (``store_timeout`` bounds each store call;
      a store failure never fails a recording call: see ``_session_registry`` and the README).

    Example::

        async with CloudRecordingClient(app_id, customer_id, customer_secret) as client:
            acquired = await client.acquire(cname="room1", uid="527841")
            started = await client.start(resource_id=acquired.resource_id, mode="mix", cname="room1",
                                         uid="527841", client_request=request)
    """

    def __init__(
        self,
        app_id: str,
        customer_id: str,
        customer_secret: str,
        *,
        base_url: str | None = None,
        primary_domain: str = DEFAULT_PRIMARY_DOMAIN,
        failover_region: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        stop_timeout: float | httpx.Timeout = DEFAULT_STOP_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        rate_limiter: RateLimiter | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Clock = DEFAULT_CLOCK,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        session_store: SessionStore | None = None,
        store_timeout: float = DEFAULT_STORE_TIMEOUT,
    ) -> None:
        self._app_id = check_id(app_id, field="app_id")  # it goes into every URL
        check_non_empty(customer_id, field="customer_id")
        check_non_empty(customer_secret, field="customer_secret")
        # Built first, then the secret is dropped from this frame: an error raised below (an invalid option) must not
        # show it in a traceback's captured locals. The header value is never bound to a local either.
        self._headers = {
            "Authorization": "Basic " + base64.b64encode(f"{customer_id}:{customer_secret}".encode()).decode("ascii"),
            "Content-Type": "application/json;charset=utf-8",
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,  # only what the bounded reader decodes
            "User-Agent": f"agora-recording/{__version__} httpx/{httpx.__version__}",
        }
        del customer_secret
        if http_client is not None and transport is not None:
            raise InvalidRequestError("transport", "give either http_client or transport, not both")
        if not isinstance(retry, RetryPolicy):
            raise InvalidRequestError("retry", "must be a RetryPolicy")
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise InvalidRequestError("max_in_flight", f"must be a positive integer, got {max_in_flight!r}")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise InvalidRequestError("max_response_bytes", f"must be a positive integer, got {max_response_bytes!r}")
        if base_url is not None:
            parsed = httpx.URL(base_url)
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise InvalidRequestError("base_url", f"must be an http(s) URL, got {base_url!r}")
            self._base_url: str | None = str(base_url).rstrip("/")
        else:
            self._base_url = None
        self._primary = check_primary(primary_domain)
        self._region = check_region(failover_region)
        self._timeout = as_timeout(timeout)
        self._stop_timeout = as_timeout(stop_timeout)
        self._prefix = PREFIX.format(appid=quote_segment(self._app_id))
        if rate_limiter is not None:
            self._limiter: RateLimiter = rate_limiter
        elif clock is DEFAULT_CLOCK and sleep is anyio.sleep:
            self._limiter = shared_limiter(customer_id)
        else:  # an injected clock: the process-wide limiter runs on the real clock, so keep a private one on this one
            self._limiter = TokenBucket(clock=clock, sleep=sleep)
        self._clock = clock
        self._sleep = sleep
        self._owns_http = http_client is None
        # On a client we own, the headers are the client's defaults (set once); a caller's client gets them per request.
        self._request_headers: dict[str, str] | None = None if self._owns_http else self._headers
        self._http = http_client or httpx.AsyncClient(
            transport=transport,
            headers=self._headers,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=max_in_flight * 2, max_keepalive_connections=max_in_flight),
        )
        self._closing: anyio.Event | None = None  # set once aclose() has finished
        self._keeper = Keeper()
        self._registry = (
            None if session_store is None else SessionRegistry(session_store, sleep=sleep, store_timeout=store_timeout)
        )
        self._requester = Requester(
            http=self._http,
            request_headers=self._request_headers,
            limiter=self._limiter,
            max_in_flight=max_in_flight,
            retry=retry,
            timeout=self._timeout,
            max_response_bytes=max_response_bytes,
            base_url=self._base_url,
            primary=self._primary,
            region=self._region,
            clock=clock,
            sleep=sleep,
            rng=rng or random.Random(),
            keeper=self._keeper,
            direct=self._owns_http,
        )

    def __del__(self) -> None:
        try:
            if not self._requester.closed:
                self._keeper.warn_unclosed()
        except Exception:
            pass

    def __repr__(self) -> str:
        # getattr: a traceback that records locals may repr a client whose __init__ raised half way.
        target = getattr(self, "_base_url", None) or f"https://{getattr(self, '_primary', '?')}"
        return (
            f"CloudRecordingClient(app_id={getattr(self, '_app_id', '?')!r}, base_url={target!r}, customer_id=<hidden>)"
        )

    # -- lifecycle --------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> CloudRecordingClient:
        """Open the client's own task group, where starts and stops run (see :meth:`aclose` and the README).

        Enter and leave ``async with client`` in the same task (as ``async with`` does by itself). Without
        ``async with``, each start and stop gets a task of its own for its duration instead: it still finishes
        whatever cancels its caller, but the caller then waits for it before its cancellation propagates.
        """
        if self._requester.closed or self._keeper.closing:
            raise APIConnectionError("the client is closed", endpoint="client")
        await self._keeper.open()
        if self._registry is not None:
            self._registry.start(self._keeper.spawn)  # the lease, renewed every lease / 3 in the client's task group
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        try:
            await self.aclose()
        finally:
            await self._keeper.exit()

    async def aclose(self) -> None:
        """Drain, then close the HTTP client if this library created it (a caller-supplied one is left open).

        Draining: new starts (and every other call but stop) fail at once with :class:`APIConnectionError`; starts
        not yet sent are called off; starts and stops in flight are waited for; then every session this client
        started that still records is stopped, in parallel under the rate limiter, each bounded by its
        ``stop_deadline``, with one WARNING per session stopped here or left running. Sessions handed off with
        ``to_state()`` (and sessions resumed here from another client's state) are not this client's and keep
        running. The drain is shielded from cancellation; a native asyncio cancellation of the closing task is
        re-raised once it is done. Calling ``aclose()`` again waits for the first call to finish.
        """
        if self._closing is not None:
            await self._closing.wait()
            return
        self._closing = anyio.Event()
        try:
            await self._keeper.drain()
        finally:
            if self._registry is not None:
                await self._registry.close()  # release what was handed off; end the lease
            self._requester.closed = True
            try:
                if self._owns_http:
                    with anyio.CancelScope(shield=True):
                        await self._http.aclose()
            finally:
                self._closing.set()

    @property
    def app_id(self) -> str:
        """The App ID in every URL."""
        return self._app_id

    @property
    def sleep(self) -> Sleep:
        """The sleep function used for backoff waits."""
        return self._sleep

    @property
    def rate_limiter(self) -> RateLimiter:
        """The rate limiter every HTTP attempt takes a permit from."""
        return self._limiter

    # -- sessions ---------------------------------------------------------------------------------------------------

    def session(
        self,
        *,
        cname: str,
        uid: str | int,
        mode: Mode | str,
        client_request: ClientRequest | None = None,
        acquire_request: AcquireClientRequest | None = None,
        use_start_parameter: bool = False,
        reacquire: bool = True,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
        start_deadline: float = DEFAULT_START_DEADLINE,
        stop_deadline: float = DEFAULT_STOP_DEADLINE,
        verify: bool = False,
        verify_timeout: float = DEFAULT_VERIFY_TIMEOUT,
    ) -> RecordingSession:
        """A :class:`RecordingSession` for one recording of ``cname`` as ``uid`` in ``mode``.

        Session options: ``acquire_request`` (the acquire's clientRequest), ``use_start_parameter`` (send the
        start's clientRequest with acquire, as ``startParameter``), ``reacquire`` (replace a resourceId near its
        five minutes instead of raising), ``expiry_margin`` (how near), ``start_deadline`` / ``stop_deadline``
        (seconds a sent start / stop may take), ``verify`` (``async with`` also waits for
        :meth:`RecordingSession.wait_until_recording`) and ``verify_timeout``. Invalid arguments raise
        :class:`InvalidRequestError` here, before anything is sent.
        """
        return RecordingSession(
            self,
            cname=cname,
            uid=uid,
            mode=mode,
            client_request=client_request,
            acquire_request=acquire_request,
            use_start_parameter=use_start_parameter,
            reacquire=reacquire,
            expiry_margin=expiry_margin,
            start_deadline=start_deadline,
            stop_deadline=stop_deadline,
            verify=verify,
            verify_timeout=verify_timeout,
        )

    def resume_session(
        self,
        state: SessionSnapshot | Mapping[str, Any],
        *,
        client_request: ClientRequest | None = None,
        acquire_request: AcquireClientRequest | None = None,
        use_start_parameter: bool = False,
        reacquire: bool = True,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
        start_deadline: float = DEFAULT_START_DEADLINE,
        stop_deadline: float = DEFAULT_STOP_DEADLINE,
        verify: bool = False,
        verify_timeout: float = DEFAULT_VERIFY_TIMEOUT,
    ) -> RecordingSession:
        """Rebuild a session from :meth:`RecordingSession.snapshot` or ``to_state()``, e.g. in another worker.

        By session store key, use ``await client.claim_session(key)`` (a store is read asynchronously).

        The options are :meth:`session`'s. Raises :class:`InvalidRequestError` naming the field when ``state``
        is not a snapshot this client can resume (another version or App ID, a missing resourceId or sid).
        """
        if isinstance(state, str):
            raise InvalidRequestError("state", "is a session store key: use `await client.claim_session(key)`")
        return RecordingSession.from_state(
            self,
            state,
            client_request=client_request,
            acquire_request=acquire_request,
            use_start_parameter=use_start_parameter,
            reacquire=reacquire,
            expiry_margin=expiry_margin,
            start_deadline=start_deadline,
            stop_deadline=stop_deadline,
            verify=verify,
            verify_timeout=verify_timeout,
        )

    # -- the six endpoints ------------------------------------------------------------------------------------------

    # -- internals --------------------------------------------------------------------------------------------------
