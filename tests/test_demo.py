"""The ``agora-recording demo`` program: many recordings at once over TCP on 127.0.0.1, a verdict, a summary."""

from __future__ import annotations

import io

import pytest

from agora_recording.cli._demo import (
    DemoResult,
    RecordingOutcome,
    _problems,
    busiest_window,
    main,
    minimum_time,
    run_demo,
)
from agora_recording.testing import DEFAULT_CUSTOMER_SECRET, FakeTimings

FAST = FakeTimings(ready_after=0.1, first_file_after=0.2)


@pytest.mark.anyio
async def test_run_demo_stops_every_recording_without_429(anyio_backend: str) -> None:
    """A small, fast demo in all three modes: all stopped with files, no 429, nothing left running on the fake."""
    out = io.StringIO()
    result = await run_demo(recordings=6, rate=50, hold=(0.2, 0.4), timings=FAST, out=out, live=False, seed=1)

    assert isinstance(result, DemoResult)
    assert result.ok, result.problems
    assert result.problems == ()
    assert len(result.outcomes) == 6
    assert result.by_mode() == {"mix": {"stopped": 2}, "individual": {"stopped": 2}, "web": {"stopped": 2}}
    assert all(o.error is None and o.files > 0 and o.first_file for o in result.outcomes)
    assert all(0.2 <= o.hold <= 0.4 for o in result.outcomes)
    assert result.rate_limited == 0
    assert result.still_running == 0
    assert result.busiest_window <= 50
    by_endpoint = result.requests_by_endpoint
    assert by_endpoint["acquire"] == by_endpoint["start"] == by_endpoint["stop"] == 6
    assert by_endpoint["query"] >= 12  # at least one to confirm and one while holding, per recording
    assert result.requests == sum(by_endpoint.values())
    assert result.minimum == 0.0  # 30-odd requests fit in the idle burst of 50
    assert result.ratio is None

    text = out.getvalue()
    assert "429s served by the fake: 0" in text
    assert "recordings still running on the fake: 0" in text
    assert "Files per recording" in text
    assert "OK: 6 recordings" in text
    assert "\x1b[" not in text  # not live: plain progress lines
    assert DEFAULT_CUSTOMER_SECRET not in text
    assert "demo-secret-key" not in text


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_run_demo_at_the_real_limit_keeps_every_window_within_it(anyio_backend: str) -> None:
    """At 10/s (the fake's strict default window) 12 recordings need more than the burst: the limiter waits,
    the busiest one-second window at the fake holds at most 10 requests, and the fake serves no 429."""
    out = io.StringIO()
    result = await run_demo(recordings=3, rate=10, hold=(0.1, 0.1), timings=FAST, out=out, live=False)

    assert result.ok, result.problems
    assert result.requests == 15
    assert result.limiter_waits >= 1  # requests 11-15 arrive within the first second, so some must wait
    assert result.busiest_window <= 10
    assert result.rate_limited == 0
    assert result.minimum == pytest.approx(0.5)
    assert result.elapsed >= 1.0  # the 11th request waits out the first window (1 s + the limiter's margin)
    assert "busiest 1 s window at the fake: 10 requests (limit 10)" in out.getvalue()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_run_demo_live_redraws_in_place(anyio_backend: str) -> None:
    """With ``live=True`` the status block is redrawn with ANSI cursor-up sequences, then the summary follows."""
    out = io.StringIO()
    result = await run_demo(recordings=3, rate=50, hold=(0.6, 0.6), timings=FAST, out=out, live=True)

    assert result.ok, result.problems
    text = out.getvalue()
    assert "\x1b[2F" in text
    assert "recording  3" in text or "stopped  3" in text
    assert text.index("\x1b[2F") < text.index("Recordings by mode and final state")


def test_main_returns_zero_for_a_fast_run(capsys: pytest.CaptureFixture[str]) -> None:
    """``main`` with the hidden ``--fast`` option runs three sub-second recordings and exits 0."""
    assert main(["--recordings", "3", "--rate", "50", "--seed", "2", "--no-live", "--fast"]) == 0
    captured = capsys.readouterr()
    assert "OK: 3 recordings" in captured.out
    assert "429s served by the fake: 0" in captured.out
    assert captured.err == ""


def test_main_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid ``--recordings`` is a usage error (exit 2), before any server starts."""
    with pytest.raises(SystemExit) as info:
        main(["--recordings", "0"])
    assert info.value.code == 2
    assert "recordings must be a positive integer" in capsys.readouterr().err


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recordings": 0}, "recordings"),
        ({"rate": 0.5}, "rate"),
        ({"hold": (2.0, 1.0)}, "hold"),
    ],
)
async def test_run_demo_rejects_bad_arguments(anyio_backend: str, kwargs: dict[str, object], message: str) -> None:
    """Invalid arguments raise ValueError naming the argument, before any server starts."""
    with pytest.raises(ValueError, match=message):
        await run_demo(out=io.StringIO(), **kwargs)  # type: ignore[arg-type]


def _outcome(state: str = "stopped", *, files: int = 1, error: str | None = None) -> RecordingOutcome:
    return RecordingOutcome(index=1, mode="mix", cname="demo", hold=1.0, state=state, files=files, error=error)


def test_problems_name_every_failed_condition() -> None:
    """The verdict fails, with a clear message each, on a recording not stopped, an error, no files, 429s and
    recordings left running; all clean gives no problem."""
    assert _problems([_outcome()], rate_limited=0, still_running=0) == ()
    problems = _problems(
        [
            _outcome("failed", files=0, error="BadRequestError"),
            _outcome(error="RecordingFailedError"),
            _outcome(files=0),
        ],
        rate_limited=2,
        still_running=1,
    )
    assert problems == (
        "1 of 3 recordings did not stop cleanly",
        "1 recordings stopped after an error",
        "1 recordings reported no files",
        "the fake served 2 429 answers (the client exceeded the rate limit)",
        "1 recordings are still running on the fake",
    )


def test_minimum_time_and_busiest_window() -> None:
    """The minimum is (N - burst) / rate, never negative; the busiest window follows the fake's (t - 1, t] rule."""
    assert minimum_time(100, 10.0) == pytest.approx(9.0)
    assert minimum_time(5, 10.0) == 0.0
    assert busiest_window([]) == 0
    assert busiest_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # e.g. (0.0, 1.0] holds 0.5, 0.99, 1.0: 0.0 is out
    assert busiest_window([0.0, 1.0, 2.0]) == 1


@pytest.mark.anyio
async def test_run_demo_cut_short_by_its_time_limit_is_not_ok(anyio_backend: str) -> None:
    """When the time limit cancels the recordings, they still stop, and the verdict says the run was cut short."""
    out = io.StringIO()
    result = await run_demo(recordings=3, rate=50, hold=(30.0, 30.0), timings=FAST, out=out, live=False, time_limit=1.5)
    assert not result.ok
    assert result.problems
    assert all(o.error is not None and "time limit" in o.error for o in result.outcomes)
    assert result.still_running == 0
