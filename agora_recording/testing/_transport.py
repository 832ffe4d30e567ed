"""The in-process transport: an :class:`httpx.AsyncBaseTransport` that answers from a ``FakeAgoraServer``.

No sockets, no threads: each request goes straight to the fake (any
:class:`~agora_recording.testing._wire.FakeHandler`). Injected network faults become the exceptions httpx
itself raises for them, so a client under test meets the same types as on a real network:
``timeout`` -> :class:`httpx.ReadTimeout`, ``disconnect`` -> :class:`httpx.RemoteProtocolError`,
``connect_error`` -> :class:`httpx.ConnectError`.
"""

from __future__ import annotations

import httpx

from agora_recording.testing._faults import InjectedNetworkFault
from agora_recording.testing._wire import FakeHandler

__all__ = ["FakeTransport"]


class FakeTransport(httpx.AsyncBaseTransport):
    """Answer httpx requests from a :class:`FakeAgoraServer`, in-process.

    Get one with :meth:`FakeAgoraServer.transport`::

        async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
            r = await http.get(...)

    The host in the URL is ignored (every Agora domain reaches the same fake), so domain failover can be tested
    too. Closing the transport does nothing to the fake.
    """

    def __init__(self, fake: FakeHandler) -> None:
        self._fake = fake

    def __repr__(self) -> str:
        return f"FakeTransport({self._fake!r})"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the fake and wrap its answer in an :class:`httpx.Response`.

        Raises:
            httpx.ReadTimeout: for an injected ``timeout`` fault (after its ``delay``, if any).
            httpx.RemoteProtocolError: for an injected ``disconnect`` fault.
            httpx.ConnectError: for an injected ``connect_error`` fault.
        """
        body = await request.aread()
        path = request.url.raw_path.decode("ascii")
        try:
            pending = await self._fake.respond(request.method, path, request.headers, body)
        except InjectedNetworkFault as fault:
            if fault.kind == "timeout":
                if fault.hold:
                    await self._fake.sleep(fault.hold)
                raise httpx.ReadTimeout("injected timeout: no response from the fake", request=request) from None
            if fault.kind == "connect_error":
                raise httpx.ConnectError("injected connect error: the fake refused", request=request) from None
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        status, headers, content = pending.response
        pending.delivered()  # returned to the caller: the client has the answer
        return httpx.Response(status, headers=headers, content=content, request=request)
