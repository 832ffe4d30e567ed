"""The ``agora-recording`` console script, run as real OS processes against a FakeAgoraServer over TCP on 127.0.0.1.

The fake runs in this test process (a blocking portal's event loop in a thread), so each test can read its request
log and counters; every command runs as a subprocess of the installed console script. Every wait has a timeout and
every child is killed in ``finally``.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

import agora_recording
from agora_recording.testing import (
    DEFAULT_APP_ID,
    DEFAULT_CUSTOMER_ID,
    DEFAULT_CUSTOMER_SECRET,
    FakeAgoraServer,
    FakeTimings,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TIMEOUT = 30.0
"""The longest any one command may take before the test fails (they take well under a second or two)."""

STORAGE_SECRET = "storage-secret-CANARY-5be1"
STORAGE_KEY = "storage-access-CANARY-77d0"
WRONG_SECRET = "wrong-secret-CANARY-91f3"

MIX_CONFIG = {
    "recordingConfig": {
        "maxIdleTime": 30,
        "streamTypes": 2,
        "channelType": 0,
        "transcodingConfig": {"width": 640, "height": 360, "fps": 15, "bitrate": 500, "mixedVideoLayout": 1},
    },
    "storageConfig": {"vendor": 1, "region": 0, "bucket": "b", "accessKey": STORAGE_KEY, "secretKey": STORAGE_SECRET},
}
SECRETS = (DEFAULT_CUSTOMER_SECRET, STORAGE_SECRET, STORAGE_KEY, WRONG_SECRET)


def _script() -> list[str]:
    """The installed console script beside this interpreter (``python -m agora_recording`` if there is none)."""
    script = Path(sys.executable).with_name("agora-recording")
    if script.exists():
        return [str(script)]
    found = shutil.which("agora-recording")  # pragma: no cover - an install without the venv's bin
    return [found] if found else [sys.executable, "-m", "agora_recording"]  # pragma: no cover


@attrs.frozen
class Served:
    fake: FakeAgoraServer
    portal: BlockingPortal
    base_url: str

    def read(self, fn: Callable[[FakeAgoraServer], Any]) -> Any:
        """Read the fake's state in its own event loop thread."""
        return self.portal.call(fn, self.fake)

    def count(self, endpoint: str = "*") -> int:
        return int(self.read(lambda fake: len(fake.requests_to(endpoint))))


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    fake = FakeAgoraServer(rate_limit=None, timings=FakeTimings(ready_after=0.1, first_file_after=0.2), seed=7)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(fake.serve()) as base_url:
        yield Served(fake, portal, base_url)


@pytest.fixture
def env(served: Served) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    environ.update(
        AGORA_APP_ID=DEFAULT_APP_ID,
        AGORA_CUSTOMER_ID=DEFAULT_CUSTOMER_ID,
        AGORA_CUSTOMER_SECRET=DEFAULT_CUSTOMER_SECRET,
        AGORA_BASE_URL=served.base_url,
        PYTHONUNBUFFERED="1",
    )
    return environ


@pytest.fixture
def config(tmp_path: Path) -> Callable[[Any], str]:
    def write(data: Any, name: str = "config.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return str(path)

    return write


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def run(env: dict[str, str], *args: str, check: int | None = 0) -> Result:
    """Run the console script to its end (bounded by TIMEOUT); no secret may appear in what it printed."""
    done = subprocess.run(
        [*_script(), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    result = Result(done.returncode, done.stdout, done.stderr)
    for secret in SECRETS:
        assert secret not in result.out, f"a secret was printed on stdout by {args}"
        assert secret not in result.err, f"a secret was printed on stderr by {args}"
    if check is not None:
        assert result.code == check, result
    return result


class Child:
    """A console-script process whose output lines are read by threads, so waits can have timeouts."""

    def __init__(self, args: list[str], *, env: dict[str, str], ignore_sigint: bool = False) -> None:
        command = [*_script(), *args]
        if ignore_sigint:  # as a non-interactive shell starts a background job: SIGINT ignored, inherited by exec
            command = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
        self.proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], into: list[str], announce: bool) -> None:
        for line in stream:
            into.append(line)
            if announce:
                self.lines.put(line)

    def wait_for_line(self, text: str) -> str:
        """The first stdout line containing ``text`` (fails after TIMEOUT, or when the process ends first)."""
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no line with {text!r} within {TIMEOUT} s; stderr: {''.join(self.err)}")
            if text in line:
                return line

    def finish(self) -> Result:
        code = self.proc.wait(timeout=TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=TIMEOUT)
        return Result(code, "".join(self.out), "".join(self.err))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _acquire_and_start(env: dict[str, str], path: str, cname: str, uid: str = "527841") -> tuple[str, str]:
    rid = run(env, "acquire", "--cname", cname, "--uid", uid, "--json").json()["resourceId"]
    started = run(env, "start", "--resource-id", rid, "--mode", "mix", "--cname", cname, "--uid", uid, "--config", path)
    sid = started.out.split("sid: ", 1)[1].split()[0]
    return rid, sid


# -- --version, help ------------------------------------------------------------------------------------------------


def test_version_prints_the_package_version(env: dict[str, str]) -> None:
    """``--version`` prints the program and the package's version and exits 0 (it was 'unknown command')."""
    result = run(env, "--version")
    assert result.out.strip() == f"agora-recording {agora_recording.__version__}"


def test_help_lists_every_command_and_no_command_is_a_usage_error(env: dict[str, str]) -> None:
    """``--help`` lists the commands, exit codes and variables; no command at all exits 2."""
    text = run(env, "--help").out
    for name in ("demo", "fake-server", "acquire", "start", "query", "update", "update-layout", "stop", "record"):
        assert name in text
    assert "AGORA_CUSTOMER_SECRET" in text
    assert "exit codes" in text
    assert run(env, check=2).err.startswith("usage:")
    assert "invalid choice" in run(env, "frobnicate", check=2).err


# -- each command, readable and --json --------------------------------------------------------------------------------


def test_acquire_readable_and_json(env: dict[str, str], served: Served) -> None:
    """acquire prints the resourceId; with --json, Agora's answer exactly as the fake sent it."""
    before = served.count("acquire")
    readable = run(env, "acquire", "--cname", "cli-acq", "--uid", "11")
    assert readable.out.startswith("resourceId: ")
    answer = run(env, "acquire", "--cname", "cli-acq", "--uid", "12", "--json").json()
    assert set(answer) >= {"resourceId", "cname", "uid"}
    assert answer["cname"] == "cli-acq"
    assert answer["uid"] == "12"
    assert served.count("acquire") == before + 2


def _wait_for_files(served: Served, sid: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not served.read(lambda fake: fake.recording(sid).has_files):  # the first file comes 0.2 s after start
        assert time.monotonic() < deadline, "the fake never reported a file"
        time.sleep(0.05)


def test_a_recording_driven_command_by_command(env: dict[str, str], served: Served, config: Callable[..., str]) -> None:
    """start, query, update, update-layout and stop, readable and with --json (wire keys, camelCase).

    ``stop --json`` is covered by the watch test, ``start --json`` here; readable start and stop here too."""
    path = config(MIX_CONFIG)
    rid = run(env, "acquire", "--cname", "cli-steps", "--uid", "21", "--json").json()["resourceId"]
    recorder = ("--cname", "cli-steps", "--uid", "21")
    started = run(env, "start", "--resource-id", rid, "--mode", "mix", *recorder, "--config", path, "--json").json()
    sid = started["sid"]
    assert started["resourceId"] == rid
    ids = ("--resource-id", rid, "--sid", sid, "--mode", "mix")

    queried = run(env, "query", *ids)
    assert "status: " in queried.out
    assert "files: " in queried.out
    wire = run(env, "query", *ids, "--json").json()
    assert wire["sid"] == sid
    assert "status" in wire["serverResponse"]

    update = config({"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["#allstream#"]}}}, "update.json")
    assert run(env, "update", *ids, *recorder, "--config", update).out.startswith("updated: sid " + sid)
    assert run(env, "update", *ids, *recorder, "--config", update, "--json").json()["sid"] == sid
    layout = config({"mixedVideoLayout": 1}, "layout.json")
    assert run(env, "update-layout", *ids, *recorder, "--config", layout).out.startswith("layout updated")
    assert run(env, "update-layout", *ids, *recorder, "--config", layout, "--json").json()["sid"] == sid
    info = served.read(lambda fake: fake.recording(sid))
    assert (info.updates, info.layout_updates) == (2, 2)

    _wait_for_files(served, sid)
    stopped = run(env, "stop", *ids, *recorder)
    assert "stopped: uploadingStatus uploaded" in stopped.out
    assert f"{sid}_cli-steps.m3u8" in stopped.out
    assert served.read(lambda fake: fake.recording(sid)).end_reason == "stop"


# -- configuration errors: nothing is sent -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "mode", "path"),
    [
        (lambda c: c["recordingConfig"].update(streamTypes=9), "mix", "$.recordingConfig.streamTypes"),
        (lambda c: c["storageConfig"].update(accessKey={"k": STORAGE_KEY}), "mix", "$.storageConfig.accessKey"),
        (lambda c: c["recordingConfig"].pop("transcodingConfig"), "individual", "$.recordingConfig.subscribeUidGroup"),
    ],
    ids=["limit", "secret-field", "mode-rule"],
)
def test_an_invalid_config_names_the_json_path_and_sends_nothing(
    env: dict[str, str], served: Served, config: Callable[..., str], change: Any, mode: str, path: str
) -> None:
    """start and record refuse an invalid --config with exit 2 and the JSON path, before any request."""
    data = json.loads(json.dumps(MIX_CONFIG))
    change(data)
    file = config(data)
    before = served.count()
    start = run(
        env, "start", "--resource-id", "r", "--mode", mode, "--cname", "c", "--uid", "1", "--config", file, check=2
    )
    assert f": {path}" in start.err
    assert "nothing was sent" in start.err
    assert len(start.err.strip().splitlines()) == 1
    assert served.count() == before


def test_record_checks_its_config_before_acquiring(
    env: dict[str, str], served: Served, config: Callable[..., str]
) -> None:
    """record with an invalid --config: exit 2 naming the path; not even the acquire is sent; --json stays empty."""
    data = json.loads(json.dumps(MIX_CONFIG))
    data["recordingConfig"]["maxIdleTime"] = 0
    before = served.count()
    result = run(
        env, "record", "--mode", "mix", "--cname", "c", "--uid", "1", "--config", config(data), "--json", check=2
    )
    assert ": $.recordingConfig.maxIdleTime: " in result.err
    assert result.out == ""
    assert served.count() == before


def test_a_config_that_is_not_json_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    """A --config file that is not JSON exits 2 with the line and column (the other cases: test_cli_units)."""
    (tmp_path / "bad.json").write_text("{nope")
    base = ("start", "--resource-id", "r", "--mode", "mix", "--cname", "c", "--uid", "1", "--config")
    assert "not JSON: line 1 column 2" in run(env, *base, str(tmp_path / "bad.json"), check=2).err


# -- credentials ------------------------------------------------------------------------------------------------------


def test_a_wrong_secret_exits_1_says_authentication_and_prints_no_secret(env: dict[str, str]) -> None:
    """Agora's 401: exit 1, one stderr line with endpoint, status, reason, request id; the secret is nowhere, also
    not with --verbose or --json (``run`` checks every output for every secret)."""
    env = {**env, "AGORA_CUSTOMER_SECRET": WRONG_SECRET}
    for extra in ((), ("--verbose", "--json")):
        result = run(env, "acquire", "--cname", "c", "--uid", "1", *extra, check=1)
        line = result.err.strip().splitlines()[-1]
        assert line.startswith("agora-recording: acquire: HTTP 401, code -, reason ")
        assert "authentication" in line
        assert "request id " in line
        assert "request id -" not in line
        assert result.out == ""


def test_a_missing_variable_exits_2_and_names_it(env: dict[str, str], served: Served) -> None:
    """A missing credential variable is named, with its flag; nothing is sent."""
    before = served.count()
    partial = {k: v for k, v in env.items() if k != "AGORA_CUSTOMER_SECRET"}
    result = run(partial, "acquire", "--cname", "c", "--uid", "1", check=2)
    assert (
        result.err.strip()
        == "agora-recording: error: missing credentials: set AGORA_CUSTOMER_SECRET (or --customer-secret)"
    )
    assert result.out == ""
    assert served.count() == before


def test_flags_override_the_environment(env: dict[str, str], served: Served) -> None:
    """--app-id, --customer-secret and --base-url win over wrong values in the variables."""
    env = {
        **env,
        "AGORA_APP_ID": "0" * 32,
        "AGORA_CUSTOMER_SECRET": WRONG_SECRET,
        "AGORA_BASE_URL": "http://127.0.0.1:9",
    }
    flags = ("--app-id", DEFAULT_APP_ID, "--customer-secret", DEFAULT_CUSTOMER_SECRET, "--base-url", served.base_url)
    assert run(env, "acquire", "--cname", "c", "--uid", "1", *flags, "--json").json()["resourceId"]


# -- record and watch -------------------------------------------------------------------------------------------------


def test_record_with_a_duration_stops_the_recording(
    env: dict[str, str], served: Served, config: Callable[..., str]
) -> None:
    """record: acquire, start, verify, hold for --duration, stop; the fake saw a stop and nothing runs."""
    stopped_before = served.read(lambda fake: fake.stats.recordings_stopped)
    args = ("record", "--mode", "mix", "--cname", "cli-rec", "--uid", "31", "--config", config(MIX_CONFIG))
    timing = ("--duration", "0.5", "--first-query", "0.2", "--interval", "0.2")
    result = run(env, *args, *timing)
    assert "started: resourceId " in result.out
    assert "recording: status 5 (in progress)" in result.out
    assert "stopped: uploadingStatus uploaded" in result.out
    assert "\x1b[" not in result.err  # not a terminal: plain progress lines
    assert served.read(lambda fake: fake.stats.recordings_stopped) == stopped_before + 1
    assert not [r for r in served.read(lambda fake: fake.running_recordings()) if r.cname == "cli-rec"]


def test_record_on_a_terminal_redraws_one_status_line(
    env: dict[str, str], served: Served, config: Callable[..., str]
) -> None:
    """With stderr on a terminal (a pty), record's progress is one line redrawn in place: carriage return, erase."""
    args = ["record", "--mode", "mix", "--cname", "cli-tty", "--uid", "34", "--config", config(MIX_CONFIG)]
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every copy of the terminal's other end is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    proc = subprocess.Popen(
        [*_script(), *args, "--duration", "0.4", "--first-query", "0.2", "--interval", "0.1"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    try:
        os.close(slave)
        reader.start()
        out, _ = proc.communicate(timeout=TIMEOUT)
        reader.join(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        os.close(master)
    assert proc.returncode == 0
    assert b"stopped: uploadingStatus uploaded" in out
    shown = b"".join(chunks).decode()
    assert "\rrecording: status 5 (in progress)" in shown
    assert "\x1b[K" in shown
    for secret in SECRETS:
        assert secret not in shown


def test_record_json_is_one_event_per_answer(env: dict[str, str], served: Served, config: Callable[..., str]) -> None:
    """record --json: JSON Lines, acquire, start, queries, stop, each with Agora's wire answer."""
    args = ("record", "--mode", "mix", "--cname", "cli-recj", "--uid", "32", "--config", config(MIX_CONFIG), "--json")
    events = run(env, *args, "--duration", "0.3", "--first-query", "0.2", "--interval", "0.1").events()
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["acquire", "start"]
    assert kinds[-1] == "stop"
    assert set(kinds[2:-1]) == {"query"}
    sid = events[1]["response"]["sid"]
    assert events[-1]["response"]["sid"] == sid
    assert served.read(lambda fake: fake.recording(sid)).end_reason == "stop"


def test_record_stops_the_recording_on_sigint(env: dict[str, str], served: Served, config: Callable[..., str]) -> None:
    """Ctrl-C (SIGINT) while recording: the recording is stopped, then the command exits 0."""
    args = ["record", "--mode", "mix", "--cname", "cli-int", "--uid", "33", "--config", config(MIX_CONFIG)]
    child = Child([*args, "--first-query", "0.2", "--interval", "0.2"], env=env)
    try:
        line = child.wait_for_line("started: resourceId ")
        sid = line.split(" sid ")[1].strip()
        child.wait_for_line("recording: status")
        child.proc.send_signal(signal.SIGINT)
        result = child.finish()
    finally:
        child.kill()
    assert result.code == 0, result
    assert "SIGINT: stopping the recording" in result.err
    assert "stopped: " in result.out
    assert served.read(lambda fake: fake.recording(sid)).end_reason == "stop"


@pytest.mark.parametrize(
    ("reason", "message"),
    [("abnormal", "exited abnormally (status 20)"), ("idle", "ended on its own: query answered 404")],
)
def test_record_exits_1_when_the_recording_ends_on_its_own(
    env: dict[str, str], served: Served, config: Callable[..., str], reason: str, message: str
) -> None:
    """A recording that dies (status 20) or ends idle (query then answers 404) while record holds it: exit 1, saying
    so; the stop that follows finds it already stopped."""
    cname = f"cli-end-{reason}"
    args = ["record", "--mode", "mix", "--cname", cname, "--uid", "35", "--config", config(MIX_CONFIG)]
    child = Child([*args, "--first-query", "0.2", "--interval", "0.1", "--gone-after", "0.2"], env=env)
    try:
        sid = child.wait_for_line("started: resourceId ").split(" sid ")[1].strip()
        child.wait_for_line("recording: status")
        served.read(lambda fake: fake.end_recording(sid, reason=reason))
        result = child.finish()
    finally:
        child.kill()
    assert result.code == 1, result
    assert f"agora-recording: recording failed: the recording {message}" in result.err
    assert "stopped: the recording had already stopped" in result.out
    assert served.read(lambda fake: fake.recording(sid)).end_reason == reason


def test_watch_follows_a_recording_until_it_ends(
    env: dict[str, str], served: Served, config: Callable[..., str]
) -> None:
    """watch: Ctrl-C ends it (exit 130) and the recording goes on; otherwise it shows the status until the recording
    is stopped elsewhere (query then answers 404) and exits 0; with --json every answer is a query event."""
    rid, sid = _acquire_and_start(env, config(MIX_CONFIG), "cli-watch")  # the readable start's sid
    assert served.read(lambda fake: fake.recording(sid)).resource_id == rid
    ids = ["--resource-id", rid, "--sid", sid, "--mode", "mix", "--interval", "0.1"]
    interrupted = Child(["watch", *ids], env=env)
    try:
        interrupted.wait_for_line("status")
        interrupted.proc.send_signal(signal.SIGINT)
        result = interrupted.finish()
    finally:
        interrupted.kill()
    assert result.code == 130
    assert "the recording goes on" in result.err
    assert served.read(lambda fake: fake.recording(sid)).state == "running"

    readable = Child(["watch", *ids, "--gone-after", "0.3"], env=env)
    as_json = Child(["watch", *ids, "--gone-after", "0.3", "--json"], env=env)
    try:
        readable.wait_for_line("status 5 (in progress)")
        as_json.wait_for_line('"status":5')
        _wait_for_files(served, sid)
        recorder = ("--cname", "cli-watch", "--uid", "527841")
        stopped = run(env, "stop", "--resource-id", rid, "--sid", sid, "--mode", "mix", *recorder, "--json").json()
        shown, events = readable.finish(), as_json.finish()
    finally:
        readable.kill()
        as_json.kill()
    assert stopped["sid"] == sid
    assert stopped["serverResponse"]["uploadingStatus"] == "uploaded"
    assert shown.code == 0
    assert "ended: query answers 404" in shown.out
    assert events.code == 0
    assert {e["event"] for e in events.events()} == {"query"}
    assert all(e["response"]["sid"] == sid for e in events.events())


# -- fake-server and demo ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_fake_server_serves_then_stops_on_a_signal_even_when_sigint_was_ignored(
    env: dict[str, str], sig: signal.Signals
) -> None:
    """Started as a non-interactive shell starts a background job (SIGINT ignored), fake-server answers the ops
    commands (AGORA_BASE_URL pointing at it), then stops on SIGINT, and on SIGTERM, saying so and exiting 0."""
    child = Child(["fake-server", "--port", "0"], env=env, ignore_sigint=True)
    try:
        base_url = child.wait_for_line("listening on").split("listening on ")[1].split()[0]
        child.wait_for_line("Press Ctrl-C to stop.")
        if sig == signal.SIGINT:
            answer = run({**env, "AGORA_BASE_URL": base_url}, "acquire", "--cname", "c", "--uid", "1", "--json")
            assert answer.json()["resourceId"]
        child.proc.send_signal(sig)
        result = child.finish()
    finally:
        child.kill()
    assert result.code == 0, result
    assert result.out.splitlines()[-1] == "stopped"


def test_demo_runs_from_the_console_script(env: dict[str, str]) -> None:
    """The README's first command still works (a short, fast run)."""
    result = run(env, "demo", "--recordings", "3", "--rate", "50", "--no-live", "--fast")
    assert "OK: 3 recordings" in result.out
