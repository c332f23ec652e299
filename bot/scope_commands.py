"""`/scope`: what a channel, chat or person may search (bot/scopes.py holds the mappings)."""

from __future__ import annotations

import re

from bot.dispatch import Command, Context, Reply, Say, Usage
from bot.permissions import NotPermitted, is_admin
from bot.scopes import Scope, Scopes, place_key, user_key
from index.filters import folder_form
from index.sectors import canonical_sector
from index.settings import SCOPE_FIELDS

FIELD_WORDS = {
    "broker": "brokers",
    "brokers": "brokers",
    "券商": "brokers",
    "folder": "folders",
    "folders": "folders",
    "目录": "folders",
    "sector": "sectors",
    "sectors": "sectors",
    "行业": "sectors",
}
PLACE = re.compile(r"^(slack|feishu):(user:)?([A-Za-z0-9_-]+)$")
SLACK_MENTION = re.compile(r"^<@([A-Z0-9]+)(\|[^>]*)?>$")


def _target(ctx: Context, words: list[str]) -> tuple[str, str, list[str]]:
    """(key, how to name it, the other words): this conversation (a DM: the person), a person
    (`user <@U…>`, `user ou_…`) or a conversation named as slack:C… / feishu:oc_…."""
    platform = ctx.requester.platform
    if words and words[0].lower() in ("user", "用户") and len(words) > 1:
        who = words[1]
        mention = SLACK_MENTION.match(who)
        user = mention.group(1) if mention else who.split(":")[-1]
        named = f"<@{user}>'s direct messages" if platform == "slack" else f"{user}'s direct messages"
        return user_key(platform if platform != "console" else "slack", user), named, words[2:]
    if words and PLACE.match(words[0]):
        name, is_user, ident = PLACE.match(words[0]).groups()  # type: ignore[union-attr]
        key = user_key(name, ident) if is_user else place_key(name, ident)
        return key, key, words[1:]
    if ctx.requester.is_operator or ctx.channel is None and not ctx.direct:
        raise Usage(
            "Name the conversation: `/scope slack:C0123 broker 山西证券`, or a person: `/scope user U0123 …`.",
            "请写明会话：`/scope slack:C0123 broker 山西证券`，或用户：`/scope user U0123 …`。",
        )
    if ctx.direct or ctx.channel is None:
        return user_key(platform, ctx.requester.user), "your direct messages", words
    return place_key(platform, ctx.channel), "this channel", words


def parse_scope(ctx: Context, words: list[str]) -> Scope:
    """`broker 山西证券 国盛 sector 通信 folder /reports/tmt` (also brokers=…, 券商 …) as a Scope with
    canonical broker and sector names; a name yanbao does not know is a usage error."""
    lexicon = ctx.service.library.lexicon
    values: dict[str, list[str]] = {name: [] for name in SCOPE_FIELDS}
    current: str | None = None
    for raw in words:
        word, _, rest = raw.partition("=")
        name = FIELD_WORDS.get(word.strip(":：").lower())
        if name is not None:
            current = name
            raw = rest
        for item in re.split(r"[,，、;；]", raw):
            item = item.strip()
            if not item:
                continue
            if current is None:
                raise Usage(
                    f"Say what `{item}` is: `broker {item}`, `sector {item}` or `folder {item}`.",
                    f"请说明 `{item}` 是什么：`broker {item}`、`sector {item}` 或 `folder {item}`。",
                )
            values[current].append(item)
    brokers = []
    for item in values["brokers"]:
        broker = lexicon.canonical_broker(item)
        if broker is None:
            raise Usage(f"I don't know the broker `{item}`.", f"不认识券商 `{item}`。")
        brokers.append(broker)
    sectors = []
    for item in values["sectors"]:
        sector = canonical_sector(item, lexicon)
        if sector is None:
            raise Usage(
                f"I don't know the sector `{item}` (e.g. 通信, 计算机, 电子, telecom, banks).",
                f"不认识行业 `{item}`（例如 通信、计算机、电子）。",
            )
        sectors.append(sector)
    folders = [folder_form(item) for item in values["folders"]]
    if not (brokers or sectors or folders):
        raise Usage("Give at least one broker, sector or folder.", "请至少给出一个券商、行业或目录。")
    return Scope(tuple(dict.fromkeys(brokers)), tuple(dict.fromkeys(folders)), tuple(dict.fromkeys(sectors)))


def _count(ctx: Context, scope: Scope) -> tuple[int, int]:
    """(notes the scope allows, notes indexed)."""
    reports = ctx.service.reports()
    where = scope.filter()
    return (len(reports) if where is None else sum(1 for r in reports if where.matches(r))), len(reports)


def _shown(ctx: Context, scope: Scope, where: str) -> Reply:
    allowed, total = _count(ctx, scope)
    return Reply.message(
        Say(
            f"Questions {where} search {scope.describe('en')} ({allowed} of {total} indexed notes; {scope.origin}).",
            f"检索范围：{scope.describe('zh')}（已索引 {total} 篇中的 {allowed} 篇；{scope.origin}）。",
        ),
        title=Say("Scope", "检索范围"),
        private=True,
    )


def run_scope(ctx: Context, args: str) -> Reply:
    """`/scope`: what may be searched here. Admins: `/scope broker …|sector …|folder …`, `/scope
    clear`, `/scope default all|none`, `/scope list`, `/scope user <@U…> …`, `/scope slack:C… …`."""
    words = args.split()
    scopes = Scopes(ctx.service.settings, ctx.service.state)
    first = words[0].lower() if words else ""
    if not words:
        return _shown(ctx, scopes.for_conversation(ctx.requester, ctx.channel, ctx.direct), "here")
    if not is_admin(ctx.service.settings, ctx.requester):
        raise NotPermitted(ctx.requester, "change what a channel may search")
    if first == "default":
        value = words[1].lower() if len(words) > 1 else ""
        if value not in ("all", "none"):
            raise Usage(
                "`/scope default all` or `/scope default none`.",
                "`/scope default all` 或 `/scope default none`。",
            )
        scopes.set_default(value, ctx.requester)
        return Reply.message(
            Say(
                f"Conversations nobody mapped now search {'every note' if value == 'all' else 'no notes'}.",
                f"未设置范围的会话现在{'可以检索全部研报' if value == 'all' else '不能检索任何研报'}。",
            ),
            tone="success",
            private=True,
        )
    if first == "list":
        mapped = scopes.all()
        lines = [f"• {key}: {scope.describe('en')} ({scope.origin})" for key, scope in mapped.items()]
        default = scopes.default()
        lines.append(f"• anything else: {default.describe('en')} ({default.origin})")
        zh = [f"- {key}：{scope.describe('zh')}" for key, scope in mapped.items()]
        zh.append(f"- 其他会话：{default.describe('zh')}")
        return Reply.message(
            Say("\n".join(lines), "\n".join(zh)), title=Say("Scopes", "检索范围"), private=True
        )
    key, named, rest = _target(ctx, words)
    if not rest:
        return _shown(ctx, scopes.mapped(key) or scopes.default(), f"in {named}")
    if rest[0].lower() in ("clear", "清除"):
        removed = scopes.clear(key)
        after = scopes.mapped(key) or scopes.default()
        return Reply.message(
            Say(
                (
                    f"Removed the scope of {named}; "
                    if removed
                    else f"{named.capitalize()} had no scope set here; "
                )
                + f"it now searches {after.describe('en')} ({after.origin}).",
                f"已清除范围；现在检索：{after.describe('zh')}。",
            ),
            tone="success",
            private=True,
        )
    scope = parse_scope(ctx, rest)
    scopes.set(key, scope, ctx.requester)
    allowed, total = _count(ctx, scope)
    return Reply.message(
        Say(
            f"Questions in {named} now search {scope.describe('en')}: {allowed} of {total} indexed notes.",
            f"{'本频道' if named == 'this channel' else named}的提问现在只检索：{scope.describe('zh')}（已索引 {total} 篇中的 {allowed} 篇）。",
        ),
        title=Say("Scope set", "已设置检索范围"),
        tone="success",
    )


def scope_commands() -> list[Command]:
    return [
        Command(
            "scope",
            run_scope,
            summary=Say(
                "what questions here may search; admins map it to brokers, sectors or folders",
                "本会话可检索的研报范围；管理员可按券商、行业、目录设置",
            ),
            usage="/scope [broker B… | sector S… | folder F… | clear | default all|none | list]",
        )
    ]
