"""Serve the Slack app: HTTP (POST /slack/events behind Starlette + uvicorn) or Socket Mode.

Both modes also answer GET /healthz and GET /metrics from the first second: /healthz is 503 until
Slack's auth.test has answered (and, in Socket Mode, while the socket is down), with the reason.

POST /slack/events checks a request before reading it: the signature first (401 for a missing,
stale or wrong one, whatever the body), then the body (400 for one that is not a Slack payload).
Bolt only ever sees genuine, well-formed requests; anything it has no listener for is
acknowledged with 200 (Slack counts other answers toward disabling the app's events).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.chat import AckGate
from bot.digests import DigestWorker
from bot.logs import configure_logging, request_context, secret_values
from bot.ops import ops_routes
from bot.service import Yanbao
from bot.slack.app import SlackSetupError, build_app
from bot.slack.identity import RETRY_SECONDS, explain
from bot.state import StateStore
from index.settings import Settings

log = logging.getLogger("bot.slack")

EVENTS_PATH = "/slack/events"
MODES = ("http", "socket")
MAX_CLOCK_SKEW_SECONDS = 300  # Slack's own rule for X-Slack-Request-Timestamp


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify_signature(
    headers: Mapping[str, str], body: bytes, signing_secret: str, now: float | None = None
) -> None:
    """Slack's v0 signature over `v0:{timestamp}:{body}`; raises Rejected(401) unless it matches
    and the timestamp is within five minutes. `headers` must be case-insensitive."""
    timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
    given = (headers.get("x-slack-signature") or "").strip()
    if not timestamp or not given:
        raise Rejected(401, "missing X-Slack-Signature or X-Slack-Request-Timestamp")
    if not timestamp.isdigit():
        raise Rejected(401, "X-Slack-Request-Timestamp is not a Unix time")
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Rejected(401, "X-Slack-Request-Timestamp is more than 5 minutes away")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise Rejected(401, "signature does not match SLACK_SIGNING_SECRET")


def read_payload(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The payload of a signed request, or Rejected(400): events are a JSON object, slash commands
    a form, interactivity a form whose `payload` is a JSON object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None
    content_type = (headers.get("content-type") or "").lower()
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            payload = json.loads(text)
        except ValueError:
            raise Rejected(400, "body is not JSON") from None
        if not isinstance(payload, dict):
            raise Rejected(400, "body is not a JSON object")
        return payload
    form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            raise Rejected(400, "payload= is not JSON") from None
        if not isinstance(payload, dict) or not payload.get("type"):
            raise Rejected(400, "payload= is not an interaction payload")
        return payload
    if form.get("command") or form.get("ssl_check"):
        return form
    raise Rejected(400, "body is neither an event, a slash command nor an interaction")


def build_asgi(
    service: Yanbao,
    settings: Settings,
    *,
    app: App | None = None,
    state: StateStore | None = None,
    with_events: bool = True,
    health_extra: Any = None,
) -> Starlette:
    """POST /slack/events (events, slash commands, interactivity) plus GET /healthz and /metrics.
    `health_extra` is a callable adding checks (the Socket Mode connection)."""
    state = state or service.state
    routes: list[Route] = []
    bolt: App | None = None
    if with_events:
        acks = AckGate()
        bolt = app or build_app(service, settings, state=state, acks=acks)
        secret = settings.slack_signing_secret or ""
        events_app = bolt
        bot = getattr(bolt, "yanbao", None)

        async def slack_events(request: Request) -> Response:
            body = await request.body()
            # Bolt's own Starlette adapter calls dispatch on the event loop; a thread keeps one slower
            # acknowledgement (a 👍 stored, a slash command's request copied) from holding up the rest
            with acks, request_context():
                try:
                    verify_signature(request.headers, body, secret)
                    payload = read_payload(request.headers, body)
                except Rejected as exc:
                    log.warning(
                        "refused a Slack request: %s",
                        exc.reason,
                        extra={
                            "status": exc.status,
                            "client": request.client.host if request.client else None,
                        },
                    )
                    return JSONResponse({"ok": False, "error": exc.reason}, status_code=exc.status)
                if payload.get("type") == "event_callback" and bot is not None:
                    retry_num = request.headers.get("x-slack-retry-num")
                    if bot.accept_event(payload, retry_num):
                        return Response(status_code=200)
                if payload.get("type") == "app_rate_limited":
                    # Slack sends this without a subscription when it drops events: note it, 200
                    log.warning(
                        "Slack is dropping events: the app passed its events rate limit",
                        extra={
                            "team_id": payload.get("team_id"),
                            "minute": payload.get("minute_rate_limited"),
                        },
                    )
                    return Response(status_code=200)
                try:
                    response = await run_in_threadpool(events_app.dispatch, to_bolt_request(request, body))
                except Exception:
                    log.exception("handling a Slack request failed")
                    return JSONResponse({"ok": False, "error": "internal error"}, status_code=500)
            if response.status == 404:  # no listener for it: acknowledged, not an error for Slack
                log.info(
                    "acknowledged a Slack request nobody listens to", extra={"type": payload.get("type")}
                )
                return Response(status_code=200)
            return to_starlette_response(response)

        routes.append(Route(EVENTS_PATH, slack_events, methods=["POST"]))

    def health() -> dict[str, Any]:
        checks: dict[str, Any] = {"platform": "slack", **service.health()}
        service_ok = checks.pop("ok", True)
        bot = getattr(bolt, "yanbao", None)
        if bot is not None:
            checks.update(bot.health())
        if health_extra is not None:
            checks.update(health_extra())
        # healthy when the store is and no check failed (Slack unreachable, the socket down)
        checks["ok"] = bool(service_ok) and all(value is not False for value in checks.values())
        return checks

    routes += ops_routes(health)
    asgi = Starlette(routes=routes)
    asgi.state.slack_bot = getattr(bolt, "yanbao", None)  # serve() posts digests through it
    return asgi


def serve(
    service: Yanbao, settings: Settings, host: str = "0.0.0.0", port: int = 3000, mode: str = "http"
) -> None:
    """Run the Slack bot until interrupted. `mode` is "http" (Slack posts to /slack/events) or
    "socket" (the bot dials Slack with SLACK_APP_TOKEN; /healthz and /metrics still served on host:port)."""
    if mode not in MODES:
        raise SlackSetupError(f"--mode {mode!r}: Slack runs in 'http' or 'socket' mode")
    if not any(getattr(h, "_yanbao", False) for h in logging.getLogger().handlers):
        configure_logging(settings.log_level, secrets=secret_values(settings))
    state = service.state
    if mode == "http":
        asgi = build_asgi(service, settings, state=state)
        digests = DigestWorker(service, "slack", asgi.state.slack_bot.post_digest).start()
        log.info("serving Slack events", extra={"url": f"http://{host}:{port}{EVENTS_PATH}"})
        try:
            uvicorn.run(asgi, host=host, port=port, log_level="warning", access_log=False)
        finally:
            digests.stop()
        return

    connection = start_socket_mode(service, settings, host=host, port=port)
    digests = DigestWorker(service, "slack", connection.bot.post_digest).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        digests.stop()
        connection.close()


class SocketModeConnection:
    """A running Socket Mode bot: the WebSocket to Slack (dialled, and re-dialled, in the
    background) and the /healthz + /metrics server, which reports whether the socket is up."""

    def __init__(
        self,
        handler: SocketModeHandler,
        ops: uvicorn.Server,
        ops_thread: threading.Thread,
        *,
        api_url: str,
        retry_seconds: tuple[float, ...] = RETRY_SECONDS,
    ) -> None:
        self.handler = handler
        self.ops = ops
        self._ops_thread = ops_thread
        self.api_url = api_url
        self._retry_seconds = retry_seconds
        self.problem: str | None = "connecting"
        self.bot: Any = None  # the SlackBot answering on this connection
        self._stop = threading.Event()
        self._dialer = threading.Thread(target=self._dial, name="yanbao-slack-socket", daemon=True)

    def start(self) -> SocketModeConnection:
        self._dialer.start()
        return self

    def _dial(self) -> None:
        """The first connection, retried with backoff; the SDK reconnects by itself after that."""
        failures = 0
        while not self._stop.is_set():
            try:
                self.handler.connect()
                self.problem = None
                log.info("connected to Slack in Socket Mode")
                return
            except Exception as exc:
                problem = explain(exc, self.api_url)
                if "SLACK_BOT_TOKEN" in problem:
                    problem = problem.replace("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN").replace(
                        "Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page",
                        "app-level token (xapp-…, connections:write) from Basic Information → App-Level Tokens",
                    )
                if problem != self.problem:
                    log.error("Socket Mode cannot connect yet: %s", problem)
                self.problem = problem
            wait = self._retry_seconds[min(failures, len(self._retry_seconds) - 1)]
            failures += 1
            self._stop.wait(wait)

    @property
    def connected(self) -> bool:
        client = self.handler.client
        if not client.is_connected():
            return False
        # a half-open socket: no pong for a few ping intervals (the SDK drops it after four)
        session = client.current_session
        last = getattr(session, "last_ping_pong_time", None)
        return last is None or time.time() - last <= 3 * client.ping_interval

    def health(self) -> dict[str, Any]:
        connected = self.connected
        return {
            "socket_mode": connected,
            "socket_problem": None if connected else (self.problem or "disconnected"),
        }

    def close(self) -> None:
        self._stop.set()
        try:
            self.handler.close()
        except Exception:  # never connected: nothing to close
            pass
        self.ops.should_exit = True
        self._ops_thread.join(timeout=10)


def start_socket_mode(
    service: Yanbao,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    ping_interval: float = 10,
    retry_seconds: tuple[float, ...] = RETRY_SECONDS,
) -> SocketModeConnection:
    """Serve /healthz and /metrics on host:port, then connect to Slack over Socket Mode
    (SLACK_APP_TOKEN; apps.connections.open goes to SLACK_API_URL) in the background; returns at once."""
    state = service.state
    app = build_app(service, settings, state=state, socket_mode=True)
    handler = SocketModeHandler(app, settings.slack_app_token, ping_interval=ping_interval)
    holder: dict[str, SocketModeConnection] = {}

    def socket_health() -> dict[str, Any]:
        checks = dict(app.yanbao.health())  # type: ignore[attr-defined]
        if "connection" in holder:
            checks.update(holder["connection"].health())
        return checks

    ops = uvicorn.Server(
        uvicorn.Config(
            build_asgi(service, settings, state=state, with_events=False, health_extra=socket_health),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    ops_thread = threading.Thread(target=ops.run, name="yanbao-ops", daemon=True)
    ops_thread.start()
    connection = SocketModeConnection(
        handler, ops, ops_thread, api_url=settings.slack_api_url, retry_seconds=retry_seconds
    )
    holder["connection"] = connection
    connection.bot = app.yanbao  # type: ignore[attr-defined]
    log.info("connecting to Slack in Socket Mode", extra={"ops": f"http://{host}:{port}/healthz"})
    return connection.start()
