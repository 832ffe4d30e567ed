"""A supervisor fleet across real OS processes: the fake over TCP on 127.0.0.1 and a real redis-server.

Process A (``python tests/test_supervisor_processes.py supervise ...``) supervises three recordings of fleet
"proc" on a ``RedisSessionStore`` and is killed with SIGKILL. The fake then ends one of them abnormally (status 20).
Once A's lease has lapsed, process B resumes the fleet: the two healthy recordings are kept (same sids, no new
start), the ended one is restarted with the alternate uid, and B's exit stops everything (0 left running on the
fake, no fleet record left in Redis).

Every child is killed when the test leaves (``anyio.open_process`` kills on exit); every wait is bounded.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

LEASE = 1.0  # seconds: a killed process's records become claimable this long after its last renewal
CHILD_TIMEOUT = 60.0
ROOMS = 3
FLEET = "proc"
SCRIPT = str(Path(__file__).resolve())


def _request() -> Any:
    from agora_recording import ClientRequest, RecordingConfig, StorageConfig, TranscodingConfig

    return ClientRequest(
        token="RTC-TOKEN-PLANT",
        recording_config=RecordingConfig(
            channel_type=1,
            max_idle_time=300,
            transcoding_config=TranscodingConfig(width=640, height=360, fps=15, bitrate=500),
        ),
        storage_config=StorageConfig(
            vendor=1, region=0, bucket="recordings", access_key="ACCESS-PLANT", secret_key="SECRET-PLANT"
        ),
    )


# ----------------------------------------------------------------------------------------------- the children


async def _child(role: str, base_url: str, redis_url: str, app_id: str, cid: str, secret: str, arg: str) -> None:
    from agora_recording import CloudRecordingClient, RecordingSupervisor
    from agora_recording.redis import RedisSessionStore

    async with (
        RedisSessionStore.from_url(redis_url, lease=LEASE) as store,
        CloudRecordingClient(app_id, cid, secret, base_url=base_url, session_store=store) as client,
        RecordingSupervisor(client, fleet=FLEET, query_interval=5.0) as sup,
    ):
        if role == "supervise":  # supervise `arg` recordings, say so, then wait to be killed
            handles = [
                await sup.add(cname=f"room{i}", uid="1001", alternate_uid="1002", mode="mix", client_request=_request())
                for i in range(int(arg))
            ]
            for handle in handles:
                await handle.wait_recording()
            await anyio.sleep(LEASE)  # a few lease ticks: every change is in Redis
            print(json.dumps({"sids": {h.cname: h.sid for h in handles}}), flush=True)
            await anyio.sleep(CHILD_TIMEOUT)
        elif role == "resume":  # resume the fleet; wait until `arg` (the room Agora ended) is restarted
            stream = sup.events()
            report = await sup.resume(client_request=lambda cname, uid: _request())
            with anyio.fail_after(CHILD_TIMEOUT / 2):
                async for event in stream:
                    if event.kind == "restarted" and event.cname == arg:
                        break
            handles = {
                h.cname: {
                    "sid": h.sid,
                    "uid": h.uid,
                    "restarts": h.restarts,
                    "state": h.state.value,
                    "queried": h.last_query is not None,
                }
                for h in sup.handles
            }
            print(json.dumps({"report": report.to_json(), "handles": handles}), flush=True)
        # leaving: the supervisor stops every recording, the client deletes every record


# ----------------------------------------------------------------------------------------------- the parent


def _fleet_keys(url: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return [key for key in client.scan_iter(count=1000) if b"/supervisor/" in key]
    finally:
        client.close()


def test_a_sigkilled_supervisor_s_fleet_is_resumed_by_another_process(redis_server: Any) -> None:
    """SIGKILL A (3 recordings); B resumes: 2 kept as they were, the one Agora ended restarted with the alternate
    uid, one recorder per channel at a time; B's exit leaves 0 running and no fleet record."""
    from agora_recording.testing import FakeAgoraServer

    fake = FakeAgoraServer(rate_limit=None)

    async def main() -> None:
        async with fake.serve() as base_url:
            args = [sys.executable, SCRIPT, base_url, redis_server.url, fake.app_id, fake.customer_id]
            args.append(fake.customer_secret)
            async with await anyio.open_process([*args, "supervise", str(ROOMS)]) as process:
                assert process.stdout is not None
                line = b""
                with anyio.fail_after(CHILD_TIMEOUT):
                    async for chunk in process.stdout:
                        line += chunk
                        if b"\n" in line:
                            break
                assert line, "the supervising process printed nothing"
                process.send_signal(signal.SIGKILL)
                await process.wait()
                assert process.returncode == -signal.SIGKILL
            sids: dict[str, str] = json.loads(line.decode().splitlines()[0])["sids"]
            assert sorted(r.sid for r in fake.running_recordings()) == sorted(sids.values())
            assert _fleet_keys(redis_server.url)  # what A left for its successor
            fake.end_recording(sids["room1"], reason="abnormal")
            await anyio.sleep(LEASE + 0.5)  # real time: A's lease lapses on the Redis server's clock

            with anyio.fail_after(CHILD_TIMEOUT):
                result = await anyio.run_process([*args, "resume", "room1"], check=False)
            assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
            out = json.loads(result.stdout.decode().strip().splitlines()[-1])

            assert out["report"]["counts"]["adopted"] == ROOMS, out["report"]
            handles = out["handles"]
            for room in ("room0", "room2"):  # kept: same recording, never restarted
                assert handles[room]["sid"] == sids[room]
                assert handles[room]["restarts"] == 0
                assert handles[room]["queried"]
            assert handles["room1"]["uid"] == "1002"  # restarted with the alternate uid
            assert handles["room1"]["restarts"] == 1
            assert handles["room1"]["sid"] != sids["room1"]
            assert {h["state"] for h in handles.values()} == {"recording"}
            per_channel = Counter(r.cname for r in fake.recordings())
            assert per_channel == {"room0": 1, "room1": 2, "room2": 1}  # no duplicate recorder anywhere
            assert fake.running_recordings() == []  # B's exit stopped them all
            assert _fleet_keys(redis_server.url) == []
            for plant in (b"RTC-TOKEN-PLANT", b"ACCESS-PLANT", b"SECRET-PLANT"):
                assert plant not in result.stdout

    anyio.run(main, backend="asyncio")


if __name__ == "__main__":
    role_args = sys.argv[1:]
    anyio.run(lambda: _child(role_args[5], *role_args[:5], role_args[6]), backend="asyncio")
