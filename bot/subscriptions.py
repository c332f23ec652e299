"""Channel subscriptions to new weekly notes: `/subscribe weekly [broker] [sector]`, `/unsubscribe`,
`/subscriptions`. A subscription is one record in the shared state (SQLite or Redis), so every
replica, and `yanbao subscriptions`, sees the same list; the digest worker (bot/digests.py) posts
a new note's cited summary to each subscription it matches."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.dispatch import Command, Context, Reply, Say, Usage
from bot.permissions import NotPermitted, is_admin
from bot.scopes import Scopes
from bot.state import StateStore
from index.records import Report
from index.settings import Settings

KIND = "subscription"
WEEKLY_WORDS = ("weekly", "weeklies", "周报", "週報", "周跟踪", "週跟蹤")
# a conversation named explicitly: slack:C0123, feishu:oc_ab12 (admins, or the console operator)
PLACE = re.compile(r"^(slack|feishu):([A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class Subscription:
    """One channel (or chat) subscribed to new weekly notes, of one broker and/or about one sector
    (None: any)."""

    platform: str  # "slack" | "feishu"
    channel: str  # a Slack channel id, a Feishu chat_id
    broker: str | None = None
    sector: str | None = None
    kind: str = "weekly"
    by: str = ""  # who subscribed: "slack:U123"
    created: float = 0.0
    problem: str | None = None  # the last delivery failure ("not_in_channel"), until one succeeds

    @property
    def place(self) -> str:
        return f"{self.platform}:{self.channel}"

    @property
    def key(self) -> str:
        return f"{self.place}|{self.kind}|{self.broker or '*'}|{self.sector or '*'}"

    def describe(self, language: str = "en") -> str:
        """ "weekly notes from 山西证券 about 通信" / "山西证券 通信 的周报"."""
        if language == "zh":
            scope = " ".join(p for p in (self.broker, self.sector) if p)
            return f"{scope + '的' if scope else '所有'}新周报"
        parts = ["new weekly notes"]
        if self.broker:
            parts.append(f"from {self.broker}")
        if self.sector:
            parts.append(f"about {self.sector}")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subscription:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Subscriptions:
    """The subscriptions in the shared state."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def add(self, subscription: Subscription) -> bool:
        """Store it; False when the channel already has this subscription."""
        if self.state.get_record(KIND, subscription.key) is not None:
            return False
        stamped = replace(subscription, created=subscription.created or time.time())
        self.state.put_record(KIND, subscription.key, stamped.to_json())
        return True

    def remove(self, subscription: Subscription) -> bool:
        return self.state.delete_record(KIND, subscription.key)

    def all(self, platform: str | None = None) -> list[Subscription]:
        out = [Subscription.from_json(value) for value in self.state.records(KIND).values()]
        return [s for s in out if platform is None or s.platform == platform]

    def of(self, platform: str, channel: str) -> list[Subscription]:
        return [s for s in self.all(platform) if s.channel == channel]

    def note_problem(self, subscription: Subscription, problem: str | None) -> None:
        """Remember the last delivery failure (or its end), for `/subscriptions` to show."""
        current = self.state.get_record(KIND, subscription.key)
        if current is None or current.get("problem") == problem:
            return
        self.state.put_record(KIND, subscription.key, {**current, "problem": problem})


def matches(subscription: Subscription, report: Report, about_sector) -> bool:
    """A new note is for this subscription: a weekly, of its broker, about its sector.
    `about_sector(report, sector)` is /weekly's rule (title or a paragraph names it)."""
    if report.kind != subscription.kind:
        return False
    if subscription.broker and report.broker != subscription.broker:
        return False
    return not subscription.sector or about_sector(report, subscription.sector)


# --------------------------------------------------------------------------------- the commands


def _target(ctx: Context, words: list[str]) -> tuple[str, str, list[str]]:
    """(platform, channel, the other words): the conversation the command was run in, or one named
    as slack:C… / feishu:oc_… (admins only: it posts where they may not be)."""
    named = [w for w in words if PLACE.match(w)]
    rest = [w for w in words if not PLACE.match(w)]
    if named:
        if not is_admin(ctx.service.settings, ctx.requester):
            raise NotPermitted(ctx.requester, "subscribe another channel")
        platform, channel = PLACE.match(named[0]).groups()  # type: ignore[union-attr]
        return platform, channel, rest
    if ctx.channel is None or ctx.requester.platform not in ("slack", "feishu"):
        raise Usage(
            "Run this in the channel or chat the digests should go to"
            + (", or name it: slack:C0123 or feishu:oc_…" if ctx.requester.is_operator else "."),
            "请在要接收摘要的频道或群里使用"
            + ("，或写明 slack:C0123 / feishu:oc_…" if ctx.requester.is_operator else "。"),
        )
    return ctx.requester.platform, ctx.channel, rest


def _here(platform: str, channel: str, ctx: Context) -> tuple[str, str]:
    """ "this channel" when it is the one the command was run in, else its name."""
    if ctx.channel == channel and ctx.requester.platform == platform:
        return "this channel", "本频道"
    return f"{platform}:{channel}", f"{platform}:{channel}"


def _limits(settings: Settings) -> Say:
    cap = settings.digest_daily_cap
    en = f"at most {cap} a day"
    zh = f"每天最多 {cap} 条"
    if settings.digest_quiet_hours:
        hours = settings.digest_quiet_hours
        en += f"; none during the quiet hours {hours} ({settings.timezone}): those wait until they end"
        zh += f"；免打扰时段 {hours}（{settings.timezone}）内不发送，结束后补发"
    return Say(en, zh)


def parse_subscription(ctx: Context, args: str, *, need_kind: bool = True) -> Subscription:
    """`weekly [broker] [sector] [slack:C…]` as a Subscription for the conversation it names."""
    platform, channel, words = _target(ctx, args.split())
    if words and words[0].lower() in WEEKLY_WORDS:
        words = words[1:]
    elif need_kind:
        raise Usage(
            "I can subscribe a channel to new weekly notes: `/subscribe weekly [broker] [sector]`.",
            "目前可以订阅新周报：`/subscribe weekly [券商] [行业]`。",
        )
    broker, sector = ctx.service.broker_and_sector(" ".join(words))
    return Subscription(platform, channel, broker=broker, sector=sector, by=str(ctx.requester))


def run_subscribe(ctx: Context, args: str) -> Reply:
    subscription = parse_subscription(ctx, args)
    here_en, here_zh = _here(subscription.platform, subscription.channel, ctx)
    scope = Scopes(ctx.service.settings, ctx.service.state).for_channel(
        subscription.platform, subscription.channel
    )
    if scope.nothing or (scope.brokers and subscription.broker and subscription.broker not in scope.brokers):
        return Reply.message(
            Say(
                f"{here_en.capitalize()} may search {scope.describe('en')} ({scope.origin}), so no digest of "
                f"{subscription.describe('en')} could be posted here.",
                f"{here_zh}的检索范围是：{scope.describe('zh')}，无法推送{subscription.describe('zh')}。",
            ),
            title=Say("Not subscribed", "未订阅"),
            tone="warning",
            private=True,
        )
    what_en, what_zh = subscription.describe("en"), subscription.describe("zh")
    if not Subscriptions(ctx.service.state).add(subscription):
        return Reply.message(
            Say(f"{here_en.capitalize()} is already subscribed to {what_en}.", f"{here_zh}已订阅{what_zh}。"),
            private=True,
        )
    limits = _limits(ctx.service.settings)
    return Reply.message(
        Say(
            f"Subscribed {here_en} to {what_en}: each one's cited summary is posted "
            f"{'here' if here_en == 'this channel' else 'there'} once, as soon as it is indexed "
            f"({limits('en')}). `/unsubscribe` stops it.",
            f"已为{here_zh}订阅{what_zh}：每篇新周报入库后，会把带引用的摘要发到{'这里' if here_zh == '本频道' else '该会话'}一次"
            f"（{limits('zh')}）。发送 `/unsubscribe` 取消。",
        ),
        title=Say("Subscribed", "已订阅"),
        tone="success",
    )


def run_unsubscribe(ctx: Context, args: str) -> Reply:
    """`/unsubscribe`: every subscription of this channel; `/unsubscribe weekly 山西证券`: that one."""
    platform, channel, words = _target(ctx, args.split())
    here_en, here_zh = _here(platform, channel, ctx)
    book = Subscriptions(ctx.service.state)
    current = book.of(platform, channel)
    if words:
        wanted = parse_subscription(ctx, args, need_kind=False)
        chosen = [s for s in current if s.key == wanted.key]
    else:
        chosen = current
    if not chosen:
        listed = "; ".join(s.describe("en") for s in current)
        return Reply.message(
            Say(
                f"{here_en.capitalize()} has no such subscription"
                + (f" (it has: {listed})." if listed else " (it has none)."),
                f"{here_zh}没有这个订阅"
                + (f"（现有：{'；'.join(s.describe('zh') for s in current)}）。" if current else "。"),
            ),
            tone="warning",
            private=True,
        )
    for subscription in chosen:
        book.remove(subscription)
    return Reply.message(
        Say(
            f"Unsubscribed {here_en} from " + "; ".join(s.describe("en") for s in chosen) + ".",
            f"已为{here_zh}取消订阅：" + "；".join(s.describe("zh") for s in chosen) + "。",
        ),
        title=Say("Unsubscribed", "已取消订阅"),
        tone="success",
    )


def render_subscriptions(subscriptions: list[Subscription], language: str = "en", *, places: bool) -> str:
    """One line per subscription: what, since when, by whom (and where, when `places`)."""
    lines = []
    for s in sorted(subscriptions, key=lambda s: (s.place, s.key)):
        since = time.strftime("%Y-%m-%d", time.localtime(s.created)) if s.created else "?"
        where = f"{s.place}: " if places else ""
        if language == "zh":
            line = f"- {where}{s.describe('zh')}（{since} 由 {s.by or '?'} 订阅）"
            if s.problem:
                line += f"；上次发送失败：{s.problem}"
        else:
            line = f"• {where}{s.describe('en')} (since {since}, by {s.by or '?'})"
            if s.problem:
                line += f" — last delivery failed: {s.problem}"
        lines.append(line)
    return "\n".join(lines)


def run_subscriptions(ctx: Context, args: str) -> Reply:
    """This channel's subscriptions; on the console (or `all`, for admins) every channel's."""
    book = Subscriptions(ctx.service.state)
    everywhere = ctx.channel is None or args.strip().lower() == "all"
    if everywhere and not is_admin(ctx.service.settings, ctx.requester):
        raise NotPermitted(ctx.requester, "list every channel's subscriptions")
    chosen = book.all() if everywhere else book.of(ctx.requester.platform, ctx.channel or "")
    if not chosen:
        where = ("No channel", "还没有任何频道") if everywhere else ("This channel", "本频道")
        return Reply.message(
            Say(
                f"{where[0]} is subscribed to anything. `/subscribe weekly [broker] [sector]` posts each new "
                "weekly note's summary in the channel it is run in.",
                f"{where[1]}订阅任何内容。在频道里发送 `/subscribe weekly [券商] [行业]`，新周报入库后会把摘要发到该频道。",
            ),
            private=True,
        )
    limits = _limits(ctx.service.settings)
    return Reply.message(
        Say(
            render_subscriptions(chosen, "en", places=everywhere) + f"\nDigests: {limits('en')}.",
            render_subscriptions(chosen, "zh", places=everywhere) + f"\n推送：{limits('zh')}。",
        ),
        title=Say("Subscriptions", "订阅"),
        private=True,
    )


def subscription_commands() -> list[Command]:
    return [
        Command(
            "subscribe",
            run_subscribe,
            summary=Say(
                "post each new weekly note's cited summary in this channel",
                "新周报入库后把带引用的摘要发到本频道",
            ),
            usage="/subscribe weekly [broker] [sector]",
        ),
        Command(
            "unsubscribe",
            run_unsubscribe,
            summary=Say("stop this channel's subscriptions (all, or the one named)", "取消本频道的订阅"),
            usage="/unsubscribe [weekly broker sector]",
        ),
        Command(
            "subscriptions",
            run_subscriptions,
            summary=Say("this channel's subscriptions", "本频道的订阅"),
            private=True,
            quick=True,
        ),
    ]
