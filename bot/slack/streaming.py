"""One reply written into a Slack thread the way Slack's AI apps do it: a status line while yanbao
searches (assistant.threads.setStatus, "is searching 32 notes…"), the answer streamed with the
native streaming methods (chat.startStream / appendStream / stopStream, through slack_sdk's
chat_stream), and the citations, footer and 👍/👎 buttons as the blocks that end the stream.

Where the workspace or token refuses those methods (an older workspace, a token without
assistant:write, a Slack that answers unknown_method), the reply falls back to what works
everywhere: a "Searching…" message that chat.update fills in. A refusal that will not change
(unknown_method, missing_scope, …) turns the method off for the life of the process, so later
answers go straight to the fallback.

The streamed text is the LLM's text as it is written; the final answer is the verified one (a
sentence naming a company its citation does not support is dropped). When they differ, the
stopped message is replaced with the verified answer (chat.update), so what stays is verified.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from slack_sdk.errors import SlackApiError
from slack_sdk.web.chat_stream import ChatStream

from bot.chat import StreamIntoMessage
from bot.dispatch import Reply, Say
from bot.slack import blocks as render
from bot.slack.web import NETWORK_ERROR, SlackWeb

log = logging.getLogger("bot.slack")

STREAM_SECONDS = 0.5  # between chat.appendStream calls (Tier 4: 100+ a minute per workspace)
UPDATE_SECONDS = 1.0  # between chat.update calls on the fallback path (Tier 3, and per message)
MAX_MARKDOWN_CHARS = 12_000  # Slack's limit for markdown_text in one streaming call
# refusals that mean "this workspace or token cannot do it", not "try again later"
UNAVAILABLE = frozenset(
    {
        "unknown_method",
        "not_allowed_token_type",
        "missing_scope",
        "feature_not_enabled",
        "team_not_allowed",
        "method_deprecated",
        "no_permission",
        "not_enabled",
    }
)


APPENDS_PER_MINUTE = 100  # chat.appendStream is Tier 4: "100+ per minute" for the workspace


class Capabilities:
    """What this workspace lets the bot do, learned from refusals, and the appendStream budget the
    replies share (many answers streaming at once must not pass Tier 4 together: an update that
    finds the budget spent is skipped, and the next one carries its text)."""

    def __init__(
        self, *, streaming: bool = True, status: bool = True, appends_per_minute: int = APPENDS_PER_MINUTE
    ) -> None:
        self.streaming = streaming
        self.status = status
        self._lock = threading.Lock()
        self._appends: deque[float] = deque()
        self._appends_per_minute = appends_per_minute

    def may_append(self) -> bool:
        """True (and counted) when one more chat.appendStream fits in the last minute's budget."""
        now = time.monotonic()
        with self._lock:
            while self._appends and now - self._appends[0] >= 60:
                self._appends.popleft()
            if len(self._appends) >= self._appends_per_minute:
                return False
            self._appends.append(now)
            return True

    def refused(self, what: str, error: str | None) -> None:
        if error not in UNAVAILABLE:
            return
        with self._lock:
            if getattr(self, what):
                setattr(self, what, False)
                hint = (
                    "grant the assistant:write scope (deploy/slack/manifest.yml)"
                    if what == "status"
                    else "the workspace or token cannot stream (chat:write, Slack's 2025 streaming methods)"
                )
                log.warning(
                    "Slack refused %s (%s): using the chat.update path from now on; %s",
                    "status lines" if what == "status" else "native streaming",
                    error,
                    hint,
                    extra={"slack_error": error},
                )


class ThreadReply:
    """Writes one reply in a thread: `status()` while working, `on_text()` as an answer grows,
    `finish(reply)` once. Thread-safe for the on_text callback an LLM stream calls."""

    def __init__(
        self,
        web: SlackWeb,
        capabilities: Capabilities,
        *,
        channel: str,
        thread_ts: str,
        user: str,
        team: str | None,
        direct: bool,
        conversation: str | None = None,
        notes: list[str] | None = None,
        stream_seconds: float = STREAM_SECONDS,
        update_seconds: float = UPDATE_SECONDS,
    ) -> None:
        self.web = web
        self.capabilities = capabilities
        self.channel = channel
        self.thread_ts = thread_ts
        self.user = user
        self.team = team
        self.direct = direct  # a DM: nobody else can see the thread, no ephemeral needed
        self.conversation = conversation
        self.notes = notes or []
        self.native = capabilities.streaming
        self.placeholder: str | None = None  # the message chat.update fills in (fallback path)
        self.stream: ChatStream | None = None
        self.sent = ""  # the answer text streamed so far (before escaping)
        self.first_text_at: float | None = None
        self._update_seconds = update_seconds
        self._last_update = 0.0
        self._lock = threading.Lock()
        self._throttle = StreamIntoMessage(self._show, stream_seconds if self.native else update_seconds)

    # -- while working --------------------------------------------------------------------------------
    def status(self, say: Say) -> None:
        text = say("en")
        with self._lock:
            if self.stream is not None:
                return  # the answer is already on screen
            if self.native and self.capabilities.status:
                outcome = self.web.call(
                    "assistant_threads_setStatus",
                    quiet=tuple(UNAVAILABLE),
                    channel_id=self.channel,
                    thread_ts=self.thread_ts,
                    status=f"is {text}",
                )
                if outcome.ok:
                    return
                self.capabilities.refused("status", outcome.error)
            # no status line here: a placeholder message says it and is later filled in
            self.native = False
            shown = text[:1].upper() + text[1:]
            if self.placeholder:
                self.web.update(self.channel, self.placeholder, *render.searching_blocks(shown))
            else:
                self.placeholder = self.web.post(
                    self.channel,
                    thread_ts=self.thread_ts,
                    text=shown,
                    blocks=render.searching_blocks(shown)[1],
                )

    def on_text(self, text: str) -> None:
        """The growing answer text (an LLM streaming); shown at most every few hundred ms."""
        self._throttle(text)

    def _show(self, text: str) -> None:
        with self._lock:
            if self.first_text_at is None:
                self.first_text_at = time.monotonic()
            if self.native:
                self._append(text)
            else:
                self._update_progress(text)

    def _new_stream(self) -> ChatStream:
        return self.web.client.chat_stream(
            channel=self.channel,
            thread_ts=self.thread_ts,
            recipient_team_id=self.team,
            recipient_user_id=self.user,
            buffer_size=1,  # our throttle decides when to send; the helper sends at once
        )

    def _append(self, text: str) -> None:
        if not text.startswith(self.sent):
            return  # streamed text only grows; the final answer settles any difference
        delta = text[len(self.sent) :]
        if not delta.strip():
            return
        if self.stream is None:
            self.stream = self._new_stream()
        elif not self.capabilities.may_append():
            return  # the workspace's appendStream budget is spent: the next update carries this text
        try:
            for piece in _pieces(render.escape(delta)):
                self.stream.append(markdown_text=piece)
        except Exception as exc:
            error = _error_of(exc)
            if self.stream.ts is None:  # never started: this workspace does not stream
                log.info("chat.startStream refused (%s); falling back to chat.update", error)
                self.capabilities.refused("streaming", error)
                self.stream = None
                self.native = False
                self._update_progress(text)
            else:
                log.warning("chat.appendStream failed (%s); the final answer will replace the text", error)
            return
        self.sent = text

    def _update_progress(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last_update < self._update_seconds and self.placeholder:
            return
        self._last_update = now
        shown_text, shown_blocks = render.render_progress(text)
        if self.placeholder:
            self.web.update(self.channel, self.placeholder, shown_text, shown_blocks)
        else:
            self.placeholder = self.web.post(
                self.channel, thread_ts=self.thread_ts, text=shown_text, blocks=shown_blocks
            )

    # -- the end ---------------------------------------------------------------------------------------
    def finish(self, reply: Reply) -> None:
        """Show the final reply: end the stream with the citation blocks, or fill in / post the
        message. Never raises."""
        self._throttle.close()
        with self._lock:
            try:
                if reply.kind == "answer" and reply.answer is not None and self.native:
                    if self._finish_stream(reply):
                        return
                self._finish_message(reply)
            except Exception:
                log.exception("posting the reply failed", extra={"channel": self.channel})

    def _finish_stream(self, reply: Reply) -> bool:
        """End the native stream (starting it if nothing streamed yet) with the citations; False
        when Slack refused to stream at all (the caller then posts the message instead)."""
        answer = reply.answer
        assert answer is not None
        body = render.answer_body(answer)
        tail = render.answer_tail_blocks(answer, conversation=self.conversation, notes=self.notes)
        if self.stream is None:
            self.stream = self._new_stream()
        verified_continues = body.startswith(self.sent)
        rest = render.escape(body[len(self.sent) :]) if verified_continues else ""
        try:
            pieces = _pieces(rest)
            for piece in pieces[:-1]:
                self.stream.append(markdown_text=piece)
            self.stream.stop(markdown_text=pieces[-1] if pieces else None, blocks=tail)
        except Exception as exc:
            error = _error_of(exc)
            if self.stream.ts is None:
                self.capabilities.refused("streaming", error)
                self.stream = None
                self.native = False
                return False
            log.warning("chat.stopStream failed (%s); replacing the message instead", error)
            self._replace(self.stream.ts, reply)
            return True
        if not verified_continues and self.stream.ts:
            # what streamed is not the verified answer: the message becomes the verified one
            self._replace(self.stream.ts, reply)
        return True

    def _finish_message(self, reply: Reply) -> None:
        target = self.stream.ts if self.stream is not None and self.stream.ts else self.placeholder
        if target:
            self._replace(target, reply)
            return
        text, blocks = render.render_reply(reply, conversation=self.conversation, notes=self.notes)
        if reply.private and not self.direct:
            if self.web.ephemeral(
                self.channel, self.user, text=text, blocks=blocks, thread_ts=self.thread_ts
            ):
                return
        if self.web.post(self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks) is None:
            # the blocks were refused (or the post failed): the plain text is better than nothing
            self.web.post(self.channel, thread_ts=self.thread_ts, text=plain_text(reply))

    def _replace(self, ts: str, reply: Reply) -> None:
        text, blocks = render.render_reply(reply, conversation=self.conversation, notes=self.notes)
        if not self.web.update(self.channel, ts, text, blocks):
            self.web.update(self.channel, ts, plain_text(reply), [])


def plain_text(reply: Reply) -> str:
    """A reply as plain text, for when Slack refuses its blocks."""
    if reply.answer is not None:
        lines = [reply.answer.answer.strip()]
        for c in reply.answer.citations:
            lines.append(f"[{c.n}] {c.title} · {c.broker or ''} · {c.date or ''}")
        return render.clip("\n".join(lines), render.MAX_FALLBACK_CHARS)
    return render.render_reply(reply)[0]


def _pieces(text: str, limit: int = MAX_MARKDOWN_CHARS) -> list[str]:
    return [text[i : i + limit] for i in range(0, len(text), limit)] if text else []


def _error_of(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"http_{exc.response.status_code}")
    return NETWORK_ERROR if not isinstance(exc, ValueError) else type(exc).__name__
