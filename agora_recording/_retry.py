"""Retry decisions and backoff: a pure function of (endpoint, attempt, outcome, policy). No I/O; table-tested.

Agora's guidance (agora-api-notes.md 2.2-2.3) is the starting point:

==========================================  ==========================================  ===========================
outcome                                     endpoints                                   schedule (seconds)
==========================================  ==========================================  ===========================
connect error / DNS failure (never sent)    all                                         1, 3, 6 (domain failover)
timeout or dropped connection (maybe sent)  all (start: resend, same parameters)        start 3, 6, 9; others 1, 3, 6
2xx that is not Agora's answer (malformed)  all (start: resend, same parameters)        start 3, 6, 9; others 1, 3, 6
2xx over ``max_response_bytes``             start and stop only                         start 3, 6, 9; stop 1, 3, 6
HTTP 429                                    all; the rate limiter holds everyone        ``Retry-After``, else 1, 3, 6
HTTP 5xx, 504 + code 62                     all, except start + code 502 (re-acquire)   start 3, 6, 9; others 1, 3, 6
206 + code 65 "request not completed"       all (also a 206 without a readable code)    3, 6
404 + code 404 "failed to find worker"      query, updateLayout, stop (HA failover)     5, 10, 15, 30... for 90 s
any other 4xx                               none                                        -
==========================================  ==========================================  ===========================

A malformed 2xx is one that is not JSON, does not fit the model, or does not name the recording asked about (a stop
answer without ``resourceId``/``sid`` equal to the request's and a ``serverResponse``; a start without a ``sid``): a
proxy or middlebox answered, and Agora may or may not have acted on the request, as after a lost answer.

Past the end of a schedule, the delay doubles, capped at ``max_delay``. Every delay gets +-``jitter`` (a fraction).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

import attrs

from agora_recording._errors import InvalidRequestError

__all__ = ["Decision", "Outcome", "RetryPolicy", "decide"]

OutcomeKind = Literal["connect", "dns", "timeout", "disconnect", "status", "malformed", "oversized"]
NOT_FOUND_ENDPOINTS = frozenset({"query", "updateLayout", "stop"})
OVERSIZED_RESENT = frozenset({"start", "stop"})
"""Endpoints whose too-large 2xx answer is resent: their outcome must be learnt, and a resend is safe."""


def _non_negative(inst: object, field: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidRequestError(f"RetryPolicy.{field.name}", f"must be a non-negative number, got {value!r}")


def _delays(inst: object, field: attrs.Attribute[tuple[float, ...]], value: tuple[float, ...]) -> None:
    if not value or any(isinstance(d, bool) or not isinstance(d, (int, float)) or d < 0 for d in value):
        raise InvalidRequestError(f"RetryPolicy.{field.name}", "must be a non-empty tuple of non-negative seconds")


def _retries(inst: object, field: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InvalidRequestError(f"RetryPolicy.{field.name}", f"must be an integer in 0..100, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """What the client retries, and how long it waits. Frozen; change it with :func:`attrs.evolve`.

    ``max_retries`` counts retries after the first attempt (so 3 means at most 4 attempts). Set it to 0 to turn
    retries off. ``not_found_window`` bounds how long a "failed to find worker" 404 is treated as Agora's
    high-availability failover (documented as up to 90 s) on query, updateLayout and stop: those retries run until
    the window ends, however many that takes (5, 10, 15, then 30 s apart); 0 turns that off.
    """

    max_retries: int = attrs.field(default=3, validator=_retries)
    connect_delays: tuple[float, ...] = attrs.field(default=(1.0, 3.0, 6.0), validator=_delays)
    start_delays: tuple[float, ...] = attrs.field(default=(3.0, 6.0, 9.0), validator=_delays)
    server_error_delays: tuple[float, ...] = attrs.field(default=(1.0, 3.0, 6.0), validator=_delays)
    incomplete_delays: tuple[float, ...] = attrs.field(default=(3.0, 6.0), validator=_delays)
    rate_limit_delays: tuple[float, ...] = attrs.field(default=(1.0, 3.0, 6.0), validator=_delays)
    not_found_delays: tuple[float, ...] = attrs.field(default=(5.0, 10.0, 15.0), validator=_delays)
    not_found_window: float = attrs.field(default=90.0, validator=_non_negative)
    max_delay: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.1, validator=_non_negative)


DEFAULT_RETRY_POLICY = RetryPolicy()


@attrs.frozen(kw_only=True)
class Outcome:
    """What happened to one attempt: a transport failure (``kind``) or an HTTP answer (``status``, ``code``).

    ``"malformed"`` and ``"oversized"`` are 2xx answers that are not Agora's (unreadable, not about this recording,
    or larger than the client reads); ``status`` then carries the HTTP status.
    """

    kind: OutcomeKind
    status: int | None = None
    code: int | None = None
    retry_after: float | None = None

    @property
    def maybe_sent(self) -> bool:
        """True when Agora may have acted on the request (the answer was lost or was an error after the work)."""
        return self.kind in ("timeout", "disconnect", "malformed", "oversized") or (
            self.kind == "status" and self.status is not None and (self.status >= 500 or self.status == 206)
        )


@attrs.frozen(kw_only=True)
class Decision:
    """Retry or not, after how many seconds, and why (for the log)."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


def _schedule(delays: tuple[float, ...], retry_index: int, cap: float) -> float:
    if retry_index < len(delays):
        return float(min(delays[retry_index], cap))
    doublings = retry_index - len(delays) + 1
    return float(min(delays[-1] * 2 ** min(doublings, 64), cap))


def decide(
    *,
    endpoint: str,
    attempt: int,
    outcome: Outcome,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    elapsed: float = 0.0,
    rand: Callable[[], float] = random.random,
    retry_window: float | None = None,
) -> Decision:
    """Decide whether attempt number ``attempt`` (1-based) of ``endpoint`` is retried after ``outcome``.

    ``elapsed`` is the time since the first attempt (for the 404 failover window); ``rand`` gives the jitter.
    ``retry_window`` (stop): retryable outcomes are retried past ``max_retries`` for as long as the next attempt
    starts within ``retry_window`` seconds of the first (``max_retries=0`` still turns every retry off).
    """
    worker_404 = outcome.kind == "status" and outcome.status == 404 and outcome.code == 404
    windowed = retry_window is not None and policy.max_retries > 0 and not worker_404
    # A worker 404 is bounded by the failover window (Agora: up to 90 s), not by max_retries; max_retries=0 still
    # turns every retry off.
    if attempt > policy.max_retries and not (worker_404 and policy.max_retries > 0) and not windowed:
        return Decision(retry=False, reason="no retries left")
    index = attempt - 1
    delays: tuple[float, ...] | None = None
    reason = ""
    if outcome.kind in ("connect", "dns"):
        delays, reason = policy.connect_delays, "connection failed before sending"
    elif outcome.kind in ("timeout", "disconnect"):
        delays = policy.start_delays if endpoint == "start" else policy.server_error_delays
        reason = "no answer (the request may have been processed)"
    elif outcome.kind == "malformed":
        delays = policy.start_delays if endpoint == "start" else policy.server_error_delays
        reason = "the answer was not Agora's (unreadable, or not about this recording)"
    elif outcome.kind == "oversized":
        if endpoint not in OVERSIZED_RESENT:
            return Decision(retry=False, reason="the answer was too large to read")
        delays = policy.start_delays if endpoint == "start" else policy.server_error_delays
        reason = "the answer was too large to read (the request may have been processed)"
    elif outcome.status == 429:
        hint = outcome.retry_after
        if hint is not None and hint >= 0:  # NaN and negative hints count as absent; inf and huge ones wait the cap
            return Decision(retry=True, delay=min(hint, policy.max_delay), reason="rate limited")
        delays, reason = policy.rate_limit_delays, "rate limited"
    elif outcome.status == 206 and outcome.code in (65, None):
        # No readable code (an unreadable body) could be 65 or, on stop, 435: the resend learns which.
        delays, reason = policy.incomplete_delays, "request not completed (code 65)"
    elif outcome.status is not None and outcome.status >= 500:
        if endpoint == "start" and outcome.code == 502:
            return Decision(retry=False, reason="failed to allocate worker: acquire again")
        delays = policy.start_delays if endpoint == "start" else policy.server_error_delays
        reason = "server error"
    elif worker_404 and endpoint in NOT_FOUND_ENDPOINTS:
        # Time spent: the clock's, or the schedule's when the clock did not move (no wall clock decides this).
        elapsed = max(elapsed, sum(_schedule(policy.not_found_delays, i, policy.max_delay) for i in range(index)))
        if elapsed >= policy.not_found_window:
            return Decision(retry=False, reason="worker not found beyond the failover window")
        delays, reason = policy.not_found_delays, "worker not found (may be failing over)"
    if delays is None:
        return Decision(retry=False, reason="not retryable")
    delay = _schedule(delays, index, policy.max_delay)
    if policy.jitter:
        delay = max(0.0, delay * (1.0 + policy.jitter * (2.0 * rand() - 1.0)))
    if outcome.kind == "status" and outcome.status == 404:
        delay = min(delay, max(0.0, policy.not_found_window - elapsed))
    if windowed and attempt > policy.max_retries:
        assert retry_window is not None
        # As for the 404 window: the clock's time, or the schedule's when the clock did not move.
        spent = max(elapsed, sum(_schedule(delays, i, policy.max_delay) for i in range(index)))
        if spent + delay > retry_window:
            return Decision(retry=False, reason="retry window over")
        reason += " (within the retry window)"
    return Decision(retry=True, delay=delay, reason=reason)
