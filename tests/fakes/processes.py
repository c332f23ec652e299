"""`yanbao` as separate processes for tests: long-running servers (`yanbao serve …`) with their log in a
file, waited for on GET /healthz and always stopped, plus one-shot commands started side by side.

Every process gets `tests.helpers.cli_env(home, **env)`: its own YANBAO_HOME, no model hub, and only
the YANBAO_/SLACK_/FEISHU_ settings the test gives it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import YANBAO, cli_env


@dataclass
class YanbaoProcess:
    """One `yanbao ARGS` subprocess; stdout and stderr (the JSON log) go to `log_path`."""

    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen
    port: int | None = None
    first_health: dict | None = None  # what GET /healthz said the first time it answered 200

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} listens on no port"
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the log, without httpx's one line per Chroma request."""
        kept = [line for line in self.log_text().splitlines() if not _is_request_line(line)]
        return "\n".join(kept[-lines:]) if kept else "(empty log)"

    def log_records(self) -> list[dict]:
        """The structured log lines (one JSON object each) written so far; other lines are skipped."""
        records = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line still being written
        return records

    def describe(self) -> str:
        state = "running" if self.process.poll() is None else f"exited with {self.process.returncode}"
        return f"--- {self.name} ({state}): yanbao {' '.join(self.args)}\n{self.log_tail()}"

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} still running after {timeout:g}s\n{self.describe()}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _is_request_line(line: str) -> bool:
    return line.startswith("{") and '"logger": "httpx"' in line and '"level": "INFO"' in line


def start_yanbao(
    name: str, args: list[str], home: Path, log_path: Path, *, port: int | None = None, **env: str
) -> YanbaoProcess:
    """Start `.venv/bin/yanbao ARGS` in the background with `cli_env(home, **env)`; returns at once."""
    home.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(YANBAO), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cli_env(home, **env),
            cwd=home,
        )
    return YanbaoProcess(name, args, log_path, process, port)


def wait_healthy(server: YanbaoProcess, timeout: float) -> dict:
    """Poll GET /healthz until it answers 200; returns its JSON. Fails early if the process exits."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited before it was healthy\n{server.describe()}")
        try:
            response = httpx.get(server.url + "/healthz", timeout=5)
            if response.status_code == 200:
                server.first_health = response.json()
                return server.first_health
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise RuntimeError(
        f"{server.name} was not healthy after {timeout:g}s (last: {last})\n{server.describe()}"
    )


@contextlib.contextmanager
def logs_on_failure(*processes: YanbaoProcess) -> Iterator[None]:
    """Print the tail of each process's log when the block fails (pytest shows it with the failure)."""
    try:
        yield
    except Exception:
        for process in processes:
            print(process.describe())
        raise
