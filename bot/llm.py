"""A small client for OpenAI-compatible chat completions (DeepSeek, Qwen/DashScope, Doubao/Ark, OpenAI,
vLLM, Ollama), written with httpx: explicit timeouts and a total deadline, retries with backoff,
streaming as an iterator, token usage logged, errors that name the setting to fix.

    with LLMClient("http://localhost:11434/v1", "qwen2.5:7b", timeout=20) as llm:
        result = llm.chat([{"role": "user", "content": "豆包11月月活?"}])
        for delta in llm.stream(messages):
            ...
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger("yanbao.llm")

MAX_RETRY_AFTER = 30.0  # seconds; a server asking for longer is treated as unavailable for this call
_ERROR_SNIPPET = 300  # characters of a server's error body quoted in our messages
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_json(cls, data: Any) -> Usage:
        if not isinstance(data, dict):
            return cls()

        def number(key: str) -> int:
            value = data.get(key)
            return int(value) if isinstance(value, int | float) else 0

        prompt, completion = number("prompt_tokens"), number("completion_tokens")
        return cls(prompt, completion, number("total_tokens") or prompt + completion)


@dataclass
class ChatResult:
    text: str
    model: str
    usage: Usage
    finish_reason: str | None


class LLMError(Exception):
    """The LLM call failed; the message says what happened and which setting to check."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LLMUnavailable(LLMError):
    """Could not connect, timed out, or kept getting 429/5xx after the retries."""


class LLMBadResponse(LLMError):
    """The server answered 200 with something that is not a usable chat completion."""


# on_usage(usage, outcome): outcome is "ok", "unavailable", "bad_response" or "error" (usage is zero then)
UsageHook = Callable[[Usage, str], None]


class LLMClient:
    """One OpenAI-compatible chat endpoint. `base_url` is used as given (like the OpenAI SDK), so it
    usually ends in /v1 (or /api/v3 for Ark, /compatible-mode/v1 for DashScope)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        extra_body: dict[str, Any] | None = None,
        on_usage: UsageHook | None = None,
    ) -> None:
        self.base_url = base_url[:-1] if base_url.endswith("/") else base_url
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.extra_body = dict(extra_body or {})
        self.on_usage = on_usage
        # usage of the last finished call (for a stream, zeros unless the server sent it); with one
        # client shared across threads prefer on_usage, which is called per call
        self.last_usage: Usage | None = None
        self._api_key = api_key or None
        self._send_stream_options = True  # cleared once a server rejects the field
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._http = httpx.Client(headers=headers, transport=transport, timeout=self._timeouts(timeout))

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> LLMClient | None:
        """A client for `settings` (index.settings.Settings), or None when no LLM is configured."""
        if not (settings.llm_base_url and settings.llm_model):
            return None
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key,
            timeout=settings.llm_timeout,
            **options,
        )

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.base_url!r}, model={self.model!r})"

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- public calls -----------------------------------------------------------------------------

    def chat(
        self, messages: list[dict[str, Any]], *, temperature: float = 0.1, max_tokens: int | None = None
    ) -> ChatResult:
        """One completion. Raises LLMUnavailable, LLMBadResponse or LLMError."""
        body = self._body(messages, temperature=temperature, max_tokens=max_tokens, stream=False)
        started, deadline = time.monotonic(), _Deadline(self.timeout)
        try:
            with self._post(body, deadline) as (response, attempt):
                content = bytearray()
                for piece in response.iter_bytes():
                    content += piece
                    self._check(deadline)
                self._check(deadline)  # the watchdog may have ended the body early
                result = self._parse_completion(bytes(content))
        except LLMError as exc:
            self._report_failure(exc)
            raise
        except httpx.HTTPError as exc:
            error = self._transport_error(exc, deadline)
            self._report_failure(error)
            raise error from exc
        self._report_usage(result.usage, result.model, started, attempt, stream=False)
        return result

    def stream(
        self, messages: list[dict[str, Any]], *, temperature: float = 0.1, max_tokens: int | None = None
    ) -> Iterator[str]:
        """Yield the answer's content deltas as they arrive; reasoning is skipped. The deadline runs
        from the first next() and includes the time the caller spends between deltas. Usage, when
        the server reports it, is on `self.last_usage` once the iterator is exhausted. Retries happen
        only before the first delta, so nothing is ever yielded twice."""
        self.last_usage = None
        body = self._body(messages, temperature=temperature, max_tokens=max_tokens, stream=True)
        started, deadline = time.monotonic(), _Deadline(self.timeout)
        try:
            with self._post(body, deadline) as (response, attempt):
                model, usage = yield from self._read_stream(response, deadline)
        except LLMError as exc:
            self._report_failure(exc)
            raise
        except httpx.HTTPError as exc:
            error = self._transport_error(exc, deadline)
            self._report_failure(error)
            raise error from exc
        self._report_usage(usage, model, started, attempt, stream=True)

    def complete(self, messages: list[dict[str, Any]], on_text: Callable[[str], None] | None = None) -> str:
        """The whole answer, stripped; with `on_text`, streamed and shown as it grows."""
        if on_text is None:
            return self.chat(messages).text.strip()
        text = ""
        for delta in self.stream(messages):
            text += delta
            on_text(text)
        return text.strip()

    # -- request -----------------------------------------------------------------------------------

    def _body(
        self, messages: list[dict[str, Any]], *, temperature: float, max_tokens: int | None, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if stream:
            body["stream"] = True
            if self._send_stream_options:
                body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return body

    @staticmethod
    def _timeouts(seconds: float) -> httpx.Timeout:
        seconds = max(seconds, 0.001)
        return httpx.Timeout(connect=min(5.0, seconds), read=seconds, write=seconds, pool=seconds)

    @contextmanager
    def _post(self, body: dict[str, Any], deadline: _Deadline) -> Iterator[tuple[httpx.Response, int]]:
        """Open a 2xx response (and the number of requests it took), retrying 429, 5xx and
        connection failures with backoff."""
        attempt = retries = 0
        while True:
            attempt += 1
            self._check(deadline)
            timeouts = self._timeouts(min(self.timeout, deadline.remaining()))
            retry_after: float | None = None
            try:
                request = self._http.build_request("POST", self.url, json=body, timeout=timeouts)
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                error = self._transport_error(exc, deadline)
                if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
                    raise error from exc  # waited the whole deadline for an answer: nothing left to retry
            else:
                if response.is_success:
                    watchdog = deadline.watch(response)
                    try:
                        yield response, attempt
                    finally:
                        watchdog.cancel()
                        response.close()
                    return
                error, retry_after = self._status_error(response, deadline)
            if "stream_options" in body and _rejects_stream_options(error):
                # some servers (older vLLM, proxies) refuse fields they do not know: once without it
                logger.info("llm server rejected stream_options; retrying without it")
                self._send_stream_options = False
                body = {key: value for key, value in body.items() if key != "stream_options"}
                continue
            if not isinstance(error, LLMUnavailable):
                raise error
            if retries >= self.max_retries:
                raise LLMUnavailable(
                    f"{error} Gave up after {attempt} attempts; check the server or try again later.",
                    status_code=error.status_code,
                )
            delay = self._retry_delay(retries + 1, retry_after)
            if delay >= deadline.remaining():
                raise LLMUnavailable(
                    f"{error} Not retrying: waiting {delay:.1f}s would pass the {self.timeout:g}s "
                    f"deadline (YANBAO_LLM_TIMEOUT).",
                    status_code=error.status_code,
                )
            retries += 1
            logger.warning(
                "llm attempt %d failed; retrying in %.2fs",
                attempt,
                delay,
                extra={
                    "model": self.model,
                    "attempt": attempt,
                    "delay": round(delay, 3),
                    "error": str(error),
                },
            )
            time.sleep(delay)

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        base = self.backoff * 2 ** (attempt - 1)
        return base / 2 + random.uniform(0, base / 2)  # jitter, so many bots do not retry in step

    # -- errors ------------------------------------------------------------------------------------

    def _check(self, deadline: _Deadline) -> None:
        if deadline.remaining() <= 0:
            raise LLMUnavailable(self._timeout_message())

    def _timeout_message(self) -> str:
        return (
            f"LLM at {self.url} did not finish within {self.timeout:g}s; "
            f"raise YANBAO_LLM_TIMEOUT or check the server's load."
        )

    def _transport_error(self, exc: httpx.HTTPError, deadline: _Deadline) -> LLMError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return LLMUnavailable(self._timeout_message())
        if deadline.expired:  # the watchdog cut the connection at the deadline
            return LLMUnavailable(self._timeout_message())
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return LLMUnavailable(
                f"Cannot connect to the LLM at {self.base_url} ({type(exc).__name__}: {self._redact(str(exc))}); "
                f"check YANBAO_LLM_BASE_URL and that the server is running."
            )
        return LLMUnavailable(
            f"Connection to the LLM at {self.base_url} failed ({type(exc).__name__}: "
            f"{self._redact(str(exc))}); check YANBAO_LLM_BASE_URL."
        )

    def _status_error(self, response: httpx.Response, deadline: _Deadline) -> tuple[LLMError, float | None]:
        """The error for a non-2xx response, and the server's Retry-After in seconds if any."""
        try:
            raw = b""
            for piece in response.iter_bytes():
                raw += piece
                if len(raw) > 64_000 or deadline.remaining() <= 0:
                    break
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        code, detail = response.status_code, self._redact(_error_detail(raw))
        where = f"LLM at {self.url} answered HTTP {code}: {detail}"
        if code in (401, 403):
            hint = (
                "check YANBAO_LLM_API_KEY."
                if self._api_key
                else "no API key was sent; set YANBAO_LLM_API_KEY."
            )
            return LLMError(f"{where}; {hint}", status_code=code), None
        if code == 404:
            if "model" in detail.lower():
                return LLMError(
                    f"{where}; check YANBAO_LLM_MODEL (now {self.model!r}).", status_code=code
                ), None
            return LLMError(
                f"{where}; check YANBAO_LLM_BASE_URL (it usually ends in /v1; "
                f"yanbao appends /chat/completions).",
                status_code=code,
            ), None
        if code == 429 or code >= 500:
            kind = "rate limited" if code == 429 else "server error"
            error = LLMUnavailable(f"{where} ({kind}).", status_code=code)
            return error, _retry_after_seconds(response.headers.get("retry-after"))
        hint = f" Check YANBAO_LLM_MODEL (now {self.model!r})." if "model" in detail.lower() else ""
        return LLMError(f"{where}.{hint}", status_code=code), None

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    # -- responses ---------------------------------------------------------------------------------

    def _parse_completion(self, raw: bytes) -> ChatResult:
        try:
            data = json.loads(raw)
        except ValueError:
            raise LLMBadResponse(
                f"LLM at {self.url} answered 200 but not with JSON: {self._snippet(raw)!r}"
            ) from None
        choice = self._first_choice(data, raw)
        message = choice["message"] if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        text = _strip_think(content) if isinstance(content, str) else ""
        if not text.strip():
            raise LLMBadResponse(
                f"LLM at {self.url} returned an empty answer "
                f"(finish_reason={choice.get('finish_reason')!r}); try a larger max_tokens."
            )
        return ChatResult(
            text=text,
            model=str(data.get("model") or self.model),
            usage=Usage.from_json(data.get("usage")),
            finish_reason=choice.get("finish_reason"),
        )

    def _first_choice(self, data: Any, raw: bytes) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("error"), dict | str):
            raise LLMBadResponse(f"LLM at {self.url} answered 200 with an error: {self._snippet(raw)}")
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise LLMBadResponse(f"LLM at {self.url} answered 200 without choices: {self._snippet(raw)!r}")
        return choices[0]

    def _read_stream(
        self, response: httpx.Response, deadline: _Deadline
    ) -> Generator[str, None, tuple[str, Usage]]:
        """Yield content deltas from an SSE body; return (model, usage)."""
        if response.headers.get("content-type", "").startswith("application/json"):
            # the server ignored "stream": true and sent one whole completion
            raw = response.read()
            result = self._parse_completion(raw)
            yield result.text
            return result.model, result.usage
        model, usage, done, finished, sent_any = self.model, Usage(), False, False, False
        think = _ThinkFilter()
        for data in _sse_data(response.iter_lines(), lambda: self._check(deadline)):
            if data.strip() == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise LLMBadResponse(
                    f"LLM at {self.url} sent a stream event that is not JSON: {data[:_ERROR_SNIPPET]!r}"
                ) from None
            if not isinstance(chunk, dict):
                raise LLMBadResponse(f"LLM at {self.url} sent an unexpected stream event: {data[:200]!r}")
            if chunk.get("error"):
                raise LLMUnavailable(
                    f"LLM at {self.url} reported an error mid-stream: {self._redact(data[:_ERROR_SNIPPET])}"
                )
            model = str(chunk.get("model") or model)
            if chunk.get("usage"):
                usage = Usage.from_json(chunk["usage"])
            for choice in chunk.get("choices") or []:
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                finished = finished or bool(choice.get("finish_reason"))
                delta = choice["delta"] if isinstance(choice.get("delta"), dict) else {}
                content = delta.get("content")  # reasoning_content / reasoning are not the answer
                if isinstance(content, str) and content:
                    text = think.feed(content)
                    if text:
                        sent_any = True
                        yield text
        rest = think.flush()
        if rest:
            sent_any = True
            yield rest
        self._check(deadline)
        if not (done or finished):
            raise LLMUnavailable(f"LLM at {self.url} closed the stream before it finished.")
        if not sent_any:
            raise LLMBadResponse(f"LLM at {self.url} streamed no answer text.")
        return model, usage

    def _snippet(self, raw: bytes) -> str:
        return self._redact(raw[:_ERROR_SNIPPET].decode("utf-8", "replace"))

    # -- reporting ---------------------------------------------------------------------------------

    def _report_usage(self, usage: Usage, model: str, started: float, attempt: int, *, stream: bool) -> None:
        self.last_usage = usage
        seconds = round(time.monotonic() - started, 3)
        logger.info(
            "llm %s: %d prompt + %d completion tokens in %.2fs",
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
            seconds,
            extra={
                "model": model,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
                "seconds": seconds,
                "attempt": attempt,
                "stream": stream,
            },
        )
        self._call_hook(usage, "ok")

    def _report_failure(self, error: LLMError) -> None:
        outcome = (
            "unavailable"
            if isinstance(error, LLMUnavailable)
            else "bad_response"
            if isinstance(error, LLMBadResponse)
            else "error"
        )
        logger.warning(
            "llm call failed: %s",
            error,
            extra={"model": self.model, "outcome": outcome, "status_code": error.status_code},
        )
        self._call_hook(Usage(), outcome)

    def _call_hook(self, usage: Usage, outcome: str) -> None:
        if self.on_usage is None:
            return
        try:
            self.on_usage(usage, outcome)
        except Exception:  # a broken metrics hook must not break an answer
            logger.exception("llm on_usage hook failed")


class _Deadline:
    """The total time a call may take, across retries and while reading a trickling body."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, response: httpx.Response) -> threading.Timer:
        """Cut the connection at the deadline, so a read blocked on a slow server returns."""
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None

        def cut() -> None:
            self.expired = True
            if isinstance(sock, socket.socket):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(self.remaining(), 0.0), cut)
        timer.daemon = True
        timer.start()
        return timer


def _sse_data(lines: Iterator[str], check: Callable[[], None]) -> Iterator[str]:
    """The data of each server-sent event; comments and keep-alives are skipped."""
    data: list[str] = []
    for line in lines:
        check()
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class _ThinkFilter:
    """Drops a leading <think>…</think> block that some servers (Ollama, vLLM without a reasoning
    parser) put inside the content of reasoning models."""

    def __init__(self) -> None:
        self.buffer = ""
        self.decided = False

    def feed(self, text: str) -> str:
        if self.decided:
            return text
        self.buffer += text
        head = self.buffer.lstrip()
        if _THINK_OPEN.startswith(head):  # still too short to tell
            return ""
        if not head.startswith(_THINK_OPEN):
            self.decided = True
            return self.buffer
        if _THINK_CLOSE not in head:
            return ""
        self.decided = True
        return head.split(_THINK_CLOSE, 1)[1].lstrip()

    def flush(self) -> str:
        if self.decided:
            return ""
        self.decided = True
        head = self.buffer.lstrip()
        return "" if head.startswith(_THINK_OPEN) else self.buffer


def _strip_think(text: str) -> str:
    return re.sub(r"^\s*<think>.*?</think>\s*", "", text, count=1, flags=re.DOTALL)


def _error_detail(raw: bytes) -> str:
    """The message inside an OpenAI-style error body, or the start of the body."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_ERROR_SNIPPET] or "(empty body)"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        code = error.get("code") or error.get("type")
        return f"{error['message']}" + (f" [{code}]" if code else "")
    if isinstance(error, str):
        return error[:_ERROR_SNIPPET]
    if isinstance(data, dict) and isinstance(data.get("message"), str):  # DashScope, Ark
        return data["message"][:_ERROR_SNIPPET]
    return text[:_ERROR_SNIPPET]


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date; use our own backoff


def _rejects_stream_options(exc: LLMError) -> bool:
    return exc.status_code in (400, 422) and "stream_options" in str(exc)
