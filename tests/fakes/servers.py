"""Real local servers for tests: redis-server (Debian package) and a Chroma server (chromadb's CLI).

Both listen on 127.0.0.1 on a free port, live for the whole test session and are stopped at its
end. Tests that need a clean slate use `redis_url` (flushed per test) or their own collection
names / key prefixes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class LocalServer:
    name: str
    host: str
    port: int
    url: str
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(ready: Callable[[], bool], server: LocalServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with code {server.process.returncode} before it was ready:\n"
                f"{server.log_tail()}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} was not ready on port {server.port} after {timeout:g}s:\n{server.log_tail()}"
    )


def _start(
    name: str, command: list[str], port: int, url: str, log_path: Path, env: dict | None = None
) -> LocalServer:
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    log_file.close()
    return LocalServer(name, "127.0.0.1", port, url, log_path, process)


def _stop(server: LocalServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A real redis-server on 127.0.0.1 for the session; `.url` is redis://127.0.0.1:PORT/0."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "redis-server is not installed (Debian: apt-get install -y redis-server; .ci/run does this)"
        )
    workdir = tmp_path_factory.mktemp("redis")
    port = free_port()
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--daemonize", "no",
    ]  # fmt: skip
    server = _start("redis-server", command, port, f"redis://127.0.0.1:{port}/0", workdir / "redis.log")
    try:
        _wait_until(lambda: _redis_ready(port), server, timeout=20)
        yield server
    finally:
        _stop(server)


@pytest.fixture
def redis_url(redis_server: LocalServer) -> str:
    """The session's Redis, emptied before this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


def _chroma_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "chroma"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("chroma")


def _chroma_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as response:
            return response.status == 200 and any("heartbeat" in key for key in json.loads(response.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A real Chroma server (`chroma run`) on 127.0.0.1 for the session; `.url` is http://127.0.0.1:PORT."""
    binary = _chroma_binary()
    if binary is None:
        pytest.fail("the `chroma` command from the chromadb package is missing: pip install chromadb")
    workdir = tmp_path_factory.mktemp("chroma")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [binary, "run", "--path", str(workdir / "data"), "--port", str(port), "--host", "127.0.0.1"]
    server = _start("chroma", command, port, f"http://127.0.0.1:{port}", workdir / "chroma.log", env)
    try:
        _wait_until(lambda: _chroma_ready(port), server, timeout=60)
        yield server
    finally:
        _stop(server)
