"""The typed records that travel between indexing, search and the bot: Report, Chunk, Hit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

REPORT_KINDS = ("weekly", "strategy", "company", "industry", "other")


@dataclass
class Report:
    """One indexed research note. `date` is the publish date (YYYY-MM-DD) or None, never guessed."""

    id: str
    title: str
    broker: str | None = None
    date: str | None = None
    period: str | None = None  # "2024-12-16/2024-12-22"
    analysts: list[str] = field(default_factory=list)
    source: str = ""
    kind: str = "other"
    chunks: int = 0
    tickers: list[str] = field(default_factory=list)  # six-digit codes mentioned
    stocks: list[str] = field(default_factory=list)  # stock short names mentioned (as written)
    content_hash: str = ""
    sectors: list[str] = field(default_factory=list)
    rating: str | None = None  # as printed on the note: 买入, 增持, 推荐, Outperform
    target_price: float | None = None
    ticker: str | None = None  # the covered stock's code (company notes): 002837, 0700.HK

    def to_json(self) -> dict[str, Any]:
        """The Report record of INTERFACES.md, plus the extra fields scripts may find useful."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Chunk:
    """A paragraph-sized piece of a report. `text` is exactly as written in the report;
    `search_text` is the simplified, width-folded form used only for matching."""

    report_id: str
    paragraph: int  # index of the chunk within the report, 0-based, in reading order
    text: str
    search_text: str
    section: str | None = None
    page: int | None = None

    @property
    def id(self) -> str:
        return f"{self.report_id}:{self.paragraph:05d}"


@dataclass
class Evidence:
    """A sentence of a hit that supports the question (or, for a long sentence, the run of its
    clauses that does), as written in the report."""

    text: str
    support: float  # share of the question's concepts it holds, its report title and heading helping
    own: float  # the same share from its own words only
    figure: bool  # holds a number with a unit (what "多少" / "how much" asks for)
    score: float  # how the hit's sentences are ordered
    # its figures belong to another company than the one asked about ("字节跳动2025年200亿美金Capex"
    # answers nothing about 腾讯's capex)
    other_entity: bool = False
    # it speaks of another period than the one asked ("7月金股" for 8月's, 2025-2027 for 2028)
    other_period: bool = False


@dataclass
class Hit:
    """A chunk found for a question, with the report it belongs to, each retriever's score and the
    sentences that support the question (best first)."""

    chunk: Chunk
    report: Report
    score: float
    scores: dict[str, float] = field(
        default_factory=dict
    )  # e.g. {"bm25": 7.1, "dense": 0.62, "rank_bm25": 1, "coverage": 1.0, "prior": 0.5}
    evidence: list[Evidence] = field(default_factory=list)
    support: float = 0.0  # share of the question's concepts the paragraph (with title, heading) holds
    # what the paragraph is about beyond its own words, in search form: its report's title, its
    # section heading and, for the later piece of a long paragraph, the piece before it
    context: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report.id,
            "title": self.report.title,
            "broker": self.report.broker,
            "date": self.report.date,
            "source": self.report.source,
            "paragraph": self.chunk.paragraph,
            "section": self.chunk.section,
            "page": self.chunk.page,
            "text": self.chunk.text,
            "score": round(self.score, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }
