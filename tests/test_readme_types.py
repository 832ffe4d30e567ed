"""The README's Python examples type-check under `mypy --strict` (issue 11: e.g. `stop_response` may be None)."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

README = Path(__file__).resolve().parent.parent / "README.md"

# The names the examples take as given (credentials, ids, a request), declared with their types.
PREAMBLE = """\
import os
from contextlib import asynccontextmanager
from typing import Any

import httpx

import agora_recording
from agora_recording import CloudRecordingClient, ClientRequest, RetryPolicy, TokenBucket
from agora_recording.redis import RedisRateLimiter
from agora_recording.testing import FakeAgoraServer
from agora_recording.webhooks import NotificationEvent, WebhookReceiver, sample_event, sign

app_id: str = ""
customer_id: str = ""
customer_secret: str = ""
secret: str = ""
rtc_token: str = ""
key_id: str = ""
key_secret: str = ""
rid: str = ""
sid: str = ""
request: ClientRequest = ClientRequest()
client: CloudRecordingClient = CloudRecordingClient(app_id, customer_id, customer_secret)
http: httpx.AsyncClient = httpx.AsyncClient()
fake: FakeAgoraServer = FakeAgoraServer()
receiver: WebhookReceiver = WebhookReceiver(secret="s")
owner: str = ""
other: str = ""
url: str = ""
body: bytes = b""
headers: dict[str, str] = {}
snapshot: dict[str, Any] = {}
OLD_SECRET: str = ""
NEW_SECRET: str = ""


async def on_event(event: NotificationEvent) -> None: ...
"""
# Examples that need a web framework type-check only where it is installed.
OPTIONAL_IMPORTS = ("fastapi", "starlette")


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """Each ```python block, inside an async function after the preamble, is clean under mypy --strict."""
    examples = _examples()
    assert len(examples) >= 3
    parts = [PREAMBLE]
    for index, code in enumerate(examples):
        if any(f"from {name}" in code or f"import {name}" in code for name in OPTIONAL_IMPORTS) and not all(
            importlib.util.find_spec(name) for name in OPTIONAL_IMPORTS if name in code
        ):
            continue
        parts.append(f"async def _example_{index}() -> None:\n{textwrap.indent(code, '    ')}    pass\n")
    source = tmp_path / "readme_examples.py"
    source.write_text("\n\n".join(parts), encoding="utf-8")
    out, err, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(source)]
    )
    assert status == 0, out + err
