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
from bot.slack.app import SlackSetupError, build_app
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
        bolt = app or build_app(service, settings, state=state)

        async def slack_events(request: Request) -> Response:
            body = await request.body()
            # Bolt's own Starlette adapter calls dispatch on the event loop; a thread keeps one slow
            # ack (signature check, state write) from holding up every other request
            with request_context():
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
    threading.Thread(target=ops.run, name="yanbao-ops", daemon=True).start()
    log.info("connecting to Slack in Socket Mode", extra={"ops": f"http://{host}:{port}/healthz"})
    SocketModeHandler(app, settings.slack_app_token).start()
