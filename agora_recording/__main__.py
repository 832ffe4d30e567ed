"""``python -m agora_recording``: the ``agora-recording`` command (see :mod:`agora_recording.cli`)."""

from __future__ import annotations

from agora_recording.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
