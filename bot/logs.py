"""Structured logs: one JSON object per line on stderr, a request id per question, secrets masked.

configure_logging(settings.log_level, secrets=secret_values(settings))
with request_context() as request_id:
    log.info("question", extra={"platform": "slack"})
"""

from __future__ import annotations

import contextlib
import contextvars
import json as jsonlib
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from index.redact import MASK, URL_PASSWORD

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("yanbao_request_id", default=None)

# attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack bot/user/app/refresh/config tokens
    (re.compile(r"\b(xox[abeoprs]-|xapp-)[A-Za-z0-9-]+"), r"\1" + MASK),
    (re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1 " + MASK),
    # OpenAI-style keys (sk-…, sk-proj-…); not the "sk-" inside words like "task-list"
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{8,}"), "sk-" + MASK),
    # passwords in URLs: redis://:pw@host, https://user:pw@host
    (URL_PASSWORD, r"\1" + MASK + "@"),
)
# shorter values would mask ordinary words
_MIN_SECRET_LENGTH = 6


def current_request_id() -> str | None:
    return _request_id.get()


@contextlib.contextmanager
def request_context(request_id: str | None = None) -> Iterator[str]:
    """Tag every log line in the block (and in tasks it starts) with a request id; yields the id."""
    rid = request_id or uuid.uuid4().hex[:16]
    token = _request_id.set(rid)
    try:
        yield rid
    finally:
        _request_id.reset(token)


def secret_values(settings: Any) -> list[str]:
    """The values of the secret settings that are set, for the redaction filter."""
    from index.settings import SECRET_FIELDS

    values = [getattr(settings, name, None) for name in sorted(SECRET_FIELDS)]
    return [v for v in values if isinstance(v, str) and v]


class Redactor:
    """Masks tokens, keys and known secret values in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted(
            {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self.value(v) for v in value]
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", "replace"))
        if value is None or isinstance(value, bool | int | float):
            return value
        # objects are logged by their text; mask that text too
        return self.text(str(value))


class RedactingFilter(logging.Filter):
    """Rewrites each record so its message and extra fields carry no secrets."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redactor.text(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, self.redactor.value(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "msg", "request_id"?, ...extra, "exc"?} on one line."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.redactor.text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.redactor.text(self.formatStack(record.stack_info))
        return jsonlib.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: `12:00:01 INFO bot.slack [req] message key=value`."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        parts = [self.formatTime(record, self.datefmt), record.levelname, record.name]
        request_id = current_request_id()
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts.extend(f"{k}={v}" for k, v in _extras(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.redactor.text(self.formatException(record.exc_info))
        return line


def configure_logging(
    level: str = "INFO",
    json: bool = True,
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record to stderr (or `stream`) as JSON lines, with secrets masked.

    Calling it again replaces the handler it installed before; returns the handler."""
    numeric = logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"YANBAO_LOG_LEVEL={level!r}: expected DEBUG, INFO, WARNING or ERROR")
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(redactor) if json else TextFormatter(redactor))
    handler.addFilter(RedactingFilter(redactor))
    handler._yanbao = True  # type: ignore[attr-defined]

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_yanbao", False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    # one line per HTTP request to Chroma or Slack drowns the bot's own log lines
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(numeric, logging.WARNING))
    return handler
