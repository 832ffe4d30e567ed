"""Test helpers: :class:`FakeAgoraServer`, a faithful, stateful fake of Agora Cloud Recording.

Use it in-process (no sockets)::

    from agora_recording.testing import FakeAgoraServer

    fake = FakeAgoraServer()
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http: ...

or over TCP on 127.0.0.1::

    async with fake.serve() as base_url: ...

The rules the fake enforces, with Agora's documented bodies, are listed in
:mod:`agora_recording.testing._rules`; fault injection is described in :mod:`agora_recording.testing._faults`.
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
    "FakeResponse",
    "FakeStats",
    "FakeTimings",
    "FakeTransport",
    "Fault",
    "FaultKind",
    "FaultWhen",
    "InjectedNetworkFault",
    "RandomFaults",
    "RecordingInfo",
    "RequestRecord",
    "VirtualClock",
    "run_fake_server_cli",
]
