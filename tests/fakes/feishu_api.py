"""A fake Feishu (Lark) on 127.0.0.1 for tests: the Open API calls the bot makes and the
long-connection endpoint, served by uvicorn in a thread.

- POST /open-apis/auth/v3/tenant_access_token/internal issues tokens; every other call must carry
  one this server issued (else 99991663, as Feishu answers an expired token).
- im/v1 messages: reply, create, patch (recorded as `SentMessage`s with every version of their
  card), message resources (files registered with `add_file`), GET /open-apis/bot/v3/info.
- POST /callback/ws/endpoint and a WebSocket at /ws/v2 speaking the SDK's protobuf frames
  (pbbp2.Frame): pings get pongs, `push_event` delivers an event and returns the client's answer,
  `go_silent` makes current connections stop answering (a half-open link), `hang_endpoint` makes
  the next discovery calls hang (oapi-sdk-python#169).
- `fail_next` scripts Feishu errors (token expiry, rate limits, 230002).
- CardKit (cardkit/v1): card entities created from card JSON 2.0 (`cardkit:card:write`; with
  `cardkit_scope=False` the app lacks it and every call answers 99991672), sent once as a message
  ({"type": "card", "data": {"card_id"}}), element text streamed only while streaming_mode is on
  (300309), each operation's `sequence` strictly increasing (300317), at most 10 operations a second
  per card (99991400, and counted in `violations`), 30 KB per card (200860), 100,000 characters per
  element; a repeated `uuid` is not applied twice. A sent entity's message keeps a version per change.

Helpers build event payloads and sign/encrypt them as Feishu does for webhooks.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import itertools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

import uvicorn
from Crypto.Cipher import AES
from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

APP_ID = "cli_yanbao_test"
APP_SECRET = "app-secret-for-tests-only"
BOT_OPEN_ID = "ou_yanbao_bot"
MAX_CONTENT_BYTES = 30 * 1024
MAX_CARD_OPS_PER_SECOND = 10
MAX_ELEMENT_CHARS = 100_000
SCOPE_MISSING = (
    99991672,
    "Access denied. One of the following scopes is required: [cardkit:card:write]. "
    "应用未开通所需的权限：[cardkit:card:write]",
)
TOKEN_INVALID = (
    99991663,
    "Invalid access token for authorization. Please make a request with token attached.",
)

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


@dataclass
class Call:
    kind: str  # token | reply | send | patch | download | bot_info | endpoint
    path: str
    body: dict[str, Any]
    at: float
    code: int = 0  # the Feishu code answered


@dataclass
class SentMessage:
    message_id: str
    chat_id: str | None
    parent_id: str | None  # the message replied to
    receive_id: str | None  # for messages sent with im/v1/messages (create)
    reply_in_thread: bool
    uuid: str | None
    cards: list[dict[str, Any]] = field(default_factory=list)  # every version, first to last
    times: list[float] = field(default_factory=list)

    @property
    def card(self) -> dict[str, Any]:
        return self.cards[-1]

    def text(self, version: int = -1) -> str:
        return json.dumps(self.cards[version], ensure_ascii=False)

    @property
    def is_answer(self) -> bool:
        """An answer card is finished when it carries the 👍/👎 buttons (or the thank-you)."""
        return "yanbao_feedback" in self.text() or "已记录你的反馈" in self.text()


@dataclass
class CardEntity:
    card_id: str
    card: dict[str, Any]
    sequence: int = 0
    message_id: str | None = None  # set once the entity is sent
    ops: list[float] = field(default_factory=list)  # when each operation came
    uuids: set[str] = field(default_factory=set)
    updates: list[str] = field(default_factory=list)  # "content", "settings", "update", in order

    @property
    def streaming(self) -> bool:
        return bool(self.card.get("config", {}).get("streaming_mode"))


@dataclass
class _WsConnection:
    number: int
    websocket: WebSocket
    device_id: str
    silent: bool = False
    closed: bool = False
    pings: int = 0


@dataclass
class _Failure:
    kind: str
    code: int
    msg: str
    status: int
    headers: dict[str, str]
    when: Callable[[dict[str, Any]], bool] | None


class FakeFeishu:
    def __init__(self, *, ping_interval: int = 1, app_id: str = APP_ID, app_secret: str = APP_SECRET) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.bot_open_id = BOT_OPEN_ID
        self.ping_interval = ping_interval
        self.calls: list[Call] = []
        self.messages: dict[str, SentMessage] = {}
        self.chats_of: dict[str, str] = {}  # incoming message id -> chat id (see `message_event`)
        self.kicked_from: set[str] = set()  # chats the bot is not in: 230002
        self.files: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.ws_connections: list[_WsConnection] = []
        self._tokens: set[str] = set()
        self._uuids: dict[str, str] = {}
        self.cardkit_scope = True  # False: the app was not granted cardkit:card:write
        self.entities: dict[str, CardEntity] = {}
        self.violations: list[str] = []  # limits the bot broke (each answered as Feishu would)
        self._failures: list[_Failure] = []
        self._hangs = 0
        self._pending: dict[str, asyncio.Future] = {}
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release = None  # asyncio.Event set at stop, freeing hung requests
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/open-apis/auth/v3/tenant_access_token/internal", self._token, methods=["POST"]),
                Route("/open-apis/bot/v3/info", self._bot_info, methods=["GET"]),
                Route("/open-apis/im/v1/messages", self._create, methods=["POST"]),
                Route("/open-apis/im/v1/messages/{message_id}/reply", self._reply, methods=["POST"]),
                Route("/open-apis/im/v1/messages/{message_id}", self._patch, methods=["PATCH"]),
                Route("/open-apis/cardkit/v1/cards", self._card_create, methods=["POST"]),
                Route("/open-apis/cardkit/v1/cards/{card_id}", self._card_update, methods=["PUT"]),
                Route(
                    "/open-apis/cardkit/v1/cards/{card_id}/settings", self._card_settings, methods=["PATCH"]
                ),
                Route(
                    "/open-apis/cardkit/v1/cards/{card_id}/elements/{element_id}/content",
                    self._card_content,
                    methods=["PUT"],
                ),
                Route(
                    "/open-apis/im/v1/messages/{message_id}/resources/{file_key}",
                    self._resource,
                    methods=["GET"],
                ),
                Route("/callback/ws/endpoint", self._endpoint, methods=["POST"]),
                WebSocketRoute("/ws/v2", self._websocket),
            ],
            lifespan=self._lifespan,
        )
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=1,
                ws="websockets-sansio",
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-feishu", daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    def _lifespan(self, app: Starlette):
        import contextlib

        @contextlib.asynccontextmanager
        async def span():
            self._loop = asyncio.get_running_loop()
            self._release = asyncio.Event()
            yield
            self._release.set()

        return span()

    def start(self) -> FakeFeishu:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Feishu did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> FakeFeishu:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting and reading

    def fail_next(
        self,
        kind: str,
        code: int,
        msg: str = "scripted failure",
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """The next `times` calls of `kind` (reply/send/patch/download/token) answer with `code`."""
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(kind, code, msg, status, headers or {}, when))

    def expire_tokens(self) -> None:
        """Forget every issued token: the bot's next call gets 99991663."""
        with self._lock:
            self._tokens.clear()

    def add_file(self, message_id: str, file_key: str, content: bytes, name: str) -> None:
        self.files[(message_id, file_key)] = (content, name)

    def hang_endpoint(self, times: int = 1) -> None:
        """The next `times` endpoint-discovery calls never answer (until the fake stops)."""
        with self._lock:
            self._hangs += times

    def calls_to(self, kind: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.kind == kind]

    def replies_to(self, message_id: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.messages.values() if m.parent_id == message_id]

    def sent_to(self, receive_id: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.messages.values() if m.receive_id == receive_id]

    def wait_for(self, find: Callable[[], Any], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = find()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout:g}s; calls so far: "
                        f"{[(c.kind, c.path, c.code) for c in self.calls][-20:]}"
                    )
                self._lock.wait(min(left, 0.1))

    def answer_to(self, message_id: str, timeout: float = 30) -> SentMessage:
        """The bot's finished answer card replying to `message_id`."""
        return self.wait_for(
            lambda: next((m for m in self.replies_to(message_id) if m.is_answer), None), timeout
        )

    def reply_containing(self, message_id: str, text: str, timeout: float = 30) -> SentMessage:
        return self.wait_for(
            lambda: next((m for m in self.replies_to(message_id) if text in m.text()), None), timeout
        )

    # ------------------------------------------------------------------ Open API

    def _record(self, kind: str, request: Request, body: dict[str, Any], code: int = 0) -> None:
        with self._lock:
            self.calls.append(Call(kind, request.url.path, body, time.time(), code))
            self._lock.notify_all()

    def _scripted(self, kind: str, body: dict[str, Any]) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.kind == kind and (failure.when is None or failure.when(body)):
                    self._failures.remove(failure)
                    return failure
        return None

    @staticmethod
    def _error(code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            {"code": code, "msg": msg},
            status_code=status,
            headers={"X-Tt-Logid": f"log{next(_ids)}", **(headers or {})},
        )

    @staticmethod
    def _ok(data: dict[str, Any] | None = None) -> JSONResponse:
        return JSONResponse(
            {"code": 0, "msg": "success", "data": data or {}}, headers={"X-Tt-Logid": f"log{next(_ids)}"}
        )

    async def _checked(self, kind: str, request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return {}, self._error(9499, "bad request body")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            self._record(kind, request, body, TOKEN_INVALID[0])
            return body, self._error(*TOKEN_INVALID)
        failure = self._scripted(kind, {**body, **request.path_params})
        if failure is not None:
            self._record(kind, request, body, failure.code)
            return body, self._error(failure.code, failure.msg, failure.status, failure.headers)
        return body, None

    async def _token(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            self._record("token", request, {"app_id": body.get("app_id")}, 10014)
            return self._error(10014, "app secret invalid")
        token = f"t-{uuid.uuid4().hex}"
        with self._lock:
            self._tokens.add(token)
        self._record("token", request, {"app_id": body.get("app_id")})
        return JSONResponse({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})

    async def _bot_info(self, request: Request) -> JSONResponse:
        body, refused = await self._checked("bot_info", request)
        if refused:
            return refused
        self._record("bot_info", request, body)
        return JSONResponse(
            {"code": 0, "msg": "ok", "bot": {"open_id": self.bot_open_id, "app_name": "yanbao"}}
        )

    def _card_of(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        if body.get("msg_type", "interactive") != "interactive":
            return None, self._error(230001, f"unexpected msg_type {body.get('msg_type')!r} in this fake")
        content = body.get("content") or ""
        if len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
            return None, self._error(230025, "The message content exceeds the length limit.")
        try:
            card = json.loads(content)
        except ValueError:
            return None, self._error(230001, "invalid message content: not JSON")
        if card.get("type") == "card":  # a CardKit entity, by its id
            entity = self.entities.get(str((card.get("data") or {}).get("card_id")))
            if entity is None:
                return None, self._error(200740, "The card entity does not exist")
            if entity.message_id is not None:
                return None, self._error(230099, "a card entity can only be sent once")
            return {"__entity__": entity.card_id, **copy.deepcopy(entity.card)}, None
        if card.get("schema") == "2.0" and not isinstance(card.get("body", {}).get("elements"), list):
            return None, self._error(230099, "card JSON 2.0 needs body.elements")
        return card, None

    def _store(
        self,
        body: dict[str, Any],
        *,
        chat_id: str | None,
        parent_id: str | None,
        receive_id: str | None,
        card: dict[str, Any],
    ) -> str:
        with self._lock:
            key = body.get("uuid")
            if key and key in self._uuids:  # Feishu sends a message once per uuid
                return self._uuids[key]
            message_id = new_id("om_bot")
            entity_id = card.pop("__entity__", None)
            if entity_id is not None:
                self.entities[entity_id].message_id = message_id
            self.messages[message_id] = SentMessage(
                message_id,
                chat_id,
                parent_id,
                receive_id,
                bool(body.get("reply_in_thread")),
                key,
                [card],
                [time.time()],
            )
            if key:
                self._uuids[key] = message_id
            self._lock.notify_all()
            return message_id

    async def _reply(self, request: Request) -> JSONResponse:
        body, refused = await self._checked("reply", request)
        if refused:
            return refused
        parent = request.path_params["message_id"]
        chat_id = self.chats_of.get(parent) or (
            self.messages[parent].chat_id if parent in self.messages else None
        )
        if chat_id in self.kicked_from:
            self._record("reply", request, body, 230002)
            return self._error(230002, "Bot/User can NOT be out of the chat.")
        card, bad = self._card_of(body)
        if bad:
            self._record("reply", request, body, json.loads(bad.body)["code"])
            return bad
        message_id = self._store(body, chat_id=chat_id, parent_id=parent, receive_id=None, card=card)
        self._record("reply", request, {**body, "message_id": parent})
        return self._ok({"message_id": message_id, "chat_id": chat_id, "msg_type": "interactive"})

    async def _create(self, request: Request) -> JSONResponse:
        body, refused = await self._checked("send", request)
        if refused:
            return refused
        card, bad = self._card_of(body)
        if bad:
            self._record("send", request, body, json.loads(bad.body)["code"])
            return bad
        receive_type = request.query_params.get("receive_id_type")
        receive_id = body.get("receive_id")
        chat_id = receive_id if receive_type == "chat_id" else f"oc_p2p_{receive_id}"
        if chat_id in self.kicked_from:
            self._record("send", request, body, 230002)
            return self._error(230002, "Bot/User can NOT be out of the chat.")
        message_id = self._store(body, chat_id=chat_id, parent_id=None, receive_id=receive_id, card=card)
        self._record("send", request, body)
        return self._ok({"message_id": message_id, "chat_id": chat_id, "msg_type": "interactive"})

    async def _patch(self, request: Request) -> JSONResponse:
        body, refused = await self._checked("patch", request)
        if refused:
            return refused
        message_id = request.path_params["message_id"]
        if message_id not in self.messages:
            self._record("patch", request, body, 230011)
            return self._error(230011, "The message is not found or was recalled.")
        card, bad = self._card_of({"msg_type": "interactive", **body})
        if bad:
            self._record("patch", request, body, json.loads(bad.body)["code"])
            return bad
        with self._lock:
            self.messages[message_id].cards.append(card)
            self.messages[message_id].times.append(time.time())
        self._record("patch", request, {**body, "message_id": message_id})
        return self._ok()

    # ------------------------------------------------------------------ CardKit

    async def _card_checked(
        self, kind: str, request: Request
    ) -> tuple[dict[str, Any], CardEntity | None, JSONResponse | None]:
        """Token, scope, entity, uuid and sequence checks shared by the card operations."""
        body, refused = await self._checked(kind, request)
        if refused:
            return body, None, refused
        if not self.cardkit_scope:
            self._record(kind, request, body, SCOPE_MISSING[0])
            return body, None, self._error(*SCOPE_MISSING)
        card_id = request.path_params.get("card_id")
        if card_id is None:
            return body, None, None
        with self._lock:
            entity = self.entities.get(card_id)
            if entity is None:
                self._record(kind, request, body, 200740)
                return body, None, self._error(200740, "The card entity does not exist")
            if body.get("uuid") and body["uuid"] in entity.uuids:  # idempotent: done already
                return body, entity, self._ok()
            now = time.time()
            recent = [t for t in entity.ops if now - t < 1.0]
            if len(recent) >= MAX_CARD_OPS_PER_SECOND:
                self.violations.append(f"{kind}: more than {MAX_CARD_OPS_PER_SECOND} operations a second")
                self._record(kind, request, body, 99991400)
                return body, None, self._error(99991400, "request trigger frequency limit")
            sequence = body.get("sequence")
            if not isinstance(sequence, int) or sequence <= entity.sequence:
                self.violations.append(f"{kind}: sequence {sequence} after {entity.sequence}")
                self._record(kind, request, body, 300317)
                return (
                    body,
                    None,
                    self._error(
                        300317,
                        "The sequence number for operating on the card did not increment consecutively",
                    ),
                )
            entity.ops.append(now)
        return body, entity, None

    def _new_version(self, entity: CardEntity, kind: str, body: dict[str, Any]) -> None:
        with self._lock:
            entity.sequence = body["sequence"]
            if body.get("uuid"):
                entity.uuids.add(body["uuid"])
            entity.updates.append(kind)
            message = self.messages.get(entity.message_id or "")
            if message is not None:
                message.cards.append(copy.deepcopy(entity.card))
                message.times.append(time.time())
            self._lock.notify_all()

    def _entity_card(self, data: str) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        if len(data.encode("utf-8")) > MAX_CONTENT_BYTES:
            return None, self._error(200860, "Card content exceeds limit.")
        try:
            card = json.loads(data)
        except ValueError:
            return None, self._error(200220, "Failed to generate card content")
        if card.get("schema") != "2.0" or not isinstance(card.get("body", {}).get("elements"), list):
            return None, self._error(200220, "Failed to generate card content: card JSON 2.0 only")
        if card.get("config", {}).get("update_multi") is False:
            return None, self._error(300302, "update_multi property is false")
        return card, None

    async def _card_create(self, request: Request) -> JSONResponse:
        body, _, refused = await self._card_checked("card_create", request)
        if refused:
            return refused
        if body.get("type") != "card_json":
            return self._error(10002, "type must be card_json in this fake")
        card, bad = self._entity_card(str(body.get("data") or ""))
        if bad:
            self._record("card_create", request, body, json.loads(bad.body)["code"])
            return bad
        card_id = str(7_355_000_000_000_000_000 + next(_ids))
        with self._lock:
            self.entities[card_id] = CardEntity(card_id, card)
        self._record("card_create", request, {**body, "card_id": card_id})
        return self._ok({"card_id": card_id})

    async def _card_content(self, request: Request) -> JSONResponse:
        body, entity, refused = await self._card_checked("card_content", request)
        if refused or entity is None:
            return refused  # type: ignore[return-value]
        element_id = request.path_params["element_id"]
        content = body.get("content")
        if not entity.streaming:
            self.violations.append("card_content while streaming_mode is off")
            self._record("card_content", request, body, 300309)
            return self._error(300309, "streaming mode is closed")
        if not isinstance(content, str) or not 1 <= len(content) <= MAX_ELEMENT_CHARS:
            self._record("card_content", request, body, 10002)
            return self._error(10002, f"content must be 1 to {MAX_ELEMENT_CHARS} characters")
        elements = [e for e in entity.card["body"]["elements"] if e.get("element_id") == element_id]
        if not elements or elements[0].get("tag") not in ("markdown", "plain_text"):
            self._record("card_content", request, body, 300301)
            return self._error(300301, f"no markdown or plain_text element {element_id!r}")
        elements[0]["content"] = content
        self._new_version(entity, "content", body)
        self._record("card_content", request, {**body, "card_id": entity.card_id, "element_id": element_id})
        return self._ok()

    async def _card_settings(self, request: Request) -> JSONResponse:
        body, entity, refused = await self._card_checked("card_settings", request)
        if refused or entity is None:
            return refused  # type: ignore[return-value]
        try:
            settings = json.loads(body.get("settings") or "{}")
        except ValueError:
            return self._error(10002, "settings is not JSON")
        entity.card.setdefault("config", {}).update(settings.get("config") or {})
        self._new_version(entity, "settings", body)
        self._record("card_settings", request, {**body, "card_id": entity.card_id})
        return self._ok()

    async def _card_update(self, request: Request) -> JSONResponse:
        body, entity, refused = await self._card_checked("card_update", request)
        if refused or entity is None:
            return refused  # type: ignore[return-value]
        card, bad = self._entity_card(str((body.get("card") or {}).get("data") or ""))
        if bad:
            self._record("card_update", request, body, json.loads(bad.body)["code"])
            return bad
        entity.card = card
        self._new_version(entity, "update", body)
        self._record("card_update", request, {**body, "card_id": entity.card_id})
        return self._ok()

    def entity_of(self, message_id: str) -> CardEntity | None:
        with self._lock:
            return next((e for e in self.entities.values() if e.message_id == message_id), None)

    async def _resource(self, request: Request) -> Response:
        body, refused = await self._checked("download", request)
        if refused:
            return refused
        key = (request.path_params["message_id"], request.path_params["file_key"])
        self._record(
            "download",
            request,
            {"message_id": key[0], "file_key": key[1], "type": request.query_params.get("type")},
        )
        if request.query_params.get("type") != "file" or key not in self.files:
            return self._error(234003, "File not in msg.")
        content, name = self.files[key]
        return Response(
            content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    # ------------------------------------------------------------------ long connection

    def _client_config(self) -> dict[str, int]:
        return {
            "ReconnectCount": -1,
            "ReconnectInterval": 1,
            "ReconnectNonce": 0,
            "PingInterval": self.ping_interval,
        }

    async def _endpoint(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            hang = self._hangs > 0
            if hang:
                self._hangs -= 1
        self._record("endpoint", request, {"AppID": body.get("AppID"), "hung": hang})
        if hang:
            await self._release.wait()
            return self._error(1, "system busy", status=500)
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
            return JSONResponse({"code": 10003, "msg": "invalid app credentials"})
        device = f"dev{next(_ids)}"
        url = (
            f"ws://127.0.0.1:{self.port}/ws/v2?fpid=1&aid=1&device_id={device}"
            f"&access_key=ak-{uuid.uuid4().hex}&service_id=77&ticket=tk-{uuid.uuid4().hex}"
        )
        return JSONResponse(
            {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": self._client_config()}}
        )

    @staticmethod
    def _frame(method: int, headers: dict[str, str], payload: bytes = b"", service: int = 77) -> Frame:
        frame = Frame()
        frame.SeqID, frame.LogID, frame.service, frame.method = 0, 0, service, method
        for key, value in headers.items():
            header = frame.headers.add()
            header.key, header.value = key, value
        if payload:
            frame.payload = payload
        return frame

    async def _websocket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        query = parse_qs(websocket.url.query)
        with self._lock:
            conn = _WsConnection(len(self.ws_connections) + 1, websocket, (query.get("device_id") or [""])[0])
            self.ws_connections.append(conn)
            self._lock.notify_all()
        try:
            while True:
                frame = Frame()
                frame.ParseFromString(await websocket.receive_bytes())
                headers = {h.key: h.value for h in frame.headers}
                if frame.method == 0 and headers.get("type") == "ping":
                    conn.pings += 1
                    if not conn.silent:
                        pong = self._frame(
                            0,
                            {"type": "pong"},
                            json.dumps(self._client_config()).encode(),
                            service=frame.service,
                        )
                        await websocket.send_bytes(pong.SerializeToString())
                elif frame.method == 1:
                    future = self._pending.pop(headers.get("message_id", ""), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(frame.payload or b"{}"))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            conn.closed = True
            with self._lock:
                self._lock.notify_all()

    def live_connections(self) -> list[_WsConnection]:
        with self._lock:
            return [c for c in self.ws_connections if not c.closed and not c.silent]

    def wait_for_connection(self, timeout: float = 20) -> _WsConnection:
        return self.wait_for(lambda: (self.live_connections() or [None])[-1], timeout)

    def go_silent(self) -> None:
        """Current connections stay open but never answer again: no pongs, no events."""
        with self._lock:
            for conn in self.ws_connections:
                conn.silent = True

    def push_event(self, payload: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Deliver an event over the newest live connection, as Feishu does; returns the client's
        response frame ({"code": 200, "data": base64 JSON for callbacks})."""
        conn = self.wait_for_connection()

        async def push() -> dict[str, Any]:
            message_id = uuid.uuid4().hex
            future = asyncio.get_running_loop().create_future()
            self._pending[message_id] = future
            frame = self._frame(
                1,
                {
                    "type": "event",
                    "message_id": message_id,
                    "trace_id": uuid.uuid4().hex,
                    "sum": "1",
                    "seq": "0",
                },
                json.dumps(payload, ensure_ascii=False).encode(),
            )
            await conn.websocket.send_bytes(frame.SerializeToString())
            return await asyncio.wait_for(future, timeout)

        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(push(), self._loop).result(timeout + 1)


# --------------------------------------------------------------------------- events as Feishu sends them


def _header(event_type: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "event_type": event_type,
        "create_time": str(int(time.time() * 1000)),
        "token": "",
        "app_id": APP_ID,
        "tenant_key": "tenant-test",
    }


def message_event(
    fake: FakeFeishu | None,
    text: str | None = None,
    *,
    sender: str = "ou_reader",
    chat_id: str = "oc_p2p_reader",
    chat_type: str = "p2p",
    message_id: str | None = None,
    root_id: str | None = None,
    thread_id: str | None = None,
    mentions: list[dict[str, Any]] | None = None,
    message_type: str = "text",
    content: dict[str, Any] | None = None,
    event_id: str | None = None,
    sender_type: str = "user",
) -> dict[str, Any]:
    """An im.message.receive_v1 event; registers the message's chat with `fake` for replies."""
    message_id = message_id or new_id("om")
    if content is None:
        content = {"text": text or ""}
    if fake is not None:
        fake.chats_of[message_id] = chat_id
    message: dict[str, Any] = {
        "message_id": message_id,
        "root_id": root_id or "",
        "parent_id": root_id or "",
        "create_time": str(int(time.time() * 1000)),
        "chat_id": chat_id,
        "chat_type": chat_type,
        "message_type": message_type,
        "content": json.dumps(content, ensure_ascii=False),
        "mentions": mentions or [],
    }
    if thread_id:
        message["thread_id"] = thread_id
    return {
        "schema": "2.0",
        "header": _header("im.message.receive_v1", event_id),
        "event": {
            "sender": {
                "sender_id": {"open_id": sender, "union_id": "on_" + sender, "user_id": None},
                "sender_type": sender_type,
                "tenant_key": "tenant-test",
            },
            "message": message,
        },
    }


def mention(open_id: str = BOT_OPEN_ID, name: str = "yanbao", key: str = "@_user_1") -> dict[str, Any]:
    return {
        "key": key,
        "id": {"open_id": open_id, "union_id": "on_x"},
        "name": name,
        "tenant_key": "tenant-test",
    }


def menu_event(event_key: str, open_id: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": _header("application.bot.menu_v6", event_id),
        "event": {
            "operator": {"operator_id": {"open_id": open_id}, "operator_name": "reader"},
            "event_key": event_key,
            "timestamp": int(time.time()),
        },
    }


def card_action_event(message_id: str, chat_id: str, open_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": _header("card.action.trigger"),
        "event": {
            "operator": {"open_id": open_id, "tenant_key": "tenant-test"},
            "token": "c-" + uuid.uuid4().hex,
            "action": {"tag": "button", "value": value},
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": chat_id},
        },
    }


def encrypt(plaintext: str, encrypt_key: str) -> str:
    """What Feishu does with FEISHU_ENCRYPT_KEY: base64(iv + AES-256-CBC(sha256(key), PKCS7))."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    data = plaintext.encode()
    pad = 16 - len(data) % 16
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(data + bytes([pad]) * pad)).decode()


def webhook_request(
    payload: dict[str, Any],
    *,
    token: str | None,
    encrypt_key: str | None = None,
    encrypted: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a push: the verification token inside, the body encrypted when asked,
    signed with X-Lark-Signature when an encrypt key is given."""
    payload = copy.deepcopy(payload)
    if token is not None:
        if "header" in payload:
            payload["header"]["token"] = token
        else:
            payload["token"] = token
    text = json.dumps(payload, ensure_ascii=False)
    if encrypted:
        assert encrypt_key, "an encrypted push needs the encrypt key"
        text = json.dumps({"encrypt": encrypt(text, encrypt_key)})
    body = text.encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if encrypt_key:
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:16]
        signature = hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()
        headers.update(
            {
                "X-Lark-Request-Timestamp": timestamp,
                "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": signature,
            }
        )
    return body, headers


def callback_result(response: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON a card callback returned over the long connection (base64 in the frame's data)."""
    data = response.get("data")
    return json.loads(base64.b64decode(data)) if data else None
