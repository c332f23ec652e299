"""POST /feishu/events: Feishu's event and card-callback pushes over HTTP.

lark-oapi's EventDispatcherHandler answers every failure, a forged request included, with HTTP 500
and looks headers up with their exact case. This endpoint checks the request itself, reading
headers in any case, and answers like a web server should: 400 for a body it cannot read, 401 for
a wrong verification token or signature, 200 for everything genuine (unknown event types too).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.chat import AckGate
from bot.feishu.crypto import DecryptError, decrypt, signature_matches
from bot.feishu.events import CARD_ACTION, envelope
from bot.logs import request_context
from index.settings import Settings

log = logging.getLogger("bot.feishu.webhook")

EVENTS_PATH = "/feishu/events"


class WebhookRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Verified:
    payload: dict[str, Any]
    challenge: str | None  # set for url_verification


def _token_of(payload: dict[str, Any]) -> str | None:
    header = payload.get("header")
    if isinstance(header, dict) and header.get("token") is not None:
        return str(header["token"])
    return str(payload["token"]) if payload.get("token") is not None else None


def verify_request(headers: Mapping[str, str], body: bytes, settings: Settings) -> Verified:
    """Decrypt and authenticate one push. `headers` must be case-insensitive (Starlette's are)."""
    try:
        outer = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(outer, dict):
        raise WebhookRejected(400, "body is not a JSON object")

    encrypt_key = settings.feishu_encrypt_key or ""
    if "encrypt" in outer:
        if not encrypt_key:
            raise WebhookRejected(400, "the event is encrypted but FEISHU_ENCRYPT_KEY is not set")
        try:
            payload = json.loads(decrypt(str(outer["encrypt"]), encrypt_key))
        except DecryptError as exc:
            raise WebhookRejected(400, str(exc)) from None
        except ValueError:
            raise WebhookRejected(400, "the decrypted event is not JSON") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(400, "the decrypted event is not a JSON object")
    else:
        payload = outer

    is_challenge = payload.get("type") == "url_verification"
    # Feishu signs every push but the address check once an encrypt key is configured
    if encrypt_key and not is_challenge:
        timestamp = headers.get("x-lark-request-timestamp")
        nonce = headers.get("x-lark-request-nonce")
        given = headers.get("x-lark-signature")
        if not (timestamp and nonce and given):
            raise WebhookRejected(401, "missing X-Lark-Signature headers")
        if not signature_matches(timestamp, nonce, encrypt_key, body, given):
            raise WebhookRejected(401, "signature does not match FEISHU_ENCRYPT_KEY")

    expected = settings.feishu_verification_token
    if expected:
        token = _token_of(payload)
        if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
            raise WebhookRejected(401, "verification token does not match FEISHU_VERIFICATION_TOKEN")

    if is_challenge:
        return Verified(payload, str(payload.get("challenge") or ""))
    return Verified(payload, None)


def events_endpoint(
    settings: Settings,
    handle_event: Callable[[dict[str, Any]], dict[str, Any] | None],
    acks: AckGate | None = None,
):
    """The Starlette endpoint for POST /feishu/events. `acks` is held while a push is acknowledged,
    so answer work (which waits on it) leaves the interpreter to the acknowledgements."""
    acks = acks or AckGate()
    if not (settings.feishu_verification_token or settings.feishu_encrypt_key):
        log.warning(
            "neither FEISHU_VERIFICATION_TOKEN nor FEISHU_ENCRYPT_KEY is set: anyone who finds "
            "/feishu/events can post events to it"
        )

    async def feishu_events(request: Request) -> JSONResponse:
        body = await request.body()
        with acks, request_context():
            try:
                verified = verify_request(request.headers, body, settings)
            except WebhookRejected as exc:
                log.warning(
                    "refused a Feishu push: %s",
                    exc.reason,
                    extra={"status": exc.status, "client": request.client.host if request.client else None},
                )
                return JSONResponse({"msg": exc.reason}, status_code=exc.status)
            if verified.challenge is not None:
                return JSONResponse({"challenge": verified.challenge})
            try:
                if envelope(verified.payload).event_type == CARD_ACTION:
                    # a click is answered with content, which reads and writes the state store
                    result = await run_in_threadpool(handle_event, verified.payload)
                else:  # events are only parsed and queued: no I/O, no thread hop
                    result = handle_event(verified.payload)
            except Exception:
                log.exception("handling a Feishu push failed")
                return JSONResponse({"msg": "internal error"}, status_code=500)
        return JSONResponse(result if result is not None else {"msg": "success"})

    return feishu_events
