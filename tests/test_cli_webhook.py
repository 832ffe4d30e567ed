"""``agora-recording webhook verify`` and ``send-test`` as real subprocesses of the console script; send-test posts
to a WebhookReceiver served by uvicorn on 127.0.0.1. The secret never appears in any output."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from agora_recording.webhooks import NotificationEvent, SessionExit, WebhookReceiver, sample_event, sign
from tests.test_webhooks_uvicorn import serve

SECRET = "cli-webhook-secret-canary"
TIMEOUT = 60


def _script() -> list[str]:
    script = Path(sys.executable).with_name("agora-recording")
    found = str(script) if script.exists() else shutil.which("agora-recording")
    return [found] if found else [sys.executable, "-m", "agora_recording"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(extra)
    return env


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process([*_script(), "webhook", *args], env=env or _env(), check=False)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert SECRET not in out
    assert SECRET not in err
    return done.returncode, out, err


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn runs on asyncio


@pytest.mark.anyio
async def test_verify_a_saved_body_with_headers_or_signature_options(tmp_path: Path) -> None:
    body = sample_event(11, cname="room1", uid="7", sid="sid-cli", details={"exitStatus": 1})
    (tmp_path / "body.json").write_bytes(body)
    signed = sign(body, SECRET)
    (tmp_path / "headers.json").write_text(json.dumps(signed))
    (tmp_path / "headers.txt").write_text(f"Agora-Signature: {signed['Agora-Signature']}\nX-Other: 1\n")
    body_file = str(tmp_path / "body.json")

    code, out, _ = await run("verify", "--secret", SECRET, body_file, "--headers", str(tmp_path / "headers.json"))
    assert code == 0
    assert "verified (Agora-Signature-V2)" in out
    assert "SessionExit: eventType 11" in out
    assert "sid sid-cli" in out
    code, out, _ = await run(
        "verify", body_file, "--headers", str(tmp_path / "headers.txt"), env=_env(AGORA_NCS_SECRET=SECRET)
    )
    assert code == 0
    assert "verified (Agora-Signature)" in out
    code, _, err = await run("verify", "--secret", SECRET, body_file, "--signature-v2", "0" * 64)
    assert code == 1
    assert "not verified" in err
    code, _, err = await run("verify", "--secret", "other-secret", body_file, "--signature", signed["Agora-Signature"])
    assert code == 1
    code, _, err = await run("verify", body_file, "--signature", "00")  # no secret anywhere
    assert code == 2
    assert "AGORA_NCS_SECRET" in err
    code, _, err = await run("verify", "--secret", SECRET, body_file)  # no signature given
    assert code == 2


@pytest.mark.anyio
async def test_send_test_reaches_a_uvicorn_receiver_signed_and_typed() -> None:
    got: list[NotificationEvent] = []
    receiver = WebhookReceiver(secret=SECRET, on_event=got.append)
    async with serve(receiver) as url:
        code, out, _ = await run(
            "send-test",
            "--url",
            url + "/ncs",
            "--event",
            "11",
            "--cname",
            "room9",
            "--sid",
            "s-9",
            env=_env(AGORA_NCS_SECRET=SECRET),
        )
        assert code == 0
        assert "HTTP 200" in out
        code, out, _ = await run("send-test", "--url", url + "/ncs", "--secret", "wrong-secret")
        assert code == 1
        assert "HTTP 401" in out
        with anyio.fail_after(TIMEOUT):
            while receiver.pending:  # noqa: ASYNC110 - the handler runs after the 200; bounded by fail_after
                await anyio.sleep(0.01)
    assert len(got) == 1
    [event] = got
    assert isinstance(event, SessionExit)
    assert (event.cname, event.sid) == ("room9", "s-9")
    assert receiver.stats.forged == 1
