"""Answers parse the same with and without orjson (the optional ``fast`` extra).

The comparisons need orjson and skip cleanly without it (CI installs ``.[test]``, which does not include it). The
fallback test runs everywhere: in a subprocess where ``import orjson`` fails, the client parses with the stdlib.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import httpx
import pytest

from agora_recording import CloudRecordingClient, ResponseFormatError, Unlimited
from agora_recording import _json as parse

BODIES = [
    b'{"resourceId":"r","sid":"s","serverResponse":{"status":5,"fileList":[{"fileName":"a","uid":"1"}]}}',
    b'{"a":1,"a":2}',  # a repeated key: the last one wins on both
    b' {"a": [1, 2.5, -0, 1E2, true, false, null, "\\u00e9\\n"]} ',
    b'{"big":123456789012345678901234567890}',  # beyond 64 bits: orjson would make it a float
    b'{"big":-9223372036854775809,"max":18446744073709551615}',
    b'{"huge":1e400}',  # json: inf; orjson refuses
    b'{"n":NaN,"i":Infinity,"m":-Infinity}',  # json accepts these
    b'{"s":"\\ud800"}',  # a lone surrogate: json keeps it, orjson refuses
    b'\xef\xbb\xbf{"bom":1}',  # a UTF-8 BOM: json.loads(bytes) skips it
    '{"utf16":1}'.encode("utf-16"),
    b"[" * 5000 + b"]" * 5000,  # too deep for both
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b"",
    b"null",
    b"[1,2]",
    b'"just a string"',
    b"{not json}",
    b'{"a":1} trailing',
    b'{"a":"\x01"}',  # a raw control character
    b"\xff\xfe\xfa",  # not UTF-8
    b'{"resourceId":"' + b"9" * 30 + b'"}',  # a long digit run inside a string: stdlib path, same result
]


def _canonical(value: Any) -> Any:
    """Comparable across NaN (NaN != NaN) and exact about types (1 vs 1.0, True vs 1)."""
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, dict):
        return ("dict", tuple((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_canonical(v) for v in value))
    return (type(value).__name__, value)


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_orjson_reads_every_body_as_the_stdlib_does(body: bytes) -> None:
    pytest.importorskip("orjson")
    assert _canonical(parse.object_orjson(body)) == _canonical(parse.object_stdlib(body))


def test_with_orjson_installed_the_client_uses_it() -> None:
    pytest.importorskip("orjson")
    assert parse.ACCELERATOR == "orjson"
    assert parse.object_or_none is parse.object_orjson


def test_orjson_is_really_used_for_a_plain_body() -> None:
    orjson = pytest.importorskip("orjson")
    calls: list[bytes] = []
    real = orjson.loads

    def spy(raw: bytes) -> Any:
        calls.append(raw)
        return real(raw)

    mp = pytest.MonkeyPatch()
    mp.setattr(parse._orjson, "loads", spy)
    try:
        assert parse.object_orjson(b'{"a":1}') == {"a": 1}
        assert parse.object_orjson(b'{"a":12345678901234567890}') == {"a": 12345678901234567890}
    finally:
        mp.undo()
    assert calls == [b'{"a":1}']  # the long number went to the stdlib


class _Answer(httpx.AsyncBaseTransport):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=[("content-type", "application/json")], content=self.body)


async def _query(body: bytes) -> Any:
    async with CloudRecordingClient(
        "a" * 32, "id", "secret", base_url="https://api.test", transport=_Answer(body), rate_limiter=Unlimited()
    ) as client:
        try:
            return await client.query(resource_id="r", sid="s", mode="individual", retries=0)
        except ResponseFormatError as exc:
            return ("error", str(exc), exc.status_code)


QUERY = {"resourceId": "r", "sid": "s", "serverResponse": {"status": 5, "fileList": [{"fileName": "a", "uid": "1"}]}}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        json.dumps(QUERY).encode(),
        b'{"resourceId":"r","sid":"s","serverResponse":{"status":NaN}}',
        b'{"resourceId":"r","sid":"s","serverResponse":{"status":' + b"5" * 25 + b"}}",
        b'{"resourceId":"r","sid":"s","serverResponse":{"fileList":[{"uid":"1"}]}}',
        b"not json at all",
        b"[]",
    ],
    ids=["plain", "nan", "big status", "no file name", "not json", "not an object"],
)
async def test_the_client_answers_the_same_on_both_paths(body: bytes) -> None:
    pytest.importorskip("orjson")
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(parse, "object_or_none", parse.object_stdlib)
        with_stdlib = await _query(body)
        mp.setattr(parse, "object_or_none", parse.object_orjson)
        with_orjson = await _query(body)
    finally:
        mp.undo()
    assert with_orjson == with_stdlib
    assert repr(with_orjson) == repr(with_stdlib)


def test_without_orjson_the_stdlib_parses_and_import_does_not_need_it() -> None:
    """Runs with or without orjson installed: a subprocess where ``import orjson`` fails."""
    code = (
        "import sys\n"
        "sys.modules['orjson'] = None  # import orjson now raises ImportError\n"
        "import agora_recording\n"
        "from agora_recording import _json\n"
        "assert _json.ACCELERATOR is None, _json.ACCELERATOR\n"
        "assert _json.object_or_none is _json.object_stdlib\n"
        "assert _json.object_orjson(b'{\"a\": 1}') == {'a': 1}\n"
        "assert _json.object_or_none(b'{\"n\": NaN}')['n'] != 0\n"
        "assert _json.object_or_none(b'nope') is None\n"
        "print('stdlib')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stdlib"
