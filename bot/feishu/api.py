"""A thin wrapper over the lark-oapi client for the few Open API calls the bot makes, with the
retries Feishu asks for: a refreshed tenant token on 99991661/99991663, backoff on rate limits
(HTTP 429, 99991400, 230020), a few tries on network errors. 230002 (the bot is not in the chat)
and other refusals raise FeishuApiError for the caller to log; nothing here kills the process.

CardKit (cardkit/v1) calls stream an answer into one card: create a card entity, send it, update
an element's text with an increasing `sequence` (an idempotency uuid per sequence makes a retried
call safe), turn streaming off, replace the card with the final one. They need the
cardkit:card:write scope; without it Feishu answers 99991672 (see SCOPE_MISSING).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
import requests
from lark_oapi.api.cardkit.v1 import (
    Card,
    ContentCardElementRequest,
    ContentCardElementRequestBody,
    CreateCardRequest,
    CreateCardRequestBody,
    SettingsCardRequest,
    SettingsCardRequestBody,
    UpdateCardRequest,
    UpdateCardRequestBody,
)
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    GetMessageResourceRequest,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token import TokenManager

from bot.feishu.cards import card_json
from index.settings import Settings

log = logging.getLogger("yanbao.feishu.api")

TOKEN_INVALID = frozenset({99991661, 99991663})
RATE_LIMITED = frozenset({99991400, 230020})
BOT_NOT_IN_CHAT = 230002
SCOPE_MISSING = frozenset({99991672, 99991679})  # the app has not been granted the scope the call needs
MAX_TRIES = 4
MAX_WAIT_SECONDS = 20.0


class FeishuApiError(RuntimeError):
    """Feishu refused a call; `code` is Feishu's error code (0 when the network failed)."""

    def __init__(self, operation: str, code: int, msg: str, log_id: str | None = None) -> None:
        self.operation = operation
        self.code = code
        self.msg = msg
        self.log_id = log_id
        hint = ""
        if code == BOT_NOT_IN_CHAT:
            hint = " (the bot is not in this chat: add it to the group)"
        elif code in SCOPE_MISSING:
            hint = " (grant the scope in the developer console → Permissions, then publish a new version)"
        where = f", log_id {log_id}" if log_id else ""
        super().__init__(f"Feishu {operation} failed: {code} {msg}{hint}{where}")


def _read_code(response: Any) -> None:
    """Feishu's code and msg from the JSON body: the SDK leaves them unset for a raw request (GET
    bot/v3/info), where a rate limit comes back as HTTP 400 with code 99991400 in the body."""
    raw = getattr(response, "raw", None)
    try:
        data = json.loads(raw.content) if raw is not None and raw.content else None
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), int):
        response.code = data["code"]
        response.msg = str(data.get("msg") or "")
    elif raw is not None and 200 <= raw.status_code < 300:
        response.code = 0


def entity_content(card_id: str) -> str:
    """The `content` of an interactive message that shows a CardKit card entity."""
    return json.dumps({"type": "card", "data": {"card_id": card_id}}, separators=(",", ":"))


@dataclass
class Download:
    content: bytes
    file_name: str | None


class FeishuApi:
    def __init__(self, settings: Settings, *, timeout: float = 15.0) -> None:
        if not (settings.feishu_app_id and settings.feishu_app_secret):
            raise ValueError("FEISHU_APP_ID and FEISHU_APP_SECRET must be set to talk to Feishu")
        self.app_id = settings.feishu_app_id
        self.client = (
            lark.Client.builder()
            .app_id(settings.feishu_app_id)
            .app_secret(settings.feishu_app_secret)
            .domain(settings.feishu_domain)
            .timeout(timeout)
            .log_level(lark.LogLevel.WARNING)
            .build()
        )

    # ------------------------------------------------------------------ calls

    def reply_card(
        self, message_id: str, card: dict[str, Any], *, in_thread: bool = False, uuid: str | None = None
    ) -> str:
        """Reply to a message with a card; returns the new message's id."""
        return self._reply(message_id, card_json(card), in_thread=in_thread, uuid=uuid)

    def reply_card_entity(
        self, message_id: str, card_id: str, *, in_thread: bool = False, uuid: str | None = None
    ) -> str:
        """Reply with a CardKit card entity (sent once; later updated through its card_id)."""
        return self._reply(message_id, entity_content(card_id), in_thread=in_thread, uuid=uuid)

    def _reply(self, message_id: str, content: str, *, in_thread: bool, uuid: str | None) -> str:
        body = (
            ReplyMessageRequestBody.builder()
            .msg_type("interactive")
            .content(content)
            .reply_in_thread(in_thread)
        )
        if uuid:
            body = body.uuid(uuid[:50])  # Feishu drops a second send with the same uuid within an hour
        request = ReplyMessageRequest.builder().message_id(message_id).request_body(body.build()).build()
        response = self._call("reply", lambda: self.client.im.v1.message.reply(request))
        return response.data.message_id

    def send_card(
        self,
        receive_id: str,
        card: dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        uuid: str | None = None,
    ) -> str:
        return self._send(receive_id, card_json(card), receive_id_type=receive_id_type, uuid=uuid)

    def send_card_entity(
        self, receive_id: str, card_id: str, *, receive_id_type: str = "chat_id", uuid: str | None = None
    ) -> str:
        return self._send(receive_id, entity_content(card_id), receive_id_type=receive_id_type, uuid=uuid)

    def _send(self, receive_id: str, content: str, *, receive_id_type: str, uuid: str | None) -> str:
        body = (
            CreateMessageRequestBody.builder().receive_id(receive_id).msg_type("interactive").content(content)
        )
        if uuid:
            body = body.uuid(uuid[:50])
        request = (
            CreateMessageRequest.builder().receive_id_type(receive_id_type).request_body(body.build()).build()
        )
        response = self._call("send", lambda: self.client.im.v1.message.create(request))
        return response.data.message_id

    def patch_card(self, message_id: str, card: dict[str, Any]) -> None:
        body = PatchMessageRequestBody.builder().content(card_json(card)).build()
        request = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        self._call("update", lambda: self.client.im.v1.message.patch(request))

    def download_file(self, message_id: str, file_key: str) -> Download:
        """A file sent in a message, through the message-resource API."""
        request = (
            GetMessageResourceRequest.builder().message_id(message_id).file_key(file_key).type("file").build()
        )
        response = self._call("download", lambda: self.client.im.v1.message_resource.get(request))
        return Download(response.file.read(), response.file_name)

    def bot_open_id(self) -> str:
        """The bot's own open_id (GET /open-apis/bot/v3/info), to tell @bot from @someone-else.
        Raises FeishuApiError when Feishu did not say (an error code in the body, whatever the HTTP
        status and content type, or no open_id)."""

        def request() -> lark.BaseRequest:
            # a new request each try: the SDK writes the tenant token into a raw request's headers,
            # and a reused one would keep sending the token Feishu just called invalid
            return (
                lark.BaseRequest.builder()
                .http_method(lark.HttpMethod.GET)
                .uri("/open-apis/bot/v3/info")
                .token_types({lark.AccessTokenType.TENANT})
                .build()
            )

        response = self._call("bot info", lambda: self.client.request(request()))
        try:
            data = json.loads(response.raw.content or b"{}")
        except ValueError:
            raise FeishuApiError("bot info", 0, "the answer is not JSON") from None
        code = data.get("code", 0) if isinstance(data, dict) else None
        if code != 0:
            msg = data.get("msg") if isinstance(data, dict) else "unexpected answer"
            raise FeishuApiError("bot info", int(code or 0), str(msg or "no code"))
        open_id = (data.get("bot") or {}).get("open_id")
        if not open_id:
            raise FeishuApiError("bot info", 0, "the answer names no bot open_id")
        return str(open_id)

    # ------------------------------------------------------------------ CardKit

    def create_card(self, card: dict[str, Any]) -> str:
        """A card entity from card JSON 2.0; returns its card_id (valid 14 days, sent once)."""
        body = CreateCardRequestBody.builder().type("card_json").data(card_json(card)).build()
        request = CreateCardRequest.builder().request_body(body).build()
        response = self._call("create card", lambda: self.client.cardkit.v1.card.create(request))
        return response.data.card_id

    def stream_card_text(self, card_id: str, element_id: str, content: str, sequence: int) -> None:
        """The full text of a markdown element of a streaming card (Feishu types out the new part)."""
        body = (
            ContentCardElementRequestBody.builder()
            .content(content)
            .sequence(sequence)
            .uuid(f"{card_id}-{sequence}")
            .build()
        )
        request = (
            ContentCardElementRequest.builder()
            .card_id(card_id)
            .element_id(element_id)
            .request_body(body)
            .build()
        )
        self._call("stream card text", lambda: self.client.cardkit.v1.card_element.content(request))

    def card_settings(self, card_id: str, config: dict[str, Any], sequence: int) -> None:
        """Change a card entity's config (e.g. {"streaming_mode": False})."""
        settings = json.dumps({"config": config}, ensure_ascii=False, separators=(",", ":"))
        body = (
            SettingsCardRequestBody.builder()
            .settings(settings)
            .sequence(sequence)
            .uuid(f"{card_id}-{sequence}")
            .build()
        )
        request = SettingsCardRequest.builder().card_id(card_id).request_body(body).build()
        self._call("card settings", lambda: self.client.cardkit.v1.card.settings(request))

    def update_card(self, card_id: str, card: dict[str, Any], sequence: int) -> None:
        """Replace a card entity with new card JSON 2.0."""
        whole = Card.builder().type("card_json").data(card_json(card)).build()
        body = (
            UpdateCardRequestBody.builder()
            .card(whole)
            .sequence(sequence)
            .uuid(f"{card_id}-{sequence}")
            .build()
        )
        request = UpdateCardRequest.builder().card_id(card_id).request_body(body).build()
        self._call("update card", lambda: self.client.cardkit.v1.card.update(request))

    # ------------------------------------------------------------------ retries

    def _forget_token(self) -> None:
        TokenManager.cache.set(f"self_tenant_token:{self.app_id}", "", 0)

    def _call(self, operation: str, send: Any) -> Any:
        for attempt in range(1, MAX_TRIES + 1):
            try:
                response = send()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == MAX_TRIES:
                    raise FeishuApiError(operation, 0, f"network error: {type(exc).__name__}") from None
                self._sleep(operation, attempt, f"network error ({type(exc).__name__})")
                continue
            except ValueError:  # not JSON: a gateway's error page, an API this Feishu does not have
                if attempt >= 2:  # one more try for a passing gateway error; a missing API stays missing
                    raise FeishuApiError(
                        operation, 0, "the answer is not JSON (a proxy, or no such API)"
                    ) from None
                self._sleep(operation, attempt, "an answer that is not JSON")
                continue
            except ObtainAccessTokenException as exc:  # app id/secret wrong or token endpoint down
                raise FeishuApiError(
                    operation, exc.code or 0, f"cannot get a tenant token: {exc.msg}"
                ) from None
            if response.code is None:
                _read_code(response)
            code = response.code or 0
            if code == 0 and response.success():
                return response
            status = response.raw.status_code if response.raw is not None else None
            log_id = response.get_log_id() if response.raw is not None else None
            if code in TOKEN_INVALID and attempt < MAX_TRIES:
                log.info("Feishu said the tenant token is invalid (%s); fetching a new one", code)
                self._forget_token()
                continue
            if (code in RATE_LIMITED or status == 429) and attempt < MAX_TRIES:
                self._sleep(operation, attempt, f"rate limited ({code})", self._reset_after(response))
                continue
            if status is not None and status >= 500 and attempt < MAX_TRIES:
                self._sleep(operation, attempt, f"HTTP {status}")
                continue
            raise FeishuApiError(operation, code, response.msg or f"HTTP {status}", log_id)
        raise AssertionError("unreachable")

    @staticmethod
    def _reset_after(response: Any) -> float | None:
        headers = response.raw.headers if response.raw is not None else {}
        for name, value in (headers or {}).items():
            if name.lower() == "x-ogw-ratelimit-reset":
                try:
                    return float(value)
                except ValueError:
                    return None
        return None

    @staticmethod
    def _sleep(operation: str, attempt: int, why: str, wait: float | None = None) -> None:
        if wait is None:
            wait = 0.5 * 2 ** (attempt - 1) * (0.8 + 0.4 * random.random())
        wait = min(wait, MAX_WAIT_SECONDS)
        log.warning(
            "Feishu %s: %s; retrying in %.1fs (try %d of %d)", operation, why, wait, attempt + 1, MAX_TRIES
        )
        time.sleep(wait)
