"""A real ``redis-server`` for the tests: started on 127.0.0.1 on a free port, without persistence, and stopped.

Tests that need Redis use the ``redis_server`` fixture (``tests/conftest.py``). When ``redis-server`` or redis-py
is missing they are skipped with a clear reason, unless ``AGORA_REQUIRE_REDIS=1`` (set by ``.ci/run``), where a
missing Redis is a failure: CI must never pass by skipping them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

STARTUP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_redis() -> str:
    """The path of ``redis-server``; skips (or fails under ``AGORA_REQUIRE_REDIS=1``) when Redis is unavailable."""
    binary = shutil.which("redis-server")
    missing = None
    if binary is None:
        missing = "redis-server is not installed (apt-get install redis-server)"
    else:
        try:
            import redis.asyncio  # noqa: F401 - only checking that the extra is installed
        except ImportError:
            missing = "redis-py is not installed (pip install 'agora-recording[redis]')"
    if missing is not None:
        if os.environ.get("AGORA_REQUIRE_REDIS") == "1":
            pytest.fail(f"AGORA_REQUIRE_REDIS=1 but {missing}")
        pytest.skip(missing)
    assert binary is not None
    return binary


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1; :meth:`restart` keeps the port (data is lost: no persistence)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="agora-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir,
            "--protected-mode",
            "yes",
            "--loglevel",
            "warning",
        ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"redis-server exited at start: {err[:500]}")
            if _ping(self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING within {STARTUP_TIMEOUT} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        """FLUSHALL over a raw socket (no client library needed)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    """Start a private ``redis-server`` for the duration of the block."""
    server = RedisServer(require_redis())
    server.start()
    try:
        yield server
    finally:
        server.close()
