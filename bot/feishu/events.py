"""Feishu event payloads (schema 2.0, and the legacy card callback) as small typed records: what
the bot needs and nothing else. Message text is translated here: Feishu's @_user_n placeholders
become the person's name (the bot's own mention is removed), rich-text posts become their words,
preferring `content_v2` (what Feishu sends now) over the legacy `content`, with `md` runs kept."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

MESSAGE_RECEIVED = "im.message.receive_v1"
BOT_MENU = "application.bot.menu_v6"
CARD_ACTION = "card.action.trigger"

# "@_user_1" in text, "@_all" for @everyone: placeholders Feishu puts where a mention was
_MENTION_KEY = re.compile(r"@_(?:user_\d+|all)\b")
# markdown a person may type in an md run: emphasis, strike, inline code, heading and quote marks
_MARKDOWN = re.compile(r"(\*\*|__|~~|`+|^#{1,6} +|^> ?)", re.M)
POST_LOCALES = ("zh_cn", "en_us", "ja_jp")


@dataclass(frozen=True)
class Envelope:
    """The part of every pushed event that says what it is."""

    event_type: str
    event_id: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Mention:
    key: str  # "@_user_1"
    open_id: str
    name: str


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
    raw_text: str = ""  # the words with Feishu's placeholders in, for `text_for`
    mentions: list[Mention] = field(default_factory=list)

    def text_for(self, bot_open_id: str | None) -> str:
        """The words as the person meant them: the bot's mention removed, other people's mentions
        replaced by their name; while the bot's own open_id is unknown, every mention is removed."""
        return resolve_mentions(self.raw_text, self.mentions, bot_open_id)

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
    """A click on a card button: who, on which message (the card), with which value."""

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
    if isinstance(payload.get("action"), dict) and payload.get("open_message_id"):
        # the legacy card callback: no header, the click's fields at the top of the payload
        click = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return Envelope(CARD_ACTION, f"legacy-card-{click[:24]}", payload)
    return Envelope(
        str(event.get("type") or payload.get("type") or ""), str(payload.get("uuid") or ""), event
    )


def _open_id(ids: Any) -> str:
    """The open_id of a {"open_id", "union_id", "user_id"} block."""
    return str(ids.get("open_id") or "") if isinstance(ids, dict) else ""


def strip_mentions(text: str) -> str:
    return _clean_spaces(_MENTION_KEY.sub("", text))


def _clean_spaces(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0\u3000]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def resolve_mentions(text: str, mentions: list[Mention], bot_open_id: str | None) -> str:
    by_key = {m.key: m for m in mentions}

    def name(match: re.Match[str]) -> str:
        mention = by_key.get(match.group(0))
        if mention is None or bot_open_id is None or mention.open_id == bot_open_id or not mention.name:
            return " "
        return f" {mention.name} "

    return _clean_spaces(_MENTION_KEY.sub(name, text))


def _post_body(content: dict[str, Any]) -> dict[str, Any]:
    """The {"title", "content", "content_v2"} of a post: events carry it flat, sent posts wrap it in
    a locale ({"zh_cn": {...}})."""
    if any(key in content for key in ("title", "content", "content_v2")):
        return content
    for locale in (*POST_LOCALES, *content.keys()):
        value = content.get(locale)
        if isinstance(value, dict):
            return value
    return {}


def _run_text(run: dict[str, Any]) -> str:
    tag = run.get("tag")
    if tag in ("text", "a", "code_block"):
        return str(run.get("text") or "")
    if tag == "md":  # markdown the person typed: its words, without the markup
        return _MARKDOWN.sub("", str(run.get("text") or ""))
    if tag == "at":  # the placeholder key, resolved like the text's own mentions
        user = str(run.get("user_id") or "")
        if user.startswith("@_"):
            return f" {user} "
        return f" {run.get('user_name')} " if run.get("user_name") else " "
    if tag == "emotion":
        return ""
    return ""  # img, media, hr: no words


def post_text(content: dict[str, Any]) -> str:
    """The words of a rich-text (post) message: title, then each paragraph's text, link, code and md
    runs, @ mentions as placeholders; images and emoji dropped. `content_v2` wins over `content`
    when it has paragraphs (Feishu keeps `content` for old clients and it may be stale)."""
    body = _post_body(content)
    lines: list[str] = []
    title = str(body.get("title") or "").strip()
    if title:
        lines.append(title)
    paragraphs = body.get("content_v2")
    if not isinstance(paragraphs, list) or not paragraphs:
        paragraphs = body.get("content")
    for paragraph in paragraphs if isinstance(paragraphs, list) else []:
        if not isinstance(paragraph, list):
            continue
        line = "".join(_run_text(run) for run in paragraph if isinstance(run, dict)).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def parse_message(env: Envelope, bot_open_id: str | None = None) -> IncomingMessage:
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
        raw = str(content.get("text") or "")
    elif message_type == "post":
        raw = post_text(content)
    else:
        raw = ""
    mentions = [
        Mention(str(m.get("key") or ""), _open_id(m.get("id")), str(m.get("name") or ""))
        for m in message.get("mentions") or []
        if isinstance(m, dict)
    ]
    return IncomingMessage(
        event_id=env.event_id,
        message_id=str(message.get("message_id") or ""),
        chat_id=str(message.get("chat_id") or ""),
        chat_type=str(message.get("chat_type") or ""),
        sender_open_id=_open_id(sender.get("sender_id")),
        sender_type=str(sender.get("sender_type") or "user"),
        message_type=message_type,
        text=resolve_mentions(raw, mentions, bot_open_id),
        root_id=message.get("root_id") or None,
        parent_id=message.get("parent_id") or None,
        thread_id=message.get("thread_id") or None,
        mentioned_open_ids=[m.open_id for m in mentions],
        file_key=content.get("file_key") if message_type == "file" else None,
        file_name=content.get("file_name") if message_type == "file" else None,
        raw_text=raw,
        mentions=mentions,
    )


def parse_menu(env: Envelope) -> MenuClick:
    operator = env.event.get("operator") or {}
    return MenuClick(
        event_id=env.event_id,
        event_key=str(env.event.get("event_key") or ""),
        open_id=_open_id(operator.get("operator_id")),
    )


def parse_card_action(env: Envelope) -> CardAction:
    """card.action.trigger puts the message and chat in event.context; some senders put them at the
    top of the event, and the legacy card callback at the top of the payload (see envelope)."""
    event = env.event
    context: dict[str, Any] = event["context"] if isinstance(event.get("context"), dict) else {}
    action: dict[str, Any] = event["action"] if isinstance(event.get("action"), dict) else {}
    value = action.get("value")
    if isinstance(value, str):  # older clients send the value JSON-encoded
        try:
            value = json.loads(value)
        except ValueError:
            value = {}
    return CardAction(
        event_id=env.event_id,
        open_id=_open_id(event.get("operator")) or str(event.get("open_id") or ""),
        message_id=str(context.get("open_message_id") or event.get("open_message_id") or ""),
        chat_id=context.get("open_chat_id") or event.get("open_chat_id") or None,
        value=value if isinstance(value, dict) else {},
    )
