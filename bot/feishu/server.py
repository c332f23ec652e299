"""Serve the Feishu bot: the long connection ("ws", no public address needed) or the webhook
("http", Feishu posts to POST /feishu/events). Both answer GET /healthz and GET /metrics.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from bot.digests import DigestWorker
from bot.feishu.app import FeishuBot
from bot.feishu.longconn import LongConnection, mask_sdk_logs
from bot.feishu.webhook import EVENTS_PATH, events_endpoint
from bot.logs import configure_logging, secret_values
from bot.ops import ops_routes
from bot.service import Yanbao
from bot.state import StateStore, open_state
from index.settings import Settings, SettingsError

log = logging.getLogger("bot.feishu")

MODES = ("ws", "http")


class FeishuSetupError(SettingsError):
    """A Feishu setting is missing or wrong; the message names it and says what to do."""


def check_settings(settings: Settings, mode: str) -> None:
    if mode not in MODES:
        raise FeishuSetupError(
            f"--mode {mode!r}: Feishu runs in 'ws' (long connection) or 'http' (webhook) mode"
        )
    if not (settings.feishu_app_id and settings.feishu_app_secret):
        raise FeishuSetupError(
            "FEISHU_APP_ID and FEISHU_APP_SECRET are not set: copy them from your app's "
            "Credentials & Basic Info page on open.feishu.cn (open.larksuite.com for Lark); see docs/feishu.md."
        )
    check_domain(settings.feishu_domain)
    if mode == "http" and not (settings.feishu_verification_token or settings.feishu_encrypt_key):
        raise FeishuSetupError(
            "webhook mode needs FEISHU_VERIFICATION_TOKEN (and preferably FEISHU_ENCRYPT_KEY) from the app's "
            "Events & Callbacks → Encryption Strategy page, or run with --mode ws."
        )


def check_domain(domain: str) -> None:
    """FEISHU_DOMAIN is the Open API's scheme and host (https://open.feishu.cn, or
    https://open.larksuite.com for Lark); lark-oapi appends /open-apis/… to it as it is."""
    problem = None
    try:
        parts = urlsplit(domain)
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "expected http(s)://host"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = "give the scheme and host only, without a path (lark-oapi adds /open-apis/…)"
        elif any(ch.isspace() for ch in domain):
            problem = "it contains spaces"
    if problem:
        raise FeishuSetupError(
            f"FEISHU_DOMAIN={domain!r}: {problem}; use https://open.feishu.cn (Feishu) or "
            "https://open.larksuite.com (Lark)."
        )


def build_asgi(
    service: Yanbao,
    settings: Settings,
    *,
    bot: FeishuBot | None = None,
    state: StateStore | None = None,
    with_events: bool = True,
    connection: LongConnection | None = None,
) -> Starlette:
    """POST /feishu/events plus GET /healthz and /metrics. The bot is at `app.state.feishu_bot`."""
    state = state or (bot.state if bot else open_state(settings))
    routes: list[Route] = []
    if with_events:
        bot = bot or FeishuBot(service, settings, state=state)
        routes.append(
            Route(EVENTS_PATH, events_endpoint(settings, bot.handle_event, bot.acks), methods=["POST"])
        )

    def health() -> dict[str, Any]:
        checks: dict[str, Any] = {"platform": "feishu", "state": state.ping()}
        if bot is not None:
            checks.update(bot.health())
        if connection is not None:
            checks["long_connection"] = connection.connected
            checks["long_connection_restarts"] = connection.restarts
        return checks

    routes += ops_routes(health)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if with_events and bot is not None:
            bot.close(wait=False)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.feishu_bot = bot
    return app


def serve(
    service: Yanbao, settings: Settings, host: str = "0.0.0.0", port: int = 3000, mode: str = "ws"
) -> None:
    """Run the Feishu bot until interrupted. "ws" dials Feishu (FEISHU_DOMAIN) and keeps a long
    connection, serving only /healthz and /metrics on host:port; "http" serves the webhook too."""
    mode = "ws" if mode == "socket" else mode
    check_settings(settings, mode)
    if not any(getattr(h, "_yanbao", False) for h in logging.getLogger().handlers):
        configure_logging(settings.log_level, secrets=secret_values(settings))
    mask_sdk_logs(route_through_root=True)
    state = open_state(settings)
    bot = FeishuBot(service, settings, state=state)
    digests = DigestWorker(service, "feishu", bot.post_digest).start()
    if mode == "http":
        log.info("serving Feishu events", extra={"url": f"http://{host}:{port}{EVENTS_PATH}"})
        try:
            uvicorn.run(
                build_asgi(service, settings, bot=bot, state=state),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
            )
        finally:
            digests.stop()
        return

    connection = LongConnection(settings, bot.handle_event)
    ops = uvicorn.Server(
        uvicorn.Config(
            build_asgi(service, settings, bot=bot, state=state, with_events=False, connection=connection),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    threading.Thread(target=ops.run, name="yanbao-ops", daemon=True).start()
    log.info("connecting to Feishu over the long connection", extra={"ops": f"http://{host}:{port}/healthz"})
    try:
        connection.run_forever()
    finally:
        digests.stop()
        bot.close(wait=False)
