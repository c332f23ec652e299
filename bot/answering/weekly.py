"""`/weekly`: the key points of the latest weekly note(s) — market moves, theses, recommendation
lists, risks — each cited. Section-aware and extractive without an LLM; map-reduce with one.
Summaries are cached per report version."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, timedelta

from bot.answer import Answer, Citation
from bot.answering.extractive import RECOMMEND_PREFIX, _header, _recommendation_segments
from bot.answering.generative import numbered_context
from bot.answering.verify import inert, renumber, verify_answer
from bot.llm import LLMClient, LLMError
from index.normalize import search_form
from index.records import Chunk, Report
from index.text import sentences
from prompts import render

log = logging.getLogger("yanbao.weekly")

MAX_REPORTS = 3
SAME_WEEK_DAYS = 7
_THESIS = re.compile(r"^([1-9][)）.、]|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十1-9][)）])")
_MARKET = re.compile(r"行情回顾|市场整体|市场表现|本周.{0,30}(指数|板块)|涨跌幅")
_RISK = re.compile(r"风险提示")
_POINTS = re.compile(r"行业动向|周观点|核心观点|投资要点|本周观点|投资建议")


def latest_weeklies(reports: list[Report], broker: str | None, sector: str | None, chunks_of) -> list[Report]:
    weeklies = [r for r in reports if r.kind == "weekly" and (r.date or r.period)]
    if broker:
        weeklies = [r for r in weeklies if r.broker == broker]
    if sector:
        form = search_form(sector)
        weeklies = [
            r
            for r in weeklies
            if form in search_form(r.title) or any(form in c.search_text for c in chunks_of(r.id))
        ]
    if not weeklies:
        return []

    def end(r: Report) -> str:
        return max(filter(None, [r.date, r.period.split("/")[1] if r.period else None]))

    weeklies.sort(key=end, reverse=True)
    newest = date.fromisoformat(end(weeklies[0]))
    chosen: dict[str | None, Report] = {}
    for r in weeklies:
        if date.fromisoformat(end(r)) >= newest - timedelta(days=SAME_WEEK_DAYS) and r.broker not in chosen:
            chosen[r.broker] = r
    return list(chosen.values())[:MAX_REPORTS]


def _first_sentences(text: str, limit: int = 160) -> str:
    out = ""
    for sentence in sentences(text) or [text]:
        if out and len(out) + len(sentence) > limit:
            break
        out += sentence
    return out.strip() if len(out) <= limit * 1.5 else out[:limit].rstrip() + "…"


def _key_chunks(chunks: list[Chunk], lexicon) -> dict[str, list[Chunk]]:
    """Chunks for each part of the summary, in report order."""
    parts: dict[str, list[Chunk]] = {"theses": [], "recommendations": [], "market": [], "risks": []}
    seen_sections: set[str] = set()
    for chunk in chunks:
        section = search_form(chunk.section or "")
        text = chunk.text.strip()
        if RECOMMEND_PREFIX.match(text) and _recommendation_segments(text, lexicon, True):
            parts["recommendations"].append(chunk)
        elif _RISK.search(section) or _RISK.match(search_form(text)):
            if not parts["risks"]:
                parts["risks"].append(chunk)
        elif (_MARKET.search(section) or _MARKET.search(search_form(text[:40]))) and "%" in text:
            if not parts["market"]:
                parts["market"].append(chunk)
        elif chunk.section and _THESIS.match(chunk.section) and chunk.section not in seen_sections:
            seen_sections.add(chunk.section)
            parts["theses"].append(chunk)
        elif _THESIS.match(text):  # "1）AI Agent：…" written as a paragraph, not a heading
            parts["theses"].append(chunk)
        elif _POINTS.search(section) and chunk.section not in seen_sections and not parts["theses"]:
            seen_sections.add(chunk.section or "")
            parts["theses"].append(chunk)
    parts["theses"] = parts["theses"][:4]
    return parts


def _extractive_summary(reports: list[Report], chunks_of, lexicon) -> tuple[str, list[Citation]]:
    lines: list[str] = []
    citations: list[Citation] = []

    def cite(report: Report, chunk: Chunk) -> str:
        citations.append(
            Citation(
                len(citations) + 1,
                report.id,
                report.title,
                report.broker,
                report.date,
                report.source,
                chunk.paragraph,
                chunk.text,
                chunk.section,
            )
        )
        return f"[{len(citations)}]"

    for report in reports:
        parts = _key_chunks(chunks_of(report.id), lexicon)
        # note text quoted below is inert: a "[1]" written in a note is not a citation
        lines.append(f"*{_header(report, english=True)}* — {inert(report.title)}")
        if parts["market"]:
            chunk = parts["market"][0]
            lines.append(f"• Market 行情: {inert(_first_sentences(chunk.text))} {cite(report, chunk)}")
        if parts["theses"]:
            lines.append("• Theses 观点:")
            for chunk in parts["theses"]:
                thesis = (
                    chunk.section
                    if chunk.section and _THESIS.match(chunk.section)
                    else _first_sentences(chunk.text, 100)
                )
                lines.append(f"  {inert(thesis)} {cite(report, chunk)}")
        for chunk in parts["recommendations"][:2]:
            segments = _recommendation_segments(chunk.text, lexicon, True)
            listed = "; ".join(
                f"{label}: {'、'.join(names)}" if label else "、".join(names) for label, names, _ in segments
            )
            lines.append(f"• Recommendations 建议关注: {inert(listed)} {cite(report, chunk)}")
        if parts["risks"]:
            chunk = parts["risks"][0]
            lines.append(
                f"• Risks 风险提示: {inert(_first_sentences(chunk.text, 120))} {cite(report, chunk)}"
            )
        lines.append("")
    return "\n".join(lines).strip(), citations


def _llm_summary(llm: LLMClient, reports: list[Report], citations: list[Citation], on_text) -> str | None:
    """Map: one summary per report over its key paragraphs; reduce: one digest. None on failure."""
    summaries = []
    try:
        for report in reports:
            mine = [c for c in citations if c.report_id == report.id]
            prompt = render(
                "weekly_map",
                language="English",
                title=report.title,
                broker=report.broker or "—",
                date=report.date or "—",
                context=numbered_context(mine),
            )
            summaries.append(
                llm.chat(
                    [{"role": "system", "content": render("system")}, {"role": "user", "content": prompt}]
                ).text.strip()
            )
        if len(summaries) == 1:
            return summaries[0]
        messages = [
            {
                "role": "user",
                "content": render("weekly_reduce", language="English", summaries="\n\n".join(summaries)),
            }
        ]
        if on_text is None:
            return llm.chat(messages).text.strip()
        text = ""
        for delta in llm.stream(messages):
            text += delta
            on_text(text)
        return text.strip()
    except LLMError as exc:
        log.warning("weekly LLM summary failed, extractive fallback", extra={"reason": str(exc)})
        return None


def _note_list(reports: list[Report], limit: int = 5) -> str:
    """ "《title》 (broker, date)" for each report, newest first, at most `limit`."""
    newest = sorted(reports, key=lambda r: r.date or "", reverse=True)
    names = [
        f"《{r.title}》 ({', '.join(p for p in (r.broker, r.date) if p) or 'broker and date unknown'})"
        for r in newest[:limit]
    ]
    more = f" and {len(newest) - limit} more" if len(newest) > limit else ""
    return "; ".join(names) + more


def summarize_weekly(
    library,
    *,
    broker: str | None = None,
    sector: str | None = None,
    llm: LLMClient | None = None,
    cache: dict | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Answer:
    lexicon = library.lexicon
    question = "/weekly" + (f" {broker}" if broker else "") + (f" {sector}" if sector else "")
    canonical = lexicon.canonical_broker(broker) if broker else None
    reports = latest_weeklies(
        list(library.lexical.reports.values()), canonical or broker, sector, library.lexical.report_chunks
    )
    if not reports:
        scope = " ".join(filter(None, [canonical or broker, sector]))
        weeklies = [r for r in library.lexical.reports.values() if r.kind == "weekly"]
        text = f"No weekly note{' for ' + scope if scope else ''} is indexed yet."
        if weeklies:  # say which notes were looked at, so the person can pick another scope
            text += " I looked at: " + _note_list(weeklies) + "."
        return Answer(question, text, "extractive", found=False, searched=[r.title for r in weeklies])
    versions = library.lexical.versions
    key = (tuple((r.id, versions.get(r.id)) for r in reports), bool(llm))
    if cache is not None and key in cache:
        return cache[key]
    text, citations = _extractive_summary(reports, library.lexical.report_chunks, lexicon)
    mode, model, fallback = "extractive", None, None
    if llm is not None:
        generated = _llm_summary(llm, reports, citations, on_text)
        if generated:
            verified = verify_answer(generated, citations, lexicon)
            if verified.cited:
                text, mode, model = verified.text, "llm", llm.model
            else:
                fallback = "LLM summary had no supported, cited point"
        else:
            fallback = "LLM unavailable"
    verified = verify_answer(text, citations, lexicon)
    final, used = renumber(verified.text, citations, verified.cited)
    if not used:  # nothing summarisable: name the notes looked at instead of an empty answer
        final = (
            f"I looked at {_note_list(reports)} but found no market review, theses, recommendations "
            "or risks in it to summarise."
        )
    answer = Answer(
        question,
        final,
        mode,
        found=bool(used),
        citations=used,
        dropped=verified.dropped,
        model=model,
        fallback=fallback,
    )
    if cache is not None:
        cache[key] = answer
    return answer
