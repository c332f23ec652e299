"""Channel-scoped libraries: which notes a channel, chat or person may search.

An admin maps a conversation to brokers, source folders and/or sectors (`/scope broker 山西证券
sector 通信` in it, or `[scopes]` in yanbao.toml); every question asked there, every follow-up,
/weekly, /changes and every digest posted there is searched within that scope. A direct message
follows the asking person's scope (`/scope user <@U…> …`); a conversation nobody mapped follows
the default an admin set (`/scope default all|none`, YANBAO_SCOPE_DEFAULT). The console operator
searches everything.

The scope becomes a SearchFilter (index/filters.py) that both engines apply: a note outside the
scope is never scored, so it can be neither cited nor named. What `/scope` sets lives in the
shared state and wins over yanbao.toml for the same conversation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.permissions import Requester
from bot.state import StateStore
from index.filters import SearchFilter
from index.settings import Settings

KIND = "scope"
DEFAULT_KEY = "default"


def place_key(platform: str, channel: str) -> str:
    return f"{platform}:{channel}"


def user_key(platform: str, user: str) -> str:
    return f"{platform}:user:{user}"


@dataclass(frozen=True)
class Scope:
    """What a conversation may search. No field set and `nothing` False: everything."""

    brokers: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    nothing: bool = False  # the "none" default: an unmapped conversation searches no note
    origin: str = "default"  # "set by slack:U1 on 2025-01-20", "yanbao.toml", "default"
    key: str | None = None  # the mapping that applies ("slack:C123"); None for the default

    @property
    def everything(self) -> bool:
        return not self.nothing and not (self.brokers or self.folders or self.sectors)

    def filter(self) -> SearchFilter | None:
        """The SearchFilter both engines apply; None when everything may be searched."""
        if self.nothing:
            return SearchFilter(report_ids=frozenset())
        if self.everything:
            return None
        return SearchFilter.of(
            brokers=self.brokers or None, folders=self.folders or None, sectors=self.sectors or None
        )

    def describe(self, language: str = "en") -> str:
        if self.nothing:
            return "no notes" if language == "en" else "不能检索任何研报"
        if self.everything:
            return "every note" if language == "en" else "全部研报"
        if language == "zh":
            parts = [
                f"{label}：{'、'.join(values)}"
                for label, values in (("券商", self.brokers), ("行业", self.sectors), ("目录", self.folders))
                if values
            ]
            return "；".join(parts)
        parts = []
        if self.brokers:
            parts.append("from " + ", ".join(self.brokers))
        if self.sectors:
            parts.append("about " + ", ".join(self.sectors))
        if self.folders:
            parts.append("under " + ", ".join(self.folders))
        return "notes " + " ".join(parts)

    def to_json(self) -> dict:
        return {"brokers": list(self.brokers), "folders": list(self.folders), "sectors": list(self.sectors)}


def _from_record(record: dict, origin: str, key: str) -> Scope:
    return Scope(
        brokers=tuple(record.get("brokers") or ()),
        folders=tuple(record.get("folders") or ()),
        sectors=tuple(record.get("sectors") or ()),
        origin=origin,
        key=key,
    )


@dataclass
class Scopes:
    """The mappings: the shared state's (set with /scope) over yanbao.toml's."""

    settings: Settings
    state: StateStore

    def mapped(self, key: str) -> Scope | None:
        record = self.state.get_record(KIND, key)
        if record is not None:
            when = time.strftime("%Y-%m-%d", time.localtime(record.get("set", 0)))
            return _from_record(record, f"set by {record.get('by') or '?'} on {when}", key)
        configured = self.settings.scopes.get(key)
        if configured is not None:
            return _from_record(dict(configured), "yanbao.toml", key)
        return None

    def default(self) -> Scope:
        record = self.state.get_record(KIND, DEFAULT_KEY)
        value = record.get("default") if record else self.settings.scope_default
        origin = f"default set by {record.get('by')}" if record else "default from YANBAO_SCOPE_DEFAULT"
        return Scope(nothing=value == "none", origin=origin)

    def for_conversation(self, requester: Requester, channel: str | None, direct: bool) -> Scope:
        """The scope of a question: the operator's is everything; a DM follows the person's; a
        channel its own; unmapped ones the default."""
        if requester.is_operator:
            return Scope(origin="the console operator")
        if direct or channel is None:
            key = user_key(requester.platform, requester.user)
        else:
            key = place_key(requester.platform, channel)
        return self.mapped(key) or self.default()

    def for_channel(self, platform: str, channel: str) -> Scope:
        """The scope of what is posted in a channel (digests): its own, or the default."""
        return self.mapped(place_key(platform, channel)) or self.default()

    def set(self, key: str, scope: Scope, by: Requester) -> None:
        self.state.put_record(KIND, key, {**scope.to_json(), "by": str(by), "set": time.time()})

    def clear(self, key: str) -> bool:
        return self.state.delete_record(KIND, key)

    def set_default(self, value: str, by: Requester) -> None:
        self.state.put_record(KIND, DEFAULT_KEY, {"default": value, "by": str(by), "set": time.time()})

    def all(self) -> dict[str, Scope]:
        """Every mapping (the shared state's over the file's), by conversation."""
        out = {key: self.mapped(key) for key in self.settings.scopes}
        out.update({key: self.mapped(key) for key in self.state.records(KIND) if key != DEFAULT_KEY})
        return {key: scope for key, scope in sorted(out.items()) if scope is not None}
