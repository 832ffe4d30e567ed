"""``agora-recording fake-server``: run a :class:`FakeAgoraServer` over HTTP until Ctrl-C, SIGINT or SIGTERM.

The command's core lives here, beside the fake, so that :func:`run_fake_server_cli` stays public in
:mod:`agora_recording.testing`; the ``agora-recording`` command (:mod:`agora_recording.cli`) calls it, and nothing
here imports the cli.

Example::

    $ agora-recording fake-server --port 8080
    FakeAgoraServer listening on http://127.0.0.1:8080
    ...
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack
from typing import TextIO

import anyio

from agora_recording.testing._fake import (
    DEFAULT_APP_ID,
    DEFAULT_CUSTOMER_ID,
    DEFAULT_CUSTOMER_SECRET,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_WINDOW,
    FakeAgoraServer,
)

__all__ = ["build_parser", "run_fake_server_cli"]


def build_parser(prog: str = "agora-recording fake-server") -> argparse.ArgumentParser:
    """The argument parser of the ``fake-server`` command (for embedding in a larger CLI)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Serve a fake Agora Cloud Recording REST API over plain HTTP (for tests and demos; not Agora). "
            "Stop it with Ctrl-C."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port, 0 for any free one (default: %(default)s)")
    parser.add_argument(
        "--app-id",
        action="append",
        dest="app_ids",
        metavar="APP_ID",
        help=f"an App ID the fake accepts; repeat for several (default: {DEFAULT_APP_ID})",
    )
    parser.add_argument("--customer-id", default=DEFAULT_CUSTOMER_ID, help="Basic-auth Customer ID")
    parser.add_argument("--customer-secret", default=DEFAULT_CUSTOMER_SECRET, help="Basic-auth Customer Secret")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT,
        help="requests per window per account; 0 switches the limit off (default: %(default)s)",
    )
    parser.add_argument(
        "--rate-window",
        type=float,
        default=DEFAULT_RATE_WINDOW,
        help="rate-limit window in seconds (default: %(default)s)",
    )
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After with rate-limit 429s")
    parser.add_argument("--seed", type=int, default=0, help="seed for sids, nonces and request ids")
    return parser


def run_fake_server_cli(argv: list[str], *, stdout: TextIO | None = None) -> int:
    """Run the ``fake-server`` command with ``argv`` (without the program and command names).

    Prints the base URL and the fake's own credentials, then serves until interrupted: Ctrl-C, SIGINT (also when
    started in the background, where SIGINT arrives ignored) or SIGTERM. Returns the exit status: 0 after an
    interrupt, 2 for bad arguments, 1 if the port cannot be bound.
    """
    out = stdout if stdout is not None else sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on errors; report the status instead
        return exc.code if isinstance(exc.code, int) else 2
    app_ids: list[str] = args.app_ids or [DEFAULT_APP_ID]
    try:
        fake = FakeAgoraServer(
            app_id=app_ids[0],
            app_ids=app_ids[1:],
            customer_id=args.customer_id,
            customer_secret=args.customer_secret,
            rate_limit=args.rate_limit or None,
            rate_window=args.rate_window,
            retry_after=args.retry_after,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"agora-recording fake-server: error: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with AsyncExitStack() as stack:
            signals = _stop_signals(stack)  # before the banner: a signal sent right after it must not be lost
            base_url = await stack.enter_async_context(fake.serve(host=args.host, port=args.port))
            limit = "off" if fake.rate_limit is None else f"{fake.rate_limit} per {fake.rate_window:g} s"
            print(f"FakeAgoraServer listening on {base_url}  (a fake, not Agora)", file=out)
            print(f"  App ID(s):       {', '.join(fake.app_ids)}", file=out)
            print(f"  Customer ID:     {fake.customer_id}", file=out)
            print(f"  Customer Secret: {fake.customer_secret}", file=out)
            print(f"  Authorization:   {fake.authorization}", file=out)
            print(f"  Rate limit:      {limit}", file=out)
            print("Press Ctrl-C to stop.", file=out, flush=True)
            if signals is None:
                await anyio.sleep_forever()
            else:
                async for _ in signals:
                    break

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        print("stopped", file=out, flush=True)
        return 0
    except OSError as exc:
        print(f"agora-recording fake-server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print("stopped", file=out, flush=True)
    return 0


def _stop_signals(stack: ExitStack | AsyncExitStack) -> AsyncIterator[int] | None:
    """SIGINT and SIGTERM as an async iterator (open until ``stack`` closes), or ``None`` where none can be had.

    A process started in the background by a non-interactive shell inherits SIGINT as *ignored*, and Python then
    leaves it ignored: ``kill -INT`` did nothing, and SIGTERM killed the process without the "stopped" line. A
    signal receiver replaces both handlers while the server runs, so either signal ends it cleanly. Where there are
    no signal receivers (Windows, or not the main thread) Ctrl-C's :class:`KeyboardInterrupt` still ends it.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return stack.enter_context(anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM))
    except NotImplementedError:  # pragma: no cover - no signal receivers on this platform
        return None
