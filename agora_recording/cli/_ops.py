"""The one-call commands: ``acquire``, ``start``, ``query``, ``update``, ``update-layout``, ``stop``."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import anyio

from agora_recording import (
    AcquireClientRequest,
    Mode,
    QueryResponse,
    StopResponse,
    UpdateLayoutResponse,
    UpdateResponse,
)
from agora_recording.cli._common import EXIT_OK, Progress
from agora_recording.cli._config import load_start_request, load_update_layout_request, load_update_request
from agora_recording.cli._spec import Command, Context, describe_files, describe_status

__all__ = ["COMMANDS", "add_ids", "add_recorder", "print_query", "print_stop", "waiting"]

MODES = ("individual", "mix", "web")
T = TypeVar("T")


def add_recorder(parser: argparse.ArgumentParser) -> None:
    """``--cname`` and ``--uid``: the channel and the recorder's uid (both as Agora's strings)."""
    parser.add_argument("--cname", required=True, help="the channel name")
    parser.add_argument("--uid", required=True, help="the recorder's own uid (digits; not a user in the channel)")


def add_ids(parser: argparse.ArgumentParser, *, mode_default: str | None = None) -> None:
    """``--resource-id``, ``--sid`` and ``--mode``: which recording."""
    parser.add_argument("--resource-id", required=True, metavar="ID", help="the resourceId from acquire")
    parser.add_argument("--sid", required=True, help="the recording's sid from start")
    if mode_default is None:
        parser.add_argument("--mode", required=True, choices=MODES, help="the recording mode")
    else:
        parser.add_argument("--mode", default=mode_default, choices=MODES, help="the recording mode (%(default)s)")


async def waiting(progress: Progress, what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Await ``call()``; meanwhile a live ``what... N s`` line on a terminal (plain mode: ``what...`` once)."""
    result: list[T] = []
    error: list[Exception] = []
    async with anyio.create_task_group() as tg:

        async def tick() -> None:
            while True:
                if progress.live or progress.elapsed() >= 1.0:  # plain mode: say it once, if it takes a while
                    progress.update(f"{what}... {progress.elapsed():.0f} s", key=what)
                await anyio.sleep(0.5)

        progress.restart()
        tg.start_soon(tick)
        try:
            result.append(await call())
        except Exception as exc:  # re-raised below, outside the task group (which would wrap it in a group)
            error.append(exc)
        finally:
            tg.cancel_scope.cancel()
    progress.clear()
    if error:
        raise error[0]
    return result[0]


# -- acquire ---------------------------------------------------------------------------------------------------------


def _acquire_args(parser: argparse.ArgumentParser) -> None:
    add_recorder(parser)
    parser.add_argument("--mode", choices=MODES, help="the mode you will start (web sets --scene 1)")
    parser.add_argument("--scene", type=int, choices=(0, 1, 2), help="0 audio/video, 1 web page, 2 postponed")
    parser.add_argument("--region", choices=("CN", "AP", "EU", "NA"), help="keep the service in one area")
    parser.add_argument("--resource-expired-hour", type=int, metavar="HOURS", help="1..720 (Agora's default 72)")


async def _acquire(ctx: Context) -> int:
    args = ctx.args
    scene = args.scene if args.scene is not None else (1 if args.mode == "web" else None)
    request = AcquireClientRequest(scene=scene, region=args.region, resource_expired_hour=args.resource_expired_hour)
    call = partial(
        ctx.client.acquire, cname=args.cname, uid=args.uid, client_request=request, web=args.mode == "web" or scene == 1
    )
    response = await waiting(ctx.progress, "acquire", call)
    ctx.emit("acquire")
    ctx.say(f"resourceId: {response.resource_id}")
    ctx.say("(valid for five minutes: start a recording with it before then)")
    return EXIT_OK


# -- start -----------------------------------------------------------------------------------------------------------


def _start_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resource-id", required=True, metavar="ID", help="the resourceId from acquire")
    parser.add_argument("--mode", required=True, choices=MODES, help="the recording mode")
    add_recorder(parser)
    parser.add_argument("--config", required=True, metavar="FILE", help="the clientRequest as Agora's JSON (- stdin)")


async def _start(ctx: Context) -> int:
    args = ctx.args
    call = partial(
        ctx.client.start,
        resource_id=args.resource_id,
        mode=args.mode,
        cname=args.cname,
        uid=args.uid,
        client_request=ctx.prepared,
    )
    response = await waiting(ctx.progress, "start", call)
    ctx.emit("start")
    ctx.say(f"sid: {response.sid}")
    ctx.say(f"resourceId: {response.resource_id}")
    return EXIT_OK


# -- query -----------------------------------------------------------------------------------------------------------


def print_query(ctx: Context, response: QueryResponse) -> None:
    """The readable form of a query answer."""
    server = response.server_response
    ctx.say(f"status: {describe_status(response.status)}")
    files = response.files
    ctx.say(f"files: {len(files)}")
    for line in describe_files(files):
        ctx.say(line)
    for entry in server.extension_service_state:
        ctx.say(f"service {entry.service_name}: {dict(entry.raw_payload)}")


async def _query(ctx: Context) -> int:
    args = ctx.args
    call = partial(ctx.client.query, resource_id=args.resource_id, sid=args.sid, mode=args.mode)
    response = await waiting(ctx.progress, "query", call)
    ctx.emit("query")
    print_query(ctx, response)
    return EXIT_OK


# -- update, update-layout -------------------------------------------------------------------------------------------


def _update_args(parser: argparse.ArgumentParser, *, mode_default: str | None = None) -> None:
    add_ids(parser, mode_default=mode_default)
    add_recorder(parser)
    parser.add_argument("--config", required=True, metavar="FILE", help="the clientRequest as Agora's JSON (- stdin)")


async def _send_update(ctx: Context, *, endpoint: str, done: str) -> int:
    """update and update-layout: one call with the --config clientRequest; ``endpoint`` is Agora's name for it."""
    args = ctx.args
    method: Callable[..., Awaitable[UpdateResponse | UpdateLayoutResponse]] = (
        ctx.client.update if endpoint == "update" else ctx.client.update_layout
    )
    call = partial(
        method,
        resource_id=args.resource_id,
        sid=args.sid,
        mode=args.mode,
        cname=args.cname,
        uid=args.uid,
        client_request=ctx.prepared,
    )
    response = await waiting(ctx.progress, endpoint, call)
    ctx.emit(endpoint)
    ctx.say(f"{done}: sid {response.sid or args.sid}")
    return EXIT_OK


# -- stop ------------------------------------------------------------------------------------------------------------


def _stop_args(parser: argparse.ArgumentParser) -> None:
    add_ids(parser)
    add_recorder(parser)
    parser.add_argument("--async", dest="async_stop", action="store_true", help="answer at once, upload later")


def print_stop(ctx: Context, response: StopResponse) -> None:
    """The readable form of a stop answer."""
    if response.already_stopped:
        ctx.say("stopped: the recording had already stopped")
        return
    if response.no_recorded_data:
        ctx.say("stopped: nothing was recorded (nobody sent a stream; code 435)")
        return
    status = response.uploading_status
    ctx.say(f"stopped: uploadingStatus {getattr(status, 'value', status) or '-'}")
    files = response.files
    ctx.say(f"files: {len(files)}")
    for line in describe_files(files):
        ctx.say(line)


async def _stop(ctx: Context) -> int:
    args = ctx.args
    call = partial(
        ctx.client.stop,
        resource_id=args.resource_id,
        sid=args.sid,
        mode=args.mode,
        cname=args.cname,
        uid=args.uid,
        async_stop=args.async_stop,
    )
    response = await waiting(ctx.progress, "stop (waiting for the uploads)", call)
    ctx.emit("stop")
    print_stop(ctx, response)
    return EXIT_OK


COMMANDS = (
    Command(name="acquire", help="get a resourceId (valid five minutes)", add_arguments=_acquire_args, run=_acquire),
    Command(
        name="start",
        help="start a recording with a resourceId and a --config file",
        add_arguments=_start_args,
        run=_start,
        prepare=lambda args: load_start_request(args.config, Mode(args.mode)),
    ),
    Command(name="query", help="a recording's status and files", add_arguments=lambda p: add_ids(p), run=_query),
    Command(
        name="update",
        help="change subscriptions, pause/resume (web) or storage",
        add_arguments=_update_args,
        run=partial(_send_update, endpoint="update", done="updated"),
        prepare=lambda args: load_update_request(args.config, Mode(args.mode)),
    ),
    Command(
        name="update-layout",
        help="replace the mixed video layout (mix mode)",
        add_arguments=partial(_update_args, mode_default="mix"),
        run=partial(_send_update, endpoint="updateLayout", done="layout updated"),
        prepare=lambda args: load_update_layout_request(args.config),
    ),
    Command(name="stop", help="stop a recording; shows the uploads", add_arguments=_stop_args, run=_stop),
)
"""The one-call commands, in the order of a recording's life."""
