"""The retry policy and the domain failover order, as tables: pure functions, no I/O."""

from __future__ import annotations

import pytest

from agora_recording import InvalidRequestError, RetryPolicy
from agora_recording._domains import failover_host, failover_order
from agora_recording._retry import Outcome, decide

NO_JITTER = RetryPolicy(jitter=0.0)
ENDPOINTS = ["acquire", "start", "update", "updateLayout", "query", "stop"]


def status(code_http: int, code: int | None = None, retry_after: float | None = None) -> Outcome:
    return Outcome(kind="status", status=code_http, code=code, retry_after=retry_after)


# (endpoint, attempt, outcome, retried?, delay)
TABLE = [
    # transport failures: every endpoint, Agora's 1/3/6 s failover backoff (start: 3/6/9 when maybe sent)
    *[(ep, 1, Outcome(kind="connect"), True, 1.0) for ep in ENDPOINTS],
    *[(ep, 2, Outcome(kind="dns"), True, 3.0) for ep in ENDPOINTS],
    ("start", 1, Outcome(kind="timeout"), True, 3.0),
    ("start", 2, Outcome(kind="disconnect"), True, 6.0),
    ("start", 3, Outcome(kind="timeout"), True, 9.0),
    ("start", 4, Outcome(kind="timeout"), False, None),
    ("query", 1, Outcome(kind="timeout"), True, 1.0),
    ("stop", 3, Outcome(kind="disconnect"), True, 6.0),
    # 429: Retry-After when given (capped), else 1/3/6
    ("acquire", 1, status(429, retry_after=2.5), True, 2.5),
    ("query", 1, status(429, retry_after=600), True, 30.0),
    ("stop", 2, status(429), True, 3.0),
    # 5xx and 504 + code 62
    ("acquire", 1, status(500, 500), True, 1.0),
    ("acquire", 2, status(500, 501), True, 3.0),
    ("start", 1, status(500, 62), True, 3.0),
    ("start", 1, status(500, 502), False, None),  # failed to allocate worker: acquire again
    ("start", 2, status(503), True, 6.0),
    ("query", 1, status(504, 62), True, 1.0),
    ("update", 1, status(504, 62), True, 1.0),
    # 206 + code 65: 3 s then 6 s
    ("start", 1, status(206, 65), True, 3.0),
    ("start", 2, status(206, 65), True, 6.0),
    ("stop", 1, status(206, 65), True, 3.0),
    # 404 "failed to find worker": only query, updateLayout and stop; 5/10/15 s
    ("query", 1, status(404, 404), True, 5.0),
    ("updateLayout", 2, status(404, 404), True, 10.0),
    ("stop", 3, status(404, 404), True, 15.0),
    ("update", 1, status(404, 404), False, None),
    ("start", 1, status(404, 404), False, None),
    ("query", 1, status(404, None), False, None),  # gateway "no Route matched": a wrong URL
    # other 4xx: never
    *[(ep, 1, status(400, 2), False, None) for ep in ENDPOINTS],
    ("acquire", 1, status(401), False, None),
    ("start", 1, status(400, 53), False, None),
    ("start", 1, status(400, 433), False, None),
    ("stop", 1, status(400, 49), False, None),
    ("start", 1, status(201, 7), False, None),
    ("stop", 1, status(206, 435), False, None),
]


@pytest.mark.parametrize(("endpoint", "attempt", "outcome", "retried", "delay"), TABLE)
def test_retry_table_row(endpoint: str, attempt: int, outcome: Outcome, retried: bool, delay: float | None) -> None:
    """Each row of Agora's retry guidance: whether it is retried and after how long."""
    decision = decide(endpoint=endpoint, attempt=attempt, outcome=outcome, policy=NO_JITTER)
    assert decision.retry is retried, decision.reason
    if delay is not None:
        assert decision.delay == pytest.approx(delay)


def test_max_retries_bounds_every_kind() -> None:
    """No outcome is retried after max_retries retries; max_retries=0 turns retries off."""
    for outcome in (Outcome(kind="connect"), status(500), status(429), status(206, 65)):
        assert not decide(endpoint="query", attempt=4, outcome=outcome, policy=NO_JITTER).retry
        assert not decide(endpoint="query", attempt=1, outcome=outcome, policy=RetryPolicy(max_retries=0)).retry


def test_backoff_doubles_past_the_schedule_and_is_capped() -> None:
    """Beyond Agora's schedule the delay doubles, never above max_delay."""
    policy = RetryPolicy(max_retries=10, jitter=0.0, max_delay=20.0)
    delays = [decide(endpoint="query", attempt=a, outcome=status(500), policy=policy).delay for a in range(1, 7)]
    assert delays == [1.0, 3.0, 6.0, 12.0, 20.0, 20.0]


def test_jitter_stays_within_its_fraction() -> None:
    """Jitter spreads a delay by at most +-jitter of it, both ways."""
    policy = RetryPolicy(jitter=0.2)
    low = decide(endpoint="query", attempt=1, outcome=status(500), policy=policy, rand=lambda: 0.0).delay
    high = decide(endpoint="query", attempt=1, outcome=status(500), policy=policy, rand=lambda: 0.999999).delay
    assert low == pytest.approx(0.8)
    assert high == pytest.approx(1.2, abs=1e-5)


def test_not_found_window_ends_worker_404_retries() -> None:
    """A worker 404 is retried only while the failover window lasts, and the wait never overshoots it."""
    policy = RetryPolicy(jitter=0.0, not_found_window=12.0)
    assert decide(endpoint="query", attempt=1, outcome=status(404, 404), policy=policy, elapsed=0.0).delay == 5.0
    assert decide(endpoint="query", attempt=2, outcome=status(404, 404), policy=policy, elapsed=5.0).delay == 7.0
    assert not decide(endpoint="query", attempt=3, outcome=status(404, 404), policy=policy, elapsed=12.0).retry
    assert not decide(
        endpoint="query", attempt=1, outcome=status(404, 404), policy=RetryPolicy(not_found_window=0)
    ).retry


def test_outcome_maybe_sent() -> None:
    """Timeouts, dropped connections, 5xx and 206 may have been processed; connect errors and 4xx were not."""
    assert Outcome(kind="timeout").maybe_sent
    assert Outcome(kind="disconnect").maybe_sent
    assert status(500).maybe_sent
    assert status(206, 65).maybe_sent
    assert not Outcome(kind="connect").maybe_sent
    assert not status(400).maybe_sent


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"max_retries": -1}, "max_retries"), ({"jitter": -0.1}, "jitter"), ({"start_delays": ()}, "start_delays")],
)
def test_bad_policy_is_refused(kwargs: dict[str, object], field: str) -> None:
    """RetryPolicy validates its fields and names the bad one."""
    with pytest.raises(InvalidRequestError, match=field):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_failover_order_dns_failure_includes_the_alternate_primary() -> None:
    """DNS failure: same domain, same again, the other primary, then the adjacent region on both suffixes."""
    assert failover_order("api.agora.io", "eu-central-1", dns_failure=True) == (
        "api.agora.io",
        "api.agora.io",
        "api.sd-rtn.com",
        "api-eu-west-1.agora.io",
        "api-eu-west-1.sd-rtn.com",
    )


def test_failover_order_network_failure_skips_the_alternate_primary() -> None:
    """A network error (not DNS) skips the alternate primary, straight to the adjacent region."""
    assert failover_order("api.sd-rtn.com", "cn-east-1", dns_failure=False) == (
        "api.sd-rtn.com",
        "api.sd-rtn.com",
        "api-cn-north-1.sd-rtn.com",
        "api-cn-north-1.agora.io",
    )


def test_failover_host_walks_the_order_and_stays_at_its_end() -> None:
    """The n-th consecutive transport failure picks the n-th host; past the end the last host is kept."""
    hosts = [
        failover_host("api.agora.io", None, transport_failures=n, dns_failure=True) for n in range(5)
    ]  # fmt: skip
    assert hosts == ["api.agora.io", "api.agora.io", "api.sd-rtn.com", "api.sd-rtn.com", "api.sd-rtn.com"]
    assert failover_host("api.agora.io", None, transport_failures=3, dns_failure=False) == "api.agora.io"
