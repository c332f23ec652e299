"""One command layer for every chat surface: Slack, Feishu and the console all call `Dispatcher`.

Adapters translate: a platform event becomes (who asked, what they typed, which conversation) and a
`Reply` becomes Block Kit, a card or terminal text. Everything else is decided here, once: which
command the text is, whether this person may run it, what an uploaded file must be, what a 👍/👎
stores. The answers themselves come from `Yanbao` (bot/service.py).

How to add a command
--------------------
Write one function and register it::

    def run_changes(ctx: Context, args: str) -> Reply:
        days = int(args) if args.isdigit() else 7
        changed = ctx.service.reports()  # … whatever the command computes
        return Reply.message(Say(f"{len(changed)} reports changed in {days} days",
                                 f"近 {days} 天有 {len(changed)} 篇研报更新"))

    BUILTIN_COMMANDS.append(
        Command("changes", run_changes, usage="/changes [days]",
                summary=Say("what changed in the index", "最近的索引变化")))

(or `dispatcher.register(Command(...))` on a running bot). The command then works on every surface:
`/changes 7` in a Slack DM, thread or @mention, `/yanbao changes 7` (Slack's /yanbao slash
command; add `/changes` to deploy/slack/manifest.yml to give it a slash command of its own),
`/changes 7` in a Feishu chat (or a bot-menu item with event_key "changes"), `/changes 7` in
`yanbao chat`; and /help lists it everywhere.

Options of `Command`:
- `admin=True`: only YANBAO_ADMINS (and the console operator) may run it; anyone else is told so
  before anything runs (`precheck`).
- `private=True`: on Slack only the person who asked sees the reply (ephemeral).
- `quick=True`: cheap enough to answer while acknowledging (no search, no indexing), like /help.
- `started`: what to show while a slow command runs ("Re-indexing the report folders…").
- `aliases`: other names (`/ask` for the question command).

A command returns a `Reply`: `Reply.message(Say(en, zh))` for words, `Reply.of_answer(answer)`
for a cited Answer (streamed while `ctx.on_text` receives the growing text), `Reply.listing(reports)`,
`Reply.indexed(summary)`. Raise `Usage("what was wrong")` for bad arguments: the person sees it with
the usage line. Any other exception becomes an error reply naming what failed; no surface ever
shows a traceback. `ctx.status(Say(...))` reports progress ("searching 32 notes…").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.answer import Answer
from bot.chat import INDEXABLE_EXTENSIONS, describe_size
from bot.permissions import NotPermitted, Requester, is_admin
from bot.service import Yanbao
from index.records import Report
from index.summary import IndexSummary

if TYPE_CHECKING:
    from bot.scopes import Scope

log = logging.getLogger("yanbao.dispatch")

MAX_FILES_PER_MESSAGE = 5


@dataclass(frozen=True)
class Say:
    """Words in English and Chinese; each surface picks its language (Slack and the console "en",
    Feishu "zh"). Without Chinese, English is used everywhere."""

    en: str
    zh: str | None = None

    def __call__(self, language: str = "en") -> str:
        return self.zh if language == "zh" and self.zh is not None else self.en


@dataclass
class Reply:
    """What a command answers. `kind` says which fields are set: "message" (text), "answer"
    (answer), "reports" (reports), "indexed" (summary, file_name for an upload)."""

    kind: str
    text: Say | None = None
    title: Say | None = None
    answer: Answer | None = None
    reports: list[Report] = field(default_factory=list)
    summary: IndexSummary | None = None
    file_name: str | None = None
    tone: str = "info"  # "info" | "success" | "warning" | "refused" | "error"
    private: bool = False

    @classmethod
    def message(
        cls, text: Say, *, title: Say | None = None, tone: str = "info", private: bool = False
    ) -> Reply:
        return cls("message", text=text, title=title, tone=tone, private=private)

    @classmethod
    def of_answer(cls, answer: Answer, *, title: Say | None = None) -> Reply:
        return cls("answer", answer=answer, title=title or ASK_TITLE)

    @classmethod
    def listing(cls, reports: list[Report]) -> Reply:
        return cls("reports", reports=reports, title=Say("Indexed reports", "已索引的研报"), private=True)

    @classmethod
    def indexed(cls, summary: IndexSummary, *, file_name: str | None = None) -> Reply:
        tone = "error" if summary.failed else "success"
        return cls("indexed", summary=summary, file_name=file_name, tone=tone, private=file_name is None)


ASK_TITLE = Say("Research Q&A", "研报问答")
HELP_TITLE = Say("How to use yanbao", "yanbao 使用帮助")  # adapters add their own lines to replies titled so
WEEKLY_TITLE = Say("Weekly summary", "周报摘要")
CHANGES_TITLE = Say("What changed since the last weekly", "与上期周报相比的变化")


class Usage(ValueError):
    """Raised by a command for arguments it cannot use; the message is shown with the usage line."""

    def __init__(self, en: str, zh: str | None = None) -> None:
        super().__init__(en)
        self.say = Say(en, zh)


@dataclass
class Context:
    """What a command runs with: the dispatcher (and through it the service), who asked, the
    conversation (for follow-ups), the hooks an adapter gave for streamed text and progress, and
    where it was asked: `channel` (a Slack channel id, a Feishu chat_id; None on the console and
    for a Feishu menu click), `direct` for a one-to-one chat with the bot."""

    dispatcher: Dispatcher
    requester: Requester
    conversation: str | None = None
    on_text: Callable[[str], None] | None = None
    on_status: Callable[[Say], None] | None = None
    channel: str | None = None
    direct: bool = False

    @property
    def service(self) -> Yanbao:
        return self.dispatcher.service

    @property
    def scope(self) -> Scope:
        """What questions here may search (bot/scopes.py): the channel's, a DM's person's, or the
        default; everything for the console operator."""
        from bot.scopes import Scopes

        return Scopes(self.service.settings, self.service.state).for_conversation(
            self.requester, self.channel, self.direct
        )

    def status(self, say: Say) -> None:
        if self.on_status is not None:
            try:
                self.on_status(say)
            except Exception:  # progress is a courtesy; the command goes on
                log.warning("showing progress failed", exc_info=True)


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[Context, str], Reply]
    summary: Say
    usage: str = ""
    admin: bool = False
    private: bool = False
    quick: bool = False
    started: Say | None = None
    aliases: tuple[str, ...] = ()
    admin_action: Say | None = None  # "re-index the reports", for the refusal

    @property
    def usage_line(self) -> str:
        return self.usage or f"/{self.name}"


@dataclass(frozen=True)
class Invocation:
    command: Command
    args: str

    @property
    def name(self) -> str:
        return self.command.name


@dataclass
class Vote:
    """A 👍/👎 on an answer, with what the surface knows of the answer it was given for."""

    requester: Requester
    vote: str  # "up" | "down"
    message_id: str
    channel: str | None = None
    conversation: str | None = None
    question: str | None = None
    answer: str | None = None
    mode: str | None = None
    model: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # platform fields kept in the record

    def record(self) -> dict[str, Any]:
        return {
            "platform": self.requester.platform,
            "vote": self.vote,
            "user": self.requester.user,
            "channel": self.channel,
            "message_id": self.message_id,
            "conversation": self.conversation,
            "mode": self.mode,
            "model": self.model,
            "question": self.question,
            "answer": self.answer,
            "citations": self.citations,
            **self.extra,
        }


VOTES = ("up", "down")


# --------------------------------------------------------------------------------- built-in commands


def no_library(scope: Scope) -> Reply:
    """The answer where the scope allows no note (an unmapped channel under the "none" default)."""
    return Reply.message(
        Say(
            f"Questions here may not search any note yet ({scope.origin}). An admin can map this "
            "conversation to brokers, sectors or folders with `/scope`.",
            "这里还不能检索任何研报。管理员可以用 `/scope` 为本会话设置券商、行业或目录。",
        ),
        title=Say("No library here", "本会话没有可检索的研报"),
        tone="warning",
    )


def run_ask(ctx: Context, args: str) -> Reply:
    question = args.strip()
    if not question:
        return ctx.dispatcher.help()
    scope = ctx.scope
    if scope.nothing:
        return no_library(scope)
    ctx.status(searching(ctx.service))
    answer = ctx.service.ask(
        question, conversation=ctx.conversation, on_text=ctx.on_text, where=scope.filter()
    )
    return Reply.of_answer(answer)


def run_weekly(ctx: Context, args: str) -> Reply:
    scope = ctx.scope
    if scope.nothing:
        return no_library(scope)
    broker, sector = ctx.service.weekly_scope(args)
    named = " ".join(filter(None, [broker, sector]))
    ctx.status(Say(f"summarising the latest weekly{' for ' + named if named else ''}…", "正在汇总最新周报…"))
    answer = ctx.service.weekly(broker, sector, on_text=ctx.on_text, where=scope.filter())
    return Reply.of_answer(answer, title=WEEKLY_TITLE)


def run_changes(ctx: Context, args: str) -> Reply:
    scope = ctx.scope
    if scope.nothing:
        return no_library(scope)
    broker, sector = ctx.service.broker_and_sector(args)
    named = " ".join(filter(None, [broker, sector]))
    ctx.status(
        Say(
            f"comparing the latest weekly{' of ' + named if named else ''} with the one before…",
            "正在对比最新两期周报…",
        )
    )
    language = "zh" if ctx.requester.platform == "feishu" else "en"  # as Say picks per surface
    answer = ctx.service.changes(broker, sector, language=language, on_text=ctx.on_text, where=scope.filter())
    return Reply.of_answer(answer, title=CHANGES_TITLE)


def run_reports(ctx: Context, args: str) -> Reply:
    return Reply.listing(ctx.service.reports())


def run_reindex(ctx: Context, args: str) -> Reply:
    paths = [Path(p) for p in args.split()]
    if paths and not ctx.requester.is_operator:
        # a chat user must not point the server at files: the folders are the operator's choice
        raise Usage(
            "In chat, /reindex takes no file or folder: it re-scans the report folders "
            "(YANBAO_REPORT_DIRS). To add one note, send me the file.",
            "在聊天里 /reindex 不接受文件或目录：它会重新扫描研报目录（YANBAO_REPORT_DIRS）。"
            "要添加一篇研报，直接把文件发给我。",
        )
    from index.pipeline import UsageError

    try:
        summary = ctx.service.reindex(paths or None, by=ctx.requester)
    except UsageError as exc:  # a path that is not a report file or folder: say which
        return Reply.message(Say(str(exc)), title=Say("Nothing re-indexed", "未重建索引"), tone="warning")
    return Reply.indexed(summary)


def run_help(ctx: Context, args: str) -> Reply:
    return ctx.dispatcher.help()


def searching(service: Yanbao) -> Say:
    try:
        count = service.notes_count()
    except Exception:  # the count is for the status line only
        count = 0
    if count:
        return Say(f"searching {count} notes…", f"正在检索 {count} 篇研报…")
    return Say("searching the notes…", "正在检索研报…")


def builtin_commands() -> list[Command]:
    return [
        Command(
            "ask",
            run_ask,
            summary=Say("ask a question (or just type it)", "提问（也可以直接发问题）"),
            usage="/ask QUESTION",
        ),
        Command(
            "weekly",
            run_weekly,
            summary=Say("cited summary of the latest weekly note(s)", "最新周报的摘要（带引用）"),
            usage="/weekly [broker|sector]",
        ),
        Command(
            "changes",
            run_changes,
            summary=Say(
                "what changed since the broker's previous weekly: picks added and dropped, views, theses, figures",
                "与上一期周报相比的变化：新增/移出的标的、观点、论点、数据",
            ),
            usage="/changes [broker] [sector]",
        ),
        Command(
            "reports",
            run_reports,
            summary=Say("the indexed reports", "已索引的研报"),
            private=True,
        ),
        Command(
            "reindex",
            run_reindex,
            summary=Say("re-scan the report folders", "重新扫描研报目录"),
            admin=True,
            private=True,
            started=Say(
                "Re-indexing the report folders… I'll post the result here.",
                "扫描研报目录中，完成后会更新这条消息。",
            ),
            admin_action=Say("re-index the reports", "重建索引"),
        ),
        Command("help", run_help, summary=Say("this help", "查看帮助"), private=True, quick=True),
    ]


BUILTIN_COMMANDS: list[Command] = builtin_commands()


def standard_commands() -> list[Command]:
    """What every surface offers: the built-in commands and those of the modules built on this one
    (channel subscriptions), /help last."""
    from bot.scope_commands import scope_commands  # they import this module: imported late
    from bot.subscriptions import subscription_commands

    others = [c for c in BUILTIN_COMMANDS if c.name != "help"]
    helps = [c for c in BUILTIN_COMMANDS if c.name == "help"]
    return [*others, *subscription_commands(), *scope_commands(), *helps]


INTRO = Say(
    "*yanbao* (研报) answers questions about the indexed research notes and cites the paragraphs it "
    'used. Ask in English or Chinese: "Which stocks does Shanxi recommend for edge compute?", '
    '"豆包11月月活?"; narrow by broker or date in the question ("山证 latest weekly", "2024年12月 光模块"); '
    'reply in the thread to follow up ("and for IDC?").',
    "**yanbao（研报）** 回答关于已索引研报的问题，并引用所用的段落。可以用中文或英文提问，"
    "例如“乐鑫科技的观点是什么？”；在问题里写券商或日期可缩小范围（“山证 最新周报”）；"
    "在回答的话题里继续追问即可接着上下文回答。",
)
UPLOAD_HELP = Say(
    "Admins can also send me a PDF, DOCX, HTML or TXT file to index it.",
    "管理员把 PDF、DOCX、HTML、TXT 文件发给我，我会把它加入索引。",
)


# --------------------------------------------------------------------------------- the dispatcher


class Dispatcher:
    """Parses what a person typed into a command, checks they may run it, runs it, and turns every
    failure into a Reply. One per process; stateless besides the registry."""

    def __init__(self, service: Yanbao, commands: Iterable[Command] | None = None) -> None:
        self.service = service
        self._commands: dict[str, Command] = {}
        self._order: list[Command] = []
        for command in standard_commands() if commands is None else commands:
            self.register(command)

    # -- the registry ------------------------------------------------------------------------------
    def register(self, command: Command) -> None:
        """Add (or replace) a command; it appears on every surface and in /help."""
        self._order = [c for c in self._order if c.name != command.name] + [command]
        for name in (command.name, *command.aliases):
            self._commands[name.lower()] = command

    @property
    def commands(self) -> list[Command]:
        return list(self._order)

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower().lstrip("/"))

    # -- parsing -----------------------------------------------------------------------------------
    def parse(self, text: str, *, verb: str | None = None, bare: bool = False) -> Invocation:
        """What `text` asks for: "/weekly 通信" is the weekly command with "通信", anything else a
        question. `verb`: the platform already named the command (a Slack slash command, a Feishu
        menu key). `bare`: the first word may name a command without its slash, as in Slack's
        `/yanbao weekly 通信`; there an empty text means help."""
        text = (text or "").strip()
        if verb is not None:  # e.g. a slash command of its own: unknown names are not questions
            command = self.get(verb)
            return Invocation(command or self._unknown("/" + verb.lstrip("/")), text)
        if bare:
            first, _, rest = text.partition(" ")
            command = self.get(first) if first else self.get("help")
            if command is not None:
                return Invocation(command, rest.strip())
            return Invocation(self._ask, text)
        if text.startswith("/") and len(text) > 1:
            first, _, rest = text.partition(" ")
            command = self.get(first[1:])
            if command is not None:
                return Invocation(command, rest.strip())
            if _looks_like_command(first):
                return Invocation(self._unknown(first), rest.strip())
        return Invocation(self._ask, text)

    @property
    def _ask(self) -> Command:
        command = self.get("ask")
        assert command is not None, "the ask command is always registered"
        return command

    def _unknown(self, word: str) -> Command:
        names = ", ".join(f"/{c.name}" for c in self._order)

        def run(ctx: Context, args: str) -> Reply:
            return Reply.message(
                Say(
                    f"I don't know `{word}`. Commands: {names}; or just ask a question.",
                    f"不认识 `{word}`。可用命令：{names}；也可以直接提问。",
                ),
                tone="warning",
                private=True,
            )

        return Command(word.lstrip("/"), run, summary=Say(""), quick=True, private=True)

    # -- permissions and running ---------------------------------------------------------------------
    def precheck(self, invocation: Invocation, requester: Requester) -> Reply | None:
        """A refusal when `requester` may not run the command; fast, no I/O beyond settings."""
        command = invocation.command
        if command.admin and not is_admin(self.service.settings, requester):
            return self.refusal(command)
        return None

    def refusal(self, command: Command) -> Reply:
        action = command.admin_action or Say(f"run /{command.name}", f"使用 /{command.name}")
        return Reply.message(
            Say(
                f"Sorry — only yanbao admins can {action('en')}. Ask an admin to run `/{command.name}`.",
                f"抱歉，`/{command.name}` 仅限 yanbao 管理员使用。需要的话，请联系管理员。",
            ),
            title=Say(f"Only admins can {action('en')}", f"只有管理员可以{action('zh')}"),
            tone="refused",
            private=True,
        )

    def run(self, invocation: Invocation, context: Context) -> Reply:
        """Run the command for `context.requester`; never raises."""
        command = invocation.command
        refused = self.precheck(invocation, context.requester)
        if refused is not None:
            log.info("refused", extra={"command": command.name, "requester": str(context.requester)})
            return refused
        try:
            return command.run(context, invocation.args)
        except Usage as exc:
            return Reply.message(
                Say(
                    f"{exc.say('en')}\nUsage: `{command.usage_line}`",
                    f"{exc.say('zh')}\n用法：`{command.usage_line}`",
                ),
                tone="warning",
                private=True,
            )
        except NotPermitted:
            return self.refusal(command)
        except Exception as exc:
            log.exception("command failed", extra={"command": command.name})
            what = f"{type(exc).__name__}: {exc}"
            return Reply.message(
                Say(f"Sorry — /{command.name} failed: {what}", f"抱歉，/{command.name} 没有完成：{what}"),
                title=Say("Something went wrong", "抱歉，这次没能完成"),
                tone="error",
            )

    def handle(
        self,
        text: str,
        requester: Requester,
        *,
        conversation: str | None = None,
        verb: str | None = None,
        bare: bool = False,
        on_text: Callable[[str], None] | None = None,
        on_status: Callable[[Say], None] | None = None,
        channel: str | None = None,
        direct: bool = False,
    ) -> Reply:
        """parse + run, for surfaces that need nothing in between (the console)."""
        invocation = self.parse(text, verb=verb, bare=bare)
        context = Context(self, requester, conversation, on_text, on_status, channel, direct)
        return self.run(invocation, context)

    # -- help and prompts -----------------------------------------------------------------------------
    def help(self) -> Reply:
        return Reply.message(Say(self.help_text("en"), self.help_text("zh")), title=HELP_TITLE, private=True)

    def help_text(self, language: str = "en") -> str:
        bullet = "•" if language == "en" else "-"
        lines = [INTRO(language), ""]
        for command in self._order:
            if command.name == "help":
                continue
            admins = (" (admins)" if language == "en" else "（仅管理员）") if command.admin else ""
            lines.append(f"{bullet} `{command.usage_line}` — {command.summary(language)}{admins}")
        help_command = self.get("help")
        if help_command is not None:
            lines.append(f"{bullet} `/help` — {help_command.summary(language)}")
        lines.append(f"{bullet} {UPLOAD_HELP(language)}")
        return "\n".join(lines)

    def suggested_prompts(self) -> list[tuple[str, str]]:
        """(title, message) pairs to offer a person starting a conversation: the latest weekly, a
        question about the newest note's broker, and help."""
        prompts = [("Latest weekly summary", "/weekly")]
        try:
            reports = self.service.reports()
        except Exception:
            reports = []
        weeklies = sorted(
            (r for r in reports if r.kind == "weekly" and r.broker), key=lambda r: r.date or "", reverse=True
        )
        if weeklies:
            broker = weeklies[0].broker
            prompts.append((f"What does {broker} recommend?", f"{broker}最新周报建议关注哪些公司？"))
        elif reports:
            prompts.append(("Key points of the newest note", "最新研报的核心观点是什么？"))
        prompts.append(("What can you do?", "/help"))
        return prompts

    def greeting(self) -> Say:
        try:
            count = self.service.notes_count()
        except Exception:
            count = 0
        notes = f"{count} research notes" if count else "the research notes"
        return Say(
            f"Hi! I answer questions about {notes} and cite the paragraphs I use. Ask away, or pick a "
            "suggestion below.",
            f"你好！我可以回答关于 {count or ''} 篇研报的问题，并引用原文段落。",
        )

    # -- uploads ---------------------------------------------------------------------------------------
    max_files_per_message = MAX_FILES_PER_MESSAGE

    def upload_refusal(self, requester: Requester, name: str, size: int | None = None) -> Reply | None:
        """Why a file someone sent cannot be indexed (who sent it, its type, its size), or None.
        `size` may be unknown before the download; call again with it once known."""
        return self.uploader_refusal(requester) or self.file_refusal(name, size)

    def uploader_refusal(self, requester: Requester) -> Reply | None:
        """A refusal when `requester` may not add reports (checked before anything is downloaded)."""
        if not is_admin(self.service.settings, requester):
            return Reply.message(
                Say(
                    "Thanks for the file! Only yanbao admins can add reports to the index, so I've left "
                    "it alone — ask an admin to share it with me.",
                    "只有 yanbao 管理员可以往索引里添加研报，所以我没有处理这个文件。请把它转给管理员。",
                ),
                title=Say("Thanks for the file!", "谢谢你的文件！"),
                tone="refused",
            )
        return None

    def file_refusal(self, name: str, size: int | None = None) -> Reply | None:
        """A refusal when a file is not a type yanbao reads, too large, or empty."""
        extension = Path(name).suffix.lower()
        if extension not in INDEXABLE_EXTENSIONS:
            kind = f"a {extension} file" if extension else "a file without an extension"
            return Reply.message(
                Say(
                    f"“{name}” is {kind}; I can index {', '.join(INDEXABLE_EXTENSIONS[:-1])} and "
                    f"{INDEXABLE_EXTENSIONS[-1]} files.",
                    f"“{name}” 是 {extension or '无扩展名'} 文件；我能索引 {'、'.join(INDEXABLE_EXTENSIONS)} 文件。",
                ),
                title=Say("I can't index this file", "无法索引这个文件"),
                tone="error",
            )
        limit_mb = self.service.settings.max_upload_mb
        if size is not None and size > limit_mb * 1_000_000:
            return Reply.message(
                Say(
                    f"“{name}” is {describe_size(size)}; the upload limit is {limit_mb:g} MB "
                    "(YANBAO_MAX_UPLOAD_MB).",
                    f"“{name}” 有 {describe_size(size)}，超过上传上限 {limit_mb:g} MB（YANBAO_MAX_UPLOAD_MB）。",
                ),
                title=Say("I can't index this file", "无法索引这个文件"),
                tone="error",
            )
        if size == 0:
            return Reply.message(
                Say(f"“{name}” is empty.", f"“{name}” 是空文件。"),
                title=Say("I can't index this file", "无法索引这个文件"),
                tone="error",
            )
        return None

    def too_many_files(self, count: int) -> Reply | None:
        if count <= MAX_FILES_PER_MESSAGE:
            return None
        return Reply.message(
            Say(
                f"I indexed the first {MAX_FILES_PER_MESSAGE} files; share the rest in another message.",
                f"我只索引了前 {MAX_FILES_PER_MESSAGE} 个文件，其余的请另发一条消息。",
            ),
            tone="warning",
        )

    def index_upload(self, requester: Requester, path: Path, *, name: str, source: str) -> Reply:
        """Index a downloaded upload; the reply names what was indexed or why it was not."""
        refused = self.upload_refusal(requester, name, path.stat().st_size if path.exists() else None)
        if refused is not None:
            return refused
        try:
            summary = self.service.add_file(path, source=source, by=requester)
        except NotPermitted:
            return self.upload_refusal(requester, name) or self.refusal(self._ask)
        except Exception as exc:
            log.exception("indexing an uploaded file failed", extra={"file": name})
            return Reply.message(
                Say(
                    f"I couldn't index “{name}”: {type(exc).__name__}: {exc}",
                    f"无法索引“{name}”：{type(exc).__name__}: {exc}",
                ),
                title=Say("I can't index this file", "无法索引这个文件"),
                tone="error",
            )
        return Reply.indexed(summary, file_name=name)

    # -- feedback --------------------------------------------------------------------------------------
    def vote(self, vote: Vote) -> bool:
        """Store a 👍/👎 once per person, answer and vote; True when it was stored now."""
        if vote.vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote.vote!r}")
        key = f"{vote.requester}:{vote.channel or ''}:{vote.message_id}:{vote.vote}"
        return self.service.record_feedback(vote.record(), once_per=key)


def _looks_like_command(word: str) -> bool:
    """`/xyz` is a mistyped command; `/etc/hosts` or `/ 光模块` is not."""
    name = word[1:]
    return (
        bool(name) and "/" not in name and name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    )
