"""The test harness's own redis-server: private, on loopback, without persistence, restartable."""

from __future__ import annotations

import socket

from _redis_server import RedisServer, running_redis


def _command(server: RedisServer, *words: str) -> bytes:
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(payload.encode())
        return sock.recv(256)


def test_fixture_serves_on_loopback_and_flushes_between_tests(redis_server: RedisServer) -> None:
    """The shared server answers on 127.0.0.1, with no key left by an earlier test."""
    assert redis_server.url.startswith("redis://127.0.0.1:")
    assert _command(redis_server, "DBSIZE") == b":0\r\n"
    assert _command(redis_server, "SET", "k", "v") == b"+OK\r\n"


def test_restart_keeps_the_port_and_loses_the_data() -> None:
    """A restart is a real restart: same address, empty data set (nothing is persisted)."""
    with running_redis() as server:
        _command(server, "SET", "k", "v")
        port = server.port
        server.restart()
        assert server.port == port
        assert _command(server, "EXISTS", "k") == b":0\r\n"
        assert _command(server, "CONFIG", "GET", "save").endswith(b"$0\r\n\r\n")
