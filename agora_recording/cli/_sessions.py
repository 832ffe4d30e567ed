"""``agora-recording sessions list|recover``: the session store in Redis, for an operator.

* ``sessions list --redis URL [--namespace N] [--json]``: every stored session (key, owner, alive or not, state,
  cname, uid, mode, sid). Needs no Agora credentials.
* ``sessions recover --redis URL [--namespace N] [--adopt] [--json]``: ``recover_sessions()`` as a client of its
  own: stops (or, with ``--adopt``, takes over and then, at its exit, stops) the sessions of every crashed owner, and
  prints the report. Credentials come from the environment, as for the other commands.

Exit codes: 0 ok; 1 a session could not be settled (``failed``), an orphan was found, or Redis or Agora failed;
2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from agora_recording import AgoraError, CloudRecordingClient
from agora_recording.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    UsageError,
    error_line,
    exit_code_for,
    print_json,
    target_from,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``sessions`` parser with its ``list`` and ``recover`` actions."""
    parser = argparse.ArgumentParser(prog=f"{PROG} sessions", description="the session store in Redis")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("list", "every stored session: key, owner (alive?), state, cname, uid, mode, sid"),
        ("recover", "stop the sessions of crashed owners (recover_sessions()) and print the report"),
    ):
        child = sub.add_parser(name, help=help_text, description=help_text)
        child.add_argument("--redis", required=True, metavar="URL", help="the Redis URL, e.g. redis://127.0.0.1:6379/0")
        child.add_argument("--namespace", default="agora_recording", help="the store's namespace (%(default)s)")
        child.add_argument("--json", action="store_true", help="print JSON on stdout")
        if name == "recover":
            child.add_argument("--adopt", action="store_true", help="adopt instead of stopping (stopped at exit)")
            child.add_argument("--app-id", metavar="ID", help="the App ID (default: $AGORA_APP_ID)")
            child.add_argument("--customer-id", metavar="ID", help="the Customer ID (default: $AGORA_CUSTOMER_ID)")
            child.add_argument("--customer-secret", metavar="SECRET", help="prefer $AGORA_CUSTOMER_SECRET")
            child.add_argument(
                "--base-url", metavar="URL", help="one host instead of Agora's (default: $AGORA_BASE_URL)"
            )
    return parser


async def _list(args: argparse.Namespace) -> int:
    from agora_recording.redis import RedisSessionStore

    async with RedisSessionStore.from_url(args.redis, namespace=args.namespace) as store:
        rows: list[dict[str, Any]] = []
        alive: dict[str, bool] = {}
        for record in await store.records():
            if record.owner is not None and record.owner not in alive:
                alive[record.owner] = await store.is_alive(record.owner)
            data = record.data
            rows.append(
                {
                    "key": record.key,
                    "owner": record.owner,
                    "owner_alive": None if record.owner is None else alive[record.owner],
                    "revision": record.revision,
                    "updated_at": record.updated_at,
                    **{name: data.get(name) for name in ("state", "cname", "uid", "mode", "sid", "resource_id")},
                }
            )
    if args.json:
        print_json({"sessions": rows})
        return EXIT_OK
    if not rows:
        print("no sessions stored")
    for row in rows:
        owner = "released" if row["owner"] is None else f"{row['owner']} ({'alive' if row['owner_alive'] else 'dead'})"
        print(
            f"{row['key']}  {row['state']}  cname={row['cname']} uid={row['uid']} mode={row['mode']} sid={row['sid']}"
        )
        print(f"    owner: {owner}")
    return EXIT_OK


async def _recover(args: argparse.Namespace) -> int:
    from agora_recording.redis import RedisSessionStore

    target = target_from(args)
    async with (
        RedisSessionStore.from_url(args.redis, namespace=args.namespace) as store,
        CloudRecordingClient(
            target.app_id, target.customer_id, target.customer_secret, base_url=target.base_url, session_store=store
        ) as client,
    ):
        report = await client.recover_sessions(adopt=args.adopt)
    if args.json:
        print_json(report.to_json())
    else:
        counts = report.to_json()["counts"]
        print(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in counts.items()))
        for entry in report.sessions:
            print(f"{entry.key}  {entry.outcome.value}  cname={entry.cname} uid={entry.uid} sid={entry.sid}")
            print(f"    {entry.reason}")
    return EXIT_FAILED if report.failed or report.orphans else EXIT_OK


def main(argv: Sequence[str]) -> int:
    """``agora-recording sessions ...``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return anyio.run(_list if args.action == "list" else _recover, args)
    except ImportError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, AgoraError) as exc:
        print(error_line(exc), file=sys.stderr)
        return exit_code_for(exc)
