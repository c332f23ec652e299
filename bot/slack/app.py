"""The Slack app: Bolt listeners that turn mentions, DMs, slash commands, clicks and file shares into
calls of the command functions (ask, weekly, reindex, reports, help) and post the results.

Every request is acknowledged on the request's own thread within a few milliseconds (Slack wants
it within 3 s; `process_before_response=True`), and the slow work runs on one worker pool: lazy
listeners for slash commands and clicks, a direct hand-off for questions (see queue_question).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse

from bot.answer import Answer
from bot.chat import StreamIntoMessage
from bot.logs import request_context
from bot.metrics import EVENTS, FEEDBACK
from bot.service import MAX_QUESTION_CHARS, Yanbao
from bot.slack import blocks as render
from bot.slack.files import UploadError, check_shareable, download, file_info
from bot.state import StateStore
from index.settings import Settings, SettingsError
from index.summary import IndexSummary

log = logging.getLogger("bot.slack")

MAX_FILES_PER_MESSAGE = 5
CLAIM_TTL_SECONDS = 7 * 86400
LISTENER_THREADS = 8
ACK_PRIORITY_SECONDS = 1.0  # the longest an answer waits for acknowledgements in progress
SLASH_COMMANDS = ("/yanbao", "/ask", "/weekly", "/reindex", "/reports")
VERBS = ("ask", "weekly", "reports", "reindex", "help")
# message subtypes that are still a person talking to the bot
QUESTION_SUBTYPES = (None, "file_share", "thread_broadcast")

SLACK_USAGE = """*In Slack:* mention me in a channel (`@yanbao 乐鑫科技的投资逻辑是什么？`) or send me a direct \
message; I answer in the thread. `/yanbao ask …` or `/ask …` answers in the channel."""


class SlackSetupError(SettingsError):
    """A Slack setting is missing or wrong; the message names it and says what to do."""


def make_client(settings: Settings) -> WebClient:
    """The Web API client: SLACK_API_URL as base, retries on connection errors, 5xx and rate limits
    (honouring Retry-After)."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def check_settings(settings: Settings, *, socket_mode: bool = False) -> None:
    if not settings.slack_bot_token:
        raise SlackSetupError(
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your Slack app's "
            "OAuth & Permissions page (see docs/slack.md)."
        )
    if socket_mode and not settings.slack_app_token:
        raise SlackSetupError(
            "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) with the "
            "connections:write scope, from Basic Information → App-Level Tokens."
        )
    if not socket_mode and not settings.slack_signing_secret:
        raise SlackSetupError(
            "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your Slack app's Basic "
            "Information page, or run with --mode socket."
        )


def build_app(
    service: Yanbao,
    settings: Settings,
    *,
    state: StateStore | None = None,
    socket_mode: bool = False,
    threads: int | None = None,
    acks: AckGate | None = None,
) -> App:
    """A Bolt App with yanbao's listeners; Slack requests go to `app.dispatch` (see bot.slack.server).
    `acks` is the gate the HTTP server holds while it acknowledges (see AckGate)."""
    check_settings(settings, socket_mode=socket_mode)
    client = make_client(settings)
    workers = ThreadPoolExecutor(max_workers=threads or LISTENER_THREADS, thread_name_prefix="yanbao-slack")
    app = App(
        name="yanbao",
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        process_before_response=True,
        listener_executor=workers,
        logger=_bolt_logger(),
    )
    SlackBot(service, settings, state or service.state, client, workers, acks or AckGate()).register(app)
    return app


def _hide_token_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment on its own, then warns that our client wins
    return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.slack.bolt")
    if _hide_token_warning not in logger.filters:
        logger.addFilter(_hide_token_warning)
    return logger


class AckGate:
    """Acknowledgements first: the HTTP server holds the gate while it acknowledges requests, and
    answer work waits (briefly) for it to be free before starting. Under a burst of events the
    answers would otherwise take the interpreter from the acknowledgements Slack is waiting for."""

    def __init__(self, max_wait: float = ACK_PRIORITY_SECONDS) -> None:
        self.max_wait = max_wait
        self._in_flight = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._in_flight += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_until_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=self.max_wait)


class SlackBot:
    """yanbao's listeners; `register(app)` wires them into a Bolt App."""

    def __init__(
        self,
        service: Yanbao,
        settings: Settings,
        state: StateStore,
        client: WebClient,
        workers: ThreadPoolExecutor,
        acks: AckGate,
    ) -> None:
        self.service = service
        self.settings = settings
        self.state = state
        self.client = client
        self.workers = workers
        self.acks = acks

    def register(self, app: App) -> None:
        app.event("app_mention", matchers=[self.is_question])(self.queue_question)
        app.event("message", matchers=[self.is_direct_question])(self.queue_question)
        # everything else the subscriptions deliver (bots, edits, joins, channel chatter) is acknowledged
        app.event("app_mention")(self.ignore_event)
        app.event("message")(self.ignore_event)
        for command in SLASH_COMMANDS:
            app.command(command)(ack=self.ack_command, lazy=[self.run_command])
        app.action(render.FEEDBACK_ACTIONS)(ack=self.store_feedback, lazy=[self.thank_for_feedback])

    # -- duplicates ------------------------------------------------------------------------------
    def first_delivery(self, body: dict, retry_num: str | None) -> bool:
        """True the first time an event arrives. Slack's retries (X-Slack-Retry-Num) repeat the event
        with its event_id and client_msg_id; one message can also arrive as both app_mention and
        message (new event_id, same client_msg_id). So the message id is claimed when there is one,
        else the event id: one write to the state store, which remembers it across restarts."""
        event = body.get("event") or {}
        if event.get("client_msg_id"):
            key = f"slack:msg:{event['client_msg_id']}"
        elif body.get("event_id"):
            key = f"slack:event:{body['event_id']}"
        else:
            return True
        try:
            if self.state.claim(key, CLAIM_TTL_SECONDS):
                return True
        except Exception:  # answering twice beats never answering
            log.warning("could not record the event id; handling the event anyway", exc_info=True)
            return True
        EVENTS.labels(platform="slack", outcome="duplicate").inc()
        log.info("duplicate event dropped", extra={"event_id": body.get("event_id"), "retry_num": retry_num})
        return False

    # -- which events are questions ------------------------------------------------------------------
    @staticmethod
    def is_question(event: dict) -> bool:
        return (
            bool(event.get("user"))
            and not event.get("bot_id")
            and not event.get("bot_profile")
            and event.get("subtype") in QUESTION_SUBTYPES
            and "edited" not in event
        )

    @classmethod
    def is_direct_question(cls, event: dict) -> bool:
        return event.get("channel_type") == "im" and cls.is_question(event)

    @staticmethod
    def ignore_event(ack: Ack) -> None:
        ack()
        EVENTS.labels(platform="slack", outcome="ignored").inc()

    # -- questions in threads ----------------------------------------------------------------------
    def queue_question(self, ack: Ack, body: dict, request: BoltRequest, context: BoltContext) -> None:
        """Acknowledge, then hand the event to the worker pool, which drops duplicates and answers.
        Nothing here touches the disk and, unlike a lazy listener, nothing copies the whole request:
        the acknowledgement stays at a millisecond or two even when 50 events arrive at once."""
        ack()
        retry_num = (request.headers.get("x-slack-retry-num") or [None])[0]
        self.workers.submit(self.answer_event, body, retry_num, context.bot_user_id)

    def answer_event(self, body: dict, retry_num: str | None, bot_user_id: str | None) -> None:
        self.acks.wait_until_idle()
        event = body.get("event") or {}
        with request_context(body.get("event_id")):
            try:
                if self.first_delivery(body, retry_num):
                    self._answer_event(event, bot_user_id)
            except Exception:
                log.exception("handling a Slack event failed", extra={"channel": event.get("channel")})

    def _answer_event(self, event: dict, bot_user_id: str | None) -> None:
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        user = event.get("user", "")
        text = slack_to_plain(event.get("text") or "", bot_user_id)
        files = event.get("files") or []
        if files:
            self.index_shared_files(files, user=user, channel=channel, thread_ts=thread_ts)
            if not text:
                return
        if not text:
            self.post(channel, thread_ts=thread_ts, text=self.help_text())
            EVENTS.labels(platform="slack", outcome="answered").inc()
            return
        question, notes = trim_question(text)
        self.answer_in_thread(question, channel=channel, thread_ts=thread_ts, notes=notes)

    def answer_in_thread(self, question: str, *, channel: str, thread_ts: str, notes: list[str]) -> None:
        text, blocks = render.searching_blocks()
        placeholder = self.post(channel, thread_ts=thread_ts, text=text, blocks=blocks)
        if placeholder is None:
            EVENTS.labels(platform="slack", outcome="error").inc()
            return
        conversation = f"slack:{channel}:{thread_ts}"
        self.answer_into(
            placeholder,
            self._asker(question, conversation),
            channel=channel,
            conversation=conversation,
            notes=notes,
        )

    def answer_into(
        self,
        message_ts: str,
        compute: Callable[[Callable[[str], None]], Answer],
        *,
        channel: str,
        conversation: str | None,
        notes: list[str],
        asked_by: str | None = None,
    ) -> Answer | None:
        """Run `compute` (ask or weekly), streaming its text into the message, then replace the
        message with the rendered answer."""
        stream = StreamIntoMessage(lambda t: self.update(channel, message_ts, *render.render_progress(t)))
        started = time.perf_counter()
        try:
            answer = compute(stream)
        except Exception as exc:
            stream.close()
            log.exception("answering failed", extra={"channel": channel})
            self.update(
                channel, message_ts, f"Sorry, I couldn't answer that: {type(exc).__name__}: {exc}", []
            )
            EVENTS.labels(platform="slack", outcome="error").inc()
            return None
        stream.close()
        text, blocks = render.render_answer(answer, conversation=conversation, asked_by=asked_by, notes=notes)
        if not self.update(channel, message_ts, text, blocks):
            # the blocks were refused (or the update failed): the plain answer is better than nothing
            self.update(channel, message_ts, plain_answer(answer), [])
        EVENTS.labels(platform="slack", outcome="answered").inc()
        log.info(
            "answered",
            extra={
                "channel": channel,
                "mode": answer.mode,
                "found": answer.found,
                "citations": len(answer.citations),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return answer

    # -- slash commands ----------------------------------------------------------------------------
    def ack_command(self, ack: Ack, command: dict) -> None:
        """Answer at once what needs no search (help, usage errors, refusals); the rest goes lazy."""
        verb, args = parse_command(command.get("command", ""), command.get("text", ""))
        user = command.get("user_id", "")
        if verb == "help":
            ack(text=self.help_text(), response_type="ephemeral")
        elif verb == "ask" and not args:
            ack(text="Ask me something, e.g. `/ask 乐鑫科技的投资逻辑是什么？`", response_type="ephemeral")
        elif verb == "reindex" and not self.settings.is_admin("slack", user):
            EVENTS.labels(platform="slack", outcome="refused").inc()
            ack(
                text="Sorry — only yanbao admins can re-index the reports. Ask an admin to run `/reindex`.",
                response_type="ephemeral",
            )
        elif verb == "reindex":
            ack(text="Re-indexing the report folders… I'll post the result here.", response_type="ephemeral")
        else:
            ack()

    def run_command(self, command: dict, respond: Respond) -> None:
        verb, args = parse_command(command.get("command", ""), command.get("text", ""))
        user = command.get("user_id", "")
        channel = command.get("channel_id", "")
        self.acks.wait_until_idle()
        with request_context(command.get("trigger_id")):
            if verb == "help" or (verb == "ask" and not args):
                return
            if verb == "reindex":
                if self.settings.is_admin("slack", user):
                    self.reindex_for(respond)
                return
            if verb == "reports":
                self.list_reports(respond)
                return
            if verb == "weekly":
                broker, sector = self.service.weekly_scope(args)
                question = f"/weekly {args}".strip()
                self.answer_command(
                    question,
                    lambda on_text: self.service.weekly(broker, sector, on_text=on_text),
                    user=user,
                    channel=channel,
                    respond=respond,
                    notes=[],
                )
                return
            question, notes = trim_question(args)
            self.answer_command(
                question,
                None,
                user=user,
                channel=channel,
                respond=respond,
                notes=notes,
            )

    def answer_command(
        self,
        question: str,
        compute: Callable[[Callable[[str], None]], Answer] | None,
        *,
        user: str,
        channel: str,
        respond: Respond,
        notes: list[str],
    ) -> None:
        """Post "searching…" in the channel and update it with the answer; its thread is the
        conversation. Where the bot cannot post (not in the channel, a DM between people), the
        answer goes through the command's response_url instead."""
        text = f"<@{user}> asked: {render.escape(question)}"
        placeholder = self.post(
            channel,
            text=text,
            blocks=[
                {"type": "context", "elements": [{"type": "mrkdwn", "text": render.clip(text, 3000)}]},
                *render.searching_blocks()[1],
            ],
            quiet_errors=("not_in_channel", "channel_not_found", "is_archived"),
        )
        conversation = f"slack:{channel}:{placeholder}" if placeholder else f"slack:{channel}:cmd:{user}"
        if compute is None:
            compute = self._asker(question, conversation)
        if placeholder:
            self.answer_into(
                placeholder, compute, channel=channel, conversation=conversation, notes=notes, asked_by=user
            )
            return
        try:
            answer = compute(lambda _text: None)
        except Exception as exc:
            log.exception("answering failed", extra={"channel": channel})
            self.respond(respond, text=f"Sorry, I couldn't answer that: {type(exc).__name__}: {exc}")
            return
        text, blocks = render.render_answer(answer, conversation=conversation, asked_by=user, notes=notes)
        self.respond(respond, text=text, blocks=blocks, response_type="in_channel")
        EVENTS.labels(platform="slack", outcome="answered").inc()

    def _asker(self, question: str, conversation: str) -> Callable[[Callable[[str], None]], Answer]:
        return lambda on_text: self.service.ask(question, conversation=conversation, on_text=on_text)

    def reindex_for(self, respond: Respond) -> None:
        try:
            summary = self.service.reindex()
        except Exception as exc:
            log.exception("reindex failed")
            self.respond(respond, text=f"Re-indexing failed: {type(exc).__name__}: {exc}")
            return
        self.respond(respond, text=describe_reindex(summary))

    def list_reports(self, respond: Respond) -> None:
        try:
            reports = self.service.reports()
        except Exception as exc:
            log.exception("listing reports failed")
            self.respond(respond, text=f"I couldn't list the reports: {type(exc).__name__}: {exc}")
            return
        if not reports:
            self.respond(
                respond,
                text="No reports are indexed yet. An admin can run `/reindex` or share a file with me.",
            )
            return
        reports = sorted(reports, key=lambda r: r.date or "", reverse=True)
        lines = [f"*{len(reports)} indexed reports* (newest first)"]
        for r in reports[:100]:
            meta = " · ".join(p for p in (r.broker, r.date, f"{r.chunks} chunks") if p)
            lines.append(f"• {render.escape(r.title)} — {render.escape(meta)}")
        if len(reports) > 100:
            lines.append(f"…and {len(reports) - 100} more (`yanbao reports` lists them all).")
        self.respond(respond, text="\n".join(lines[:30]), blocks=render.render_summary_lines(lines))

    # -- 👍 / 👎 -------------------------------------------------------------------------------------
    def store_feedback(self, ack: Ack, body: dict, action: dict) -> None:
        """Store the vote with the question, answer and citations, then acknowledge."""
        ack()
        vote = "up" if action.get("action_id") == render.FEEDBACK_UP else "down"
        user = (body.get("user") or {}).get("id", "")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        message_ts = message.get("ts") or (body.get("container") or {}).get("message_ts")
        try:
            value = json.loads(action.get("value") or "{}")
        except json.JSONDecodeError:
            value = {}
        quotes = render.quotes_from_blocks(message.get("blocks") or [])
        record = {
            "platform": "slack",
            "vote": vote,
            "user": user,
            "channel": channel,
            "message_ts": message_ts,
            "conversation": value.get("c"),
            "mode": value.get("m"),
            "question": value.get("q"),
            "answer": render.answer_text_from_blocks(message.get("blocks") or []) or message.get("text"),
            "citations": [
                {"n": n, "report_id": report_id, "paragraph": paragraph, "quote": quotes.get(n)}
                for n, report_id, paragraph in value.get("r", [])
            ],
        }
        try:
            if self.state.claim(f"slack:feedback:{channel}:{message_ts}:{user}:{vote}", CLAIM_TTL_SECONDS):
                self.state.add_feedback(record)
                FEEDBACK.labels(value=vote).inc()
        except Exception:
            log.exception("could not store feedback")

    def thank_for_feedback(self, action: dict, respond: Respond) -> None:
        thanks = (
            "Thanks — glad it helped."
            if action.get("action_id") == render.FEEDBACK_UP
            else ("Thanks — noted. This answer will be reviewed to make yanbao better.")
        )
        self.respond(respond, text=thanks, replace_original=False)

    # -- admin file shares --------------------------------------------------------------------------
    def index_shared_files(self, files: list[dict], *, user: str, channel: str, thread_ts: str) -> None:
        if not self.settings.is_admin("slack", user):
            EVENTS.labels(platform="slack", outcome="refused").inc()
            self.post(
                channel,
                thread_ts=thread_ts,
                text="Thanks for the file! Only yanbao admins can add reports to the index, so I've left it "
                "alone — ask an admin to share it with me.",
            )
            return
        for shared in files[:MAX_FILES_PER_MESSAGE]:
            self.index_one_file(shared, channel=channel, thread_ts=thread_ts)
        if len(files) > MAX_FILES_PER_MESSAGE:
            self.post(
                channel,
                thread_ts=thread_ts,
                text=f"I indexed the first {MAX_FILES_PER_MESSAGE} files; share the rest in another message.",
            )

    def index_one_file(self, shared: dict, *, channel: str, thread_ts: str) -> None:
        name = shared.get("name") or shared.get("id", "file")
        placeholder = self.post(channel, thread_ts=thread_ts, text=f":inbox_tray: Indexing “{name}”…")
        try:
            info = file_info(self.client, shared["id"])
            check_shareable(info, self.settings.max_upload_mb)
            path = download(
                info,
                token=self.settings.slack_bot_token or "",
                api_url=self.settings.slack_api_url,
                folder=self.settings.home / "uploads",
                max_upload_mb=self.settings.max_upload_mb,
            )
            summary = self.service.add_file(path, source=f"slack:{info.id}/{info.name}")
            reply = describe_upload(info.name, summary)
        except UploadError as exc:
            reply = f":warning: {exc}"
        except Exception as exc:
            log.exception("indexing an uploaded file failed")
            reply = f":warning: I couldn't index “{name}”: {type(exc).__name__}: {exc}"
        if placeholder:
            self.update(channel, placeholder, reply, [])
        else:
            self.post(channel, thread_ts=thread_ts, text=reply)

    # -- help ------------------------------------------------------------------------------------------
    def help_text(self) -> str:
        try:
            general = self.service.help_text().strip()
        except Exception:
            general = ""
        return (general + "\n" if general else "") + SLACK_USAGE

    # -- Web API, with errors reported instead of raised ------------------------------------------------
    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        quiet_errors: tuple[str, ...] = (),
    ) -> str | None:
        """chat.postMessage; the new message's ts, or None when Slack refused (logged)."""
        response = self._call(
            "chat_postMessage",
            quiet_errors,
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
        return response["ts"] if response else None

    def update(self, channel: str, ts: str, text: str, blocks: list[dict]) -> bool:
        return self._call("chat_update", (), channel=channel, ts=ts, text=text, blocks=blocks) is not None

    def _call(self, method: str, quiet_errors: tuple[str, ...], **kwargs: Any) -> SlackResponse | None:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            level = logging.INFO if error in quiet_errors else logging.WARNING
            log.log(
                level,
                "Slack refused %s: %s",
                method.replace("_", "."),
                error,
                extra={"channel": kwargs.get("channel"), "slack_error": error},
            )
        except Exception as exc:  # network trouble after the retries: report, never crash
            log.warning(
                "Slack %s failed: %s",
                method.replace("_", "."),
                type(exc).__name__,
                extra={"channel": kwargs.get("channel")},
            )
        return None

    @staticmethod
    def respond(respond: Respond, **kwargs: Any) -> None:
        kwargs.setdefault("response_type", "ephemeral")
        try:
            respond(**kwargs)
        except Exception as exc:
            log.warning("response_url post failed: %s", type(exc).__name__)


# -- text helpers ------------------------------------------------------------------------------------


def slack_to_plain(text: str, bot_user_id: str | None) -> str:
    """The question as the person typed it: the bot's mention removed, Slack markup unwrapped."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = re.sub(r"<@([UW][A-Z0-9]+)\|([^>]+)>", r"@\2", text)
    text = re.sub(r"<@([UW][A-Z0-9]+)>", r"@\1", text)
    text = re.sub(r"<#[CG][A-Z0-9]+\|([^>]*)>", r"#\1", text)
    text = re.sub(r"<!([a-z]+)(?:\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<((?:https?|mailto):[^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<((?:https?|mailto):[^>]+)>", r"\1", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t\u3000]+", " ", text).strip()


def trim_question(text: str, limit: int = MAX_QUESTION_CHARS) -> tuple[str, list[str]]:
    if len(text) <= limit:
        return text, []
    return text[:limit], [f"Your question was {len(text):,} characters long; I used the first {limit:,}."]


def parse_command(command: str, text: str) -> tuple[str, str]:
    """(verb, arguments) of a slash command: `/yanbao weekly 通信` → ("weekly", "通信")."""
    text = (text or "").strip()
    name = command.lstrip("/").lower()
    if name != "yanbao":
        return (name if name in VERBS else "ask"), text
    first, _, rest = text.partition(" ")
    if first.lower() in VERBS:
        return first.lower(), rest.strip()
    if not text:
        return "help", ""
    return "ask", text  # `/yanbao 乐鑫科技怎么样` is a question


def describe_reindex(summary: IndexSummary) -> str:
    parts = [f"{summary.added} added", f"{summary.updated} updated", f"{summary.unchanged} unchanged"]
    if summary.removed:
        parts.append(f"{summary.removed} removed")
    text = f"Re-indexed: {', '.join(parts)}; {summary.chunks} chunks written"
    if summary.seconds:
        text += f" in {summary.seconds:.1f}s"
    text += "."
    if summary.failed:
        text += f"\n:warning: {len(summary.failed)} failed:"
        for failure in summary.failed[:10]:
            text += f"\n• `{failure.path}`: {failure.error}"
    return text


def describe_upload(name: str, summary: IndexSummary) -> str:
    if summary.failed:
        return f":warning: I couldn't index “{name}”: {summary.failed[0].error}"
    if summary.reports:
        lines = []
        for report in summary.reports:
            meta = " · ".join(
                p for p in (report.broker or "broker unknown", report.date or "date unknown") if p
            )
            lines.append(
                f":white_check_mark: Indexed *{render.escape(report.title)}* — {render.escape(meta)} · "
                f"{report.chunks} chunks. Ask me about it!"
            )
        return "\n".join(lines)
    if summary.unchanged:
        return f"“{name}” is already indexed, unchanged."
    return f"“{name}” had nothing I could index."


def plain_answer(answer: Answer) -> str:
    lines = [answer.answer.strip()]
    for c in answer.citations:
        lines.append(f"[{c.n}] {c.title} · {c.broker or ''} · {c.date or ''}")
    return render.clip("\n".join(lines), 3000)
