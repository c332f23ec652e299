"""A real Slack Web API on 127.0.0.1 for tests and benchmarks, and a sender of correctly signed requests.

`FakeSlackAPI` answers the Web API methods the bot calls (auth.test, chat.postMessage, chat.update,
chat.postEphemeral, files.info, users.info), serves private file downloads behind the bot token like
files.slack.com does, records response_url posts, and can be scripted to fail the way Slack fails
(`ratelimited` with Retry-After, `not_in_channel`, `channel_not_found`).

It also speaks Slack's AI-app surface as documented (2025): chat.startStream / appendStream /
stopStream with their limits (a reply in a thread; recipient_user_id and recipient_team_id outside a
DM; at most 12,000 characters of markdown per call; append/stop only on a message still streaming;
at most 50 blocks at the stop; appendStream a Tier 4 method, 100 calls a minute), and
assistant.threads.setStatus / setSuggestedPrompts (at most 4) / setTitle. `refuse_streaming` and
`refuse_assistant` make them answer as a workspace without them does.

`SlackSender` plays Slack's side of the Events API: it signs each body exactly as Slack does
(v0 HMAC-SHA256 over `v0:{timestamp}:{body}`) and posts events as JSON, slash commands and
interactivity payloads form-encoded.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx

JSON_FIELDS = ("blocks", "attachments", "metadata", "chunks", "prompts")


@dataclass
class ApiCall:
    method: str  # "chat.postMessage", … or "response_url"
    params: dict[str, Any]
    at: float
    status: int = 200
    error: str | None = None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str | None = None  # set for ephemeral messages: who sees it
    ephemeral: bool = False
    versions: list[dict[str, Any]] = field(default_factory=list)  # earlier (text, blocks)
    streaming: bool = False  # between chat.startStream and chat.stopStream
    stream_calls: list[str] = field(default_factory=list)  # startStream, appendStream…, stopStream

    def all_text(self) -> str:
        """Everything a person reads in this message: the text and every text inside its blocks."""
        return self.text + "\n" + "\n".join(block_texts(self.blocks))


def block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return out


@dataclass
class _ScriptedError:
    method: str
    error: str
    times: int
    status: int
    retry_after: int | None
    when: Callable[[dict[str, Any]], bool] | None


class FakeSlackAPI:
    """Run with `with FakeSlackAPI() as slack:`; point the bot at `slack.api_url`."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        port: int = 0,
    ) -> None:
        self.port = port  # 0: any free port
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.calls: list[ApiCall] = []
        self.messages: dict[str, Message] = {}  # ts -> message
        self.files: dict[str, dict[str, Any]] = {}
        self._file_bytes: dict[str, bytes] = {}
        self._errors: list[_ScriptedError] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._counter = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._socket_server: Any = None
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.socket_acks: dict[str, dict[str, Any]] = {}  # envelope_id -> the bot's acknowledgement
        self.socket_connections = 0
        self.socket_down = False  # an outage: open sockets are closed, new ones refused
        self.refuse_streaming: str | None = None  # e.g. "unknown_method": chat.*Stream refused
        self.refuse_assistant: str | None = None  # e.g. "missing_scope": assistant.threads.* refused
        self.users: dict[str, str] = {}  # user id -> display name, for users.info
        self.statuses: dict[tuple[str, str], str] = {}  # (channel, thread_ts) -> the status shown now
        self.violations: list[str] = []  # limits the bot broke (the call was refused as Slack would)
        self._append_times: list[float] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeSlackAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake._handle_post(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._handle_get(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._socket_server is not None:
            self._socket_server.shutdown()
            self._socket_server = None

    def __enter__(self) -> FakeSlackAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "FakeSlackAPI is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be set to."""
        return self.base_url + "/api/"

    # -- scripting ---------------------------------------------------------------------------------
    def script_error(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        status: int | None = None,
        retry_after: int | None = None,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next `times` calls of `method` (matching `when`) fail with `error`.
        `ratelimited` answers HTTP 429 with a Retry-After header, as Slack does."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if error == "ratelimited" and retry_after is None:
            retry_after = 1
        with self._lock:
            self._errors.append(_ScriptedError(method, error, times, status, retry_after, when))

    def add_file(
        self,
        name: str,
        content: bytes,
        *,
        user: str = "UADMIN",
        file_id: str | None = None,
        reported_size: int | None = None,
    ) -> dict[str, Any]:
        """Register a file as if a user uploaded it; returns the file object events carry.
        `reported_size` makes files.info state a size other than the real one."""
        file_id = file_id or f"F{next(self._counter):08d}"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        download = f"{self.base_url}/files-pri/{self.team_id}-{file_id}/download/{quote(name)}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "user": user,
            "size": len(content) if reported_size is None else reported_size,
            "filetype": ext or "binary",
            "mimetype": "application/octet-stream",
            "url_private": download.replace("/download/", "/"),
            "url_private_download": download,
            "mode": "hosted",
            "is_external": False,
        }
        with self._lock:
            self.files[file_id] = info
            self._file_bytes[file_id] = content
        return dict(info)

    # -- Socket Mode ---------------------------------------------------------------------------------
    def _start_socket_server(self) -> str:
        """The WebSocket endpoint apps.connections.open hands out (plain ws:// on a high port, which
        slack_sdk accepts "for library testing")."""
        if self._socket_server is None:
            from websockets.sync.server import serve

            self._socket_server = serve(self._socket_session, "127.0.0.1", 0)
            threading.Thread(
                target=self._socket_server.serve_forever, name="fake-slack-ws", daemon=True
            ).start()
        host, port = self._socket_server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=fake"

    def drop_sockets(self) -> None:
        """A Slack outage: open Socket Mode connections close and new ones are refused."""
        with self._changed:
            self.socket_down = True
            self._changed.notify_all()

    def restore_sockets(self) -> None:
        with self._changed:
            self.socket_down = False
            self._changed.notify_all()

    def _socket_session(self, connection: Any) -> None:
        if self.socket_down:
            connection.close()
            return
        with self._changed:
            self.socket_connections += 1
            self._changed.notify_all()
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}})
        )
        while True:
            try:
                envelope = self._outbox.get_nowait()
                connection.send(json.dumps(envelope, ensure_ascii=False))
            except queue.Empty:
                pass
            if self.socket_down:
                connection.close()
                return
            try:
                raw = connection.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:  # the client went away
                return
            ack = json.loads(raw)
            if ack.get("envelope_id"):
                with self._changed:
                    self.socket_acks[ack["envelope_id"]] = ack
                    self._changed.notify_all()

    def socket_send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Deliver an envelope (`events_api`, `slash_commands`, `interactive`) over Socket Mode;
        returns its envelope_id (see `socket_acks`)."""
        envelope_id = str(uuid.uuid4())
        self._outbox.put(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
                "payload": payload,
            }
        )
        return envelope_id

    # -- reading what happened ------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """Bot messages (not ephemeral) posted in the thread rooted at `thread_ts`, oldest first."""
        with self._lock:
            found = [
                m
                for m in self.messages.values()
                if m.channel == channel
                and not m.ephemeral
                and (m.thread_ts == thread_ts or m.ts == thread_ts)
            ]
        return sorted(found, key=lambda m: float(m.ts))

    def ephemerals(self, user: str | None = None) -> list[Message]:
        with self._lock:
            found = [m for m in self.messages.values() if m.ephemeral and (user is None or m.user == user)]
        return sorted(found, key=lambda m: float(m.ts))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked on every API call); return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"fake Slack: condition not met within {timeout}s; calls: {self.summary()}"
                )
            with self._changed:
                self._changed.wait(min(left, 0.1))

    def summary(self) -> list[str]:
        return [f"{c.method}{'!' + c.error if c.error else ''}" for c in list(self.calls)]

    # -- HTTP --------------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        n = next(self._counter)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _send_json(
        self, handler: BaseHTTPRequestHandler, status: int, data: Any, headers: dict | None = None
    ) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _read_params(self, handler: BaseHTTPRequestHandler) -> dict[str, Any]:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        ctype = handler.headers.get("Content-Type", "")
        params: dict[str, Any] = {}
        query = urlsplit(handler.path).query
        if query:
            params.update({k: v[0] for k, v in parse_qs(query).items()})
        if raw:
            if "application/json" in ctype:
                params.update(json.loads(raw.decode("utf-8")))
            else:
                params.update({k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()})
        for key in JSON_FIELDS:
            if isinstance(params.get(key), str):
                try:
                    params[key] = json.loads(params[key])
                except json.JSONDecodeError:
                    pass
        return params

    def _handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        params = self._read_params(handler)
        if path.startswith("/respond/"):
            with self._changed:
                self.calls.append(ApiCall("response_url", params, time.time()))
                self._record_response_url(path.rsplit("/", 1)[-1], params)
                self._changed.notify_all()
            self._send_json(handler, 200, {"ok": True})
            return
        if not path.startswith("/api/"):
            self._send_json(handler, 404, {"ok": False, "error": "unknown_path"})
            return
        method = path[len("/api/") :]
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(params.get("token", ""))
        with self._changed:
            call = ApiCall(method, params, time.time())
            self.calls.append(call)
            try:
                if method == "apps.connections.open":
                    if token != self.app_token:
                        call.error = "invalid_auth" if token else "not_authed"
                        status, data, headers = 200, {"ok": False, "error": call.error}, {}
                    else:
                        status, data, headers = 200, {"ok": True, "url": self._start_socket_server()}, {}
                elif token != self.bot_token:
                    call.error = "invalid_auth" if token else "not_authed"
                    status, data, headers = 200, {"ok": False, "error": call.error}, {}
                else:
                    status, data, headers = self._scripted(method, params) or self._dispatch(method, params)
                    if not data.get("ok"):
                        call.error = data.get("error")
                call.status = status
            finally:
                self._changed.notify_all()
        self._send_json(handler, status, data, headers)

    def _scripted(self, method: str, params: dict[str, Any]) -> tuple[int, dict, dict] | None:
        for scripted in self._errors:
            if (
                scripted.method == method
                and scripted.times > 0
                and (scripted.when is None or scripted.when(params))
            ):
                scripted.times -= 1
                headers = (
                    {"Retry-After": str(scripted.retry_after)} if scripted.retry_after is not None else {}
                )
                return scripted.status, {"ok": False, "error": scripted.error}, headers
        return None

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict, dict]:
        if method == "auth.test":
            return (
                200,
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake Research",
                    "user": "yanbao",
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "is_enterprise_install": False,
                },
                {},
            )
        if method == "chat.postMessage":
            if not params.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            ts = self._next_ts()
            msg = Message(
                channel=params["channel"],
                ts=ts,
                text=str(params.get("text") or ""),
                blocks=list(params.get("blocks") or []),
                thread_ts=params.get("thread_ts"),
            )
            self.messages[ts] = msg
            if msg.thread_ts:
                self.statuses.pop((msg.channel, str(msg.thread_ts)), None)  # a reply clears the status
            return 200, {"ok": True, "channel": msg.channel, "ts": ts, "message": self._message_json(msg)}, {}
        if method == "chat.update":
            msg = self.messages.get(str(params.get("ts")))
            if msg is None or msg.channel != params.get("channel"):
                return 200, {"ok": False, "error": "message_not_found"}, {}
            msg.versions.append({"text": msg.text, "blocks": msg.blocks})
            msg.text = str(params.get("text") or "")
            msg.blocks = list(params.get("blocks") or [])
            return 200, {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text}, {}
        if method == "chat.postEphemeral":
            if not params.get("user"):
                return 200, {"ok": False, "error": "user_not_in_channel"}, {}
            ts = self._next_ts()
            msg = Message(
                channel=str(params.get("channel")),
                ts=ts,
                text=str(params.get("text") or ""),
                blocks=list(params.get("blocks") or []),
                thread_ts=params.get("thread_ts"),
                user=params["user"],
                ephemeral=True,
            )
            self.messages[ts] = msg
            return 200, {"ok": True, "message_ts": ts}, {}
        if method == "files.info":
            info = self.files.get(str(params.get("file")))
            if info is None:
                return 200, {"ok": False, "error": "file_not_found"}, {}
            return 200, {"ok": True, "file": dict(info)}, {}
        if method in ("chat.startStream", "chat.appendStream", "chat.stopStream"):
            return self._stream_method(method, params)
        if method.startswith("assistant.threads."):
            return self._assistant_method(method, params)
        if method == "users.info":
            name = self.users.get(str(params.get("user")))
            if name is None:
                return 200, {"ok": False, "error": "user_not_found"}, {}
            user = {"id": params["user"], "name": name.lower(), "real_name": name}
            return (
                200,
                {"ok": True, "user": {**user, "profile": {"display_name": name, "real_name": name}}},
                {},
            )
        return 200, {"ok": False, "error": "unknown_method"}, {}

    # -- streaming (chat.startStream / appendStream / stopStream) --------------------------------------
    @staticmethod
    def _markdown_of(params: dict[str, Any]) -> tuple[str, list[int]]:
        """The markdown a streaming call carries (markdown_text and/or markdown_text chunks) and the
        length of each piece, for the 12,000-character rule."""
        pieces = []
        if params.get("markdown_text"):
            pieces.append(str(params["markdown_text"]))
        chunks = params.get("chunks") or []
        if isinstance(chunks, str):
            chunks = json.loads(chunks)
        for chunk in chunks:
            if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
                pieces.append(str(chunk.get("text") or ""))
        return "".join(pieces), [len(p) for p in pieces]

    def _refuse(self, why: str, error: str, status: int = 200, headers: dict | None = None):
        self.violations.append(why)
        return status, {"ok": False, "error": error}, headers or {}

    def _stream_method(self, method: str, params: dict[str, Any]) -> tuple[int, dict, dict]:
        if self.refuse_streaming:
            return 200, {"ok": False, "error": self.refuse_streaming}, {}
        text, lengths = self._markdown_of(params)
        if any(n > 12_000 for n in lengths):
            return self._refuse(f"{method}: markdown_text over 12,000 characters", "msg_too_long")
        channel = str(params.get("channel") or "")
        if method == "chat.startStream":
            if not channel:
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            if not params.get("thread_ts"):
                return self._refuse("chat.startStream without thread_ts", "invalid_arguments")
            if not channel.startswith("D") and not (
                params.get("recipient_user_id") and params.get("recipient_team_id")
            ):
                return self._refuse(
                    "chat.startStream in a channel without recipient ids", "invalid_arguments"
                )
            ts = self._next_ts()
            msg = Message(
                channel=channel, ts=ts, text=text, blocks=[], thread_ts=params["thread_ts"], streaming=True
            )
            msg.stream_calls.append(method)
            self.messages[ts] = msg
            self.statuses.pop((channel, str(params["thread_ts"])), None)  # a reply clears the status
            return 200, {"ok": True, "channel": channel, "ts": ts}, {}
        msg = self.messages.get(str(params.get("ts")))
        if msg is None or msg.channel != channel:
            return 200, {"ok": False, "error": "message_not_found"}, {}
        if not msg.streaming:
            return self._refuse(f"{method} on a message not streaming", "message_not_in_streaming_state")
        if method == "chat.appendStream":
            now = time.time()
            self._append_times = [t for t in self._append_times if now - t < 60] + [now]
            if len(self._append_times) > 100:
                return self._refuse("chat.appendStream over Tier 4", "ratelimited", 429, {"Retry-After": "1"})
            if not text:
                return self._refuse("chat.appendStream without markdown_text", "invalid_arguments")
            msg.text += text
            msg.stream_calls.append(method)
            return 200, {"ok": True, "channel": channel, "ts": msg.ts}, {}
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if len(blocks) > 50:
            return self._refuse("chat.stopStream with more than 50 blocks", "invalid_blocks")
        msg.text += text
        msg.streaming = False
        msg.stream_calls.append(method)
        # the finished message: the streamed markdown, then the blocks given at the stop
        msg.blocks = [{"type": "markdown", "text": msg.text}, *blocks]
        return 200, {"ok": True, "channel": channel, "ts": msg.ts, "message": self._message_json(msg)}, {}

    def _assistant_method(self, method: str, params: dict[str, Any]) -> tuple[int, dict, dict]:
        if method not in (
            "assistant.threads.setStatus",
            "assistant.threads.setSuggestedPrompts",
            "assistant.threads.setTitle",
        ):
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if self.refuse_assistant:
            return 200, {"ok": False, "error": self.refuse_assistant}, {}
        channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
        if not channel or not thread_ts:
            return self._refuse(f"{method} without channel_id and thread_ts", "invalid_arguments")
        if method == "assistant.threads.setStatus":
            if "status" not in params:
                return self._refuse("setStatus without status", "invalid_arguments")
            self.statuses[(str(channel), str(thread_ts))] = str(params["status"])
        elif method == "assistant.threads.setSuggestedPrompts":
            prompts = params.get("prompts") or []
            if isinstance(prompts, str):
                prompts = json.loads(prompts)
            if not 1 <= len(prompts) <= 4 or not all(p.get("title") and p.get("message") for p in prompts):
                return self._refuse(
                    "setSuggestedPrompts: 1 to 4 prompts with title and message", "invalid_arguments"
                )
        elif not params.get("title"):
            return self._refuse("setTitle without title", "invalid_arguments")
        return 200, {"ok": True}, {}

    def _message_json(self, msg: Message) -> dict[str, Any]:
        return {
            "type": "message",
            "bot_id": self.bot_id,
            "user": self.bot_user_id,
            "ts": msg.ts,
            "text": msg.text,
            "blocks": msg.blocks,
        }

    def _record_response_url(self, token: str, params: dict[str, Any]) -> None:
        ephemeral = params.get("response_type", "ephemeral") != "in_channel"
        user, _, channel = token.partition("-")
        ts = self._next_ts()
        self.messages[ts] = Message(
            channel=channel or "C?",
            ts=ts,
            text=str(params.get("text") or ""),
            blocks=list(params.get("blocks") or []),
            user=user if ephemeral else None,
            ephemeral=ephemeral,
        )

    def _handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        path = unquote(urlsplit(handler.path).path)
        if not path.startswith("/files-pri/"):
            self._send_json(handler, 404, {"ok": False, "error": "unknown_path"})
            return
        with self._changed:
            self.calls.append(ApiCall("files.download", {"path": path}, time.time()))
            self._changed.notify_all()
        file_id = path.split("/")[2].split("-", 1)[-1]
        auth = handler.headers.get("Authorization", "")
        content = self._file_bytes.get(file_id)
        if auth != f"Bearer {self.bot_token}":
            # files.slack.com answers an unauthenticated download with its sign-in page, not an error.
            body = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
        elif content is None:
            body = b"Not found"
            handler.send_response(404)
            handler.send_header("Content-Type", "text/plain")
        else:
            body = content
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def response_url(self, user: str, channel: str) -> str:
        """A response_url for a slash command or a button click by `user` in `channel`."""
        return f"{self.base_url}/respond/{user}-{channel}"


# --- Slack's side of the Events API ---------------------------------------------------------------


def slack_signature(signing_secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    signing_secret: str, body: str, content_type: str, *, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(signing_secret, ts, body),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


class SlackSender:
    """Posts events, slash commands and button clicks to the bot, signed as Slack signs them."""

    def __init__(
        self, bot_url: str, signing_secret: str, *, team_id: str = "T0001", api_app_id: str = "A0001"
    ) -> None:
        self.bot_url = bot_url  # e.g. http://127.0.0.1:8123/slack/events
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        headers = signed_headers(self.signing_secret, body, content_type, timestamp=timestamp)
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return self.http.post(self.bot_url, content=body.encode("utf-8"), headers=headers)

    def event_body(self, event: dict[str, Any], *, event_id: str | None = None) -> str:
        return json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": self.team_id,
                "api_app_id": self.api_app_id,
                "event": event,
                "type": "event_callback",
                "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "team_id": self.team_id,
                        "user_id": "UBOT",
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
            },
            ensure_ascii=False,
        )

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return self.post(
            self.event_body(event, event_id=event_id), "application/json", retry_num=retry_num, **kwargs
        )

    def command_payload(
        self, command: str, text: str, *, user: str, channel: str, response_url: str
    ) -> dict[str, str]:
        """The fields of a slash command (form-encoded over HTTP, JSON over Socket Mode)."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "research",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:8]}",
        }

    def command(
        self,
        command: str,
        text: str,
        *,
        user: str,
        channel: str = "C0CHANNEL",
        response_url: str,
        **kwargs: Any,
    ) -> httpx.Response:
        form = self.command_payload(command, text, user=user, channel=channel, response_url=response_url)
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    def block_action(
        self,
        *,
        user: str,
        channel: str,
        message: dict[str, Any],
        action: dict[str, Any],
        response_url: str,
        **kwargs: Any,
    ) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:8]}",
            "team": {"id": self.team_id, "domain": "fake"},
            "channel": {"id": channel, "name": "research"},
            "message": message,
            "response_url": response_url,
            "actions": [{**action, "type": "button", "action_ts": f"{time.time():.6f}"}],
        }
        form = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
        return self.post(form, "application/x-www-form-urlencoded", **kwargs)


def mention_event(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    if files:
        event["files"] = files
    return event


def dm_event(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    if files:
        event["subtype"] = "file_share"
        event["files"] = [{"id": f["id"], "name": f["name"], "file_access": "check_file_info"} for f in files]
    return event


def new_ts() -> str:
    now = time.time()
    return f"{now:.6f}"


class ServedApp:
    """An ASGI app (the real bot) served by uvicorn on 127.0.0.1 in a thread: `with ServedApp(asgi) as bot:`."""

    def __init__(self, asgi: Any) -> None:
        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="off", backlog=256)
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="bot-under-test", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def start(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the bot's HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
