"""``agora-recording demo``: many recordings at once, at Agora's real rate limit, against a local fake.

The demo starts a :class:`~agora_recording.testing.FakeAgoraServer` on ``127.0.0.1`` (an ephemeral port, real
TCP) with its default strict limit (at most 10 requests in any one-second window), then runs ``recordings``
recordings at once through the library, the modes in turn (mix, individual, web: 7/7/6 for 20). Every recording is
one :class:`~agora_recording.RecordingSession`::

    async with client.session(cname=..., uid=..., mode=..., client_request=...) as rec:  # acquire + start
        await rec.wait_until_recording()
        await anyio.sleep(hold)
        await rec.query()
    # stopped here; rec.stop_response.files lists the files

The client has its own :class:`~agora_recording.TokenBucket` at ``rate`` per second on the real clock (with a
100 ms margin: the fake shares the client's process and CPU). A status
display shows the sessions by state, the requests the fake received, its 429 answers and the limiter's waits; it is
redrawn in place on a terminal and printed as a compact line every two seconds otherwise (CI logs). The summary
ends with a verdict: success only when every recording stopped with files, the fake served no 429 and no recording
is left running on it.

No credentials are needed: the client uses the fake's public test values, and no secret is ever printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

import anyio
import attrs

from agora_recording import CloudRecordingClient, RecordingSession, SessionState, TokenBucket
from agora_recording.models import (
    ClientRequest,
    ExtensionService,
    ExtensionServiceConfig,
    RecordingConfig,
    StorageConfig,
    TranscodingConfig,
    WebRecorderServiceParam,
)
from agora_recording.testing import FakeAgoraServer, FakeTimings

__all__ = ["DemoResult", "RecordingOutcome", "main", "run_demo"]

MODES = ("mix", "individual", "web")
"""The modes, assigned to the recordings in turn."""

STATES = ("new", "acquired", "starting", "recording", "stopping", "stopped", "failed")
"""The session states the status display counts (``failed`` includes ``unknown``: a start whose outcome is lost)."""

AGORA_FIRST_QUERY = 5.0
"""Agora's advice: query a new recording about five seconds after start to confirm it runs."""

FAST_TIMINGS = FakeTimings(ready_after=0.1, first_file_after=0.2)
"""Fake timings for ``--fast`` (tests): recordings are ready after 0.1 s and have a file after 0.2 s."""
FAST_HOLD = (0.2, 0.4)
"""Hold range for ``--fast``."""

_LIVE_REFRESH = 0.5
_LOG_REFRESH = 2.0
_STORAGE = StorageConfig(
    vendor=1, region=0, bucket="demo-recordings", access_key="demo-access-key", secret_key="demo-secret-key"
)

DEMO_MARGIN = 0.1
"""The demo limiter's margin (seconds): the fake runs in the client's own process (see ``run_demo``)."""


@attrs.frozen(kw_only=True)
class RecordingOutcome:
    """How one demo recording ended.

    ``state`` is the session's final state (``"stopped"`` when all went well); ``error`` names the exception type
    and message when something failed (library errors never carry secrets), else ``None``.
    """

    index: int
    mode: str
    cname: str
    hold: float
    state: str
    files: int = 0
    first_file: str | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class DemoResult:
    """The numbers the demo's summary prints, and the verdict ``ok``.

    ``minimum`` is the least time ``requests`` requests need at ``rate`` per second after an idle burst of
    ``int(rate)``: ``(requests - burst) / rate`` seconds. ``busiest_window`` is the most requests the fake admitted
    in any one-second window (at most ``int(rate)`` when the limiter works). ``problems`` explains a false ``ok``.
    """

    recordings: int
    rate: float
    outcomes: tuple[RecordingOutcome, ...]
    requests: int
    requests_by_endpoint: Mapping[str, int]
    rate_limited: int
    limiter_waits: int
    limiter_wait_time: float
    elapsed: float
    minimum: float
    busiest_window: int
    still_running: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every recording stopped with files, the fake served no 429 and nothing is left running."""
        return not self.problems

    @property
    def ratio(self) -> float | None:
        """``elapsed / minimum``, or ``None`` when the limit allows every request at once (``minimum`` is 0)."""
        return self.elapsed / self.minimum if self.minimum > 0 else None

    def by_mode(self) -> dict[str, dict[str, int]]:
        """Final states counted per mode: ``{"mix": {"stopped": 7}, ...}``."""
        table: dict[str, dict[str, int]] = {}
        for outcome in self.outcomes:
            row = table.setdefault(outcome.mode, {})
            row[outcome.state] = row.get(outcome.state, 0) + 1
        return table


def minimum_time(requests: int, rate: float) -> float:
    """Least seconds ``requests`` requests take at ``rate`` per second with an idle burst of ``int(rate)``."""
    burst = int(rate)
    return max(0, requests - burst) / rate


def busiest_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most arrival ``times`` in any window ``(t - window, t]`` (the fake's rule), by a sliding two-pointer scan."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def client_request_for(mode: str) -> ClientRequest:
    """A valid start ``clientRequest`` for ``mode`` (mix: transcoding, individual: subscribeUidGroup, web: a page)."""
    if mode == "web":
        return ClientRequest(
            extension_service_config=ExtensionServiceConfig(
                extension_services=[
                    ExtensionService(
                        service_name="web_recorder_service",
                        service_param=WebRecorderServiceParam(
                            url="https://example.com/classroom",
                            audio_profile=0,
                            video_width=1280,
                            video_height=720,
                            max_recording_hour=1,
                        ),
                    )
                ]
            ),
            storage_config=_STORAGE,
        )
    if mode == "individual":
        return ClientRequest(
            recording_config=RecordingConfig(channel_type=1, subscribe_uid_group=0, max_idle_time=300),
            storage_config=_STORAGE,
        )
    return ClientRequest(
        recording_config=RecordingConfig(
            channel_type=1,
            max_idle_time=300,
            transcoding_config=TranscodingConfig(width=640, height=360, fps=15, bitrate=500),
        ),
        storage_config=_STORAGE,
    )


@attrs.define
class _Run:
    """One recording's mutable bookkeeping while the demo runs."""

    index: int
    mode: str
    hold: float
    session: RecordingSession
    error: str | None = None
    done: bool = False


def _state_name(state: SessionState) -> str:
    return "failed" if state in (SessionState.FAILED, SessionState.UNKNOWN) else state.value


def _counts(runs: Sequence[_Run]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for run in runs:
        counts[_state_name(run.session.state)] += 1
    return counts


class _Display:
    """The status display: a block redrawn in place on a terminal, or a compact line for logs."""

    def __init__(
        self, out: TextIO, *, live: bool, runs: Sequence[_Run], fake: FakeAgoraServer, limiter: TokenBucket
    ) -> None:
        self._out = out
        self._live = live
        self._runs = runs
        self._fake = fake
        self._limiter = limiter
        self._drawn = 0
        self._started = time.monotonic()

    @property
    def interval(self) -> float:
        """Seconds between refreshes."""
        return _LIVE_REFRESH if self._live else _LOG_REFRESH

    def restart(self) -> None:
        """Measure elapsed time from now."""
        self._started = time.monotonic()

    def _last_window(self) -> int:
        """Requests the fake received in the last window (its own rule: arrivals in ``(now - window, now]``)."""
        fake = self._fake
        since = fake.clock() - fake.rate_window
        count = 0
        for record in reversed(fake.requests):
            if record.at <= since:
                break
            count += 1
        return count

    def refresh(self) -> None:
        """Draw the current numbers once."""
        elapsed = time.monotonic() - self._started
        counts = _counts(self._runs)
        stats = self._fake.stats
        requests, limited = stats.requests, stats.rate_limited
        limiter = self._limiter.stats
        waits, wait_time = limiter.waits, limiter.wait_time
        recent = self._last_window()
        if self._live:
            lines = [
                f"  elapsed {elapsed:6.1f} s   requests {requests:4d} (last {self._fake.rate_window:g} s: {recent:2d})"
                f"   429s {limited}   limiter waits {waits} ({wait_time:.1f} s in total)",
                "  " + "  ".join(f"{name} {counts[name]:2d}" for name in STATES),
            ]
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            self._out.write(up + "".join(f"{line}\x1b[K\n" for line in lines))
            self._drawn = len(lines)
        else:
            states = " ".join(f"{name}={counts[name]}" for name in STATES if counts[name])
            self._out.write(
                f"[{elapsed:5.1f}s] {states} | requests={requests} last_1s={recent} 429s={limited} "
                f"limiter_waits={waits} ({wait_time:.1f}s)\n"
            )
        self._out.flush()

    async def run(self) -> None:
        """Refresh every :attr:`interval` seconds until cancelled."""
        while True:
            self.refresh()
            await anyio.sleep(self.interval)


async def _record(run: _Run, first_query: float, delays: tuple[float, ...]) -> None:
    """One recording: start, confirm, hold, query, stop. Errors are kept on ``run``, cancellation propagates."""
    try:
        async with run.session as rec:
            await rec.wait_until_recording(first_delay=first_query, delays=delays)
            await anyio.sleep(run.hold)
            await rec.query()
    except Exception as exc:  # kept for the summary; library errors carry no secrets
        run.error = f"{type(exc).__name__}: {exc}"
    run.done = True  # not on cancellation: the summary then reports the time limit


def _outcome(run: _Run) -> RecordingOutcome:
    session = run.session
    stop = session.stop_response
    files = stop.files if stop is not None else ()
    error = run.error
    if error is None and not run.done:
        error = "cancelled: the demo's time limit passed"
    return RecordingOutcome(
        index=run.index,
        mode=run.mode,
        cname=session.cname,
        hold=run.hold,
        state=_state_name(session.state),
        files=len(files),
        first_file=files[0].filename if files else None,
        error=error,
    )


def _problems(outcomes: Sequence[RecordingOutcome], rate_limited: int, still_running: int) -> tuple[str, ...]:
    problems: list[str] = []
    not_stopped = [o for o in outcomes if o.state != "stopped"]
    if not_stopped:
        problems.append(f"{len(not_stopped)} of {len(outcomes)} recordings did not stop cleanly")
    errored = [o for o in outcomes if o.error is not None and o.state == "stopped"]
    if errored:
        problems.append(f"{len(errored)} recordings stopped after an error")
    no_files = [o for o in outcomes if o.state == "stopped" and o.files == 0]
    if no_files:
        problems.append(f"{len(no_files)} recordings reported no files")
    if rate_limited:
        problems.append(f"the fake served {rate_limited} 429 answers (the client exceeded the rate limit)")
    if still_running:
        problems.append(f"{still_running} recordings are still running on the fake")
    return tuple(problems)


def _summary(result: DemoResult, out: TextIO) -> None:
    w = out.write
    table = result.by_mode()
    states = [s for s in (*STATES, "unknown") if any(s in row for row in table.values())]
    w("\nRecordings by mode and final state\n")
    header = f"  {'mode':<11}{'total':>6}" + "".join(f"{s:>10}" for s in states) + f"{'files':>7}\n"
    w(header)
    for mode in [*MODES, *sorted(set(table) - set(MODES))]:
        if mode not in table:
            continue
        row = table[mode]
        files = sum(o.files for o in result.outcomes if o.mode == mode)
        w(f"  {mode:<11}{sum(row.values()):>6}" + "".join(f"{row.get(s, 0):>10}" for s in states) + f"{files:>7}\n")
    totals = {s: sum(row.get(s, 0) for row in table.values()) for s in states}
    all_files = sum(o.files for o in result.outcomes)
    w(f"  {'all':<11}{len(result.outcomes):>6}" + "".join(f"{totals[s]:>10}" for s in states) + f"{all_files:>7}\n")

    w("\nRequests\n")
    order = ["acquire", "start", "update", "updateLayout", "query", "stop"]
    names = sorted(result.requests_by_endpoint, key=lambda n: (order.index(n) if n in order else len(order), n))
    per = "  ".join(f"{name} {result.requests_by_endpoint[name]}" for name in names)
    w(f"  total {result.requests}: {per}\n")
    w(
        f"  limiter: {result.limiter_waits} waits, {result.limiter_wait_time:.1f} s waited in total "
        f"(TokenBucket({result.rate:g}, 1.0, margin={DEMO_MARGIN:g}))\n"
    )
    ratio = f"{result.ratio:.2f}x" if result.ratio is not None else "n/a"
    burst = int(result.rate)
    w(
        f"  elapsed {result.elapsed:.1f} s; minimum the limit allows for {result.requests} requests: "
        f"{result.minimum:.1f} s (max(0, {result.requests} - {burst}) / {result.rate:g}, idle burst of {burst}); "
        f"elapsed/minimum {ratio}\n"
    )
    if result.outcomes and (result.ratio is None or result.ratio > 1.5):
        longest = max(o.hold for o in result.outcomes)
        w(f"  (the holds, up to {longest:.1f} s, and the wait before the first status query set the pace)\n")
    w(f"  busiest 1 s window at the fake: {result.busiest_window} requests (limit {burst})\n")
    w(f"  429s served by the fake: {result.rate_limited}\n")
    w(f"  recordings still running on the fake: {result.still_running}\n")

    w("\nFiles per recording\n")
    w(f"  {'#':>3}  {'mode':<11}{'channel':<20}{'hold':>6}  {'state':<9}{'files':>6}  first file\n")
    for o in result.outcomes:
        first = o.first_file or "-"
        w(f"  {o.index:>3}  {o.mode:<11}{o.cname:<20}{o.hold:>5.1f}s  {o.state:<9}{o.files:>6}  {first}\n")
        if o.error is not None:
            w(f"       error: {o.error}\n")

    if result.ok:
        w(
            f"\nOK: {len(result.outcomes)} recordings started and stopped, {result.requests} requests, "
            f"0 429s, nothing left running.\n"
        )
    else:
        w("\nFAILED:\n" + "".join(f"  - {p}\n" for p in result.problems))
    out.flush()


def _check_args(recordings: int, rate: float, hold: tuple[float, float]) -> None:
    if isinstance(recordings, bool) or not isinstance(recordings, int) or recordings < 1:
        raise ValueError(f"recordings must be a positive integer, got {recordings!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 1 <= rate <= 1000:
        raise ValueError(f"rate must be a number from 1 to 1000, got {rate!r}")
    low, high = hold
    if not 0 <= low <= high:
        raise ValueError(f"hold must be (low, high) with 0 <= low <= high, got {hold!r}")


async def run_demo(
    *,
    recordings: int = 20,
    rate: float = 10.0,
    hold: tuple[float, float] = (8.0, 15.0),
    timings: FakeTimings | None = None,
    out: TextIO | None = None,
    live: bool | None = None,
    seed: int = 0,
    first_query: float | None = None,
    time_limit: float = 300.0,
) -> DemoResult:
    """Run the demo and print its progress and summary to ``out``; return the numbers.

    ``recordings`` recordings run at once, the modes in turn (mix, individual, web), each held ``hold`` seconds
    (uniformly drawn with ``seed``) once it is confirmed. The client's limiter allows ``rate`` requests per second;
    the fake admits ``int(rate)`` in any one-second window (10 by default, Agora's quota). ``timings`` sets how fast
    the fake's recordings progress (default :class:`FakeTimings`: ready after 3 s, first file after 5 s).

    ``out`` defaults to ``sys.stdout`` as it is at call time. ``live``: redraw the status in place (``True``),
    print a compact line every two seconds (``False``), or decide by ``out.isatty()`` (``None``).
    ``first_query``: seconds after start of the first status query (default Agora's advice of 5 s, or
    ``timings.first_file_after`` when that is shorter; later queries back off in proportion). ``time_limit`` bounds
    the whole run: when it passes, the recordings are cancelled (each still stops) and the result is not ``ok``.

    Raises :class:`ValueError` for an invalid argument.
    """
    _check_args(recordings, rate, hold)
    out = out if out is not None else sys.stdout  # looked up per call, so redirection and capture work
    timings = timings if timings is not None else FakeTimings()
    if first_query is None:
        first_query = min(AGORA_FIRST_QUERY, timings.first_file_after)
    scale = first_query / AGORA_FIRST_QUERY
    delays = tuple(max(0.05, d * scale) for d in (5.0, 10.0, 15.0))
    if live is None:
        isatty = getattr(out, "isatty", None)
        live = bool(isatty()) if callable(isatty) else False

    rng = random.Random(seed)
    fake = FakeAgoraServer(rate_limit=int(rate), rate_window=1.0, timings=timings, seed=seed)
    # The fake shares this process, its event loop and the machine's CPU with the client: on a loaded machine a
    # request can reach it tens of milliseconds after its permit, closer to the next window's than the default 25 ms
    # margin allows. 100 ms absorbs that (9.1/s instead of 9.76/s); over a real network, keep the default or measure.
    limiter = TokenBucket(rate, 1.0, margin=DEMO_MARGIN)
    counts = {m: sum(1 for i in range(recordings) if MODES[i % len(MODES)] == m) for m in MODES}
    async with fake.serve() as base_url:
        out.write(
            f"agora-recording demo: {recordings} recordings ("
            + ", ".join(f"{m} {n}" for m, n in counts.items() if n)
            + f") against FakeAgoraServer at {base_url}\n"
            f"  client limiter {limiter!r}; the fake admits at most {fake.rate_limit} requests "
            f"in any {fake.rate_window:g} s window\n"
            f"  each recording: acquire, start, confirm (first query after {first_query:g} s), "
            f"hold {hold[0]:g}-{hold[1]:g} s, query, stop\n\n"
        )
        out.flush()
        async with CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, base_url=base_url, rate_limiter=limiter
        ) as client:
            runs: list[_Run] = []
            for i in range(recordings):
                mode = MODES[i % len(MODES)]
                session = client.session(
                    cname=f"demo-{mode}-{i + 1:02d}",
                    uid=str(100_001 + i),
                    mode=mode,
                    client_request=client_request_for(mode),
                )
                runs.append(_Run(index=i + 1, mode=mode, hold=round(rng.uniform(*hold), 1), session=session))
            display = _Display(out, live=live, runs=runs, fake=fake, limiter=limiter)
            started = time.monotonic()
            display.restart()
            async with anyio.create_task_group() as tg:
                tg.start_soon(display.run)
                with anyio.move_on_after(time_limit):
                    async with anyio.create_task_group() as workers:
                        for run in runs:
                            workers.start_soon(_record, run, first_query, delays)
                tg.cancel_scope.cancel()
            elapsed = time.monotonic() - started
            display.refresh()
        stats = fake.stats
        still_running = len(fake.running_recordings())
        busiest = busiest_window([r.at for r in fake.requests if r.status != 429], fake.rate_window)
    limiter_stats = limiter.stats
    outcomes = tuple(_outcome(run) for run in runs)
    result = DemoResult(
        recordings=recordings,
        rate=float(rate),
        outcomes=outcomes,
        requests=stats.requests,
        requests_by_endpoint=dict(stats.by_endpoint),
        rate_limited=stats.rate_limited,
        limiter_waits=limiter_stats.waits,
        limiter_wait_time=limiter_stats.wait_time,
        elapsed=elapsed,
        minimum=minimum_time(stats.requests, rate),
        busiest_window=busiest,
        still_running=still_running,
        problems=_problems(outcomes, stats.rate_limited, still_running),
    )
    _summary(result, out)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agora-recording demo",
        description=(
            "Run many recordings at once in all three modes against a local FakeAgoraServer (127.0.0.1), "
            "through the library, at Agora's rate limit. No credentials needed."
        ),
    )
    parser.add_argument("--recordings", type=int, default=20, help="recordings to run at once (default 20)")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second allowed (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the hold times and the fake (default 0)")
    parser.add_argument("--no-live", action="store_true", help="print a progress line every 2 s, no redrawing")
    parser.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)  # tests: sub-second recordings
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``agora-recording demo``: 0 when every recording stopped, no 429 and nothing left running."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_args(args.recordings, args.rate, FAST_HOLD)
    except ValueError as exc:
        parser.error(str(exc))

    async def demo() -> DemoResult:
        return await run_demo(
            recordings=args.recordings,
            rate=args.rate,
            seed=args.seed,
            live=False if args.no_live else None,
            hold=FAST_HOLD if args.fast else (8.0, 15.0),
            timings=FAST_TIMINGS if args.fast else None,
            out=sys.stdout,
        )

    try:
        result = anyio.run(demo)
    except KeyboardInterrupt:
        print("agora-recording demo: interrupted", file=sys.stderr)
        return 130
    if not result.ok:
        print("agora-recording demo failed: " + "; ".join(result.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
