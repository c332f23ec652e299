"""GET /healthz and GET /metrics, mounted by both bot HTTP servers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import render_metrics

log = logging.getLogger(__name__)


def health_status(checks: dict[str, Any]) -> bool:
    """A check counts as failed only when it is False; None means "not configured", which is fine."""
    if "ok" in checks:
        return bool(checks["ok"])
    return all(value is not False for value in checks.values())


def ops_routes(health: Callable[[], dict]) -> list[Route]:
    """/healthz answers 200 with {"ok": true, ...checks} or 503 when a check failed; /metrics is Prometheus."""

    # plain functions: Starlette runs them in its thread pool, so a slow check never blocks events
    def healthz(request: Request) -> JSONResponse:
        try:
            checks = dict(health())
        except Exception as exc:  # a failing check is an unhealthy answer, not a 500
            log.warning("health check raised", exc_info=True)
            checks = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        ok = health_status(checks)
        checks.pop("ok", None)
        return JSONResponse({"ok": ok, **checks}, status_code=200 if ok else 503)

    def metrics(request: Request) -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
