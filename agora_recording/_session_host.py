"""The seam between a :class:`~agora_recording.RecordingSession` and the client that sends its requests.

A session never imports the client module. It talks to its client through :class:`SessionHost`, exactly what it
needs and nothing more: the App ID (for hand-off snapshots), the clock and sleep (the five-minute guard, deadlines,
verification polling) and the endpoint calls that act on one recording. :class:`~agora_recording.CloudRecordingClient`
satisfies it structurally; a test can pass anything else that does.

:data:`SEND_OBSERVER` (defined with the keeper, its first reader, and re-exported here) is the other half of the
seam: the client calls the observer set in the calling task's context right before each HTTP attempt leaves (after
its rate-limit permit), so the keeper and the session start their shields and deadlines at the first send, not
while the request is queued. The ``keeper`` (:class:`~agora_recording._session_keeper.Keeper`) runs the exchanges
that can start or stop a recording in the client's own task and owns the sessions the client started.

Dependencies: this module imports models, the clock, the limiter's ``Sleep`` type and the keeper; the client and
the session import it, and it imports neither.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from agora_recording._clock import Clock
from agora_recording._limiter import Sleep
from agora_recording._session_keeper import SEND_OBSERVER, Keeper
from agora_recording.models._enums import Mode
from agora_recording.models._requests import (
    AcquireClientRequest,
    ClientRequest,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from agora_recording.models._responses import (
    AcquireResponse,
    QueryResponse,
    StartResponse,
    StopResponse,
    UpdateLayoutResponse,
    UpdateResponse,
)

__all__ = ["SEND_OBSERVER", "SessionHost", "TimeoutArg"]

TimeoutArg = float | httpx.Timeout | None
"""A per-call timeout: seconds, an :class:`httpx.Timeout`, or ``None`` for the client's default."""


class SessionHost(Protocol):
    """What a :class:`~agora_recording.RecordingSession` needs from its client: nothing beyond this."""

    @property
    def app_id(self) -> str:
        """The App ID (written into, and checked against, hand-off snapshots)."""
        ...

    @property
    def clock(self) -> Clock:
        """Monotonic seconds: the resourceId's age, deadlines, verification polling."""
        ...

    @property
    def sleep(self) -> Sleep:
        """The sleep that pairs with ``clock`` (virtual in tests)."""
        ...

    @property
    def keeper(self) -> Keeper:
        """Runs the client's start and stop exchanges and owns the sessions it started (``_session_keeper``)."""
        ...

    async def acquire(
        self, *, cname: str, uid: str | int, client_request: AcquireClientRequest | None = None, web: bool | None = None
    ) -> AcquireResponse:
        """Get a resourceId."""
        ...

    async def start(
        self, *, resource_id: str, mode: Mode | str, cname: str, uid: str | int, client_request: ClientRequest
    ) -> StartResponse:
        """Start one recording with ``resource_id``."""
        ...

    async def update(
        self,
        *,
        resource_id: str,
        sid: str,
        mode: Mode | str,
        cname: str,
        uid: str | int,
        client_request: UpdateClientRequest,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> UpdateResponse:
        """Update the recording's subscriptions, web state or storage credentials."""
        ...

    async def update_layout(
        self,
        *,
        resource_id: str,
        sid: str,
        cname: str,
        uid: str | int,
        client_request: UpdateLayoutClientRequest,
        mode: Mode | str = Mode.MIX,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> UpdateLayoutResponse:
        """Replace the mixed layout."""
        ...

    async def query(
        self, *, resource_id: str, sid: str, mode: Mode | str, timeout: TimeoutArg = None, retries: int | None = None
    ) -> QueryResponse:
        """Query the recording's status."""
        ...

    async def stop(
        self,
        *,
        resource_id: str,
        sid: str,
        mode: Mode | str,
        cname: str,
        uid: str | int,
        async_stop: bool = False,
        timeout: TimeoutArg = None,
        retries: int | None = None,
        retry_window: float | None = None,
    ) -> StopResponse:
        """Stop the recording."""
        ...
