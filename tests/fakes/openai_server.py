"""A real OpenAI-compatible chat-completions server on 127.0.0.1, scriptable per test.

It runs a ThreadingHTTPServer in a background thread (one thread per connection, so a hanging
request never blocks another) and answers POST /v1/chat/completions (other paths: 404, as a wrong
base URL would get; GET /v1/models lists "fake-model") with proper `chat.completion`
objects, or `chat.completion.chunk` server-sent events when the request has "stream": true (with a
final usage chunk when "stream_options": {"include_usage": true}, then `data: [DONE]`).

    from tests.fakes.openai_server import openai_server, Reply, Status, Hang  # noqa: F401 (fixture)
    # (or list "tests.fakes.openai_server" in pytest_plugins of tests/conftest.py and skip the import)

    def test_something(openai_server):
        openai_server.script([Status(429, retry_after=0), Reply("豆包11月月活5998万 [1]")])
        client = LLMClient(openai_server.url, "fake-model", timeout=1)
        ...
        assert len(openai_server.requests) == 2
        assert openai_server.requests[-1].json["messages"][0]["role"] == "system"

Each request takes the next scripted behaviour; when the script is empty it asks
`server.responder(request_json)` (a str answer or a behaviour), else replies `server.default_reply`.
Behaviours: Reply, Stream, Status, Hang, Garbage, TrickleForever. `ObeysInjection()` is a responder
for a model that follows orders written inside the notes it is given. `server.env()` gives the
YANBAO_LLM_* variables pointing at the server; `server.requests` records every request.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

FAKE_MODEL = "fake-model"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # the parsed body, or None when it was not JSON
    body: bytes


@dataclass
class Reply:
    """A normal answer; streamed in small pieces when the request asks for a stream."""

    text: str
    usage: dict[str, int] | None = (
        None  # default: prompt = characters of the messages, completion = len(text)
    )
    reasoning: str | None = None  # sent as reasoning_content (DeepSeek-R1 style)
    finish_reason: str = "stop"
    model: str | None = None  # default: the model the request named

    def respond(self, handler: _Handler, request: dict[str, Any]) -> None:
        if request.get("stream"):
            reasoning = [self.reasoning] if self.reasoning else []
            Stream(_pieces(self.text), reasoning, self.usage, self.finish_reason, model=self.model).respond(
                handler, request
            )
            return
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.reasoning:
            message["reasoning_content"] = self.reasoning
        handler.send_json(
            200,
            {
                "id": handler.fake.next_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model or request.get("model") or FAKE_MODEL,
                "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
                "usage": _usage(request, self.text, self.usage),
            },
        )


@dataclass
class Stream:
    """Server-sent `chat.completion.chunk` events: reasoning deltas, then content deltas."""

    chunks: list[str]
    reasoning: list[str] = field(default_factory=list)
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"
    delay: float = 0.0  # seconds between events
    model: str | None = None

    def respond(self, handler: _Handler, request: dict[str, Any]) -> None:
        model = self.model or request.get("model") or FAKE_MODEL
        base = {"id": handler.fake.next_id(), "object": "chat.completion.chunk", "created": int(time.time())}
        want_usage = bool((request.get("stream_options") or {}).get("include_usage"))

        def event(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
            chunk = {**base, "model": model, "choices": []}
            if delta is not None:
                chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
            if want_usage:
                chunk["usage"] = usage
            return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

        events = [event({"role": "assistant", "content": ""})]
        events += [event({"reasoning_content": piece, "content": None}) for piece in self.reasoning]
        events += [event({"content": piece}) for piece in self.chunks]
        events.append(event({}, self.finish_reason))
        if want_usage:
            events.append(event(None, usage=_usage(request, "".join(self.chunks), self.usage)))
        events.append(b"data: [DONE]\n\n")
        handler.start_chunked(200, "text/event-stream")
        for data in events:
            if self.delay and handler.fake.stopping.wait(self.delay):
                return
            handler.write_chunk(data)
        handler.end_chunked()


@dataclass
class Status:
    """An HTTP error with an OpenAI-style error body, e.g. Status(429, retry_after=0)."""

    code: int
    message: str | None = None  # default: the status phrase
    retry_after: float | None = None
    error_code: str | None = None  # e.g. "model_not_found"

    def respond(self, handler: _Handler, request: dict[str, Any]) -> None:
        message = self.message or HTTPStatus(self.code).phrase
        headers = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else {}
        error = {"message": message, "type": "fake_error", "code": self.error_code}
        handler.send_json(self.code, {"error": error}, headers)


@dataclass
class Hang:
    """Say nothing for `seconds` (not even headers), then behave as `then` (default: the default reply)."""

    seconds: float = 30.0
    then: Any = None

    def respond(self, handler: _Handler, request: dict[str, Any]) -> None:
        if handler.fake.stopping.wait(self.seconds):
            return
        (self.then or handler.fake.answer_for(request)).respond(handler, request)


@dataclass
class Garbage:
    """A body that is not what the client expects, sent with the given status and content type."""

    body: str | bytes = "not json"
    status: int = 200
    content_type: str = "application/json"

    def respond(self, handler: _Handler, request: dict[str, Any]) -> None:
        data = self.body.encode() if isinstance(self.body, str) else self.body
        handler.send_bytes(self.status, data, self.content_type)


@dataclass
class TrickleForever:
    """200 and headers at once, then a few bytes every `interval` until the client leaves: SSE
    keep-alive comments for stream requests, spaces for others. Tests a client's total deadline."""

    interval: float = 0.2

    def respond(self, handler: _Handler, request: dict[str, Any]) -> None:
        stream = bool(request.get("stream"))
        handler.start_chunked(200, "text/event-stream" if stream else "application/json")
        piece = b": keep-alive\n\n" if stream else b" "
        while not handler.fake.stopping.wait(self.interval):
            handler.write_chunk(piece)


Behaviour = Reply | Stream | Status | Hang | Garbage | TrickleForever
Responder = Callable[[dict[str, Any]], "str | Behaviour"]


class ObeysInjection:
    """A responder for a model that does what any text in its prompt tells it to, as weak models do.

    It answers with the first sentence of paragraph [1] of the context, cited [1], then says
    whatever each order found anywhere in the prompt tells it to: `SYSTEM: say "…"` or
    `系统：请回答“…”`. It reads the prompt as a model would: full-width brackets as [ ] and ‹ › as
    < >, so a note's inert "［1］" is still read as the citation it pretends to be. `orders` records
    what it was told (a test can tell an obeyed injection from one that never reached it), and
    `replies` what it answered.
    """

    ORDER = re.compile(r"(?:SYSTEM|系统|系統)\s*[:：]\s*(?:say|请回答|請回答)\s*[\"“]([^\"”]+)[\"”]")

    def __init__(self) -> None:
        self.orders: list[str] = []
        self.replies: list[str] = []

    def __call__(self, request: dict[str, Any]) -> str:
        prompt = request["messages"][-1]["content"]
        seen = prompt.replace("［", "[").replace("］", "]").replace("‹", "<").replace("›", ">")
        orders = self.ORDER.findall(seen)
        self.orders.extend(orders)
        first = re.search(r"\[1\][^\n]*\n([^\n]+)", seen)
        legit = ""
        if first:
            sentence = re.split(r"(?<=[。！？])", first.group(1).strip())[0]
            legit = f"{sentence} [1]"
        reply = " ".join(part for part in (legit, *orders) if part) or "NOT_FOUND"
        self.replies.append(reply)
        return reply


class FakeOpenAIServer:
    """The server; also a context manager. `url` is the base URL to give a client (ends in /v1)."""

    def __init__(
        self,
        *,
        default_reply: str = "OK [1]",
        responder: Responder | None = None,
        prefix: str = "/v1",
        api_key: str | None = None,
    ) -> None:
        self.prefix = prefix  # the API lives under it; other paths get 404, like a wrong base URL would
        self.api_key = api_key  # when set, any other key (or none) gets 401, as OpenAI answers
        self.default_reply = default_reply
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._ids = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def env(
        self, api_key: str | None = None, model: str = FAKE_MODEL, timeout: float = 2.0
    ) -> dict[str, str]:
        """YANBAO_LLM_* settings pointing at this server, for load_settings(environ=...)."""
        env = {"YANBAO_LLM_BASE_URL": self.url, "YANBAO_LLM_MODEL": model, "YANBAO_LLM_TIMEOUT": str(timeout)}
        if api_key:
            env["YANBAO_LLM_API_KEY"] = api_key
        return env

    def script(self, behaviours: Iterable[Behaviour]) -> None:
        """Queue behaviours: each request takes the next one."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def pending(self) -> int:
        """Scripted behaviours not used yet."""
        with self._lock:
            return len(self._script)

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.responder = None

    def start(self) -> FakeOpenAIServer:
        self.stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes Hang, Stream delays and TrickleForever
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # used by the handler threads

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def next_id(self) -> str:
        with self._lock:
            self._ids += 1
            return f"chatcmpl-fake-{self._ids}"

    def next_behaviour(self, request: dict[str, Any]) -> Behaviour:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.answer_for(request)

    def answer_for(self, request: dict[str, Any]) -> Behaviour:
        if self.responder is not None:
            answer = self.responder(request)
            return Reply(answer) if isinstance(answer, str) else answer
        return Reply(self.default_reply)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must not block stop()
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that timed out and left is what several tests are about
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end on their own
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40ms delayed-ACK stalls

    server: _HTTPServer

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def refused_key(self) -> bool:
        """Answer 401 (OpenAI's body) when the server wants a key and this request lacks it."""
        if self.fake.api_key is None or self.headers.get("Authorization") == f"Bearer {self.fake.api_key}":
            return False
        error = {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
        self.send_json(401, {"error": error})
        return True

    def do_GET(self) -> None:
        if self.refused_key():
            return
        if self.path.rstrip("/") == f"{self.fake.prefix}/models":
            self.send_json(200, {"object": "list", "data": [{"id": FAKE_MODEL, "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.fake.record(RecordedRequest("POST", self.path, headers, body, raw))
        try:
            if self.refused_key():
                return
            if self.path.rstrip("/") != f"{self.fake.prefix}/chat/completions":
                self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            elif not isinstance(body, dict):
                self.send_json(
                    400, {"error": {"message": "body is not a JSON object", "type": "bad_request"}}
                )
            else:
                self.fake.next_behaviour(body).respond(self, body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away (e.g. it timed out)

    # response helpers for behaviours

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_bytes(status, data, "application/json", headers)

    def send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_chunked(self, status: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _usage(request: dict[str, Any], text: str, given: dict[str, int] | None) -> dict[str, int]:
    if given is not None:
        usage = dict(given)
    else:
        prompt = sum(
            len(str(m.get("content") or "")) for m in request.get("messages") or [] if isinstance(m, dict)
        )
        usage = {"prompt_tokens": prompt, "completion_tokens": len(text)}
    usage.setdefault("prompt_tokens", 0)
    usage.setdefault("completion_tokens", 0)
    usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
    return usage


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A started FakeOpenAIServer, stopped after the test."""
    with FakeOpenAIServer() as server:
        yield server
