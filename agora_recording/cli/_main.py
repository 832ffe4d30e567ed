"""The ``agora-recording`` command: the parser, the command table and the exit codes.

The table is a tuple of :class:`~agora_recording.cli._spec.Command` entries (name, help, arguments, an offline
``prepare`` step, the ``run`` coroutine); a new command group (``sessions``, ``webhook``) is one more module with
its own entries added to :data:`COMMANDS`. ``demo`` and ``fake-server`` keep their own parsers and are handed their
arguments as they are.

Exit codes: 0 ok; 1 Agora said no or the request failed; 2 usage or configuration (a bad flag, a missing
environment variable, an invalid ``--config`` file: nothing is sent); 130 interrupted (Ctrl-C). ``record`` stops the
recording on Ctrl-C and then exits 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from agora_recording import AgoraError, __version__
from agora_recording.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Progress,
    UsageError,
    add_connection_options,
    error_line,
    exit_code_for,
    logging_to,
    open_client,
    target_from,
)
from agora_recording.cli._live import COMMANDS as LIVE_COMMANDS
from agora_recording.cli._ops import COMMANDS as OPS_COMMANDS
from agora_recording.cli._spec import Command, Context

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[Command, ...] = (*OPS_COMMANDS, *LIVE_COMMANDS)
"""The operator commands (they call Agora with credentials from the environment)."""


def _demo(argv: list[str]) -> int:
    from agora_recording.cli._demo import main as demo_main

    return demo_main(argv)


def _sessions(argv: list[str]) -> int:
    from agora_recording.cli._sessions import main as sessions_main

    return sessions_main(argv)


def _fake_server(argv: list[str]) -> int:
    from agora_recording.testing import run_fake_server_cli

    return run_fake_server_cli(argv)


def _webhook(argv: list[str]) -> int:
    from agora_recording.cli._webhook import main as webhook_main

    return webhook_main(argv)


DELEGATED: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "demo": ("run about 20 recordings against the built-in fake Agora server on 127.0.0.1", _demo),
    "fake-server": ("serve the fake Agora Cloud Recording API on 127.0.0.1 until Ctrl-C", _fake_server),
    "webhook": ("NCS notifications: 'verify' a saved body's signature, 'send-test' a signed sample", _webhook),
    "sessions": ("the session store in Redis: 'sessions list', 'sessions recover' (crashed workers)", _sessions),
}
"""Commands with parsers of their own: they get their arguments unparsed."""

_EPILOG = """\
credentials: AGORA_APP_ID, AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET (required by the commands that call Agora),
AGORA_BASE_URL (optional: one host instead of Agora's domains, e.g. a proxy or 'agora-recording fake-server').
exit codes: 0 ok, 1 Agora said no or the request failed, 2 usage or configuration, 130 interrupted.
Run 'agora-recording COMMAND --help' for a command's options."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command of :data:`COMMANDS` (and help-only entries for the
    commands in :data:`DELEGATED`)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Agora Cloud Recording from the command line, and a demo against a local fake.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (help_text, _) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(child)
        add_connection_options(child)
    return parser


def _run(command: Command, args: argparse.Namespace) -> int:
    prepared: Any = command.prepare(args) if command.prepare is not None else None
    target = target_from(args)
    stream = sys.stdout if command.progress_on_stdout and not args.json else sys.stderr
    progress = Progress(stream, live=False if args.no_live else None)

    async def go() -> int:
        async with logging_to(progress, verbose=args.verbose), open_client(target, timeout=args.timeout) as opened:
            client, capture = opened
            ctx = Context(args=args, client=client, capture=capture, progress=progress, prepared=prepared)
            try:
                return await command.run(ctx)
            finally:
                progress.clear()

    return anyio.run(go)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agora-recording`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in DELEGATED:
        return DELEGATED[args_list[0]][1](args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    command = next(c for c in COMMANDS if c.name == args.command)
    try:
        return _run(command, args)
    except (UsageError, AgoraError) as exc:
        print(error_line(exc), file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK  # pragma: no cover - every path above returns
