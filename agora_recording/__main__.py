"""The ``agora-recording`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agora-recording`` command."""
    print("agora-recording: no command yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
