"""Feishu event payloads (schema 2.0) as small typed records: what the bot needs and nothing else."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MESSAGE_RECEIVED = "im.message.receive_v1"
BOT_MENU = "application.bot.menu_v6"
CARD_ACTION = "card.action.trigger"

# "@_user_1" in text, "@_all" for @everyone: placeholders Feishu puts where a mention was
_MENTION_KEY = re.compile(r"@_(?:user_\d+|all)\b")


@dataclass(frozen=True)
class Envelope:
    """The part of every pushed event that says what it is."""

    event_type: str
    event_id: str
    event: dict[str, Any]


@dataclass
class IncomingMessage:
    event_id: str
    message_id: str
    chat_id: str
    chat_type: str  # "p2p" | "group" (topic groups report "group" with a thread_id)
    sender_open_id: str
    sender_type: str  # "user" | "app"
    message_type: str  # "text" | "post" | "file" | "image" | "sticker" | …
    text: str = ""  # the words, mention placeholders removed
    root_id: str | None = None
    parent_id: str | None = None
    thread_id: str | None = None
    mentioned_open_ids: list[str] = field(default_factory=list)
    file_key: str | None = None
    file_name: str | None = None

    @property
    def conversation(self) -> str:
        """Replies in a thread share the root message, so they continue one conversation."""
        return f"feishu:{self.chat_id}:{self.root_id or self.message_id}"

    @property
    def in_thread(self) -> bool:
        return bool(self.thread_id or self.root_id)


@dataclass
class MenuClick:
    event_id: str
    event_key: str
    open_id: str


@dataclass
class CardAction:
    event_id: str
    open_id: str
    message_id: str
    chat_id: str | None
    value: dict[str, Any]


def envelope(payload: dict[str, Any]) -> Envelope:
    """Schema 2.0 events carry header.event_type; the old 1.0 ones event.type and uuid."""
    header = payload.get("header") or {}
    event = payload.get("event") or {}
    if not isinstance(event, dict):
        event = {}
    if header:
        return Envelope(str(header.get("event_type") or ""), str(header.get("event_id") or ""), event)
    return Envelope(
        str(event.get("type") or payload.get("type") or ""), str(payload.get("uuid") or ""), event
    )


def _open_id(ids: Any) -> str:
    """The open_id of a {"open_id", "union_id", "user_id"} block."""
    return str(ids.get("open_id") or "") if isinstance(ids, dict) else ""


def strip_mentions(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", _MENTION_KEY.sub("", text)).strip()


def post_text(content: dict[str, Any]) -> str:
    """The words of a rich-text (post) message: title, text and link runs; mentions, images and
    emoji dropped. Events carry {"title", "content": [[runs]]}; sent posts wrap that in a locale."""
    if "content" not in content:
        for value in content.values():
            if isinstance(value, dict) and "content" in value:
                content = value
                break
    lines: list[str] = []
    title = str(content.get("title") or "").strip()
    if title:
        lines.append(title)
    for paragraph in content.get("content") or []:
        if not isinstance(paragraph, list):
            continue
        words = []
        for run in paragraph:
            if not isinstance(run, dict):
                continue
            if run.get("tag") in ("text", "a", "code_block", "md"):
                words.append(str(run.get("text") or ""))
        line = "".join(words).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def parse_message(env: Envelope) -> IncomingMessage:
    event = env.event
    message = event.get("message") or {}
    sender = event.get("sender") or {}
    try:
        content = json.loads(message.get("content") or "{}")
    except (TypeError, ValueError):
        content = {}
    if not isinstance(content, dict):
        content = {}
    message_type = str(message.get("message_type") or "")
    if message_type == "text":
        text = str(content.get("text") or "")
    elif message_type == "post":
        text = post_text(content)
    else:
        text = ""
    mentions = message.get("mentions") or []
    return IncomingMessage(
        event_id=env.event_id,
        message_id=str(message.get("message_id") or ""),
        chat_id=str(message.get("chat_id") or ""),
        chat_type=str(message.get("chat_type") or ""),
        sender_open_id=_open_id(sender.get("sender_id")),
        sender_type=str(sender.get("sender_type") or "user"),
        message_type=message_type,
        text=strip_mentions(text),
        root_id=message.get("root_id") or None,
        parent_id=message.get("parent_id") or None,
        thread_id=message.get("thread_id") or None,
        mentioned_open_ids=[_open_id(m.get("id")) for m in mentions if isinstance(m, dict)],
        file_key=content.get("file_key") if message_type == "file" else None,
        file_name=content.get("file_name") if message_type == "file" else None,
    )


def parse_menu(env: Envelope) -> MenuClick:
    operator = env.event.get("operator") or {}
    return MenuClick(
        event_id=env.event_id,
        event_key=str(env.event.get("event_key") or ""),
        open_id=_open_id(operator.get("operator_id")),
    )


def parse_card_action(env: Envelope) -> CardAction:
    event = env.event
    context = event.get("context") or {}
    action = event.get("action") or {}
    value = action.get("value")
    if isinstance(value, str):  # older clients send the value JSON-encoded
        try:
            value = json.loads(value)
        except ValueError:
            value = {}
    return CardAction(
        event_id=env.event_id,
        open_id=_open_id(event.get("operator")),
        message_id=str(context.get("open_message_id") or ""),
        chat_id=context.get("open_chat_id") or None,
        value=value if isinstance(value, dict) else {},
    )
