"""One reply written into Feishu the way Feishu's AI bots do it: a CardKit streaming card.

The card entity is created in streaming mode with the status ("🔍 正在检索 32 篇研报…"), sent as
the reply, and its answer element receives the growing text (element content updates, each with a
strictly increasing `sequence`; Feishu types out the new part). At the end streaming is turned off
and the card is replaced by the final answer card, citation panels and 👍/👎 included: one card
from "searching" to the cited answer.

Feishu allows at most 10 operations a second on one card entity; every operation here waits for
CARD_MIN_GAP_SECONDS after the previous one, and text updates come at most every
CARD_STREAM_SECONDS. Without the cardkit:card:write scope (99991672) the reply falls back to a plain
interactive card that is PATCHed (at most once a second; Feishu allows 5), for the life of the
process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bot.chat import StreamIntoMessage, clip
from bot.dispatch import Reply, Say
from bot.feishu import cards
from bot.feishu.api import SCOPE_MISSING, FeishuApi, FeishuApiError
from bot.feishu.events import IncomingMessage

log = logging.getLogger("bot.feishu")

CARD_STREAM_SECONDS = 0.2  # between text updates of a streaming card
CARD_MIN_GAP_SECONDS = 0.11  # between any two operations on one card entity (Feishu: 10 a second)
PATCH_STREAM_SECONDS = 1.0  # between PATCHes of a plain card (Feishu: 5 a second per message)
STREAMING_GONE = frozenset({300309, 200740, 200750})  # streaming closed, card missing or expired


class CardKitSupport:
    """Whether this app may use CardKit, learned from the first refusal; shared by all replies."""

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self._lock = threading.Lock()

    def refused(self, exc: FeishuApiError) -> None:
        if exc.code not in SCOPE_MISSING:
            return
        with self._lock:
            if self.available:
                self.available = False
                log.warning(
                    "Feishu refused CardKit (%s): answers are PATCHed into plain cards from now on; grant "
                    "the cardkit:card:write scope for streaming cards (deploy/feishu/README.md)",
                    exc.code,
                    extra={"feishu_code": exc.code},
                )


class CardReply:
    """Writes one reply: `status()` while working, `on_text()` as an answer grows, `finish(reply)`
    once. To a message (`reply_to`) or, for a bot-menu click, to a person (`open_id`)."""

    def __init__(
        self,
        api: FeishuApi,
        support: CardKitSupport,
        *,
        question: str,
        reply_to: IncomingMessage | None = None,
        open_id: str | None = None,
        uuid: str | None = None,
        title: str = "研报问答",
        card_seconds: float = CARD_STREAM_SECONDS,
        patch_seconds: float = PATCH_STREAM_SECONDS,
    ) -> None:
        self.api = api
        self.support = support
        self.question = question
        self.reply_to = reply_to
        self.open_id = open_id
        self.uuid = uuid
        self.title = title
        self.message_id: str | None = None
        self.card_id: str | None = None  # the CardKit entity, when streaming
        self.sequence = 0
        self.streamed = 0  # text updates sent
        self.first_text_at: float | None = None
        self._answering = False  # answer text (not a status) is on the card
        self._last_op = 0.0
        self._lock = threading.RLock()
        interval = card_seconds if support.available else patch_seconds
        self._patch_seconds = patch_seconds
        self._throttle = StreamIntoMessage(self._show, interval)

    # -- sending -------------------------------------------------------------------------------------
    def _send(self, card: dict[str, Any] | None = None, card_id: str | None = None) -> str:
        if self.reply_to is not None:
            msg = self.reply_to
            in_thread = bool(msg.thread_id)
            if card_id is not None:
                return self.api.reply_card_entity(
                    msg.message_id, card_id, in_thread=in_thread, uuid=self.uuid
                )
            return self.api.reply_card(msg.message_id, card or {}, in_thread=in_thread, uuid=self.uuid)
        if card_id is not None:
            return self.api.send_card_entity(
                self.open_id or "", card_id, receive_id_type="open_id", uuid=self.uuid
            )
        return self.api.send_card(self.open_id or "", card or {}, receive_id_type="open_id", uuid=self.uuid)

    def _start(self, text: str) -> None:
        """Show the first card: a streaming entity where CardKit is allowed, else a plain card."""
        if self.support.available:
            try:
                card_id = self.api.create_card(cards.streaming_entity_card(self.question, text, self.title))
                self._last_op = time.monotonic()
            except FeishuApiError as exc:
                self.support.refused(exc)
                if exc.code not in SCOPE_MISSING:
                    log.warning("creating a streaming card failed; a plain card instead: %s", exc)
            except Exception as exc:  # whatever happened, a plain card still answers
                log.warning("creating a streaming card failed; a plain card instead: %s", type(exc).__name__)
            else:
                self.message_id = self._send(card_id=card_id)
                self.card_id = card_id
                return
        self.message_id = self._send(cards.searching_card(self.question, text.removeprefix("🔍 ")))

    def _pace(self) -> None:
        """Keep CARD_MIN_GAP_SECONDS between operations on the card entity."""
        wait = self._last_op + CARD_MIN_GAP_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_op = time.monotonic()

    def _next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def _set_text(self, content: str) -> None:
        """Stream `content` into the card's answer element; on a card that stopped streaming, PATCH."""
        if self.card_id is not None:
            try:
                self._pace()
                self.api.stream_card_text(self.card_id, cards.ANSWER_ELEMENT, content, self._next_sequence())
                self.streamed += 1
                return
            except FeishuApiError as exc:
                log.warning("streaming into the card failed: %s", exc, extra={"feishu_code": exc.code})
                if exc.code not in STREAMING_GONE:
                    return  # the final card replaces this text anyway
                self.card_id = None
        if self.message_id is not None:
            try:
                self.api.patch_card(self.message_id, cards.streaming_card(self.question, content))
            except FeishuApiError as exc:
                log.warning("streaming update skipped: %s", exc)

    # -- while working ---------------------------------------------------------------------------------
    def status(self, say: Say) -> None:
        text = f"🔍 {say('zh')}"
        with self._lock:
            if self.message_id is None:
                self._start(text)
            elif not self._answering and self.card_id is not None:
                self._set_text(text)

    def on_text(self, text: str) -> None:
        """The growing answer text (an LLM streaming); shown at the pace the card allows."""
        self._throttle(text)

    def _show(self, text: str) -> None:
        with self._lock:
            if self.first_text_at is None:
                self.first_text_at = time.monotonic()
            content = cards.escape(clip(text, cards.MAX_ANSWER_CHARS))
            if self.message_id is None:
                self._start(content)
                self._answering = True
                return
            if self.card_id is None:
                now = time.monotonic()
                if now - self._last_op < self._patch_seconds:
                    return
                self._last_op = now
            self._answering = True
            self._set_text(content)

    # -- the end ---------------------------------------------------------------------------------------
    def finish(self, reply: Reply, *, conversation: str | None = None) -> dict[str, Any]:
        """Show the final card (streaming turned off first); returns the card shown."""
        self._throttle.close()
        card = cards.render_reply(reply, conversation=conversation)
        with self._lock:
            if self.message_id is None:
                self.message_id = self._send(card)
                return card
            if self.card_id is not None:
                try:
                    self._pace()
                    self.api.card_settings(self.card_id, {"streaming_mode": False}, self._next_sequence())
                    self._pace()
                    self.api.update_card(self.card_id, card, self._next_sequence())
                    return card
                except FeishuApiError as exc:
                    log.warning("finishing the streaming card failed; patching the message: %s", exc)
            self.api.patch_card(self.message_id, card)
        return card
