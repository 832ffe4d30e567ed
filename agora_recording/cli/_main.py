"""The ``agora-recording`` command: the dispatch from the command name to its module."""

from __future__ import annotations

import sys

USAGE = """usage: agora-recording COMMAND [options]

commands:
  demo         run about 20 recordings against the built-in fake Agora server on 127.0.0.1
  fake-server  serve the fake Agora Cloud Recording API on 127.0.0.1 until Ctrl-C

Run 'agora-recording COMMAND --help' for a command's options.
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agora-recording`` command."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        from agora_recording.cli._demo import main as demo_main

        return demo_main(rest)
    if command == "fake-server":
        from agora_recording.testing import run_fake_server_cli

        return run_fake_server_cli(rest)
    print(f"agora-recording: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2
