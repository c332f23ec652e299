"""The Feishu bot: translates pushed events (messages, bot-menu clicks, card button clicks) into calls
of the command layer (bot/dispatch.py) and its replies into cards (streaming CardKit cards where
the app may, bot/feishu/streaming.py).

`handle_event` is the acknowledgement path, shared by the webhook and the long connection: it
parses, drops what is plainly not for us and queues the rest on a thread pool, without I/O; Feishu
wants an answer within 3 seconds and this takes well under a millisecond. In the pool, the event
and message ids are claimed in the state store first, so a re-pushed event is answered once, also
after a restart. Card clicks are answered inline: Feishu shows the toast and the updated card the
callback returns.

Which group messages are for yanbao needs the bot's own open_id (GET /open-apis/bot/v3/info),
learned in the background and retried with backoff until Feishu answers. Until then yanbao answers
direct chats only: an @mention in a group may be someone else's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.answer import Answer, Citation
from bot.chat import AckGate, safe_file_name, worker_pool
from bot.digests import Delivery
from bot.dispatch import HELP_TITLE, Context, Dispatcher, Invocation, Reply, Say, Vote
from bot.feishu import cards
from bot.feishu.api import BOT_NOT_IN_CHAT, SCOPE_MISSING, FeishuApi, FeishuApiError
from bot.feishu.events import (
    BOT_MENU,
    CARD_ACTION,
    MESSAGE_RECEIVED,
    CardAction,
    IncomingMessage,
    MenuClick,
    envelope,
    parse_card_action,
    parse_menu,
    parse_message,
)
from bot.feishu.streaming import CARD_STREAM_SECONDS, PATCH_STREAM_SECONDS, CardKitSupport, CardReply
from bot.logs import request_context
from bot.metrics import EVENTS, QUESTIONS
from bot.permissions import Requester
from bot.service import Yanbao
from bot.state import StateStore, open_state
from bot.subscriptions import Subscription
from index.settings import Settings

log = logging.getLogger("bot.feishu")

CLAIM_TTL_SECONDS = 7 * 86400
WORKER_THREADS = 8  # the answers are CPU-bound without an LLM; more threads only fight over the GIL
LLM_WORKER_THREADS = 32  # with an LLM, answers mostly wait on it: more of them can stream at once
BOT_ID_RETRY_SECONDS = (1, 2, 5, 10, 30, 60)
# the bot cannot send to this chat at all (not in it, chat gone, no permission): not retried
CANNOT_SEND = frozenset({BOT_NOT_IN_CHAT, 230001, 230006, 230013, 230017, *SCOPE_MISSING})
DECLINED_TYPES = {
    "image": "图片",
    "sticker": "表情",
    "media": "视频",
    "audio": "语音",
}

FEISHU_USAGE = Say(
    "",
    """**在飞书里怎么问**
- 私聊直接发问题，或在群里 **@我** 提问，例如：乐鑫科技的观点是什么？
- 在我回答的话题/回复里继续追问，我会接着上下文回答。
- 每个回答下的 👍/👎 会被记录，用于改进回答。""",
)


def answer_from_json(data: dict[str, Any]) -> Answer:
    """The Answer saved beside a card (Answer.to_json), to redraw the card after a 👍/👎 click."""
    fields = Citation.__dataclass_fields__
    return Answer(
        question=data.get("question", ""),
        answer=data.get("answer", ""),
        mode=data.get("mode", "extractive"),
        found=bool(data.get("found", True)),
        citations=[
            Citation(**{k: v for k, v in c.items() if k in fields}) for c in data.get("citations", [])
        ],
        model=data.get("model"),
        note=data.get("note"),
    )


class FeishuBot:
    def __init__(
        self,
        service: Yanbao,
        settings: Settings,
        *,
        api: FeishuApi | None = None,
        state: StateStore | None = None,
        workers: int | None = None,
        stream_interval: float = PATCH_STREAM_SECONDS,
        card_interval: float = CARD_STREAM_SECONDS,
        cardkit: bool = True,
        acks: AckGate | None = None,
        bot_id_retry_seconds: tuple[float, ...] = BOT_ID_RETRY_SECONDS,
    ) -> None:
        self.service = service
        self.settings = settings
        self.api = api or FeishuApi(settings)
        self.state = state or open_state(settings)
        self.dispatcher = Dispatcher(service)
        self.cardkit = CardKitSupport(cardkit)
        self.acks = acks or AckGate()
        self.stream_interval = stream_interval
        self.card_interval = card_interval
        workers = workers or (LLM_WORKER_THREADS if settings.llm_base_url else WORKER_THREADS)
        self.pool = worker_pool(workers, "yanbao-feishu")
        self.bot_open_id: str | None = None
        self.bot_id_problem: str | None = "not asked yet"
        self._bot_id_retry_seconds = bot_id_retry_seconds
        self._closed = threading.Event()
        threading.Thread(target=self._learn_bot_id, name="yanbao-feishu-bot-id", daemon=True).start()

    def close(self, wait: bool = True) -> None:
        self._closed.set()
        self.pool.shutdown(wait=wait)

    def _learn_bot_id(self) -> None:
        """GET /open-apis/bot/v3/info until Feishu answers (5xx, rate limits and network errors are
        retried with backoff; FeishuApi retries a few times inside each attempt too)."""
        failures = 0
        while not self._closed.is_set():
            try:
                self.bot_open_id = self.api.bot_open_id()
                self.bot_id_problem = None
                log.info("learned the bot's open_id", extra={"attempts": failures + 1})
                return
            except Exception as exc:
                problem = f"{exc}" if isinstance(exc, FeishuApiError) else f"{type(exc).__name__}: {exc}"
                if problem != self.bot_id_problem:
                    log.warning(
                        "could not learn the bot's open_id (answering direct chats only until it is "
                        "known): %s",
                        problem,
                    )
                self.bot_id_problem = problem
            wait = self._bot_id_retry_seconds[min(failures, len(self._bot_id_retry_seconds) - 1)]
            failures += 1
            self._closed.wait(wait)

    def health(self) -> dict[str, Any]:
        """Informational, not a failed check: without its open_id the bot still answers direct chats."""
        if self.bot_open_id is not None:
            return {"bot_open_id": "known"}
        return {"bot_open_id": f"unknown, answering direct chats only ({self.bot_id_problem})"}

    # ------------------------------------------------------------------ the acknowledgement path

    def handle_event(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Acknowledge one pushed event; returns the callback response for card clicks, None for
        everything else. Messages and menu clicks only get parsed and queued here, without I/O, so
        the acknowledgement never waits on the state store; card clicks read and write it."""
        env = envelope(payload)
        if env.event_type == MESSAGE_RECEIVED:
            self._on_message(parse_message(env, self.bot_open_id))
        elif env.event_type == BOT_MENU:
            self._on_menu(parse_menu(env))
        elif env.event_type == CARD_ACTION:
            return self._on_card_action(parse_card_action(env))
        else:
            self._ignored("event", event_type=env.event_type or "(none)")
        return None

    @staticmethod
    def _ignored(what: str, **fields: Any) -> None:
        EVENTS.labels(platform="feishu", outcome="ignored").inc()
        log.info(f"ignored a Feishu {what}", extra=fields)

    def _first_time(self, *keys: str) -> bool:
        """Claim every key (event id and message id): a re-push repeats one or both."""
        try:
            # every key is claimed (no short-circuit); a key without its id ("feishu:event:") is skipped
            fresh = [self.state.claim(key, CLAIM_TTL_SECONDS) for key in keys if not key.endswith(":")]
        except Exception:  # answering twice beats never answering
            log.warning("could not record event ids; handling the event anyway", exc_info=True)
            return True
        if all(fresh):
            return True
        EVENTS.labels(platform="feishu", outcome="duplicate").inc()
        log.info("duplicate Feishu event dropped", extra={"keys": list(keys)})
        return False

    def _mentions_us(self, msg: IncomingMessage) -> bool:
        return self.bot_open_id is not None and self.bot_open_id in msg.mentioned_open_ids

    def _on_message(self, msg: IncomingMessage) -> None:
        if msg.sender_type != "user" or not msg.message_id:
            self._ignored("message from an app")  # our own cards and other bots
        elif msg.chat_type == "p2p":
            self.pool.submit(self._guarded, msg.event_id, self.take_message, msg)
        elif self.bot_open_id is None and msg.mentioned_open_ids:
            # whose mention this is cannot be told yet: never answer what may be someone else's
            self._ignored("group mention while the bot's own open_id is unknown", chat_id=msg.chat_id)
        elif not self._mentions_us(msg) and not msg.root_id:
            self._ignored("group message without @yanbao")
        else:
            self.pool.submit(self._guarded, msg.event_id, self.take_message, msg)

    def take_message(self, msg: IncomingMessage) -> None:
        """In the pool: a reply in a group thread without @yanbao is ours only in a thread we answer
        in (Feishu delivers those with the im:message.group_msg scope) and when it mentions nobody
        else; then the duplicate check."""
        if msg.chat_type != "p2p" and not self._mentions_us(msg):
            if msg.mentioned_open_ids:
                self._ignored("thread reply addressed to someone else")
                return
            if not self.state.get_history(msg.conversation):
                self._ignored("thread reply in a conversation yanbao is not part of")
                return
        if self._first_time(f"feishu:event:{msg.event_id}", f"feishu:message:{msg.message_id}"):
            self.handle_message(msg)

    def _on_menu(self, click: MenuClick) -> None:
        command = self.dispatcher.get(click.event_key) if click.event_key else None
        if command is None or not click.open_id:
            self._ignored("bot menu click", event_key=click.event_key)
        else:
            self.pool.submit(self._guarded, click.event_id, self.take_menu_click, click)

    def take_menu_click(self, click: MenuClick) -> None:
        if self._first_time(f"feishu:event:{click.event_id}"):
            self.handle_menu(click)

    def _guarded(self, request_id: str, work: Callable[[Any], None], item: Any) -> None:
        """Run in the pool: errors are logged with the request id, never raised into the void."""
        self.acks.wait_until_idle()
        with request_context(request_id or None):
            try:
                work(item)
            except FeishuApiError as exc:
                EVENTS.labels(platform="feishu", outcome="error").inc()
                log.warning("%s", exc, extra={"feishu_code": exc.code})
            except Exception:
                EVENTS.labels(platform="feishu", outcome="error").inc()
                log.exception("handling a Feishu event failed")

    # ------------------------------------------------------------------ messages

    def handle_message(self, msg: IncomingMessage) -> None:
        requester = Requester("feishu", msg.sender_open_id)
        if msg.message_type == "file":
            self.index_file(msg, requester)
            return
        if msg.message_type in DECLINED_TYPES:
            self.reply(
                msg,
                cards.notice_card(
                    "暂时看不懂" + DECLINED_TYPES[msg.message_type],
                    "我只能读文字问题。请用文字描述你想问的内容，例如：乐鑫科技的观点是什么？",
                    template="grey",
                ),
            )
            EVENTS.labels(platform="feishu", outcome="refused").inc()
            return
        if msg.message_type not in ("text", "post"):
            self.reply(
                msg,
                cards.notice_card(
                    "暂不支持这种消息", "请直接发文字问题，或 /help 查看用法。", template="grey"
                ),
            )
            EVENTS.labels(platform="feishu", outcome="refused").inc()
            return
        text = msg.text_for(self.bot_open_id)
        invocation = self.dispatcher.parse(text) if text else self.dispatcher.parse("", verb="help")
        self.run(invocation, requester, question=text, reply_to=msg, conversation=msg.conversation)

    def run(
        self,
        invocation: Invocation,
        requester: Requester,
        *,
        question: str,
        conversation: str | None,
        reply_to: IncomingMessage | None = None,
        open_id: str | None = None,
    ) -> None:
        """Run a command for a message (or a menu click) and answer with one card, streamed."""
        if invocation.name == "ask":
            QUESTIONS.labels(platform="feishu").inc()
        uuid = f"reply-{reply_to.message_id}" if reply_to is not None else None
        writer = CardReply(
            self.api,
            self.cardkit,
            question=question or f"/{invocation.name}",
            reply_to=reply_to,
            open_id=open_id,
            uuid=uuid,
            card_seconds=self.card_interval,
            patch_seconds=self.stream_interval,
        )
        started = time.perf_counter()
        context = Context(
            self.dispatcher,
            requester,
            conversation,
            writer.on_text,
            writer.status,
            channel=reply_to.chat_id if reply_to is not None else None,
            direct=reply_to.chat_type == "p2p" if reply_to is not None else open_id is not None,
        )
        reply = self.with_platform_help(self.dispatcher.run(invocation, context))
        title = reply.title("zh") if reply.title else ""
        remembered = False
        if reply.answer is not None and writer.message_id is not None:
            # saved before the buttons show: a click may come at once
            self._remember(writer.message_id, reply.answer, conversation, title)
            remembered = True
        writer.finish(reply, conversation=conversation)
        if reply.answer is not None and writer.message_id is not None and not remembered:
            self._remember(writer.message_id, reply.answer, conversation, title)
        outcome = {"refused": "refused", "error": "error"}.get(reply.tone, "answered")
        EVENTS.labels(platform="feishu", outcome=outcome).inc()
        log.info(
            "answered",
            extra={
                "command": invocation.name,
                "kind": reply.kind,
                "mode": reply.answer.mode if reply.answer else None,
                "found": reply.answer.found if reply.answer else None,
                "citations": len(reply.answer.citations) if reply.answer else None,
                "streamed_updates": writer.streamed,
                "cardkit": writer.card_id is not None,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    def reply(self, msg: IncomingMessage, card: dict[str, Any]) -> str:
        """Reply to the message, in its thread when it is in one (topic groups put every message in a
        thread). Each message gets one reply; its uuid makes Feishu itself drop a second one sent
        within the hour."""
        return self.api.reply_card(
            msg.message_id, card, in_thread=bool(msg.thread_id), uuid=f"reply-{msg.message_id}"
        )

    def _remember(self, message_id: str, answer: Answer, conversation: str | None, title: str) -> None:
        """Keep the answer beside its card for a day, so a 👍/👎 stores the whole answer."""
        turn = {"answer": answer.to_json(), "conversation": conversation, "title": title}
        try:
            self.state.append_history(f"feishu:card:{message_id}", turn, keep=1)
        except Exception:
            log.warning("could not save the answer for feedback", exc_info=True)

    def index_file(self, msg: IncomingMessage, requester: Requester) -> None:
        name = msg.file_name or msg.file_key or "file"
        refused = self.dispatcher.uploader_refusal(requester) or self.dispatcher.file_refusal(name)
        if refused is not None:
            EVENTS.labels(platform="feishu", outcome="refused").inc()
            self.reply(msg, cards.render_reply(refused))
            return
        card_id = self.reply(msg, cards.notice_card("正在索引…", f"📥 {cards.escape(name)}"))
        try:
            download = self.api.download_file(msg.message_id, msg.file_key or "")
            refused = self.dispatcher.file_refusal(name, len(download.content))
            if refused is not None:
                card = cards.render_reply(refused)
            else:
                folder = self.settings.home / "uploads"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{safe_file_name(msg.file_key or '')}-{safe_file_name(name)}"
                path.write_bytes(download.content)
                reply = self.dispatcher.index_upload(
                    requester, path, name=name, source=f"feishu:{msg.file_key}/{name}"
                )
                card = cards.render_reply(reply)
        except FeishuApiError as exc:
            card = cards.notice_card("下载文件失败", cards.escape(str(exc)), template="red")
        self.api.patch_card(card_id, card)
        EVENTS.labels(platform="feishu", outcome="answered").inc()

    def post_digest(self, chat_id: str, digest: Answer, subscription: Subscription, key: str) -> Delivery:
        """Send a new weekly note's summary to a subscribed chat (bot/digests.py decides when). The
        uuid makes Feishu itself drop a second send of the same digest within the hour."""
        title = "新周报摘要"
        try:
            message_id = self.api.send_card(chat_id, cards.answer_card(digest, title=title), uuid=key)
        except FeishuApiError as exc:
            return Delivery(False, f"{exc.code} {exc.msg}", permanent=exc.code in CANNOT_SEND)
        self._remember(message_id, digest, None, title)  # a 👍/👎 on it stores the whole summary
        return Delivery(True)

    def help_text(self) -> str:
        return self.dispatcher.help_text("zh") + "\n\n" + FEISHU_USAGE("zh")

    def with_platform_help(self, reply: Reply) -> Reply:
        """/help here also says how to reach the bot in Feishu."""
        if reply.title is HELP_TITLE:
            return Reply.message(Say(self.help_text(), self.help_text()), title=reply.title, private=True)
        return reply

    # ------------------------------------------------------------------ bot menu

    def handle_menu(self, click: MenuClick) -> None:
        """A bot-menu item whose event_key names a command runs it and writes to the person."""
        invocation = self.dispatcher.parse("", verb=click.event_key)
        requester = Requester("feishu", click.open_id)
        self.run(
            invocation,
            requester,
            question=f"/{invocation.name}",
            conversation=None,
            open_id=click.open_id,
        )

    # ------------------------------------------------------------------ 👍 / 👎

    def _on_card_action(self, action: CardAction) -> dict[str, Any]:
        value = action.value
        vote = value.get("vote")
        if value.get("action") != cards.FEEDBACK_ACTION or vote not in cards.VOTE_LABELS:
            self._ignored("card action", value=str(value)[:200])
            return {}
        if not action.message_id or not action.open_id:
            self._ignored("card action without its message or operator")
            return {"toast": {"type": "error", "content": "反馈没能保存，请稍后再试"}}
        saved = self._saved_answer(action.message_id)
        answer_json = (saved or {}).get("answer") or {}
        record = Vote(
            requester=Requester("feishu", action.open_id),
            vote=vote,
            message_id=action.message_id,
            channel=action.chat_id,
            conversation=(saved or {}).get("conversation") or value.get("c"),
            question=answer_json.get("question") or value.get("q"),
            answer=answer_json.get("answer"),
            mode=answer_json.get("mode") or value.get("m"),
            model=answer_json.get("model"),
            citations=answer_json.get("citations")
            or [{"n": n, "report_id": rid, "paragraph": p} for n, rid, p in value.get("r", [])],
            extra={"chat_id": action.chat_id},
        )
        try:
            self.dispatcher.vote(record)
        except Exception:
            log.exception("could not store feedback")
            return {"toast": {"type": "error", "content": "反馈没能保存，请稍后再试"}}
        response: dict[str, Any] = {"toast": {"type": "success", "content": "感谢反馈！"}}
        if saved:
            answer = answer_from_json(saved["answer"])
            card = cards.answer_card(
                answer,
                conversation=saved.get("conversation"),
                voted=vote,
                title=saved.get("title") or "研报问答",
            )
            response["card"] = {"type": "raw", "data": card}
        return response

    def _saved_answer(self, message_id: str) -> dict[str, Any] | None:
        if not message_id:
            return None
        try:
            turns = self.state.get_history(f"feishu:card:{message_id}")
        except Exception:
            return None
        return turns[-1] if turns else None
