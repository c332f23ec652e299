"""The Feishu bot: turns pushed events (messages, bot-menu clicks, card button clicks) into calls of
the command functions (ask, weekly, reindex, reports, help) and answers with cards.

`handle_event` is the acknowledgement path, shared by the webhook and the long connection: it
parses, drops what is plainly not for us and queues the rest on a thread pool, without I/O; Feishu
wants an answer within 3 seconds and this takes well under a millisecond. In the pool, the event
and message ids are claimed in the state store first, so a re-pushed event is answered once, also
after a restart. Card clicks are answered inline: Feishu shows the toast and the updated card the
callback returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot.answer import Answer, Citation
from bot.chat import INDEXABLE_EXTENSIONS, StreamIntoMessage, describe_size, safe_file_name
from bot.feishu import cards
from bot.feishu.api import FeishuApi, FeishuApiError
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
from bot.logs import request_context
from bot.metrics import EVENTS, FEEDBACK, QUESTIONS
from bot.service import Yanbao
from bot.state import StateStore, open_state
from index.settings import Settings

log = logging.getLogger("bot.feishu")

CLAIM_TTL_SECONDS = 7 * 86400
STREAM_UPDATE_SECONDS = 1.0  # Feishu allows 5 updates per second per message; stay well below
WORKER_THREADS = 8  # the answers are CPU-bound without an LLM; more threads only fight over the GIL
DECLINED_TYPES = {
    "image": "图片",
    "sticker": "表情",
    "media": "视频",
    "audio": "语音",
}

FEISHU_USAGE = """**怎么问 yanbao（研报）**
- 私聊直接发问题，或在群里 **@我** 提问，例如：乐鑫科技的观点是什么？
- 在我回答的话题/回复里继续追问，我会接着上下文回答。
- `/weekly [券商或行业]`：最新周报摘要，例如 `/weekly 通信`
- `/reports`：已索引的研报
- `/reindex`：重新扫描研报目录（仅管理员）
- 管理员把 PDF、DOCX、HTML、TXT 文件发给我，我会把它加入索引。
- 每个回答下的 👍/👎 会被记录，用于改进回答。"""


def parse_text_command(text: str) -> tuple[str, str]:
    """("weekly", "通信") for "/weekly 通信"; ("ask", text) for anything that is not a command."""
    if text.startswith("/"):
        verb, _, rest = text[1:].partition(" ")
        verb = verb.lower()
        if verb in ("weekly", "reindex", "reports", "help"):
            return verb, rest.strip()
    return "ask", text


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
        workers: int = WORKER_THREADS,
        stream_interval: float = STREAM_UPDATE_SECONDS,
    ) -> None:
        self.service = service
        self.settings = settings
        self.api = api or FeishuApi(settings)
        self.state = state or open_state(settings)
        self.stream_interval = stream_interval
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yanbao-feishu")
        self.bot_open_id: str | None = None
        self.pool.submit(self._learn_bot_id)

    def close(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait)

    def _learn_bot_id(self) -> None:
        try:
            self.bot_open_id = self.api.bot_open_id()
        except Exception as exc:  # without it, any @mention in a group counts as @yanbao
            log.warning("could not learn the bot's open_id: %s", exc)

    # ------------------------------------------------------------------ the acknowledgement path

    def handle_event(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Acknowledge one pushed event; returns the callback response for card clicks, None for
        everything else. Messages and menu clicks only get parsed and queued here, without I/O, so
        the acknowledgement never waits on the state store; card clicks read and write it."""
        env = envelope(payload)
        if env.event_type == MESSAGE_RECEIVED:
            self._on_message(parse_message(env))
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
        if self.bot_open_id:
            return self.bot_open_id in msg.mentioned_open_ids
        return bool(msg.mentioned_open_ids)  # not learned yet: any @mention counts

    def _on_message(self, msg: IncomingMessage) -> None:
        if msg.sender_type != "user" or not msg.message_id:
            self._ignored("message from an app")  # our own cards and other bots
        elif msg.chat_type != "p2p" and not self._mentions_us(msg) and not msg.root_id:
            self._ignored("group message without @yanbao")
        else:
            self.pool.submit(self._guarded, msg.event_id, self.take_message, msg)

    def take_message(self, msg: IncomingMessage) -> None:
        """In the pool: a reply in a group thread without @yanbao is ours only in a thread we answer
        in (Feishu delivers those with the im:message.group_msg scope); then the duplicate check."""
        if (
            msg.chat_type != "p2p"
            and not self._mentions_us(msg)
            and not self.state.get_history(msg.conversation)
        ):
            self._ignored("thread reply in a conversation yanbao is not part of")
            return
        if self._first_time(f"feishu:event:{msg.event_id}", f"feishu:message:{msg.message_id}"):
            self.handle_message(msg)

    def _on_menu(self, click: MenuClick) -> None:
        if click.event_key not in ("weekly", "help") or not click.open_id:
            self._ignored("bot menu click", event_key=click.event_key)
        else:
            self.pool.submit(self._guarded, click.event_id, self.take_menu_click, click)

    def take_menu_click(self, click: MenuClick) -> None:
        if self._first_time(f"feishu:event:{click.event_id}"):
            self.handle_menu(click)

    def _guarded(self, request_id: str, work: Callable[[Any], None], item: Any) -> None:
        """Run in the pool: errors are logged with the request id, never raised into the void."""
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
        if msg.message_type == "file":
            self.index_file(msg)
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
        verb, args = parse_text_command(msg.text)
        if not msg.text or verb == "help":
            self.reply(msg, cards.notice_card("yanbao 使用帮助", self.help_text()))
        elif verb == "reports":
            self.reply(msg, cards.reports_card(self.service.reports()))
        elif verb == "reindex":
            self.reindex(msg)
            return
        elif verb == "weekly":
            broker, sector = self.service.weekly_scope(args)
            self.answer(
                msg,
                f"/weekly {args}".strip(),
                lambda on_text: self.service.weekly(broker, sector, on_text=on_text),
                title="周报摘要",
            )
            return
        else:
            QUESTIONS.labels(platform="feishu").inc()
            question, conversation = msg.text, msg.conversation
            self.answer(
                msg,
                question,
                lambda on_text: self.service.ask(question, conversation=conversation, on_text=on_text),
                conversation=conversation,
            )
            return
        EVENTS.labels(platform="feishu", outcome="answered").inc()

    def reply(self, msg: IncomingMessage, card: dict[str, Any]) -> str:
        """Reply to the message, in its thread when it is in one (topic groups put every message in a
        thread). Each message gets one reply; its uuid makes Feishu itself drop a second one sent
        within the hour."""
        return self.api.reply_card(
            msg.message_id, card, in_thread=bool(msg.thread_id), uuid=f"reply-{msg.message_id}"
        )

    def answer(
        self,
        msg: IncomingMessage | None,
        question: str,
        compute: Callable[[Callable[[str], None]], Answer],
        *,
        conversation: str | None = None,
        title: str = "研报问答",
        open_id: str | None = None,
    ) -> None:
        """Post "searching…", stream into it, then replace it with the answer card."""
        searching = cards.searching_card(question)
        if msg is not None:
            card_id = self.reply(msg, searching)
        else:  # a bot-menu click has no message to reply to: write to the person
            card_id = self.api.send_card(open_id or "", searching, receive_id_type="open_id")
        started = time.perf_counter()
        stream = StreamIntoMessage(
            lambda text: self._show_progress(card_id, question, text), self.stream_interval
        )
        try:
            answer = compute(stream)
        except Exception as exc:
            stream.close()
            log.exception("answering failed")
            self.api.patch_card(
                card_id,
                cards.notice_card(
                    "抱歉，这次没能回答", cards.escape(f"{type(exc).__name__}: {exc}"), template="red"
                ),
            )
            EVENTS.labels(platform="feishu", outcome="error").inc()
            return
        stream.close()
        # saved before the buttons show: a click may come at once
        self._remember(card_id, answer, conversation, title)
        self.api.patch_card(card_id, cards.answer_card(answer, conversation=conversation, title=title))
        EVENTS.labels(platform="feishu", outcome="answered").inc()
        log.info(
            "answered",
            extra={
                "mode": answer.mode,
                "found": answer.found,
                "citations": len(answer.citations),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    def _show_progress(self, card_id: str, question: str, text: str) -> None:
        try:
            self.api.patch_card(card_id, cards.streaming_card(question, text))
        except FeishuApiError as exc:  # the final answer replaces the card anyway
            log.warning("streaming update skipped: %s", exc)

    def _remember(self, card_id: str, answer: Answer, conversation: str | None, title: str) -> None:
        """Keep the answer beside its card for a day, so a 👍/👎 stores the whole answer."""
        turn = {"answer": answer.to_json(), "conversation": conversation, "title": title}
        try:
            self.state.append_history(f"feishu:card:{card_id}", turn, keep=1)
        except Exception:
            log.warning("could not save the answer for feedback", exc_info=True)

    def reindex(self, msg: IncomingMessage) -> None:
        if not self.settings.is_admin("feishu", msg.sender_open_id):
            EVENTS.labels(platform="feishu", outcome="refused").inc()
            self.reply(
                msg,
                cards.notice_card(
                    "只有管理员可以重建索引",
                    "抱歉，`/reindex` 仅限 yanbao 管理员使用。需要更新研报的话，请联系管理员。",
                    template="orange",
                ),
            )
            return
        card_id = self.reply(
            msg, cards.notice_card("正在重建索引…", "扫描研报目录中，完成后会更新这张卡片。")
        )
        try:
            summary = self.service.reindex()
        except Exception as exc:
            log.exception("reindex failed")
            self.api.patch_card(
                card_id,
                cards.notice_card(
                    "重建索引失败", cards.escape(f"{type(exc).__name__}: {exc}"), template="red"
                ),
            )
            return
        self.api.patch_card(
            card_id,
            cards.notice_card(
                "索引已更新", cards.summary_text(summary), template="red" if summary.failed else "green"
            ),
        )
        EVENTS.labels(platform="feishu", outcome="answered").inc()

    def index_file(self, msg: IncomingMessage) -> None:
        name = msg.file_name or msg.file_key or "file"
        if not self.settings.is_admin("feishu", msg.sender_open_id):
            EVENTS.labels(platform="feishu", outcome="refused").inc()
            self.reply(
                msg,
                cards.notice_card(
                    "谢谢你的文件！",
                    "只有 yanbao 管理员可以往索引里添加研报，所以我没有处理这个文件。请把它转给管理员。",
                    template="orange",
                ),
            )
            return
        extension = Path(name).suffix.lower()
        if extension not in INDEXABLE_EXTENSIONS:
            self.reply(
                msg,
                cards.notice_card(
                    "无法索引这个文件",
                    f"“{cards.escape(name)}” 是 {cards.escape(extension or '无扩展名')} 文件；"
                    f"我能索引 {'、'.join(INDEXABLE_EXTENSIONS)} 文件。",
                    template="red",
                ),
            )
            return
        card_id = self.reply(msg, cards.notice_card("正在索引…", f"📥 {cards.escape(name)}"))
        try:
            download = self.api.download_file(msg.message_id, msg.file_key or "")
            limit = self.settings.max_upload_mb * 1_000_000
            if len(download.content) > limit:
                raise UploadRefused(
                    f"“{name}” 有 {describe_size(len(download.content))}，超过上传上限 "
                    f"{self.settings.max_upload_mb:g} MB（YANBAO_MAX_UPLOAD_MB）。"
                )
            if not download.content:
                raise UploadRefused(f"“{name}” 是空文件。")
            folder = self.settings.home / "uploads"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{safe_file_name(msg.file_key or '')}-{safe_file_name(name)}"
            path.write_bytes(download.content)
            summary = self.service.add_file(path, source=f"feishu:{msg.file_key}/{name}")
            card = cards.indexed_file_card(name, summary)
        except UploadRefused as exc:
            card = cards.notice_card("无法索引这个文件", cards.escape(str(exc)), template="red")
        except FeishuApiError as exc:
            card = cards.notice_card("下载文件失败", cards.escape(str(exc)), template="red")
        except Exception as exc:
            log.exception("indexing an uploaded file failed")
            card = cards.notice_card(
                "无法索引这个文件", cards.escape(f"{type(exc).__name__}: {exc}"), template="red"
            )
        self.api.patch_card(card_id, card)
        EVENTS.labels(platform="feishu", outcome="answered").inc()

    def help_text(self) -> str:
        try:
            general = self.service.help_text().strip()
        except Exception:
            general = ""
        return FEISHU_USAGE + (f"\n\n{cards.escape(general)}" if general else "")

    # ------------------------------------------------------------------ bot menu

    def handle_menu(self, click: MenuClick) -> None:
        if click.event_key == "help":
            self.api.send_card(
                click.open_id,
                cards.notice_card("yanbao 使用帮助", self.help_text()),
                receive_id_type="open_id",
                uuid=f"menu-{click.event_id}",
            )
        else:
            self.answer(
                None,
                "/weekly",
                lambda on_text: self.service.weekly(on_text=on_text),
                title="周报摘要",
                open_id=click.open_id,
            )
        EVENTS.labels(platform="feishu", outcome="answered").inc()

    # ------------------------------------------------------------------ 👍 / 👎

    def _on_card_action(self, action: CardAction) -> dict[str, Any]:
        value = action.value
        vote = value.get("vote")
        if value.get("action") != cards.FEEDBACK_ACTION or vote not in cards.VOTE_LABELS:
            self._ignored("card action", value=str(value)[:200])
            return {}
        saved = self._saved_answer(action.message_id)
        if self._first_time(
            f"feishu:event:{action.event_id}", f"feishu:feedback:{action.message_id}:{action.open_id}:{vote}"
        ):
            answer_json = (saved or {}).get("answer") or {}
            record = {
                "platform": "feishu",
                "vote": vote,
                "user": action.open_id,
                "chat_id": action.chat_id,
                "message_id": action.message_id,
                "conversation": (saved or {}).get("conversation") or value.get("c"),
                "mode": answer_json.get("mode") or value.get("m"),
                "model": answer_json.get("model"),
                "question": answer_json.get("question") or value.get("q"),
                "answer": answer_json.get("answer"),
                "citations": answer_json.get("citations")
                or [{"n": n, "report_id": rid, "paragraph": p} for n, rid, p in value.get("r", [])],
            }
            try:
                self.state.add_feedback(record)
                FEEDBACK.labels(value=vote).inc()
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

    def _saved_answer(self, card_id: str) -> dict[str, Any] | None:
        if not card_id:
            return None
        try:
            turns = self.state.get_history(f"feishu:card:{card_id}")
        except Exception:
            return None
        return turns[-1] if turns else None


class UploadRefused(Exception):
    """An uploaded file we will not index; the message is what the admin is told."""
