"""The injectable clock: a zero-argument callable returning monotonic seconds.

Everything time-dependent in the library (the resourceId expiry guard, backoff bookkeeping, the rate limiter)
reads time through a :data:`Clock`, so tests can move time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""A zero-argument callable returning monotonic seconds (like :func:`time.monotonic`)."""

DEFAULT_CLOCK: Clock = time.monotonic
