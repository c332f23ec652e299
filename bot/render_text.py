"""Plain-text rendering of Answers, reports and index summaries, for the terminal."""

from __future__ import annotations

import textwrap

from bot.answer import Answer
from index.records import Report
from index.summary import IndexSummary

QUOTE_CHARS = 400


def citation_heading(title: str, broker: str | None, date: str | None) -> str:
    return " · ".join(part for part in (title, broker or "broker unknown", date or "date unknown"))


def render_answer_text(answer: Answer) -> str:
    lines = [answer.answer.strip() or "(no answer)"]
    if answer.note:
        lines.append(f"({answer.note})")
    for c in answer.citations:
        quote = c.text if len(c.text) <= QUOTE_CHARS else c.text[: QUOTE_CHARS - 1] + "…"
        lines.append("")
        lines.append(f"[{c.n}] {citation_heading(c.title, c.broker, c.date)} · ¶{c.paragraph}")
        lines.extend(textwrap.indent(quote, "    ").splitlines())
    footer = f"mode: {answer.mode}"
    if answer.model:
        footer += f" ({answer.model})"
    if answer.fallback:
        footer += f" — LLM not used: {answer.fallback}"
    lines.extend(["", footer])
    return "\n".join(lines)


def render_reports_text(reports: list[Report]) -> str:
    if not reports:
        return "No reports indexed yet. Run `yanbao index PATH`."
    rows = [
        f"{r.id}  {r.date or '----------'}  {(r.broker or '-'):<8} {r.kind:<8} {r.chunks:>4}  {r.title[:60]}"
        for r in reports
    ]
    return "\n".join([f"{len(reports)} reports", *rows])


def render_report_text(shown: dict) -> str:
    """One report's metadata and its stored paragraphs, as `reports show` prints them."""
    report = shown["report"]
    lines = [report["title"], f"id {report['id']}  source {report['source']}"]
    facts = [
        ("broker", report.get("broker")), ("date", report.get("date")), ("kind", report.get("kind")),
        ("analysts", "、".join(report.get("analysts") or []) or None), ("rating", report.get("rating")),
        ("target price", report.get("target_price")), ("ticker", report.get("ticker")),
    ]  # fmt: skip
    lines.append("  ".join(f"{name}: {value}" for name, value in facts if value not in (None, "")))
    lines.append(f"{len(shown['paragraphs'])} paragraphs")
    section = None
    for p in shown["paragraphs"]:
        if p["section"] and p["section"] != section:
            section = p["section"]
            lines.extend(["", f"## {section}"])
        where = f"p.{p['page']}" if p["page"] else ""
        lines.append(f"[{p['paragraph']}] {where} {p['text']}".replace("  ", " "))
    return "\n".join(lines)


def render_summary_text(summary: IndexSummary) -> str:
    line = (
        f"indexed in {summary.seconds:.1f}s: {summary.added} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.removed} removed, {summary.chunks} chunks written, "
        f"{len(summary.failed)} failed"
    )
    rates = [f"{summary.rate(summary.files) or 0:.1f} files/s"]
    if summary.pages:
        rates.append(f"{summary.pages} pages, {summary.rate(summary.pages) or 0:.1f} pages/s")
    lines = [f"{line} ({'; '.join(rates)})"]
    for failure in summary.failed:
        lines.append(f"  failed: {printable(failure.path)}: {printable(failure.error)}")
    return "\n".join(lines)


def printable(text: str) -> str:
    """`text` on one line with control characters shown as escapes: a file named
    "x.txt\\n✓ 100 added" cannot print a line of its own, nor a terminal escape sequence."""
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
