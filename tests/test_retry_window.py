"""The stop's retry window: a pure decision, table-tested (issue 11: a stop gives up only at its deadline)."""

from __future__ import annotations

import pytest

from agora_recording._retry import Outcome, RetryPolicy, decide

POLICY = RetryPolicy(jitter=0.0, max_retries=3)
RATE_LIMITED = Outcome(kind="status", status=429)
SERVER_ERROR = Outcome(kind="status", status=500, code=500)
TIMEOUT = Outcome(kind="timeout")
BAD_REQUEST = Outcome(kind="status", status=400, code=2)


@pytest.mark.parametrize(
    ("outcome", "attempt", "elapsed", "window", "retry"),
    [
        (RATE_LIMITED, 4, 10.0, None, False),  # no window: max_retries decides, as before
        (RATE_LIMITED, 4, 10.0, 180.0, True),  # past max_retries, inside the window
        (RATE_LIMITED, 9, 150.0, 180.0, True),  # 150 + the 30 s cap (max_delay) still fits
        (RATE_LIMITED, 9, 178.0, 180.0, False),  # the next attempt would start past the window
        (SERVER_ERROR, 9, 100.0, 180.0, True),
        (TIMEOUT, 9, 100.0, 180.0, True),
        (BAD_REQUEST, 1, 0.0, 180.0, False),  # not retryable: the window changes nothing
    ],
)
def test_the_retry_window_extends_retries_of_retryable_outcomes(
    outcome: Outcome, attempt: int, elapsed: float, window: float | None, retry: bool
) -> None:
    """Inside the window, retryable outcomes are retried past max_retries; past it, or for a refusal, never."""
    decision = decide(
        endpoint="stop", attempt=attempt, outcome=outcome, policy=POLICY, elapsed=elapsed, retry_window=window
    )
    assert decision.retry is retry


def test_max_retries_zero_still_turns_retries_off_inside_a_window() -> None:
    """retries=0 means no retry, whatever the window."""
    decision = decide(
        endpoint="stop",
        attempt=1,
        outcome=RATE_LIMITED,
        policy=RetryPolicy(max_retries=0),
        retry_window=180.0,
    )
    assert not decision.retry


def test_the_window_ends_even_when_the_clock_does_not_move() -> None:
    """With a clock that never moves (an injected sleep that does not advance it), the schedule's own time closes the
    window: a stop never retries forever."""
    attempt = 1
    while decide(endpoint="stop", attempt=attempt, outcome=SERVER_ERROR, policy=POLICY, retry_window=180.0).retry:
        attempt += 1
        assert attempt < 100
    assert attempt == 10  # 1 + 3 + 6 + 12 + 24 + 30 * 4 = 166 s scheduled; a 10th retry would end past 180 s
