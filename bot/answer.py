"""The bot's product: an Answer with numbered Citations. Platforms render it; they never build one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from index.records import Chunk, Hit, Report


@dataclass
class Citation:
    n: int
    report_id: str
    title: str
    broker: str | None
    date: str | None
    source: str
    paragraph: int
    text: str  # the cited paragraph as written in the report
    section: str | None = None

    @classmethod
    def from_hit(cls, n: int, hit: Hit) -> Citation:
        return cls.of(n, hit.report, hit.chunk)

    @classmethod
    def of(cls, n: int, report: Report, chunk: Chunk) -> Citation:
        """Citation [n] of a paragraph of a report."""
        return cls(
            n=n,
            report_id=report.id,
            title=report.title,
            broker=report.broker,
            date=report.date,
            source=report.source,
            paragraph=chunk.paragraph,
            text=chunk.text,
            section=chunk.section,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "report_id": self.report_id,
            "title": self.title,
            "broker": self.broker,
            "date": self.date,
            "source": self.source,
            "paragraph": self.paragraph,
            "text": self.text,
        }


@dataclass
class Answer:
    question: str
    answer: str  # text with [n] markers
    mode: str  # "extractive" | "llm" | "extractive-fallback"
    found: bool
    citations: list[Citation] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # sentences or markers removed by verification
    model: str | None = None  # which LLM, when mode is "llm"
    searched: list[str] = field(default_factory=list)  # titles of the reports searched (for found=false)
    note: str | None = None  # e.g. "question trimmed to 2,000 characters"
    fallback: str | None = None  # why an LLM answer was not used (mode is then "extractive")
    # the top retrieved paragraphs (Citation fields plus "score"), when asked for (`ask --hits K`)
    hits: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "mode": self.mode,
            "found": self.found,
            "citations": [c.to_json() for c in self.citations],
            "dropped": list(self.dropped),
        }
        if self.model:
            data["model"] = self.model
        if self.note:
            data["note"] = self.note
        if self.fallback:
            data["fallback"] = self.fallback
        if not self.found and self.searched:
            data["searched"] = list(self.searched)
        if self.hits:
            data["hits"] = list(self.hits)
        return data
