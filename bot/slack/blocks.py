"""Render an Answer as Slack Block Kit: answer text, one context block per citation, footer, 👍/👎.

Slack's limits shape this module: at most 50 blocks per message, 3,000 characters per section
text, 2,000 characters per button value.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.answer import Answer, Citation
from bot.chat import QUOTE_CHARS, cited_clauses, clip, quote_around  # noqa: F401 (re-exported)
from bot.dispatch import Reply
from index.records import Report
from index.summary import IndexSummary

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_BUTTON_VALUE = 2000
MAX_FALLBACK_CHARS = 3000
FEEDBACK_UP = "yanbao_feedback_up"
FEEDBACK_DOWN = "yanbao_feedback_down"
FEEDBACK_ACTIONS = re.compile(r"^yanbao_feedback_(up|down)$")

_MARKER = re.compile(r"\[(\d+)\]")


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def split_for_sections(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Split text into pieces of at most `limit` characters, at paragraph, then sentence breaks."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n\n")
        if cut < limit // 2:
            cut = max(window.rfind(p) for p in ("。", "！", "？", ". ", "\n"))
            cut = cut + 1 if cut >= limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def citation_line(citation: Citation) -> str:
    title = escape(citation.title or citation.report_id)
    if citation.source.startswith(("http://", "https://")):
        title = f"<{citation.source}|{title}>"
    parts = [f"*[{citation.n}]* {title}"]
    parts += [escape(p) for p in (citation.broker, citation.date) if p]
    return " · ".join(parts)


def citation_block(citation: Citation, answer_text: str) -> dict[str, Any]:
    quote = quote_around(citation.text, cited_clauses(answer_text, citation.n))
    text = f"{citation_line(citation)}\n“{escape(quote)}”"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_SECTION_CHARS)}]}


def footer_text(answer: Answer, notes: list[str]) -> str:
    if answer.mode == "llm":
        source = f"Written by {escape(answer.model or 'the LLM')} from the cited paragraphs"
    elif answer.mode == "extractive-fallback":
        source = "Extractive answer (the LLM was unavailable): sentences quoted from the notes"
    else:
        source = "Extractive answer: sentences quoted from the notes"
    lines = [f"_{source}_"]
    for note in [answer.note, *notes]:
        if note:
            lines.append(f"_{escape(note)}_")
    return "\n".join(lines)


def feedback_value(answer: Answer, conversation: str | None) -> str:
    """What a 👍/👎 click needs to store the answer's question and citations (≤ 2,000 chars);
    the answer text itself comes back with the clicked message."""
    cites = [[c.n, c.report_id, c.paragraph] for c in answer.citations]
    data: dict[str, Any] = {"c": conversation, "m": answer.mode, "r": cites, "q": answer.question}
    value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    while len(value) > MAX_BUTTON_VALUE and data["r"]:
        data["r"] = data["r"][:-1]
        value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        over = len(value) - MAX_BUTTON_VALUE
        data["q"] = data["q"][: max(0, len(data["q"]) - over - 1)] + "…"
        value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return value


def render_answer(
    answer: Answer,
    *,
    conversation: str | None = None,
    asked_by: str | None = None,
    notes: list[str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for an Answer. `asked_by` (a user id) shows who asked, for answers
    posted from a slash command; `notes` are extra footer lines (e.g. the question was trimmed)."""
    blocks: list[dict[str, Any]] = []
    if asked_by:
        blocks.append(asked_block(asked_by, answer.question))
    sections = split_for_sections(escape(answer_body(answer)))[:10]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    blocks += answer_tail_blocks(
        answer, conversation=conversation, notes=notes, room=MAX_BLOCKS - len(blocks)
    )
    return fallback_text(answer), blocks[:MAX_BLOCKS]


def render_digest(answer: Answer, *, why: str) -> tuple[str, list[dict[str, Any]]]:
    """A new weekly note's summary posted to a subscribed channel: a heading, the cited summary,
    and `why` the channel gets it (its subscription) in the footer."""
    text, blocks = render_answer(answer, notes=[why])
    heading = {"type": "section", "text": {"type": "mrkdwn", "text": ":mailbox_with_mail: *New weekly note*"}}
    return clip(f"New weekly note — {text}", MAX_FALLBACK_CHARS), [heading, *blocks][:MAX_BLOCKS]


def answer_body(answer: Answer) -> str:
    return answer.answer.strip() or "I found nothing in the notes for that."


def asked_block(user: str, question: str) -> dict[str, Any]:
    text = clip(f"<@{user}> asked: {escape(question)}", 3000)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def answer_tail_blocks(
    answer: Answer,
    *,
    conversation: str | None = None,
    notes: list[str] | None = None,
    room: int = MAX_BLOCKS,
) -> list[dict[str, Any]]:
    """What follows an answer's text: the citations (one context block each), the footer and the
    👍/👎 buttons, within `room` blocks. A streamed answer ends with these (chat.stopStream)."""
    blocks: list[dict[str, Any]] = []
    citations = list(answer.citations)
    room -= 3  # divider, footer, buttons
    if citations:
        blocks.append({"type": "divider"})
        shown = citations if len(citations) <= room else citations[: max(room - 1, 0)]
        blocks += [citation_block(c, answer.answer) for c in shown]
        rest = citations[len(shown) :]
        if rest:
            names = "; ".join(f"[{c.n}] {c.title}" for c in rest)
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": clip(f"…and {len(rest)} more: {escape(names)}", 3000)}
                    ],
                }
            )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": footer_text(answer, notes or [])}]}
    )
    value = feedback_value(answer, conversation)
    blocks.append(
        {
            "type": "actions",
            "block_id": "yanbao_feedback",
            "elements": [
                {"type": "button", "action_id": FEEDBACK_UP, "text": plain("👍 Helpful"), "value": value},
                {
                    "type": "button",
                    "action_id": FEEDBACK_DOWN,
                    "text": plain("👎 Not helpful"),
                    "value": value,
                },
            ],
        }
    )
    return blocks


def fallback_text(answer: Answer) -> str:
    """The notification and screen-reader text of an answer message."""
    return clip(answer.answer.strip() or "I found nothing in the notes for that.", MAX_FALLBACK_CHARS)


def render_progress(text: str) -> tuple[str, list[dict[str, Any]]]:
    """A message being streamed: the text so far and a cursor."""
    shown = split_for_sections(escape(text) + " ▍")[:10]
    return clip(text, MAX_FALLBACK_CHARS), [
        {"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in shown
    ]


def searching_blocks(what: str = "Searching the research notes…") -> tuple[str, list[dict[str, Any]]]:
    return what, [{"type": "context", "elements": [{"type": "mrkdwn", "text": f":mag: {escape(what)}"}]}]


def answer_text_from_blocks(blocks: list[dict[str, Any]]) -> str:
    """The answer text of a rendered answer message, as a click brings it back: its section blocks,
    or the markdown block a streamed message carries."""
    texts = [
        b["text"]["text"] for b in blocks if b.get("type") == "section" and isinstance(b.get("text"), dict)
    ]
    texts += [b["text"] for b in blocks if b.get("type") == "markdown" and isinstance(b.get("text"), str)]
    joined = "\n\n".join(texts)
    return joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def quotes_from_blocks(blocks: list[dict[str, Any]]) -> dict[int, str]:
    """n -> the quoted text of each citation context block of a rendered answer."""
    quotes: dict[int, str] = {}
    for block in blocks:
        if block.get("type") != "context":
            continue
        for element in block.get("elements", []):
            text = element.get("text", "") if isinstance(element, dict) else ""
            found = re.match(r"^\*\[(\d+)\]\*.*?\n“(.*)”$", text, re.S)
            if found:
                quotes[int(found.group(1))] = found.group(2)
    return quotes


def render_summary_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": s}}
        for s in split_for_sections("\n".join(lines))
    ][:MAX_BLOCKS]


# -- replies that are not answers --------------------------------------------------------------------

TONE_MARK = {"warning": ":warning: ", "error": ":warning: ", "refused": "", "success": "", "info": ""}


def render_reply(
    reply: Reply,
    *,
    conversation: str | None = None,
    asked_by: str | None = None,
    notes: list[str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for any Reply of the command layer."""
    if reply.kind == "answer" and reply.answer is not None:
        return render_answer(reply.answer, conversation=conversation, asked_by=asked_by, notes=notes)
    if reply.kind == "reports":
        lines = report_lines(reply.reports)
        head = [asked_block(asked_by, "/reports")] if asked_by else []
        return clip("\n".join(lines[:30]), MAX_FALLBACK_CHARS), (head + render_summary_lines(lines))[
            :MAX_BLOCKS
        ]
    if reply.kind == "indexed" and reply.summary is not None:
        text = (
            describe_upload(reply.file_name, reply.summary)
            if reply.file_name
            else describe_reindex(reply.summary)
        )
    else:
        text = TONE_MARK.get(reply.tone, "") + escape(reply.text("en") if reply.text else "")
    head = [asked_block(asked_by, reply.title("en") if reply.title else "")] if asked_by else []
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in split_for_sections(text)]
    return clip(text, MAX_FALLBACK_CHARS), (head + sections)[:MAX_BLOCKS]


def report_lines(reports: list[Report], limit: int = 100) -> list[str]:
    if not reports:
        return ["No reports are indexed yet. An admin can run `/reindex` or share a file with me."]
    newest = sorted(reports, key=lambda r: r.date or "", reverse=True)
    lines = [f"*{len(newest)} indexed reports* (newest first)"]
    for r in newest[:limit]:
        meta = " · ".join(p for p in (r.broker, r.date, f"{r.chunks} chunks") if p)
        lines.append(f"• {escape(r.title)} — {escape(meta)}")
    if len(newest) > limit:
        lines.append(f"…and {len(newest) - limit} more (`yanbao reports` lists them all).")
    return lines


def describe_reindex(summary: IndexSummary) -> str:
    parts = [f"{summary.added} added", f"{summary.updated} updated", f"{summary.unchanged} unchanged"]
    if summary.removed:
        parts.append(f"{summary.removed} removed")
    text = f"Re-indexed: {', '.join(parts)}; {summary.chunks} chunks written"
    if summary.seconds:
        text += f" in {summary.seconds:.1f}s"
    text += "."
    if summary.failed:
        text += f"\n:warning: {len(summary.failed)} failed:"
        for failure in summary.failed[:10]:
            text += f"\n• `{escape(failure.path)}`: {escape(failure.error)}"
    return text


def describe_upload(name: str, summary: IndexSummary) -> str:
    if summary.failed:
        return f":warning: I couldn't index “{escape(name)}”: {escape(summary.failed[0].error)}"
    if summary.reports:
        lines = []
        for report in summary.reports:
            meta = " · ".join(
                p for p in (report.broker or "broker unknown", report.date or "date unknown") if p
            )
            lines.append(
                f":white_check_mark: Indexed *{escape(report.title)}* — {escape(meta)} · "
                f"{report.chunks} chunks. Ask me about it!"
            )
        return "\n".join(lines)
    if summary.unchanged:
        return f"“{escape(name)}” is already indexed, unchanged."
    return f"“{escape(name)}” had nothing I could index."
