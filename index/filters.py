"""Explicit search filters, applied inside both engines.

A user who asks `--broker 山西证券 --since 2024-12-01` (or a command that scopes a search to some
reports) gets a SearchFilter. It is translated once into a tantivy query (index/lexical.py) and
once into a Chroma `where` on chunk metadata (index/store.py), so neither engine scores chunks the
user excluded and neither receives a list of thousands of report ids. Metadata merely *inferred*
from a question (a broker named in passing, "last week") is a ranking prior, never a SearchFilter.

Every field a filter can test is written on each chunk, in both engines, by `chunk_filter_fields`.
Adding a filter means: a field here, its value in `chunk_filter_fields`, and one clause in each of
`tantivy_query` and `chroma_where`. A channel's scope (bot/scopes.py) is a filter on brokers,
source folders and sectors: `folders` holds every folder above a note's file (so "the note is
under /reports/tmt" is one term), `sectors` the sectors its title names (index/sectors.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from index.records import Report

# Undated reports get an empty interval, so any date filter excludes them (as it always has).
UNDATED_START = 99_999_999
UNDATED_END = 0
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def date_int(value: str) -> int:
    """'2024-12-16' (or '20241216') as 20241216; ValueError naming the value otherwise."""
    match = _DATE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a date: expected YYYY-MM-DD")
    return int("".join(match.groups()))


def report_interval(report: Report) -> tuple[int, int]:
    """(first day, last day) a report speaks for: its covered period and its publish date.

    A weekly published on 12-25 about 12-16..12-22 is in range for a filter on any of those days."""
    return _interval(report.date, report.period)


@lru_cache(maxsize=1 << 16)  # a filter tests every report of the archive: parse each date once
def _interval(published: str | None, period: str | None) -> tuple[int, int]:
    start = end = published
    if period:
        start, end = period.split("/")
        if published:
            end = max(end, published)
    if not start:
        return UNDATED_START, UNDATED_END
    return date_int(start), date_int(end or start)


# A list field may not be empty in Chroma metadata: a note with no folder or sector holds this.
NO_VALUE = ""


def folder_form(path: str) -> str:
    """A folder as filters compare it: "/reports/tmt" (no trailing slash); a source that is no path
    ("slack:F123/note.pdf") keeps its own form."""
    path = path.strip().replace("\\", "/")
    return path.rstrip("/") or "/"


def report_folders(report: Report) -> list[str]:
    """Every folder above the note's file, outermost first: /reports, /reports/tmt. An upload
    ("slack:F123/note.pdf") is in "slack:" and "slack:F123"."""
    source = folder_form(report.source)
    parts = source.split("/")[:-1]
    folders = ["/".join(parts[: i + 1]) or "/" for i in range(len(parts))]
    if ":" in source.split("/")[0]:  # an upload: its platform is a folder too
        folders.insert(0, source.split(":", 1)[0] + ":")
    return list(dict.fromkeys(f for f in folders if f))


def report_sectors(report: Report) -> list[str]:
    """The sectors a note is about: those it was described with, else those its title names."""
    if report.sectors:
        return list(report.sectors)
    from index.lexicon import Lexicon
    from index.sectors import title_sectors

    return title_sectors(report.title, Lexicon.load())


def chunk_filter_fields(report: Report) -> dict[str, Any]:
    """The per-chunk fields filters test, the same in Chroma metadata and in the tantivy document."""
    start, end = report_interval(report)
    return {
        "report_id": report.id,
        "broker": report.broker or "",
        "kind": report.kind,
        "date_start": start,
        "date_end": end,
        "folders": report_folders(report) or [NO_VALUE],
        "sectors": report_sectors(report) or [NO_VALUE],
    }


@dataclass(frozen=True)
class SearchFilter:
    """Restrictions a user asked for. None means "no restriction" on that field; an empty set
    means "nothing matches" (e.g. a follow-up scoped to reports that no longer exist)."""

    report_ids: frozenset[str] | None = None
    brokers: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    since: int | None = None  # YYYYMMDD: the report's interval must end on or after it
    until: int | None = None  # YYYYMMDD: the report's interval must start on or before it
    folders: frozenset[str] | None = None  # the note's file is under one of these
    sectors: frozenset[str] | None = None  # the note is about one of these (canonical names)

    @classmethod
    def of(
        cls,
        *,
        report_ids: Iterable[str] | None = None,
        brokers: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        folders: Iterable[str] | None = None,
        sectors: Iterable[str] | None = None,
    ) -> SearchFilter:
        return cls(
            report_ids=frozenset(report_ids) if report_ids is not None else None,
            brokers=frozenset(brokers) if brokers is not None else None,
            kinds=frozenset(kinds) if kinds is not None else None,
            since=date_int(since) if since else None,
            until=date_int(until) if until else None,
            folders=frozenset(folder_form(f) for f in folders) if folders is not None else None,
            sectors=frozenset(sectors) if sectors is not None else None,
        )

    def _sets(self) -> tuple[frozenset[str] | None, ...]:
        return (self.report_ids, self.brokers, self.kinds, self.folders, self.sectors)

    def __bool__(self) -> bool:
        """True when the filter restricts anything."""
        return any(v is not None for v in (*self._sets(), self.since, self.until))

    @property
    def matches_nothing(self) -> bool:
        return any(s is not None and not s for s in self._sets()) or (
            self.since is not None and self.until is not None and self.since > self.until
        )

    def both(self, other: SearchFilter | None) -> SearchFilter:
        """What this filter and `other` both allow (a user's --broker within a channel's scope)."""
        if other is None:
            return self

        def meet(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            return b if a is None else a if b is None else a & b

        return SearchFilter(
            report_ids=meet(self.report_ids, other.report_ids),
            brokers=meet(self.brokers, other.brokers),
            kinds=meet(self.kinds, other.kinds),
            since=max(filter(None, (self.since, other.since)), default=None),
            until=min(filter(None, (self.until, other.until)), default=None),
            folders=_meet_folders(self.folders, other.folders),
            sectors=meet(self.sectors, other.sectors),
        )

    def matches(self, report: Report) -> bool:
        """The same rule as the engines apply, for code that holds Report records."""
        if self.report_ids is not None and report.id not in self.report_ids:
            return False
        if self.brokers is not None and (report.broker or "") not in self.brokers:
            return False
        if self.kinds is not None and report.kind not in self.kinds:
            return False
        if self.folders is not None and not self.folders.intersection(report_folders(report)):
            return False
        if self.sectors is not None and not self.sectors.intersection(report_sectors(report)):
            return False
        start, end = report_interval(report)
        if self.since is not None and end < self.since:
            return False
        return not (self.until is not None and start > self.until)

    def count(self, reports: Iterable[Report]) -> int:
        """How many of `reports` match (the same rule as `matches`, without the date arithmetic
        when the filter has no dates: a filter is counted over the whole archive per question)."""
        if (
            self.since is not None
            or self.until is not None
            or self.folders is not None
            or self.sectors is not None
        ):
            return sum(1 for r in reports if self.matches(r))
        ids, brokers, kinds = self.report_ids, self.brokers, self.kinds
        return sum(
            1
            for r in reports
            if (ids is None or r.id in ids)
            and (brokers is None or (r.broker or "") in brokers)
            and (kinds is None or r.kind in kinds)
        )

    # ---- the engines' forms -------------------------------------------------------------------
    def chroma_where(self) -> dict[str, Any] | None:
        """A Chroma `where` on chunk metadata, or None when nothing is restricted."""
        clauses: list[dict[str, Any]] = []
        for name, values in (("report_id", self.report_ids), ("broker", self.brokers), ("kind", self.kinds)):
            if values is not None:
                ordered = sorted(values)
                clauses.append({name: ordered[0]} if len(ordered) == 1 else {name: {"$in": ordered}})
        if self.since is not None:
            clauses.append({"date_end": {"$gte": self.since}})
        if self.until is not None:
            clauses.append({"date_start": {"$lte": self.until}})
        for name, values in (("folders", self.folders), ("sectors", self.sectors)):
            if values is not None:  # list fields: the chunk's list holds one of the values
                contains = [{name: {"$contains": v}} for v in sorted(values)] or [
                    {name: {"$contains": "\0none"}}
                ]
                clauses.append(contains[0] if len(contains) == 1 else {"$or": contains})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def tantivy_query(self, schema: Any) -> Any | None:
        """A tantivy query matching the allowed chunks (scores nothing), or None."""
        import tantivy

        clauses = []
        for name, values in (
            ("report_id", self.report_ids),
            ("broker", self.brokers),
            ("kind", self.kinds),
            ("folders", self.folders),
            ("sectors", self.sectors),
        ):
            if values is not None:
                clauses.append(tantivy.Query.term_set_query(schema, name, sorted(values)))
        for name, lower, upper in (("date_end", self.since, None), ("date_start", None, self.until)):
            if lower is not None or upper is not None:
                clauses.append(
                    tantivy.Query.range_query(
                        schema, name, tantivy.FieldType.Integer, lower_bound=lower, upper_bound=upper
                    )
                )
        if not clauses:
            return None
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, c) for c in clauses])
        return tantivy.Query.const_score_query(query, 0.0)


def _meet_folders(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Notes under one of `a` and under one of `b`: the deeper folder of each nested pair."""
    if a is None or b is None:
        return b if a is None else a

    def within(inner: str, outer: str) -> bool:
        return inner == outer or inner.startswith(outer.rstrip("/") + "/")

    return frozenset(
        {x for x in a if any(within(x, y) for y in b)} | {y for y in b if any(within(y, x) for x in a)}
    )
