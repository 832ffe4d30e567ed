"""``agora-recording sessions list|recover`` as subprocesses of the console script, against the fake over TCP and a
real redis-server: a dead owner's two recordings are listed (owner dead), recovered (stopped, 0 running) and gone."""

from __future__ import annotations

import time
from typing import Any

import pytest
from _support import request_for
from test_cli import Served, env, run, served  # noqa: F401 - the cli tests' fixtures (served, env) are used here

from agora_recording import CloudRecordingClient
from agora_recording.testing import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET

pytestmark = pytest.mark.usefixtures("redis_server")


def _plant_dead_owner(fake: Served, redis_url: str, count: int) -> list[str]:
    """Start ``count`` recordings and store them under an owner whose lease ends at once."""

    async def plant() -> list[str]:
        from agora_recording.redis import RedisSessionStore

        keys = []
        async with (
            RedisSessionStore.from_url(redis_url) as store,
            CloudRecordingClient(
                DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, base_url=fake.base_url
            ) as client,
        ):
            for i in range(count):
                rec = client.session(cname=f"cli-room{i}", uid="3", mode="mix", client_request=request_for("mix"))
                await rec.start()
                await store.put(rec.key, rec.to_state(), owner="crashed-worker")
                keys.append(rec.key)
            await store.heartbeat("crashed-worker", lease=0.001)
        return keys

    keys = fake.portal.call(plant)
    time.sleep(0.05)  # real time: the lease of 1 ms runs out on the Redis server's clock
    return keys


def test_sessions_list_then_recover_then_list(served: Served, env: dict[str, str], redis_server: Any) -> None:  # noqa: F811
    """list shows the dead owner's sessions; recover stops both (exit 0); list is then empty."""
    keys = _plant_dead_owner(served, redis_server.url, 2)
    before = len(served.read(lambda fake: fake.running_recordings()))
    listed = run(env, "sessions", "list", "--redis", redis_server.url, "--json").json()["sessions"]
    assert sorted(row["key"] for row in listed) == sorted(keys)
    assert all(row["owner"] == "crashed-worker" and row["owner_alive"] is False for row in listed)
    assert all(row["state"] == "recording" and row["sid"] for row in listed)
    text = run(env, "sessions", "list", "--redis", redis_server.url).out
    assert "crashed-worker (dead)" in text
    report = run(env, "sessions", "recover", "--redis", redis_server.url, "--json").json()
    assert report["counts"]["stopped"] == 2
    assert sorted(s["key"] for s in report["sessions"]) == sorted(keys)
    assert len(served.read(lambda fake: fake.running_recordings())) == before - 2
    assert run(env, "sessions", "list", "--redis", redis_server.url, "--json").json() == {"sessions": []}
    assert "no sessions stored" in run(env, "sessions", "list", "--redis", redis_server.url).out


def test_sessions_usage_errors_exit_2(env: dict[str, str]) -> None:  # noqa: F811
    """No action, or no --redis: usage (2), nothing contacted."""
    assert run(env, "sessions", check=None).code == 2
    assert run(env, "sessions", "list", check=None).code == 2
