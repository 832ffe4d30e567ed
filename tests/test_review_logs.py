"""Review reproductions: server-, store- and notification-provided ids are logged escaped (no forged log lines)."""

from __future__ import annotations

import logging

import httpx
import pytest

from agora_recording import InvalidRequestError, StartOutcomeUnknownError
from agora_recording._errors import MAX_LOGGED_ID_CHARS, log_safe
from agora_recording.testing._clock import VirtualClock
from agora_recording.webhooks import WebhookReceiver, sample_event, sign
from tests._support import client_for, make_fake, request_for

pytestmark = pytest.mark.anyio

SECRET = "review-logs-secret"
HOSTILE = "abc\nINFO agora_recording forged line\x1b[31m"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "agora_recording"]


def test_log_safe_escapes_like_error_messages_and_caps() -> None:
    assert log_safe(HOSTILE) == "abc\\nINFO agora_recording forged line\\x1b[31m"
    assert log_safe("38f8e3cfdc474cd56fc1ceba380d7e1a") == "38f8e3cfdc474cd56fc1ceba380d7e1a"
    assert log_safe(None) is None
    long = log_safe("a" * (MAX_LOGGED_ID_CHARS + 10))
    assert isinstance(long, str)
    assert long.endswith("...")
    assert len(long) == MAX_LOGGED_ID_CHARS + 3


async def test_a_hostile_sid_from_a_notification_is_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    caplog.set_level(logging.INFO, logger="agora_recording")
    async with client_for(fake, vc) as client, vc.autojump():
        receiver = WebhookReceiver(secret=SECRET, client=client)
        fake.inject("start", kind="timeout", when="after")
        session = client.session(cname="room", uid="41", mode="mix", client_request=request_for("mix"))
        with pytest.raises(StartOutcomeUnknownError):
            await session.start()
        body = sample_event(40, cname="room", uid="41", sid=HOSTILE)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="https://b.test") as http:
            answer = await http.post(
                "/ncs", content=body, headers={**sign(body, SECRET), "Content-Type": "application/json"}
            )
        assert answer.status_code == 200
        assert session.sid is None  # not confirmed (it cannot even be put in a query's URL): not adopted
        (orphan,) = fake.orphans()
        body = sample_event(40, cname="room", uid="41", sid=orphan.sid)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="https://b.test") as http:
            await http.post("/ncs", content=body, headers={**sign(body, SECRET), "Content-Type": "application/json"})
    lines = _lines(caplog)
    assert any("abc\\nINFO agora_recording forged line\\x1b[31m" in line for line in lines)
    assert not any("\n" in line or "\x1b" in line for line in lines)
    assert fake.running_recordings() == []


async def test_a_hostile_sid_from_a_handed_off_state_is_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    caplog.set_level(logging.INFO, logger="agora_recording")
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room", uid="42", mode="mix", client_request=request_for("mix"))
        await rec.start()
        state = rec.to_state()
        state["sid"] = HOSTILE  # a tampered store record
        resumed = client.resume_session(state)
        with pytest.raises(InvalidRequestError):
            await resumed.stop()
        await resumed._stop_shielded(RuntimeError("the body failed"))  # the clean-up stop's WARNING names the sid
        await client.resume_session(rec.to_state()).stop()
    lines = _lines(caplog)
    assert any("sid=abc\\nINFO" in line for line in lines)
    assert not any("\n" in line or "\x1b" in line for line in lines)


async def test_a_tampered_store_record_is_logged_escaped_by_recovery(caplog: pytest.LogCaptureFixture) -> None:
    """A store record (Redis is shared: anyone with access may write it) whose resourceId holds a newline: the
    recovery's orphan warning shows it escaped, so it cannot forge a log line."""
    from agora_recording import MemorySessionStore

    vc = VirtualClock(start=1000.0)
    fake = make_fake(vc)
    store = MemorySessionStore(lease=30.0, clock=vc)
    async with client_for(fake, vc) as starter:
        lost = starter.session(cname="lost", uid="2", mode="mix", client_request=request_for("mix"))
        await lost.acquire()
        data = {**lost.to_state(), "state": "starting", "resource_id": HOSTILE}
        await store.put(lost.key, data, owner="dead-worker")
    await store.heartbeat("dead-worker", lease=0.001)
    vc.advance(1.0)
    caplog.set_level(logging.INFO, logger="agora_recording")
    async with client_for(fake, vc, session_store=store) as client:
        report = await client.recover_sessions()
    assert [entry.resource_id for entry in report.orphans] == [HOSTILE]
    lines = _lines(caplog)
    assert any("resource_id=abc\\nINFO agora_recording forged line\\x1b[31m" in line for line in lines)
    assert not any("\n" in line or "\x1b" in line for line in lines)
