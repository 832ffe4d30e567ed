"""The commands an operator watches: ``record`` (a whole recording, stopped on Ctrl-C) and ``watch``.

``record`` runs one :class:`~agora_recording.RecordingSession`: acquire and start, verify (Agora's advice: query
until status 4 or 5), show the status until ``--duration`` passes or Ctrl-C (SIGINT) or SIGTERM arrives, then stop
and show the uploads. The first signal always leads to the stop; later ones only say that it is under way (the
stop is bounded by the session's stop deadline). With ``--json`` every answer is one JSON Lines event on stdout:
``{"event": "acquire" | "start" | "query" | "stop", "response": <Agora's wire JSON>}``.

``watch`` queries a running recording every ``--interval`` seconds until it ends: a status past 5 (exiting), or a
"failed to find worker" 404 that lasts ``--gone-after`` seconds (Agora's failover can answer 404 for a while).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

import anyio

from agora_recording import (
    AgoraError,
    APIConnectionError,
    IncompleteRequestError,
    Mode,
    NotFoundError,
    QueryResponse,
    RateLimitError,
    RecordingFailedError,
    RecordingSession,
    RecordingStatus,
    ResponseFormatError,
    ServerError,
    SessionState,
)
from agora_recording.cli._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, PROG, error_line, exit_code_for
from agora_recording.cli._config import load_start_request
from agora_recording.cli._ops import add_ids, add_recorder, print_stop, waiting
from agora_recording.cli._spec import Command, Context, describe_files, describe_status

__all__ = ["COMMANDS"]

_TRANSIENT = (ServerError, IncompleteRequestError, RateLimitError, APIConnectionError, ResponseFormatError)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _status_line(response: QueryResponse, elapsed: float, suffix: str = "") -> tuple[str, object]:
    files = response.files
    status = describe_status(response.status)
    text = f"status {status}, {len(files)} file(s), {elapsed:.0f} s{suffix}"
    return text, (status, len(files))


async def _watch_signals(on_signal: Callable[[int], None]) -> None:
    """Call ``on_signal`` for each SIGINT/SIGTERM until cancelled (also when SIGINT was ignored at startup)."""
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                on_signal(signum)
    except NotImplementedError:  # pragma: no cover - no signal receivers on this platform: KeyboardInterrupt
        await anyio.sleep_forever()


# -- record ----------------------------------------------------------------------------------------------------------


def _record_args(parser: argparse.ArgumentParser) -> None:
    add_recorder(parser)
    parser.add_argument("--mode", required=True, choices=("individual", "mix", "web"), help="the recording mode")
    parser.add_argument("--config", required=True, metavar="FILE", help="the clientRequest as Agora's JSON (- stdin)")
    parser.add_argument(
        "--duration", type=_positive, metavar="SECONDS", help="stop after this long recording (default: at Ctrl-C)"
    )
    parser.add_argument(
        "--interval", type=_positive, default=5.0, metavar="SECONDS", help="seconds between queries (%(default)s)"
    )
    parser.add_argument(
        "--first-query",
        type=_non_negative,
        default=5.0,
        metavar="SECONDS",
        help="verification: first query this long after start (Agora's advice: %(default)s)",
    )
    parser.add_argument(
        "--verify-timeout",
        type=_positive,
        default=90.0,
        metavar="SECONDS",
        help="verification: give up (and stop) when not recording after this long (%(default)s)",
    )
    _gone_after_arg(parser)


class _Liveness:
    """Reads query answers for the end of a recording: a status past 5, or a worker 404 lasting ``gone_after`` s."""

    def __init__(self, gone_after: float) -> None:
        self._gone_after = gone_after
        self._not_found_since: float | None = None

    def not_found(self, exc: NotFoundError, now: float) -> bool:
        """A 404 at ``now``: True when the recording has been gone long enough; a gateway 404 is raised."""
        if not exc.worker_not_found:
            raise exc
        if self._not_found_since is None:
            self._not_found_since = now
        return now - self._not_found_since >= self._gone_after

    def answered(self, response: QueryResponse) -> RecordingStatus | int | None:
        """An answer: the status when it says the recording has ended (past 5, or 20), else ``None``."""
        self._not_found_since = None
        status = response.status
        return status if isinstance(status, int) and status > RecordingStatus.IN_PROGRESS else None


def _gone_after_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gone-after",
        type=_non_negative,
        default=30.0,
        metavar="SECONDS",
        help="a 'failed to find worker' 404 lasting this long means it ended (Agora: re-query 5/10/15 s first)",
    )


async def _hold(ctx: Context, rec: RecordingSession, resource_id: str, sid: str) -> None:
    """Show the status every ``--interval`` seconds until cancelled; raise RecordingFailedError if it ends."""
    args, progress = ctx.args, ctx.progress
    progress.restart()
    hint = "" if args.duration else " [Ctrl-C stops]"
    liveness = _Liveness(args.gone_after)
    while True:
        try:
            response = await ctx.client.query(resource_id=resource_id, sid=sid, mode=rec.mode, retries=0)
        except NotFoundError as exc:
            if liveness.not_found(exc, progress.elapsed()):
                raise RecordingFailedError(
                    f"the recording ended on its own: query answered 404 'failed to find worker' for "
                    f"{args.gone_after:g} s"
                ) from None
            progress.update(f"recording: not found (ended, or Agora is failing over), querying again{hint}", key=404)
        except _TRANSIENT as exc:
            progress.update(f"recording: query failed ({type(exc).__name__}), retrying{hint}", key=type(exc))
        else:
            ctx.emit("query", event=True)
            text, key = _status_line(response, progress.elapsed(), hint)
            progress.update("recording: " + text, key=key)
            ended = liveness.answered(response)
            if ended == RecordingStatus.EXITED_ABNORMALLY:
                raise RecordingFailedError("the recording exited abnormally (status 20)", status=20)
            if ended is not None:
                raise RecordingFailedError(
                    f"the recording ended on its own (status {describe_status(ended)})", status=int(ended)
                )
        await anyio.sleep(args.interval)


async def _record(ctx: Context) -> int:
    args, progress = ctx.args, ctx.progress
    rec = ctx.client.session(cname=args.cname, uid=args.uid, mode=args.mode, client_request=ctx.prepared)
    signals: list[int] = []
    run_scope = anyio.CancelScope()
    failure: list[Exception] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if len(signals) == 1:
            progress.note(f"{PROG}: {signal.Signals(signum).name}: stopping the recording...")
            run_scope.cancel()
        else:
            progress.note(f"{PROG}: still stopping the recording (it is bounded by its stop deadline); please wait")

    async def phases() -> None:
        try:
            await waiting(progress, "acquire and start", rec.start)
        finally:
            ctx.emit("acquire", event=True)
            ctx.emit("start", event=True)
        resource_id, sid = rec.resource_id or "", rec.sid or ""
        ctx.say(f"started: resourceId {resource_id} sid {sid}")

        async def verify() -> QueryResponse:
            return await rec.wait_until_recording(args.verify_timeout, first_delay=args.first_query)

        verified = await waiting(progress, "verifying (waiting for status 4 or 5)", verify)
        ctx.emit("query", event=True)
        ctx.say(f"recording: status {describe_status(verified.status)}")
        with anyio.move_on_after(args.duration if args.duration else float("inf")):
            await _hold(ctx, rec, resource_id, sid)

    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, on_signal)
        try:
            with run_scope:
                try:
                    await phases()
                except AgoraError as exc:  # shown below, after the stop
                    failure.append(exc)
        finally:  # whatever happened, a recording that may run is stopped
            if rec.state in (SessionState.RECORDING, SessionState.STOPPING):
                with anyio.CancelScope(shield=True):
                    try:
                        await waiting(progress, "stopping (waiting for the uploads)", rec.stop)
                    except AgoraError as exc:
                        failure.append(exc)
                        progress.note(
                            f"{PROG}: the recording may still be running: resourceId {rec.resource_id} "
                            f"sid {rec.sid} mode {rec.mode.value}; stop it with '{PROG} stop'"
                        )
            tg.cancel_scope.cancel()
    progress.clear()
    if rec.stop_response is not None:
        ctx.emit("stop", event=True)
        print_stop(ctx, rec.stop_response)
    elif rec.stop_error is not None:
        failure.append(rec.stop_error)
    for error in failure:
        print(error_line(error), file=sys.stderr)
    if failure:
        return max(exit_code_for(error) for error in failure)
    return EXIT_OK


# -- watch -----------------------------------------------------------------------------------------------------------


def _watch_args(parser: argparse.ArgumentParser) -> None:
    add_ids(parser)
    parser.add_argument(
        "--interval", type=_positive, default=5.0, metavar="SECONDS", help="seconds between queries (%(default)s)"
    )
    _gone_after_arg(parser)


async def _watch(ctx: Context) -> int:
    args, progress = ctx.args, ctx.progress
    mode = Mode(args.mode)
    progress.restart()
    liveness = _Liveness(args.gone_after)
    while True:
        try:
            response = await ctx.client.query(resource_id=args.resource_id, sid=args.sid, mode=mode, retries=0)
        except NotFoundError as exc:
            if liveness.not_found(exc, progress.elapsed()):
                ctx.say("ended: query answers 404 'failed to find worker' (the recording has stopped or exited)")
                return EXIT_OK
            progress.update("not found (ended, or Agora is failing over): querying again", key=404)
        except _TRANSIENT as exc:
            progress.update(f"query failed ({type(exc).__name__}), retrying", key=type(exc))
        else:
            ctx.emit("query", event=True)
            text, key = _status_line(response, progress.elapsed())
            progress.update(text, key=key)
            ended = liveness.answered(response)
            if ended == RecordingStatus.EXITED_ABNORMALLY:
                progress.clear()
                print(f"{PROG}: query: the recording exited abnormally (status 20)", file=sys.stderr)
                return EXIT_FAILED
            if ended is not None:
                ctx.say(f"ended: status {describe_status(ended)}")
                for line in describe_files(response.files):
                    ctx.say(line)
                return EXIT_OK
        await anyio.sleep(args.interval)


async def _watch_until_signal(ctx: Context) -> int:
    """``watch``, ended early (exit 130, the recording goes on) by Ctrl-C or SIGTERM."""
    code: list[int] = []
    async with anyio.create_task_group() as tg:

        def on_signal(signum: int) -> None:
            ctx.progress.clear()
            print(f"{PROG}: stopped watching; the recording goes on", file=sys.stderr)
            code.append(EXIT_INTERRUPTED)
            tg.cancel_scope.cancel()

        async def main() -> None:
            try:
                code.append(await _watch(ctx))
            except AgoraError as exc:
                ctx.progress.clear()
                print(error_line(exc), file=sys.stderr)
                code.append(exit_code_for(exc))
            tg.cancel_scope.cancel()

        tg.start_soon(_watch_signals, on_signal)
        tg.start_soon(main)
    return code[0]


COMMANDS = (
    Command(
        name="record",
        help="acquire, start, verify, show the status until Ctrl-C or --duration, then stop",
        add_arguments=_record_args,
        run=_record,
        prepare=lambda args: load_start_request(args.config, Mode(args.mode)),
    ),
    Command(
        name="watch",
        help="show a recording's status, files and uploads until it ends",
        add_arguments=_watch_args,
        run=_watch_until_signal,
        progress_on_stdout=True,
    ),
)
"""The commands that run until something ends."""
