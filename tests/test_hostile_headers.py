"""Hostile headers and numbers: Retry-After past the cap or garbage, huge and escaped request ids, fractional ints."""

from __future__ import annotations

import math
from typing import Any

import anyio
import httpx
import pytest
import respx

from agora_recording import (
    APIStatusError,
    CloudRecordingClient,
    QueryResponse,
    RateLimitError,
    ResourceExpiredError,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    StopResponse,
    Unlimited,
)
from agora_recording._converter import from_wire
from agora_recording._errors import MAX_RETRY_AFTER, parse_retry_after
from agora_recording._retry import Outcome, decide

RID = "RID-1"
SID = "SID-1"
DATE = "Wed, 21 Oct 2015 07:28:00 GMT"

# -- 4. Retry-After ------------------------------------------------------------------------------------------------

RETRY_AFTER_TABLE: list[tuple[str | None, float | None]] = [
    (None, None),
    ("0", 0.0),
    ("2", 2.0),
    (" 5 ", 5.0),
    ("2.5", 2.5),
    ("3600", 3600.0),
    ("3601", MAX_RETRY_AFTER),  # past the cap: the cap, not "ignored"
    ("1e9", MAX_RETRY_AFTER),
    ("1e400", MAX_RETRY_AFTER),
    ("inf", MAX_RETRY_AFTER),
    ("Infinity", MAX_RETRY_AFTER),
    ("nan", None),
    ("NaN", None),
    ("-1", None),
    ("-inf", None),
    ("soon", None),
    ("", None),
    ("1_000", None),  # float() would read it; HTTP does not
    ("0x10", None),
    ("5 seconds", None),
    ("Wed, 21 Oct 2015 07:29:00 GMT", 60.0),  # an HTTP-date, measured from the answer's Date header
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
    ("Wed, 21 Oct 2016 07:28:00 GMT", MAX_RETRY_AFTER),  # a year ahead: the cap
    ("Wed, 32 Oct 2015 07:28:00 GMT", None),  # a date that does not parse
    ("Mon, 99 Foo 2015 99:99:99 GMT", None),
    ("x" * 10_000, None),
]


@pytest.mark.parametrize(("header", "expected"), RETRY_AFTER_TABLE, ids=lambda v: repr(v)[:40])
def test_retry_after_is_parsed_capped_or_treated_as_absent(header: str | None, expected: float | None) -> None:
    """Past the cap reads as the cap; garbage (NaN, negative, words, unparseable dates) as absent."""
    assert parse_retry_after(header, date=DATE) == expected


def test_an_http_date_without_a_date_header_is_measured_from_now() -> None:
    """Without the answer's Date header the HTTP-date is measured from the given wall-clock time."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0


@pytest.mark.parametrize(
    ("hint", "delay"),
    [(2.0, 2.0), (30.0, 30.0), (3600.0, 30.0), (math.inf, 30.0), (1e9, 30.0), (math.nan, 1.0), (-5.0, 1.0)],
)
def test_decide_waits_the_cap_past_it_and_backs_off_on_garbage(hint: float, delay: float) -> None:
    """decide(): a hint past max_delay waits max_delay; NaN/negative hints (from any caller) take the schedule."""
    decision = decide(
        endpoint="query",
        attempt=1,
        outcome=Outcome(kind="status", status=429, retry_after=hint),
        policy=RetryPolicy(jitter=0.0),
    )
    assert decision.retry
    assert decision.delay == delay


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "wait", "hint"),
    [
        ("3600", 30.0, 3600.0),
        ("3601", 30.0, MAX_RETRY_AFTER),
        ("1e9", 30.0, MAX_RETRY_AFTER),
        ("inf", 30.0, MAX_RETRY_AFTER),
        ("nan", 1.0, None),
        ("-3", 1.0, None),
        ("later", 1.0, None),
        ("Wed, 21 Oct 2015 07:28:12 GMT", 12.0, 12.0),
        ("Wed, 21 Oct 2015 99:28:12 GMT", 1.0, None),
    ],
)
async def test_client_waits_the_capped_retry_after(header: str, wait: float, hint: float | None) -> None:
    """A 429's Retry-After past the cap makes the client wait the cap (30 s), never less; garbage takes 1 s."""
    delays: list[float] = []
    holds: list[float | None] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await anyio.lowlevel.checkpoint()

    class Recorder(Unlimited):
        def on_rate_limited(self, retry_after: float | None) -> None:
            holds.append(retry_after)

    limited = httpx.Response(
        429, json={"message": "API rate limit exceeded"}, headers={"Retry-After": header, "Date": DATE}
    )
    async with CloudRecordingClient(
        "app", "cid", "secret", rate_limiter=Recorder(), sleep=sleep, retry=RetryPolicy(jitter=0.0, max_retries=1)
    ) as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(side_effect=[limited, limited])
            with pytest.raises(RateLimitError) as info:
                await client.acquire(cname="c", uid="1")
    assert delays == [wait]
    assert info.value.retry_after == hint
    assert holds == [None if hint is None else min(hint, 30.0)] * 2


# -- 5. X-Request-Id -------------------------------------------------------------------------------------------------

HUGE_ID = "r" * 100_000
ANSI_ID = "\x1b[2J\x1b[31mFAKE ALERT\x1b[0m\r\nX-Injected: 1\u202e"


def answers(request_id: str) -> list[tuple[str, httpx.Response, type[Exception]]]:
    h = [(b"X-Request-Id", request_id.encode())]  # as bytes: a server can send any (UTF-8) octets
    return [
        ("query", httpx.Response(500, json={"code": 500, "reason": "x"}, headers=h), ServerError),
        ("query", httpx.Response(400, json={"message": "bad"}, headers=h), APIStatusError),
        ("query", httpx.Response(200, text="not json", headers=h), ResponseFormatError),
        ("query", httpx.Response(200, json={"serverResponse": {"status": 4.5}}, headers=h), ResponseFormatError),
        ("start", httpx.Response(400, json={"code": 433, "reason": "expired"}, headers=h), ResourceExpiredError),
    ]


async def call(client: CloudRecordingClient, endpoint: str) -> Any:
    from _support import request_for

    if endpoint == "start":
        return await client.start(resource_id=RID, mode="mix", cname="c", uid="1", client_request=request_for("mix"))
    return await client.query(resource_id=RID, sid=SID, mode="mix")


@pytest.mark.anyio
@pytest.mark.parametrize("request_id", [HUGE_ID, ANSI_ID], ids=["100KB", "ansi"])
async def test_request_id_is_capped_and_escaped_in_every_error(request_id: str) -> None:
    """A 100 KB X-Request-Id gives a short message; ANSI escapes, CR/LF and bidi overrides come out escaped."""
    async with CloudRecordingClient(
        "app", "cid", "secret", rate_limiter=Unlimited(), retry=RetryPolicy(max_retries=0)
    ) as client:
        for endpoint, response, error in answers(request_id):
            with respx.mock(assert_all_called=True) as router:
                router.route().mock(return_value=response)
                with pytest.raises(error) as info:
                    await call(client, endpoint)
            exc = info.value
            for text in (str(exc), repr(exc)):
                assert len(text) < 1_000, (error, len(text))
                for raw in ("\x1b", "\r", "\n", "\u202e"):
                    assert raw not in text
            assert exc.request_id is not None  # type: ignore[attr-defined]
            assert len(exc.request_id) <= 131  # type: ignore[attr-defined]
            if request_id == ANSI_ID:
                assert "\\x1b[31mFAKE ALERT" in str(exc)
                assert "\\r\\n" in exc.request_id  # type: ignore[attr-defined]


def test_a_plain_request_id_is_kept_as_sent() -> None:
    """Agora's own ids (hex, uuid) are unchanged."""
    exc = ServerError(endpoint="query", status_code=500, request_id="3af7751d-658a-4381-bbed-893381708c92")
    assert exc.request_id == "3af7751d-658a-4381-bbed-893381708c92"
    assert str(exc).endswith("[request id 3af7751d-658a-4381-bbed-893381708c92]")


# -- 6. fractional integers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [4.6, 19.6, "4.6", "19.5", 5.5, math.inf, math.nan, "1e400", True, "five", [5]])
def test_a_non_integral_status_is_a_response_format_error_naming_the_wire_path(value: Any) -> None:
    """status 4.6 is not read as 5 (nor 19.6 as 20): ResponseFormatError at $.serverResponse.status."""
    with pytest.raises(ResponseFormatError, match=r"expected an integer.*\$\.serverResponse\.status"):
        from_wire(QueryResponse, {"serverResponse": {"status": value}}, endpoint="query")


@pytest.mark.parametrize(("value", "expected"), [(5, 5), (5.0, 5), ("5", 5), (" 5 ", 5), ("5.0", 5), ("20", 20)])
def test_integral_numbers_in_other_forms_stay_accepted(value: Any, expected: int) -> None:
    """The lenient reader keeps reading integral floats and numeric strings."""
    response = from_wire(QueryResponse, {"serverResponse": {"status": value}}, endpoint="query")
    assert response.status == expected


def test_a_fractional_status_in_a_stop_names_the_path() -> None:
    """The same rule on stop's serverResponse."""
    with pytest.raises(ResponseFormatError, match=r"\$\.serverResponse\.status"):
        from_wire(StopResponse, {"serverResponse": {"status": 19.6}}, endpoint="stop")


def test_fractional_timestamps_are_the_one_exception() -> None:
    """sliceStartTime with a sub-second fraction names the same instant: still read (rounded), not refused."""
    body = {
        "serverResponse": {
            "sliceStartTime": 1619172871.089,
            "fileList": [{"filename": "a.m3u8", "sliceStartTime": "1619172871089.4"}],
        }
    }
    response = from_wire(QueryResponse, body, endpoint="query")
    assert response.server_response.slice_start_time == 1619172871
    assert response.files[0].slice_start_time == 1619172871089
    with pytest.raises(ResponseFormatError, match=r"sliceStartTime"):
        from_wire(QueryResponse, {"serverResponse": {"sliceStartTime": "yesterday"}}, endpoint="query")


def test_a_huge_wrong_value_gives_a_short_message() -> None:
    """A 1 MB string where an integer belongs: the message shows a bounded repr."""
    with pytest.raises(ResponseFormatError) as info:
        from_wire(QueryResponse, {"serverResponse": {"status": "9" * 1_000_000 + "x"}}, endpoint="query")
    assert len(str(info.value)) < 500


# -- the retry table for answers that are not Agora's ---------------------------------------------------------------

ENDPOINTS = ["acquire", "start", "update", "updateLayout", "query", "stop"]
MALFORMED_TABLE = [
    *[(ep, 1, Outcome(kind="malformed", status=200), True, 3.0 if ep == "start" else 1.0) for ep in ENDPOINTS],
    ("start", 3, Outcome(kind="malformed", status=200), True, 9.0),
    ("stop", 4, Outcome(kind="malformed", status=200), False, None),  # retries used up
    *[(ep, 1, Outcome(kind="oversized", status=200), ep in ("start", "stop"), None) for ep in ENDPOINTS],
    ("stop", 1, Outcome(kind="status", status=206, code=None), True, 3.0),  # a 206 whose code was unreadable
    ("stop", 1, Outcome(kind="status", status=206, code=435), False, None),
]


@pytest.mark.parametrize(("endpoint", "attempt", "outcome", "retried", "delay"), MALFORMED_TABLE)
def test_answers_that_are_not_agoras_follow_the_table(
    endpoint: str, attempt: int, outcome: Outcome, retried: bool, delay: float | None
) -> None:
    """malformed: every endpoint, like a lost answer; oversized: start and stop only; both may have been processed."""
    decision = decide(endpoint=endpoint, attempt=attempt, outcome=outcome, policy=RetryPolicy(jitter=0.0))
    assert decision.retry is retried
    if delay is not None:
        assert decision.delay == delay
    if outcome.kind != "status":
        assert outcome.maybe_sent
