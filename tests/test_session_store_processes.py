"""The session store across real OS processes, against the fake over TCP on 127.0.0.1 and a real redis-server.

The parent serves a ``FakeAgoraServer`` and starts children (``python tests/test_session_store_processes.py ROLE
...``), each a ``CloudRecordingClient`` with ``session_store=RedisSessionStore.from_url(...)``:

* a worker holding recordings is killed with SIGKILL; ``recover_sessions()`` in another process stops them all;
* two processes recover at once: every session is acted on by exactly one of them;
* one worker starts and hands off, another stops by key;
* the secrets planted in every secret field of the ClientRequest never reach Redis (its raw contents are read).

Every child is killed when the test leaves (``anyio.open_process`` blocks kill on exit); every wait is bounded.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

LEASE = 1.0  # seconds: a killed worker's records become orphans this long after its last renewal
CHILD_TIMEOUT = 60.0
SECRETS = ("RTC-TOKEN-PLANT", "DECRYPT-SECRET-PLANT", "DECRYPT-SALT-PLANT", "ACCESS-PLANT", "SECRET-PLANT", "STS-PLANT")
SCRIPT = str(Path(__file__).resolve())


def _planted_request() -> Any:
    from agora_recording import ClientRequest, RecordingConfig, StorageConfig, TranscodingConfig

    return ClientRequest(
        token=SECRETS[0],
        recording_config=RecordingConfig(
            channel_type=1,
            decryption_mode=1,
            secret=SECRETS[1],
            salt=SECRETS[2],
            max_idle_time=300,
            transcoding_config=TranscodingConfig(width=640, height=360, fps=15, bitrate=500),
        ),
        storage_config=StorageConfig(
            vendor=1,
            region=0,
            bucket="recordings",
            access_key=SECRETS[3],
            secret_key=SECRETS[4],
            sts_token=SECRETS[5],
            sts_expiration=3600,
        ),
    )


# ----------------------------------------------------------------------------------------------- the children


async def _child(role: str, base_url: str, redis_url: str, app_id: str, cid: str, secret: str, arg: str) -> None:
    from agora_recording import CloudRecordingClient
    from agora_recording.redis import RedisSessionStore

    async with (
        RedisSessionStore.from_url(redis_url, lease=LEASE) as store,
        CloudRecordingClient(app_id, cid, secret, base_url=base_url, session_store=store) as client,
    ):
        if role == "hold":  # start `arg` recordings, say so, then wait to be killed
            keys = []
            for i in range(int(arg)):
                rec = client.session(cname=f"room{i}", uid="1", mode="mix", client_request=_planted_request())
                await rec.start()
                keys.append(rec.key)
            print(json.dumps({"keys": keys}), flush=True)
            await anyio.sleep(CHILD_TIMEOUT)
        elif role == "recover":
            await anyio.sleep(float(arg))  # the two recoverers start together: the parent says when
            report = await client.recover_sessions()
            print(json.dumps(report.to_json()), flush=True)
        elif role == "start":
            rec = client.session(cname="web-room", uid="5", mode="mix", client_request=_planted_request())
            await rec.start()
            print(json.dumps({"key": await client.hand_off(rec), "sid": rec.sid}), flush=True)
        elif role == "stop":
            resumed = await client.claim_session(arg)
            response = await resumed.stop()
            print(json.dumps({"sid": resumed.sid, "already_stopped": response.already_stopped}), flush=True)


# ----------------------------------------------------------------------------------------------- the parent


class Children:
    def __init__(self, base_url: str, redis_url: str, fake: Any) -> None:
        self.args = [sys.executable, SCRIPT, base_url, redis_url, fake.app_id, fake.customer_id, fake.customer_secret]

    async def run(self, role: str, arg: str) -> dict[str, Any]:
        """Run a child to its end; its last stdout line as JSON."""
        with anyio.fail_after(CHILD_TIMEOUT):
            result = await anyio.run_process([*self.args, role, arg], check=False)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
        return dict(json.loads(result.stdout.decode().strip().splitlines()[-1]))


async def _hold_then_kill(children: Children, count: int) -> list[str]:
    """A worker starts ``count`` recordings; SIGKILL once it says so; wait until its lease has run out."""
    async with await anyio.open_process([*children.args, "hold", str(count)]) as process:
        assert process.stdout is not None
        line = b""
        with anyio.fail_after(CHILD_TIMEOUT):
            async for chunk in process.stdout:
                line += chunk
                if b"\n" in line:
                    break
        assert line, "the holding worker printed nothing"
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert process.returncode == -signal.SIGKILL
    await anyio.sleep(LEASE + 0.5)  # real time: the killed worker's lease expires on the Redis server's clock
    return list(json.loads(line.decode().splitlines()[0])["keys"])


def _raw_redis_contents(url: str) -> bytes:
    import redis

    client = redis.Redis.from_url(url)
    try:
        out = bytearray()
        for key in client.scan_iter(count=1000):
            out += key
            kind = client.type(key)
            if kind == b"hash":
                for field, value in client.hgetall(key).items():
                    out += field + value
            elif kind == b"set":
                for member in client.smembers(key):
                    out += member
            elif kind == b"string":
                out += client.get(key) or b""
        return bytes(out)
    finally:
        client.close()


@pytest.fixture
def setting(redis_server: Any) -> Any:
    from agora_recording.testing import FakeAgoraServer

    return FakeAgoraServer(rate_limit=None), redis_server


def test_a_worker_killed_with_sigkill_leaves_nothing_running_after_recover_sessions(setting: Any) -> None:
    """SIGKILL a worker holding 3 recordings: recover_sessions() in another process stops all 3; 0 left running,
    no record left; the planted secrets were never in Redis."""
    fake, redis_server = setting

    async def main() -> None:
        async with fake.serve() as base_url:
            children = Children(base_url, redis_server.url, fake)
            keys = await _hold_then_kill(children, 3)
            assert len(fake.running_recordings()) == 3
            raw = _raw_redis_contents(redis_server.url)
            assert all(key.encode() in raw for key in keys)
            for secret in (*SECRETS, fake.customer_secret):
                assert secret.encode() not in raw, secret
            report = await children.run("recover", "0")
            assert report["counts"]["stopped"] == 3, report
            assert sorted(s["key"] for s in report["sessions"]) == sorted(keys)
            assert fake.running_recordings() == []
            assert b":s:" not in _raw_redis_contents(redis_server.url)  # every session record deleted

    anyio.run(main, backend="asyncio")


def test_two_processes_recovering_at_once_never_both_act_on_one_session(setting: Any) -> None:
    """Six recordings of a killed worker, two recovering processes at once: each session in exactly one report."""
    fake, redis_server = setting
    reports: list[dict[str, Any]] = []

    async def main() -> None:
        async with fake.serve() as base_url:
            children = Children(base_url, redis_server.url, fake)
            keys = await _hold_then_kill(children, 6)

            async def recover() -> None:
                reports.append(await children.run("recover", "0.5"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(recover)
                tg.start_soon(recover)
            acted = [s["key"] for r in reports for s in r["sessions"]]
            assert sorted(acted) == sorted(keys)  # no key twice, none missed
            assert sum(r["counts"]["stopped"] for r in reports) == 6
            assert fake.running_recordings() == []

    anyio.run(main, backend="asyncio")


def test_start_in_one_worker_and_stop_in_another_by_key(setting: Any) -> None:
    """Worker A starts and hands off (then exits); worker B stops the recording by its key."""
    fake, redis_server = setting

    async def main() -> None:
        async with fake.serve() as base_url:
            children = Children(base_url, redis_server.url, fake)
            started = await children.run("start", "-")
            assert len(fake.running_recordings()) == 1  # A's graceful exit left the handed-off recording running
            stopped = await children.run("stop", started["key"])
            assert stopped == {"sid": started["sid"], "already_stopped": False}
            assert fake.running_recordings() == []
            assert b":s:" not in _raw_redis_contents(redis_server.url)

    anyio.run(main, backend="asyncio")


if __name__ == "__main__":
    role_args = sys.argv[1:]
    anyio.run(lambda: _child(role_args[5], *role_args[:5], role_args[6]), backend="asyncio")
