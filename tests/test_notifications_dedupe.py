"""Several receivers behind a load balancer dedupe together through one real redis-server (RedisDedupeStore)."""

from __future__ import annotations

import itertools

import anyio
import httpx
import pytest
from _redis_server import RedisServer

from agora_recording.redis import RedisDedupeStore
from agora_recording.testing._clock import VirtualClock
from agora_recording.webhooks import NotificationEvent, WebhookReceiver, sample_event, sign
from tests._support import client_for, make_fake, request_for

pytestmark = pytest.mark.anyio

SECRET = "lb-secret"
URL = "https://lb.test/ncs"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # RedisDedupeStore.from_url builds a redis.asyncio client


class RoundRobin(httpx.AsyncBaseTransport):
    """A load balancer in front of several ASGI workers: each request goes to the next one."""

    def __init__(self, *apps: WebhookReceiver) -> None:
        self._next = itertools.cycle([httpx.ASGITransport(app=app) for app in apps])

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._next).handle_async_request(request)


async def test_two_workers_sharing_redis_hand_each_notice_to_the_application_once(redis_server: RedisServer) -> None:
    handled: list[tuple[str, str]] = []

    def worker(name: str) -> WebhookReceiver:
        async def on_event(event: NotificationEvent) -> None:
            handled.append((name, event.notice_id))

        return WebhookReceiver(secret=SECRET, on_event=on_event, dedupe=RedisDedupeStore.from_url(redis_server.url))

    one, two = worker("one"), worker("two")
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.notify(URL, secret=SECRET, transport=RoundRobin(one, two))
    for event_type in (40, 30, 31, 41, 11):
        fake.notifier.inject("duplicate", event_type=event_type)  # NCS delivers each of these twice
    async with client_for(fake, vc) as client, vc.autojump():
        async with client.session(cname="lb", uid="51", mode="mix", client_request=request_for("mix")):
            await fake.deliver_pending()
        await fake.deliver_pending()
    attempts = [n for n in fake.notifications_sent() if n.delivered]
    notices = [notice for _, notice in handled]
    assert len(attempts) > len(set(notices))  # duplicates were delivered, to both workers
    assert sorted(notices) == sorted(set(notices))  # and each notice reached the application once
    # the round robin sends each duplicate to the other worker, which never saw the id itself: Redis did
    assert two.stats.duplicates > 0
    assert two.stats.accepted == 0
    duplicates = one.stats.duplicates + two.stats.duplicates
    assert duplicates == len(attempts) - len(notices)
    for receiver in (one, two):
        store = receiver.dedupe
        assert isinstance(store, RedisDedupeStore)
        await store.aclose()


async def test_concurrent_deliveries_of_one_notice_to_two_workers_pass_once(redis_server: RedisServer) -> None:
    got: list[str] = []

    async def on_event(event: NotificationEvent) -> None:
        got.append(event.notice_id)

    stores = [RedisDedupeStore.from_url(redis_server.url) for _ in range(2)]
    workers = [WebhookReceiver(secret=SECRET, on_event=on_event, dedupe=store) for store in stores]
    body = sample_event(40, notice_id="shared-notice", cname="lb", uid="52")
    headers = {**sign(body, SECRET), "Content-Type": "application/json"}
    statuses: list[int] = []

    async def post(app: WebhookReceiver) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as http:
            statuses.append((await http.post("/ncs", content=body, headers=headers)).status_code)

    async with anyio.create_task_group() as tg:
        for app in workers * 3:
            tg.start_soon(post, app)
    assert statuses == [200] * 6
    assert got == ["shared-notice"]
    assert sum(w.stats.duplicates for w in workers) == 5
    for store in stores:
        await store.aclose()
