"""What the two chat-ack benchmarks share: a free port, percentiles, and the bot in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_bot(bot_process: str, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    """The bot in its own process, as in production: `bot_process` (python -c) runs `serve()` with
    settings from the environment; returns once GET /healthz answers 200."""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", bot_process, str(ROOT), str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bot did not answer /healthz within 60 s")
