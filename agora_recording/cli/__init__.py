"""The ``agora-recording`` command line: ``demo``, ``fake-server`` and the operator commands.

Run it as ``agora-recording COMMAND ...`` or ``python -m agora_recording COMMAND ...``. Nothing in
``import agora_recording`` loads this package; it depends on the library and on :mod:`agora_recording.testing`
(for ``demo`` and ``fake-server``), never the other way round.
"""

from agora_recording.cli._main import main

__all__ = ["main"]
