"""The fake's own admin paths, beside Agora's API: ``GET /_fake/stats`` answers :class:`FakeStats` as JSON.

Admin requests are not Agora requests: they need no ``Authorization`` header (they show counters only, never a
credential, a body or an id), are not counted in the stats, not logged in the request log, not rate limited
and never hit by injected faults. Another method on an admin path answers 405; an unknown admin path 404.

Example (with ``agora-recording fake-server --port 8080`` running)::

    $ curl -s http://127.0.0.1:8080/_fake/stats
    {"requests":4,"by_endpoint":{"acquire":1,"start":1,"query":1,"stop":1},"by_status":{"200":4},...}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from agora_recording.testing._stats import FakeStats
from agora_recording.testing._wire import JSON_CONTENT_TYPE, FakeResponse, dump

__all__ = ["ADMIN_PREFIX", "STATS_PATH", "admin_answer"]

ADMIN_PREFIX = "/_fake/"
"""Every path under this prefix belongs to the fake, not to Agora's API."""
STATS_PATH = "/_fake/stats"
"""``GET`` here answers the fake's counters (:class:`FakeStats`) as JSON."""


def admin_answer(method: str, path: str, stats: Callable[[], FakeStats]) -> FakeResponse | None:
    """The answer to an admin request, or ``None`` if ``path`` is not an admin path (then it is Agora's)."""
    cut = path.find("?")
    if cut >= 0:
        path = path[:cut]
    if not path.startswith(ADMIN_PREFIX):
        return None
    headers = [("content-type", JSON_CONTENT_TYPE), ("cache-control", "no-store")]
    if path != STATS_PATH:
        return FakeResponse(404, headers, dump({"message": f"no admin path {path!r}; try {STATS_PATH}"}))
    if method != "GET":
        return FakeResponse(405, [*headers, ("allow", "GET")], dump({"message": "Method Not Allowed"}))
    return FakeResponse(200, headers, dump(dataclasses.asdict(stats())))
