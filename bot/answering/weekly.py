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
from bot.answering.generative import numbered_context, prefer_verified
from bot.answering.verify import inert, renumber, verify_answer
from bot.llm import LLMClient, LLMError
from index.filters import SearchFilter
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


def sector_forms(sector: str, lexicon=None) -> list[str]:
    """How a sector asked for is written in notes: itself, and the Chinese of an English name
    ("telecom" -> 通信), in search form."""
    forms = [search_form(sector)]
    if lexicon is not None:
        forms += [search_form(term) for term in lexicon.expand_english(sector)]
    return list(dict.fromkeys(f for f in forms if f))


def about_sector(report: Report, sector: str, chunks_of, lexicon=None) -> bool:
    """A note is about `sector` when its title or one of its paragraphs names it (/weekly 通信,
    a subscription to telecom weeklies)."""
    forms = sector_forms(sector, lexicon)
    title = search_form(report.title)
    if any(form in title for form in forms):
        return True
    return any(form in c.search_text for c in chunks_of(report.id) for form in forms)


def end_date(report: Report) -> str:
    """The last day a note speaks for: its publish date or the end of its period."""
    return max(filter(None, [report.date, report.period.split("/")[1] if report.period else None]))


def weeklies_of(
    reports: list[Report], broker: str | None, sector: str | None, chunks_of, lexicon=None
) -> list[Report]:
    """The dated weekly notes of `broker` about `sector` (either may be None), newest first."""
    weeklies = [r for r in reports if r.kind == "weekly" and (r.date or r.period)]
    if broker:
        weeklies = [r for r in weeklies if r.broker == broker]
    if sector:
        weeklies = [r for r in weeklies if about_sector(r, sector, chunks_of, lexicon)]
    return sorted(weeklies, key=lambda r: (end_date(r), r.id), reverse=True)


def latest_weeklies(
    reports: list[Report], broker: str | None, sector: str | None, chunks_of, lexicon=None
) -> list[Report]:
    weeklies = weeklies_of(reports, broker, sector, chunks_of, lexicon)
    if not weeklies:
        return []
    end = end_date
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
        citations.append(Citation.of(len(citations) + 1, report, chunk))
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
        return llm.complete(messages, on_text)
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
    where: SearchFilter | None = None,
) -> Answer:
    """/weekly: the latest weekly note(s), of `broker` about `sector`, among the notes `where`
    allows (a channel's scope)."""
    lexicon = library.lexicon
    question = "/weekly" + (f" {broker}" if broker else "") + (f" {sector}" if sector else "")
    canonical = lexicon.canonical_broker(broker) if broker else None
    allowed = [r for r in library.lexical.reports.values() if where is None or where.matches(r)]
    reports = latest_weeklies(allowed, canonical or broker, sector, library.lexical.report_chunks, lexicon)
    if not reports:
        scope = " ".join(filter(None, [canonical or broker, sector]))
        weeklies = [r for r in allowed if r.kind == "weekly"]
        text = f"No weekly note{' for ' + scope if scope else ''} is indexed yet."
        if weeklies:  # say which notes were looked at, so the person can pick another scope
            text += " I looked at: " + _note_list(weeklies) + "."
        return Answer(question, text, "extractive", found=False, searched=[r.title for r in weeklies])
    return summarize_reports(library, reports, question=question, llm=llm, cache=cache, on_text=on_text)


def summarize_reports(
    library,
    reports: list[Report],
    *,
    question: str,
    llm: LLMClient | None = None,
    cache: dict | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Answer:
    """The cited summary of these weekly notes (a /weekly answer, a digest of a new note)."""
    lexicon = library.lexicon
    versions = library.lexical.versions
    key = (tuple((r.id, versions.get(r.id)) for r in reports), bool(llm))
    if cache is not None and key in cache:
        return cache[key]
    text, citations = _extractive_summary(reports, library.lexical.report_chunks, lexicon)
    generated = _llm_summary(llm, reports, citations, on_text) if llm is not None else None
    chosen = prefer_verified(generated, text, citations, lexicon, llm)
    verified = verify_answer(chosen.text, citations, lexicon)
    final, used = renumber(verified.text, citations, verified.cited)
    if not used:  # nothing summarisable: name the notes looked at instead of an empty answer
        final = (
            f"I looked at {_note_list(reports)} but found no market review, theses, recommendations "
            "or risks in it to summarise."
        )
    answer = Answer(
        question,
        final,
        chosen.mode,
        found=bool(used),
        citations=used,
        dropped=chosen.dropped + verified.dropped,
        model=chosen.model,
        fallback=chosen.fallback,
    )
    if cache is not None:
        cache[key] = answer
    return answer
