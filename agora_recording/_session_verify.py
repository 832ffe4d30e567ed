"""Verification polling: confirm that a started recording really records, the way Agora recommends.

Agora's advice: query from a few seconds after start, backing off, until ``serverResponse.status`` is 4 (ready)
or 5 (in progress). A 404 "failed to find worker", a 5xx or a lost answer meanwhile is transient (Agora's
failover takes up to 90 s); status 20 or a status past 5 means the recording exited.
"""

from __future__ import annotations

from collections.abc import Callable

from agora_recording._errors import (
    APIConnectionError,
    IncompleteRequestError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RecordingFailedError,
    ResponseFormatError,
    ServerError,
)
from agora_recording._session_guard import check_seconds
from agora_recording._session_host import SessionHost
from agora_recording.models._enums import Mode, RecordingStatus
from agora_recording.models._responses import QueryResponse

__all__ = ["DEFAULT_VERIFY_TIMEOUT", "check_delays", "poll_until_recording"]

DEFAULT_VERIFY_TIMEOUT = 90.0
"""How long after start ``wait_until_recording`` waits for status 4 or 5 (Agora's failover window)."""

_TRANSIENT_QUERY_ERRORS = (
    ServerError,
    IncompleteRequestError,
    RateLimitError,
    APIConnectionError,
    ResponseFormatError,
)


def check_delays(delays: tuple[float, ...]) -> tuple[float, ...]:
    """The polling back-off, checked: a non-empty tuple of positive seconds."""
    if not delays or any(check_seconds(d, "delays") <= 0 for d in delays):
        raise InvalidRequestError("delays", "must be a non-empty tuple of positive seconds")
    return delays


async def poll_until_recording(
    host: SessionHost,
    *,
    resource_id: str,
    sid: str,
    mode: Mode,
    started_at: float,
    timeout: float,
    first_delay: float,
    delays: tuple[float, ...],
    on_query: Callable[[QueryResponse], None],
    last_status: Callable[[], RecordingStatus | int | None],
) -> QueryResponse:
    """Query until status 4 or 5 and return that answer; raise :class:`RecordingFailedError` otherwise.

    Time runs on ``host.clock`` from ``started_at``; each answer is handed to ``on_query`` (the session keeps it
    as ``last_query``); ``last_status`` gives the status named in the timeout error.
    """
    clock, sleep = host.clock, host.sleep
    deadline = started_at + timeout
    wake = started_at + first_delay
    index = 0
    last_error: BaseException | None = None
    while True:
        now = clock()
        if wake > now:
            await sleep(min(wake, deadline) - now)
        if clock() > deadline and index > 0:
            break
        try:
            response = await host.query(resource_id=resource_id, sid=sid, mode=mode, retries=0)
        except NotFoundError as exc:
            if not exc.worker_not_found:
                raise
            last_error = exc
        except _TRANSIENT_QUERY_ERRORS as exc:
            last_error = exc
        else:
            on_query(response)
            status = response.status
            if status in (RecordingStatus.READY, RecordingStatus.IN_PROGRESS):
                return response
            if status == RecordingStatus.EXITED_ABNORMALLY:
                raise RecordingFailedError("the recording exited abnormally (status 20)", status=20)
            if isinstance(status, int) and RecordingStatus.IN_PROGRESS < status < RecordingStatus.EXITED_ABNORMALLY:
                raise RecordingFailedError(f"the recording is exiting (status {status})", status=status)
        if clock() >= deadline:
            break
        wake = clock() + delays[min(index, len(delays) - 1)]
        index += 1
    detail = f"; last error: {type(last_error).__name__}" if last_error is not None else ""
    status_now = last_status()
    raise RecordingFailedError(
        f"the recording did not reach status 4 or 5 within {timeout:.0f} s (last status {status_now}){detail}",
        status=int(status_now) if status_now is not None else None,
    )
