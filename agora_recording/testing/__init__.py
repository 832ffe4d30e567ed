"""Test helpers: :class:`FakeAgoraServer`, a faithful, stateful fake of Agora Cloud Recording.

Use it in-process (no sockets)::

    from agora_recording.testing import FakeAgoraServer

    fake = FakeAgoraServer()
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http: ...

or over TCP on 127.0.0.1::

    async with fake.serve() as base_url: ...

The rules the fake enforces, with Agora's documented bodies, are listed in
:mod:`agora_recording.testing._rules`; fault injection is described in :mod:`agora_recording.testing._faults`.
Its counters are served at ``GET /_fake/stats`` (:mod:`agora_recording.testing._admin`).

NCS notifications: ``fake.notify(url, secret=..., transport=httpx.ASGITransport(app=receiver))`` makes the fake
send signed productId 3 events (start, uploads, stop, exits, failovers) to your receiver, with injectable
duplicates, reordering, delays and failed deliveries that it resends as NCS does; deliver them with
``await fake.deliver_pending()`` (deterministic) or in the background inside ``fake.serve()`` /
``async with fake.delivering():``, and assert on ``fake.notifications_sent()``. The events and rules are listed in
:mod:`agora_recording.testing._notify`.
"""

from agora_recording.testing._cli import run_fake_server_cli
from agora_recording.testing._clock import VirtualClock
from agora_recording.testing._fake import (
    DEFAULT_APP_ID,
    DEFAULT_CUSTOMER_ID,
    DEFAULT_CUSTOMER_SECRET,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_WINDOW,
    FakeAgoraServer,
    FakeResponse,
    FakeStats,
    FakeTimings,
    RecordingInfo,
    RequestRecord,
)
from agora_recording.testing._faults import (
    ENDPOINTS,
    FAULT_KINDS,
    Fault,
    FaultKind,
    FaultWhen,
    InjectedNetworkFault,
    RandomFaults,
)
from agora_recording.testing._ncs import NotifyFault, SentNotification
from agora_recording.testing._notify import FakeNotifier
from agora_recording.testing._transport import FakeTransport

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_CUSTOMER_ID",
    "DEFAULT_CUSTOMER_SECRET",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RATE_WINDOW",
    "ENDPOINTS",
    "FAULT_KINDS",
    "FakeAgoraServer",
    "FakeNotifier",
    "FakeResponse",
    "FakeStats",
    "FakeTimings",
    "FakeTransport",
    "Fault",
    "FaultKind",
    "FaultWhen",
    "InjectedNetworkFault",
    "NotifyFault",
    "RandomFaults",
    "RecordingInfo",
    "RequestRecord",
    "SentNotification",
    "VirtualClock",
    "run_fake_server_cli",
]
