"""Serve the Slack app: HTTP (POST /slack/events behind Starlette + uvicorn) or Socket Mode.

Both modes also answer GET /healthz and GET /metrics.
"""

from __future__ import annotations

import logging
import threading

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.logs import configure_logging, request_context, secret_values
from bot.ops import ops_routes
from bot.service import Yanbao
from bot.slack.app import AckGate, SlackSetupError, build_app
from bot.state import StateStore
from index.settings import Settings

log = logging.getLogger("bot.slack")

EVENTS_PATH = "/slack/events"
MODES = ("http", "socket")


def build_asgi(
    service: Yanbao,
    settings: Settings,
    *,
    app: App | None = None,
    state: StateStore | None = None,
    with_events: bool = True,
) -> Starlette:
    """POST /slack/events (events, slash commands, interactivity) plus GET /healthz and /metrics."""
    state = state or service.state
    routes: list[Route] = []
    if with_events:
        acks = AckGate()
        bolt = app or build_app(service, settings, state=state, acks=acks)

        async def slack_events(request: Request) -> Response:
            body = await request.body()
            # Bolt's own Starlette adapter calls dispatch on the event loop; a thread keeps one slower
            # acknowledgement (a 👍 stored, a slash command's request copied) from holding up the rest
            with acks, request_context():
                response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
            return to_starlette_response(response)

        routes.append(Route(EVENTS_PATH, slack_events, methods=["POST"]))

    routes += ops_routes(lambda: {"platform": "slack", **service.health()})
    return Starlette(routes=routes)


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
        log.info("serving Slack events", extra={"url": f"http://{host}:{port}{EVENTS_PATH}"})
        uvicorn.run(asgi, host=host, port=port, log_level="warning", access_log=False)
        return

    connection = start_socket_mode(service, settings, host=host, port=port)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        connection.close()


class SocketModeConnection:
    """A running Socket Mode bot: the WebSocket to Slack and the /healthz + /metrics server."""

    def __init__(self, handler: SocketModeHandler, ops: uvicorn.Server, ops_thread: threading.Thread) -> None:
        self.handler = handler
        self.ops = ops
        self._ops_thread = ops_thread

    def close(self) -> None:
        self.handler.close()
        self.ops.should_exit = True
        self._ops_thread.join(timeout=10)


def start_socket_mode(
    service: Yanbao, settings: Settings, *, host: str = "127.0.0.1", port: int = 3000
) -> SocketModeConnection:
    """Connect to Slack over Socket Mode (SLACK_APP_TOKEN; apps.connections.open goes to
    SLACK_API_URL) and serve /healthz and /metrics on host:port; returns at once."""
    state = service.state
    app = build_app(service, settings, state=state, socket_mode=True)
    ops = uvicorn.Server(
        uvicorn.Config(
            build_asgi(service, settings, state=state, with_events=False),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    ops_thread = threading.Thread(target=ops.run, name="yanbao-ops", daemon=True)
    ops_thread.start()
    handler = SocketModeHandler(app, settings.slack_app_token)
    handler.connect()
    log.info("connected to Slack in Socket Mode", extra={"ops": f"http://{host}:{port}/healthz"})
    return SocketModeConnection(handler, ops, ops_thread)
