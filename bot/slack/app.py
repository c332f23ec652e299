"""The Slack app: Bolt listeners that translate mentions, DMs, AI-app threads, slash commands, clicks
and file shares into calls of the command layer (bot/dispatch.py), and its replies into messages.

Every request is acknowledged on the request's own thread within a few milliseconds (Slack wants
it within 3 s; `process_before_response=True`), and the slow work runs on one worker pool: lazy
listeners for slash commands and clicks, a direct hand-off for questions (see queue_question).
Answers stream natively where the workspace allows it (bot/slack/streaming.py).
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
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.answer import Answer
from bot.chat import AckGate, StreamIntoMessage, worker_pool
from bot.digests import Delivery
from bot.dispatch import HELP_TITLE, Context, Dispatcher, Invocation, Reply, Say, Vote
from bot.logs import request_context
from bot.metrics import EVENTS, QUESTIONS
from bot.permissions import Requester
from bot.service import Yanbao
from bot.slack import blocks as render
from bot.slack.files import UploadError, check_shareable, download, file_info
from bot.slack.identity import SlackIdentity
from bot.slack.markup import question_text
from bot.slack.streaming import Capabilities, ThreadReply, plain_text
from bot.slack.web import SlackWeb
from bot.state import StateStore
from bot.subscriptions import Subscription
from index.settings import Settings, SettingsError

log = logging.getLogger("bot.slack")

CLAIM_TTL_SECONDS = 7 * 86400
LISTENER_THREADS = 8  # extractive answers are CPU-bound: more threads only fight over the GIL
LLM_LISTENER_THREADS = 32  # with an LLM, answers mostly wait on it: more of them can stream at once
SLASH_COMMANDS = ("/yanbao", "/ask", "/weekly", "/changes", "/reindex", "/reports")
# message subtypes that are still a person talking to the bot
QUESTION_SUBTYPES = (None, "file_share", "thread_broadcast")
MAX_TITLE_CHARS = 80
# what Slack says when the bot cannot post in a channel at all: a digest for it is not retried
CANNOT_POST = (
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "account_inactive",
    "invalid_auth",
    "token_revoked",
    "restricted_action",
    "cannot_dm_bot",
    "missing_scope",
)

SLACK_USAGE = Say(
    "*In Slack:* mention me in a channel (`@yanbao 乐鑫科技的投资逻辑是什么？`) or send me a direct "
    "message; I answer in the thread. `/yanbao ask …` or `/ask …` answers in the channel."
)

__all__ = ["AckGate", "SlackBot", "SlackSetupError", "build_app", "check_settings", "make_client"]


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
    identity: SlackIdentity | None = None,
    capabilities: Capabilities | None = None,
) -> App:
    """A Bolt App with yanbao's listeners; Slack requests go to `app.dispatch` (see bot.slack.server).
    `acks` is the gate the HTTP server holds while it acknowledges (see AckGate). Nothing here
    calls Slack: `identity` learns who the bot is in the background (started here if not yet)."""
    check_settings(settings, socket_mode=socket_mode)
    client = make_client(settings)
    identity = identity or SlackIdentity(settings)
    identity.start()
    threads = threads or (LLM_LISTENER_THREADS if settings.llm_base_url else LISTENER_THREADS)
    workers = worker_pool(threads, "yanbao-slack")

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        # single workspace: the token is ours; the ids are known once auth.test has answered
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or identity.team_id,
            bot_token=settings.slack_bot_token,
            bot_id=identity.bot_id,
            bot_user_id=identity.bot_user_id,
            user_id=user_id,
        )

    app = App(
        name="yanbao",
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        authorize=authorize,
        process_before_response=True,
        listener_executor=workers,
        logger=_bolt_logger(),
    )
    bot = SlackBot(
        service, settings, state or service.state, client, workers, acks or AckGate(), identity, capabilities
    )
    bot.register(app)
    app.yanbao = bot  # type: ignore[attr-defined]  # the server reads the bot's health from here
    return app


def _hide_token_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment on its own, then warns that our authorize wins
    message = record.getMessage()
    return "`token` will be unused" not in message and "will be ignored" not in message


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.slack.bolt")
    if _hide_token_warning not in logger.filters:
        logger.addFilter(_hide_token_warning)
    return logger


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
        identity: SlackIdentity | None = None,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.state = state
        self.client = client
        self.web = SlackWeb(client)
        self.workers = workers
        self.acks = acks
        self.identity = identity
        self.capabilities = capabilities or Capabilities()
        self.dispatcher = Dispatcher(service)
        self._names: dict[str, str | None] = {}
        self._names_lock = threading.Lock()

    def register(self, app: App) -> None:
        app.event("app_mention", matchers=[self.is_question])(self.queue_question)
        app.event("message", matchers=[self.is_direct_question])(self.queue_question)
        app.event("assistant_thread_started")(self.queue_thread_started)
        # everything else the subscriptions deliver (bots, edits, joins, channel chatter, context
        # changes of an AI-app thread) is acknowledged: a 404 counts toward Slack disabling events
        app.event(re.compile(".*"))(self.ignore_event)
        app.command(re.compile(r"^/.+"))(ack=self.ack_command, lazy=[self.run_command])
        app.action(render.FEEDBACK_ACTIONS)(ack=self.store_feedback, lazy=[self.thank_for_feedback])
        # interactions nobody listens to (an old modal, a shortcut from another version)
        app.action(re.compile(".*"))(self.ack_only)
        app.view(re.compile(".*"))(self.ack_only)
        app.view_closed(re.compile(".*"))(self.ack_only)
        app.shortcut(re.compile(".*"))(self.ack_only)

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

    @staticmethod
    def ack_only(ack: Ack, body: dict) -> None:
        ack()
        EVENTS.labels(platform="slack", outcome="ignored").inc()
        log.info("acknowledged a Slack interaction nobody listens to", extra={"type": body.get("type")})

    # -- questions in threads ----------------------------------------------------------------------
    def accept_event(self, body: dict, retry_num: str | None) -> bool:
        """The HTTP endpoint's fast path for messages and mentions, the bulk of a burst: queue a
        question (or drop chatter) without Bolt's per-request machinery (~2 ms each, which a burst
        of 50 events turns into the last one's 100 ms). False: not a message event, Bolt's job."""
        event = body.get("event") or {}
        kind = event.get("type")
        if kind == "app_mention":
            question = self.is_question(event)
        elif kind == "message":
            question = self.is_direct_question(event)
        else:
            return False
        if question:
            bot_user_id = self.identity.bot_user_id if self.identity is not None else None
            self.workers.submit(self.answer_event, body, retry_num, bot_user_id)
        else:
            EVENTS.labels(platform="slack", outcome="ignored").inc()
        return True

    def queue_question(self, ack: Ack, body: dict, request: BoltRequest, context: BoltContext) -> None:
        """Acknowledge, then hand the event to the worker pool, which drops duplicates and answers.
        Nothing here touches the disk and, unlike a lazy listener, nothing copies the whole request:
        the acknowledgement stays at a millisecond or two even when 50 events arrive at once."""
        ack()
        retry_num = next(iter(request.headers.get("x-slack-retry-num") or []), None)
        self.workers.submit(self.answer_event, body, retry_num, context.bot_user_id)

    def answer_event(self, body: dict, retry_num: str | None, bot_user_id: str | None) -> None:
        self.acks.wait_until_idle()
        event = body.get("event") or {}
        with request_context(body.get("event_id")):
            try:
                if self.first_delivery(body, retry_num):
                    self._answer_event(body, event, bot_user_id or bot_user_of(body))
            except Exception:
                log.exception("handling a Slack event failed", extra={"channel": event.get("channel")})

    def _answer_event(self, body: dict, event: dict, bot_user_id: str | None) -> None:
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        requester = Requester("slack", event.get("user", ""))
        direct = event.get("channel_type") == "im"
        files = event.get("files") or []
        if files:
            # a caption is about the file ("here's this week's note"), not a question to search
            self.index_shared_files(files, requester, channel=channel, thread_ts=thread_ts, direct=direct)
            return
        text = question_text(event.get("text") or "", bot_user_id, self.user_name)
        if not text:
            self.web.post(channel, thread_ts=thread_ts, text=self.help_text())
            EVENTS.labels(platform="slack", outcome="answered").inc()
            return
        invocation = self.dispatcher.parse(text)
        conversation = f"slack:{channel}:{thread_ts}"
        writer = ThreadReply(
            self.web,
            self.capabilities,
            channel=channel,
            thread_ts=thread_ts,
            user=requester.user,
            team=body.get("team_id") or event.get("team"),
            direct=direct,
            conversation=conversation,
        )
        if invocation.name == "ask":
            QUESTIONS.labels(platform="slack").inc()
            if direct and event.get("thread_ts"):
                self.title_assistant_thread(channel, thread_ts, invocation.args, conversation)
        started = time.perf_counter()
        context = Context(
            self.dispatcher, requester, conversation, writer.on_text, writer.status, channel, direct
        )
        reply = self.dispatcher.run(invocation, context)
        writer.finish(self.with_platform_help(reply))
        self.count(reply)
        log.info(
            "answered",
            extra={
                "channel": channel,
                "command": invocation.name,
                "kind": reply.kind,
                "mode": reply.answer.mode if reply.answer else None,
                "found": reply.answer.found if reply.answer else None,
                "citations": len(reply.answer.citations) if reply.answer else None,
                "streamed": writer.stream is not None,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    def title_assistant_thread(self, channel: str, thread_ts: str, question: str, conversation: str) -> None:
        """An AI-app thread is titled by its first question (the history shows it is the first)."""
        try:
            if self.state.get_history(conversation):
                return
        except Exception:
            return
        self.web.call(
            "assistant_threads_setTitle",
            quiet=("unknown_method", "missing_scope", "not_allowed_token_type", "channel_not_found"),
            channel_id=channel,
            thread_ts=thread_ts,
            title=render.clip(question.replace("\n", " "), MAX_TITLE_CHARS),
        )

    # -- AI-app threads --------------------------------------------------------------------------------
    def queue_thread_started(self, ack: Ack, body: dict) -> None:
        ack()
        self.workers.submit(self.start_assistant_thread, body)

    def start_assistant_thread(self, body: dict) -> None:
        """Someone opened yanbao's AI-app split view: a greeting and suggested prompts (the latest
        weekly, a question about the newest notes, help)."""
        thread = (body.get("event") or {}).get("assistant_thread") or {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not (channel and thread_ts):
            return
        with request_context(body.get("event_id")):
            try:
                if not self.first_delivery(body, None):
                    return
                self.web.post(channel, thread_ts=thread_ts, text=self.dispatcher.greeting()("en"))
                prompts = [
                    {"title": title, "message": message}
                    for title, message in self.dispatcher.suggested_prompts()
                ]
                self.web.call(
                    "assistant_threads_setSuggestedPrompts",
                    quiet=("unknown_method", "missing_scope"),
                    channel_id=channel,
                    thread_ts=thread_ts,
                    title="Try one of these:",
                    prompts=prompts[:4],
                )
            except Exception:
                log.exception("starting an assistant thread failed", extra={"channel": channel})

    # -- slash commands ----------------------------------------------------------------------------
    def invocation_of(self, command: dict) -> Invocation:
        name = str(command.get("command") or "").lstrip("/").lower()
        text = command.get("text") or ""
        if name == "yanbao":
            return self.dispatcher.parse(text, bare=True)  # `/yanbao weekly 通信`, `/yanbao 乐鑫？`
        return self.dispatcher.parse(text, verb=name)

    def ack_command(self, ack: Ack, command: dict) -> None:
        """Answer at once what needs no search (help, usage, refusals); the rest goes lazy."""
        invocation = self.invocation_of(command)
        requester = Requester("slack", command.get("user_id", ""))
        refused = self.dispatcher.precheck(invocation, requester)
        if refused is not None:
            EVENTS.labels(platform="slack", outcome="refused").inc()
            ack(text=refused.text("en") if refused.text else "", response_type="ephemeral")
        elif self._answered_in_ack(invocation):
            reply = self.with_platform_help(
                self.dispatcher.run(invocation, self.command_context(command, requester))
            )
            ack(text=render.render_reply(reply)[0], response_type="ephemeral")
        elif invocation.command.started is not None:
            ack(text=invocation.command.started("en"), response_type="ephemeral")
        else:
            ack()

    @staticmethod
    def _answered_in_ack(invocation: Invocation) -> bool:
        return invocation.command.quick or (invocation.name == "ask" and not invocation.args)

    def run_command(self, command: dict, respond: Respond) -> None:
        invocation = self.invocation_of(command)
        requester = Requester("slack", command.get("user_id", ""))
        self.acks.wait_until_idle()
        with request_context(command.get("trigger_id")):
            if self.dispatcher.precheck(invocation, requester) is not None or self._answered_in_ack(
                invocation
            ):
                return
            if invocation.command.private:
                reply = self.dispatcher.run(invocation, self.command_context(command, requester))
                text, blocks = render.render_reply(reply)
                self.respond(respond, text=text, blocks=blocks)
                self.count(reply)
                return
            self.answer_command(invocation, requester, command.get("channel_id", ""), respond)

    def command_context(self, command: dict, requester: Requester, **hooks: Any) -> Context:
        """Where a slash command was run: its channel, and whether that is a DM with the bot."""
        channel = command.get("channel_id") or None
        return Context(
            self.dispatcher, requester, channel=channel, direct=is_direct_channel(command), **hooks
        )

    def answer_command(
        self, invocation: Invocation, requester: Requester, channel: str, respond: Respond
    ) -> None:
        """Post "<@user> asked: …" in the channel and update it with the reply; its thread is the
        conversation. Where the bot cannot post (not in the channel, a DM between people), the reply
        goes through the command's response_url instead."""
        asked = (
            invocation.args if invocation.name == "ask" else f"/{invocation.name} {invocation.args}".strip()
        )
        if invocation.name == "ask":
            QUESTIONS.labels(platform="slack").inc()
        text = f"<@{requester.user}> asked: {render.escape(asked)}"
        placeholder = self.web.post(
            channel,
            text=text,
            blocks=[render.asked_block(requester.user, asked), *render.searching_blocks()[1]],
            quiet=("not_in_channel", "channel_not_found", "is_archived"),
        )
        conversation = (
            f"slack:{channel}:{placeholder}" if placeholder else f"slack:{channel}:cmd:{requester.user}"
        )
        show: Callable[[str], None] = lambda _text: None  # noqa: E731
        if placeholder:
            show = StreamIntoMessage(
                lambda t: self.web.update(channel, placeholder, *render.render_progress(t))
            )
        context = Context(
            self.dispatcher,
            requester,
            conversation,
            on_text=show,
            channel=channel or None,
            direct=channel.startswith("D"),
        )
        reply = self.dispatcher.run(invocation, context)
        if isinstance(show, StreamIntoMessage):
            show.close()
        text, blocks = render.render_reply(reply, conversation=conversation, asked_by=requester.user)
        if placeholder:
            if not self.web.update(channel, placeholder, text, blocks):
                self.web.update(channel, placeholder, plain_text(reply), [])
        else:
            self.respond(respond, text=text, blocks=blocks, response_type="in_channel")
        self.count(reply)

    # -- 👍 / 👎 -------------------------------------------------------------------------------------
    def store_feedback(self, ack: Ack, body: dict, action: dict) -> None:
        """Store the vote with the question, answer and citations, then acknowledge."""
        ack()
        user = (body.get("user") or {}).get("id", "")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        message_ts = message.get("ts") or (body.get("container") or {}).get("message_ts") or ""
        try:
            value = json.loads(action.get("value") or "{}")
        except json.JSONDecodeError:
            value = {}
        if not isinstance(value, dict):
            value = {}
        quotes = render.quotes_from_blocks(message.get("blocks") or [])
        vote = Vote(
            requester=Requester("slack", user),
            vote="up" if action.get("action_id") == render.FEEDBACK_UP else "down",
            message_id=message_ts,
            channel=channel,
            conversation=value.get("c"),
            question=value.get("q"),
            answer=render.answer_text_from_blocks(message.get("blocks") or []) or message.get("text"),
            mode=value.get("m"),
            citations=[
                {"n": n, "report_id": report_id, "paragraph": paragraph, "quote": quotes.get(n)}
                for n, report_id, paragraph in value.get("r", [])
                if isinstance(n, int)
            ],
            extra={"message_ts": message_ts},
        )
        try:
            self.dispatcher.vote(vote)
        except Exception:
            log.exception("could not store feedback")

    def thank_for_feedback(self, action: dict, respond: Respond) -> None:
        thanks = (
            "Thanks — glad it helped."
            if action.get("action_id") == render.FEEDBACK_UP
            else ("Thanks — noted. This answer will be reviewed to make yanbao better.")
        )
        self.respond(respond, text=thanks, replace_original=False)

    # -- file shares ---------------------------------------------------------------------------------
    def index_shared_files(
        self, files: list[dict], requester: Requester, *, channel: str, thread_ts: str, direct: bool
    ) -> None:
        refused = self.dispatcher.uploader_refusal(requester)
        if refused is not None:
            EVENTS.labels(platform="slack", outcome="refused").inc()
            self.web.post(channel, thread_ts=thread_ts, text=refused.text("en") if refused.text else "")
            return
        for shared in files[: self.dispatcher.max_files_per_message]:
            self.index_one_file(shared, requester, channel=channel, thread_ts=thread_ts)
        too_many = self.dispatcher.too_many_files(len(files))
        if too_many is not None:
            self.web.post(channel, thread_ts=thread_ts, text=render.render_reply(too_many)[0])

    def index_one_file(self, shared: dict, requester: Requester, *, channel: str, thread_ts: str) -> None:
        name = shared.get("name") or shared.get("id", "file")
        placeholder = self.web.post(channel, thread_ts=thread_ts, text=f":inbox_tray: Indexing “{name}”…")
        try:
            info = file_info(self.client, shared["id"])
            refused = self.dispatcher.upload_refusal(requester, info.name, info.size)
            if refused is not None:
                reply = render.render_reply(refused)[0]
            else:
                check_shareable(info)
                path = download(
                    info,
                    token=self.settings.slack_bot_token or "",
                    api_url=self.settings.slack_api_url,
                    folder=self.settings.home / "uploads",
                    max_upload_mb=self.settings.max_upload_mb,
                )
                outcome = self.dispatcher.index_upload(
                    requester, path, name=info.name, source=f"slack:{info.id}/{info.name}"
                )
                reply = render.render_reply(outcome)[0]
        except UploadError as exc:
            reply = f":warning: {exc}"
        except Exception as exc:
            log.exception("indexing an uploaded file failed")
            reply = f":warning: I couldn't index “{name}”: {type(exc).__name__}: {exc}"
        if placeholder:
            self.web.update(channel, placeholder, reply, [])
        else:
            self.web.post(channel, thread_ts=thread_ts, text=reply)
        EVENTS.labels(platform="slack", outcome="answered").inc()

    # -- help, names, counts ---------------------------------------------------------------------------
    def help_text(self) -> str:
        return self.dispatcher.help_text("en") + "\n" + SLACK_USAGE("en")

    def with_platform_help(self, reply: Reply) -> Reply:
        """/help here also says how to reach the bot in Slack."""
        if reply.title is HELP_TITLE:
            return Reply.message(Say(self.help_text()), title=reply.title, private=reply.private)
        return reply

    def user_name(self, user_id: str) -> str | None:
        """The display name of a person mentioned in a question (users.info; cached, None if Slack
        would not say)."""
        with self._names_lock:
            if user_id in self._names:
                return self._names[user_id]
        outcome = self.web.call("users_info", quiet=("missing_scope", "user_not_found"), user=user_id)
        user = outcome.get("user") or {}
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
        )
        with self._names_lock:
            self._names[user_id] = name or None
        return name or None

    @staticmethod
    def count(reply: Reply) -> None:
        outcome = {"refused": "refused", "error": "error"}.get(reply.tone, "answered")
        EVENTS.labels(platform="slack", outcome=outcome).inc()

    @staticmethod
    def respond(respond: Respond, **kwargs: Any) -> None:
        kwargs.setdefault("response_type", "ephemeral")
        try:
            respond(**kwargs)
        except Exception as exc:
            log.warning("response_url post failed: %s", type(exc).__name__)

    def health(self) -> dict[str, Any]:
        return self.identity.health() if self.identity is not None else {}

    # -- digests -------------------------------------------------------------------------------------
    def post_digest(self, channel: str, digest: Answer, subscription: Subscription, key: str) -> Delivery:
        """Post a new weekly note's summary to a subscribed channel (bot/digests.py decides when)."""
        why = f"This channel is subscribed to {subscription.describe('en')}; `/unsubscribe` stops it."
        text, blocks = render.render_digest(digest, why=why)
        outcome = self.web.call(
            "chat_postMessage",
            quiet=CANNOT_POST,
            channel=channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        if outcome.error in ("invalid_blocks", "msg_too_long", "too_many_blocks"):
            outcome = self.web.call("chat_postMessage", channel=channel, text=text)  # the words, plainly
        return Delivery(outcome.ok, outcome.error, permanent=outcome.error in CANNOT_POST)


def is_direct_channel(command: dict) -> bool:
    """A slash command run in a direct message with the bot (Slack names such channels D…)."""
    return command.get("channel_name") == "directmessage" or str(command.get("channel_id") or "").startswith(
        "D"
    )


def bot_user_of(body: dict) -> str | None:
    """The bot's user id as the event's authorizations name it (known before auth.test answers)."""
    for authorization in body.get("authorizations") or []:
        if isinstance(authorization, dict) and authorization.get("is_bot") and authorization.get("user_id"):
            return str(authorization["user_id"])
    return None
