"""``agora-recording webhook``: check a notification's signature offline, or send a signed sample to a receiver.

- ``webhook verify [--secret S | --secret-env VAR] FILE [--headers FILE | --signature HEX --signature-v2 HEX]``:
  verify a saved body (``-`` reads stdin) as the receiver would, then print what it is. Exit 0 when it verifies and
  parses, 1 when it does not, 2 on a usage error.
- ``webhook send-test --url U [--secret S | --secret-env VAR] [--event N] [--cname C] [--uid U] [--sid S]``: POST a
  signed sample notification (:func:`~agora_recording.webhooks.sample_event`) and print the answer. Exit 0 on a 2xx,
  1 otherwise.

The secret comes from ``--secret``, or from the environment variable ``--secret-env`` names (``AGORA_NCS_SECRET`` by
default: nothing then shows in the process list). It is never printed, in output or errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import httpx

from agora_recording._errors import InvalidRequestError
from agora_recording.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG
from agora_recording.webhooks import (
    SIGNATURE_HEADER,
    SIGNATURE_HEADER_V2,
    WebhookPayloadError,
    WebhookVerificationError,
    parse,
    sample_event,
    sign,
    verify,
)

__all__ = ["main"]

DEFAULT_SECRET_ENV = "AGORA_NCS_SECRET"
_MAX_BODY = 1024 * 1024


class _Usage(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} webhook", description="NCS notifications: verify or send a test.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", title="actions")
    check = sub.add_parser("verify", help="verify a saved notification body's signature and print what it is")
    check.add_argument("file", metavar="FILE", help="the raw body as received ('-' reads stdin)")
    check.add_argument("--headers", metavar="FILE", help="the request headers: a JSON object or 'Name: value' lines")
    check.add_argument("--signature", metavar="HEX", help="the Agora-Signature header (HMAC-SHA1)")
    check.add_argument("--signature-v2", metavar="HEX", help="the Agora-Signature-V2 header (HMAC-SHA256)")
    send = sub.add_parser("send-test", help="POST a signed sample notification to a receiver and print the answer")
    send.add_argument("--url", required=True, help="the receiver's URL")
    send.add_argument("--event", type=int, default=40, metavar="N", help="the eventType (default 40)")
    send.add_argument("--cname", default="sample-channel", help="payload.cname")
    send.add_argument("--uid", default="527841", help="payload.uid")
    send.add_argument("--sid", default=None, help="payload.sid (default: random)")
    send.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer (NCS: 10)")
    for child in (check, send):
        child.add_argument("--secret", default=None, help="the NCS secret (visible to `ps`: prefer --secret-env)")
        child.add_argument(
            "--secret-env", default=DEFAULT_SECRET_ENV, metavar="VAR", help=f"read it from VAR ({DEFAULT_SECRET_ENV})"
        )
    return parser


def _secret(args: argparse.Namespace) -> str:
    secret = args.secret if args.secret is not None else os.environ.get(args.secret_env)
    if not secret:
        raise _Usage(f"no secret: pass --secret or set {args.secret_env}")
    return str(secret)


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read(_MAX_BODY + 1)
        with open(path, "rb") as handle:
            return handle.read(_MAX_BODY + 1)
    except OSError as exc:
        raise _Usage(f"cannot read {path}: {exc.strerror}") from None


def _headers(args: argparse.Namespace) -> dict[str, str]:
    headers: dict[str, str] = {}
    if args.headers is not None:
        text = _read(args.headers).decode("utf-8", "replace")
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            headers.update({str(k): str(v) for k, v in loaded.items()})
        else:
            for line in text.splitlines():
                name, sep, value = line.partition(":")
                if sep and name.strip():
                    headers[name.strip()] = value.strip()
    if args.signature is not None:
        headers[SIGNATURE_HEADER] = args.signature
    if args.signature_v2 is not None:
        headers[SIGNATURE_HEADER_V2] = args.signature_v2
    if not headers:
        raise _Usage("no signature: pass --headers FILE, --signature or --signature-v2")
    return headers


def _verify(args: argparse.Namespace) -> int:
    body = _read(args.file)
    if len(body) > _MAX_BODY:
        raise _Usage(f"{args.file} is over {_MAX_BODY} bytes")
    headers = _headers(args)
    try:
        verify(body, headers, _secret(args))
    except WebhookVerificationError as exc:
        print(f"{PROG}: not verified: {exc}", file=sys.stderr)
        return EXIT_FAILED
    which = (
        "Agora-Signature-V2" if any(k.lower() == SIGNATURE_HEADER_V2.lower() for k in headers) else "Agora-Signature"
    )
    try:
        event = parse(body)
    except WebhookPayloadError as exc:
        print(f"verified ({which}), but the body is no notification: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"verified ({which})")
    print(
        f"{type(event).__name__}: eventType {event.event_type} noticeId {event.notice_id} "
        f"cname {event.cname} uid {event.uid} sid {event.sid}"
    )
    return EXIT_OK


def _send(args: argparse.Namespace) -> int:
    url = httpx.URL(args.url)
    if url.scheme not in ("http", "https") or not url.host:
        raise _Usage(f"--url must be an http(s) URL, got {args.url!r}")
    body = sample_event(args.event, cname=args.cname, uid=args.uid, sid=args.sid)
    headers = {**sign(body, _secret(args)), "Content-Type": "application/json"}
    notice = json.loads(body)["noticeId"]
    try:
        with httpx.Client(timeout=args.timeout) as http:
            answer = http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        print(f"{PROG}: could not send to {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    text = answer.text[:500]
    print(f"sent eventType {args.event} noticeId {notice} to {url}: HTTP {answer.status_code} {text}")
    return EXIT_OK if answer.is_success else EXIT_FAILED


def main(argv: Sequence[str]) -> int:
    """Run ``agora-recording webhook ...``; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.action is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _verify(args) if args.action == "verify" else _send(args)
    except (_Usage, InvalidRequestError) as exc:
        print(f"{PROG} webhook: {exc}", file=sys.stderr)
        return EXIT_USAGE
