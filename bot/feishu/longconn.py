"""The long connection (lark-oapi ws.Client) in its own thread, watched by a watchdog.

Three things about ws.Client shape this module:
- `start()` blocks forever on `lark_oapi.ws.client.loop`, a module-level event loop grabbed at
  import time (whatever loop the importing thread had). We swap that name for a per-thread
  stand-in, so every session thread runs its own fresh loop and nothing touches another's.
- A reconnect can hang forever (oapi-sdk-python#169: endpoint discovery is a `requests.post`
  without a timeout, run on the loop thread), and a half-open connection just goes quiet. The
  watchdog counts frames (pongs arrive every ping interval); after `silence_seconds` without one it
  retires the session (close, stop its loop, or abandon the thread if the loop itself is stuck)
  and starts a new one with a new client.
- The endpoint URL the SDK logs carries connection credentials; its log lines are masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lark_oapi as lark
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
from lark_oapi.ws import client as sdk_ws

from index.settings import Settings

log = logging.getLogger("bot.feishu.longconn")

MAX_PING_SECONDS = 30  # Feishu suggests 120 s; a frame every 30 s lets the watchdog notice silence sooner
RESTART_BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)

_thread_loop = threading.local()


class _ThreadLoop:
    """Replaces lark_oapi.ws.client.loop: inside a coroutine the running loop, elsewhere the loop
    this thread was given, so each session thread drives its own client on its own loop."""

    def __getattr__(self, name: str) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = getattr(_thread_loop, "loop", None) or asyncio.get_event_loop_policy().get_event_loop()
        return getattr(loop, name)


def _install_thread_loops() -> None:
    if not isinstance(getattr(sdk_ws, "loop", None), _ThreadLoop):
        sdk_ws.loop = _ThreadLoop()


class MaskConnectionUrl(logging.Filter):
    """The ws endpoint's query string holds an access key and ticket; keep it out of logs."""

    _URL = re.compile(r"(wss?://[^\s?]+)\?[^\s\]]*")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._URL.sub(r"\1?…", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_sdk_logs(route_through_root: bool = False) -> None:
    """Mask the SDK's "Lark" logger; with `route_through_root`, drop the plain stdout handler it
    installs so its lines go through our JSON logging instead."""
    sdk_logger = logging.getLogger("Lark")
    if not any(isinstance(f, MaskConnectionUrl) for f in sdk_logger.filters):
        sdk_logger.addFilter(MaskConnectionUrl())
    if route_through_root:
        for handler in list(sdk_logger.handlers):
            sdk_logger.removeHandler(handler)
        sdk_logger.propagate = True


class _Dispatcher(EventDispatcherHandler):
    """ws.Client hands every event and card callback to `_do_without_validation`; ours routes all
    of them to the bot (the SDK's own raises on types nobody registered)."""

    def __init__(self, handle_event: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        super().__init__()
        self._handle_event = handle_event

    def _do_without_validation(self, payload: bytes) -> Any:
        return self._handle_event(json.loads(payload))


class _WatchedClient(sdk_ws.Client):
    """ws.Client that reports every frame it receives, and pings at least every MAX_PING_SECONDS."""

    def __init__(self, *args: Any, on_frame: Callable[[], None], max_ping: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_frame = on_frame
        self._max_ping = max_ping
        self._ping_interval: float = min(self._ping_interval, max_ping)

    async def _connect(self) -> None:
        await super()._connect()
        if self._conn is not None:
            self._on_frame()

    async def _handle_message(self, msg: bytes) -> None:
        self._on_frame()
        await super()._handle_message(msg)

    def _configure(self, conf: Any) -> None:
        super()._configure(conf)
        if not self._ping_interval or self._ping_interval > self._max_ping:
            self._ping_interval = self._max_ping


@dataclass
class _Session:
    number: int
    started: float = field(default_factory=time.monotonic)
    last_frame: float | None = None
    client: _WatchedClient | None = None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    retired: bool = False
    ended_at: float | None = None

    def touch(self) -> None:
        self.last_frame = time.monotonic()

    @property
    def last_activity(self) -> float:
        return self.last_frame or self.started

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client._conn is not None and self.ended_at is None


class LongConnection:
    """Feishu's long connection with a watchdog. `start()` returns at once; `run_forever()` blocks."""

    def __init__(
        self,
        settings: Settings,
        handle_event: Callable[[dict[str, Any]], dict[str, Any] | None],
        *,
        silence_seconds: float | None = None,
        check_every: float = 1.0,
        max_ping_seconds: float = MAX_PING_SECONDS,
    ) -> None:
        if not (settings.feishu_app_id and settings.feishu_app_secret):
            raise ValueError("FEISHU_APP_ID and FEISHU_APP_SECRET must be set for the long connection")
        self.settings = settings
        self.silence_seconds = silence_seconds
        self.check_every = check_every
        self.max_ping_seconds = max_ping_seconds
        self._dispatcher = _Dispatcher(handle_event)
        self._stop = threading.Event()
        self._session: _Session | None = None
        self._sessions = 0
        self._failures = 0
        self.restarts = 0  # sessions the watchdog replaced
        self._watchdog: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        _install_thread_loops()
        mask_sdk_logs()
        self._launch()
        self._watchdog = threading.Thread(target=self._watch, name="yanbao-feishu-watchdog", daemon=True)
        self._watchdog.start()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):  # a timed wait keeps Ctrl-C working
                pass
        finally:
            self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        session = self._session
        if session is not None:
            self._retire(session)
            if session.thread is not None:
                session.thread.join(timeout)
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout)

    def status(self) -> dict[str, Any]:
        session = self._session
        silent = time.monotonic() - session.last_activity if session else None
        return {
            "connected": bool(session and session.connected),
            "silent_seconds": round(silent, 1) if silent is not None else None,
            "restarts": self.restarts,
        }

    @property
    def connected(self) -> bool:
        return bool(self._session and self._session.connected)

    # ------------------------------------------------------------------ sessions

    def _launch(self) -> None:
        self._sessions += 1
        session = _Session(self._sessions)
        session.thread = threading.Thread(
            target=self._run, args=(session,), name=f"yanbao-feishu-ws-{session.number}", daemon=True
        )
        self._session = session
        session.thread.start()

    def _run(self, session: _Session) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        _thread_loop.loop = loop
        session.loop = loop
        try:
            # built here: its constructor schedules a cache task on this thread's loop
            session.client = _WatchedClient(
                self.settings.feishu_app_id,
                self.settings.feishu_app_secret,
                log_level=lark.LogLevel.INFO,
                event_handler=self._dispatcher,
                domain=self.settings.feishu_domain,
                auto_reconnect=True,
                on_frame=session.touch,
                max_ping=self.max_ping_seconds,
            )
            log.info(
                "connecting to Feishu (long connection)",
                extra={"session": session.number, "domain": self.settings.feishu_domain},
            )
            session.client.start()
        except (RuntimeError, asyncio.CancelledError):
            if not session.retired:  # a retired session ends with its tasks cancelled, its loop stopped
                log.exception("Feishu long connection stopped")
        except Exception as exc:
            log.error("Feishu long connection failed: %s", exc, extra={"session": session.number})
        finally:
            session.ended_at = time.monotonic()
            self._close_loop(loop)

    @staticmethod
    def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(Exception):
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2))
            loop.close()

    def _retire(self, session: _Session) -> None:
        """Close the session's connection and stop its loop. If the loop is stuck in blocking code
        (the #169 hang) this runs whenever it comes back; the thread is a daemon either way."""
        session.retired = True
        client, loop = session.client, session.loop
        if client is not None:
            client._auto_reconnect = False
        if loop is None or loop.is_closed():
            return

        async def close() -> None:
            # cancel the SDK's tasks first: a receive loop that sees its socket close logs an error
            # and schedules a reconnect, which is not what retiring means
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            if others:
                await asyncio.wait(others, timeout=1)
            conn = client._conn if client is not None else None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
            asyncio.get_running_loop().stop()

        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            asyncio.run_coroutine_threadsafe(close(), loop)

    def _silence_limit(self, session: _Session) -> float:
        if self.silence_seconds is not None:
            return self.silence_seconds
        ping = (session.client._ping_interval if session.client else None) or self.max_ping_seconds
        return 3 * ping + 5

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every):
            session = self._session
            if session is None:
                continue
            now = time.monotonic()
            if session.ended_at is not None:
                # start() gave up (wrong app id/secret, endpoint refused): try again, backing off
                wait = RESTART_BACKOFF_SECONDS[min(self._failures, len(RESTART_BACKOFF_SECONDS) - 1)]
                if now - session.ended_at >= wait:
                    self._failures += 1
                    self.restarts += 1
                    log.warning("restarting the Feishu long connection", extra={"after_seconds": wait})
                    self._launch()
                continue
            if session.last_frame is not None:
                self._failures = 0
            silent = now - session.last_activity
            limit = self._silence_limit(session)
            if silent > limit:
                log.warning(
                    "no frames from Feishu for %.0fs (limit %.0fs): reconnecting",
                    silent,
                    limit,
                    extra={"session": session.number, "connected": session.connected},
                )
                self._retire(session)
                self.restarts += 1
                self._launch()
