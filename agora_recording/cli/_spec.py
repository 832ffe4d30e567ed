"""The command table's entry type, and what a running operator command is handed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import attrs

from agora_recording import CloudRecordingClient, RecordedFile, RecordingStatus
from agora_recording.cli._common import Progress, WireCapture, print_json

__all__ = ["Command", "Context", "describe_files", "describe_status"]


@attrs.define(kw_only=True)
class Context:
    """What a command's ``run`` gets: the client, the wire capture, the progress line and the output choice."""

    args: argparse.Namespace
    client: CloudRecordingClient
    capture: WireCapture
    progress: Progress
    prepared: Any = None
    out: TextIO = attrs.field(factory=lambda: sys.stdout)

    @property
    def json(self) -> bool:
        """``--json``: print wire JSON on stdout instead of the readable text."""
        return bool(self.args.json)

    def emit(self, endpoint: str, *, event: bool = False) -> None:
        """With ``--json``: print the last wire answer of ``endpoint`` (``event``: as a JSON Lines event)."""
        if not self.json:
            return
        body = self.capture.take(endpoint)
        if event and body is None:  # nothing (readable) was answered: no event
            return
        print_json({"event": endpoint, "response": body} if event else body, self.out)

    def say(self, text: str) -> None:
        """A readable result line on stdout (nothing with ``--json``)."""
        if not self.json:
            self.progress.clear()
            self.out.write(text + "\n")
            self.out.flush()


@attrs.frozen(kw_only=True)
class Command:
    """One entry of the command table.

    ``prepare`` does the offline work (reading and checking ``--config`` files) before credentials are needed or
    anything is sent; its result is :attr:`Context.prepared`. ``run`` does the calls and returns the exit status.
    ``progress_on_stdout``: the status line is the command's readable output (``watch``), so it goes to stdout
    (stderr with ``--json``, whose stdout is only JSON). Errors always go to stderr.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context], Awaitable[int]]
    prepare: Callable[[argparse.Namespace], Any] | None = None
    progress_on_stdout: bool = False


def describe_status(status: RecordingStatus | int | None) -> str:
    """``5 (in progress)``; an unknown value as itself."""
    if status is None:
        return "unknown"
    if isinstance(status, RecordingStatus):
        return f"{int(status)} ({status.name.lower().replace('_', ' ')})"
    return str(status)


def describe_files(files: tuple[RecordedFile, ...], *, limit: int = 20) -> list[str]:
    """Readable lines for a file list (the first ``limit`` files)."""
    lines = [f"  {f.filename}" + (f"  (uid {f.uid})" if f.uid else "") for f in files[:limit]]
    if len(files) > limit:
        lines.append(f"  ... and {len(files) - limit} more")
    return lines
