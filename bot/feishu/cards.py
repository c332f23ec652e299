"""Render an Answer as a Feishu interactive card (JSON 2.0): the answer with [n] markers, one
collapsible panel per citation (title · broker · date, the quoted paragraph), a footer with the
mode and model, and 👍/👎 buttons answered through card.action.trigger callbacks.

Feishu refuses a card whose JSON is over 30 KB; `fit_card` trims quotes, then the answer, until
it fits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.answer import Answer, Citation
from bot.chat import cited_clauses, clip, quote_around
from bot.dispatch import Reply
from index.records import Report
from index.summary import IndexSummary

# Feishu's limit is 30 KB for the card JSON; keep room for the request around it
MAX_CARD_BYTES = 28 * 1024
QUOTE_LIMITS = (600, 300, 150, 60)  # characters per quote, tried in turn until the card fits
MAX_ANSWER_CHARS = 8000
FEEDBACK_ACTION = "yanbao_feedback"
VOTE_LABELS = {"up": "👍 有用", "down": "👎 没帮助"}
CURSOR = " ▍"


def escape(text: str) -> str:
    """Card markdown reads <tags> (<font>, <at>) and &entities; show them as typed instead."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def card_bytes(card: dict[str, Any]) -> int:
    return len(card_json(card).encode("utf-8"))


def card_json(card: dict[str, Any]) -> str:
    """The `content` of an interactive message."""
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"))


def _card(
    title: str,
    elements: list[dict[str, Any]],
    *,
    template: str = "blue",
    subtitle: str = "",
    summary: str = "",
) -> dict[str, Any]:
    header: dict[str, Any] = {
        "title": {"tag": "plain_text", "content": clip(title, 100)},
        "template": template,
    }
    if subtitle:
        header["subtitle"] = {"tag": "plain_text", "content": clip(subtitle, 100)}
    config: dict[str, Any] = {"update_multi": True}  # JSON 2.0 cards must be shared cards
    if summary:
        config["summary"] = {"content": clip(summary, 100)}  # the chat-list preview
    return {"schema": "2.0", "config": config, "header": header, "body": {"elements": elements}}


def _markdown(text: str, *, size: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"tag": "markdown", "content": text}
    if size:
        element["text_size"] = size
    return element


def _grey(text: str) -> dict[str, Any]:
    return _markdown(f"<font color='grey'>{text}</font>", size="notation")


def citation_heading(citation: Citation) -> str:
    title = escape(citation.title or citation.report_id)
    if citation.source.startswith(("http://", "https://")):
        title = f"[{title}]({citation.source})"
    return " · ".join(
        [f"**[{citation.n}]** {title}", *(escape(p) for p in (citation.broker, citation.date) if p)]
    )


def citation_panel(citation: Citation, answer_text: str, quote_limit: int) -> dict[str, Any]:
    quote = quote_around(citation.text, cited_clauses(answer_text, citation.n), quote_limit)
    return {
        "tag": "collapsible_panel",
        "expanded": False,
        "header": {"title": {"tag": "markdown", "content": citation_heading(citation)}},
        "border": {"color": "grey", "corner_radius": "5px"},
        "elements": [_markdown("> " + escape(quote).replace("\n", "\n> "))],
    }


def footer_text(answer: Answer) -> str:
    if answer.mode == "llm":
        text = f"由 {escape(answer.model or 'LLM')} 根据引用段落撰写 · mode: llm"
    elif answer.mode == "extractive-fallback":
        text = "LLM 暂不可用，摘录研报原句 · mode: extractive-fallback"
    else:
        text = "摘录研报原句 · mode: extractive"
    if answer.note:
        text += f" · {escape(answer.note)}"
    return text


def feedback_value(answer: Answer, conversation: str | None, vote: str) -> dict[str, Any]:
    """What a click brings back: enough to store the feedback even if the saved answer expired."""
    return {
        "action": FEEDBACK_ACTION,
        "vote": vote,
        "c": conversation,
        "m": answer.mode,
        "q": clip(answer.question, 300),
        "r": [[c.n, c.report_id, c.paragraph] for c in answer.citations],
    }


def _feedback_row(answer: Answer, conversation: str | None, voted: str | None) -> dict[str, Any]:
    if voted:
        return _grey(f"已记录你的反馈 {VOTE_LABELS.get(voted, voted)}，谢谢！")
    columns = []
    for vote, label in VOTE_LABELS.items():
        button = {
            "tag": "button",
            "text": {"tag": "plain_text", "content": label},
            "type": "default",
            "size": "small",
            "behaviors": [{"type": "callback", "value": feedback_value(answer, conversation, vote)}],
        }
        columns.append({"tag": "column", "width": "auto", "elements": [button]})
    return {"tag": "column_set", "flex_mode": "none", "horizontal_spacing": "8px", "columns": columns}


def answer_card(
    answer: Answer,
    *,
    conversation: str | None = None,
    voted: str | None = None,
    title: str = "研报问答",
) -> dict[str, Any]:
    """The answer card, trimmed to Feishu's size limit. `voted` ("up"/"down") replaces the buttons
    with a thank-you once the user has clicked."""

    def build(quote_limit: int, answer_chars: int, citations: list[Citation]) -> dict[str, Any]:
        body = answer.answer.strip() or "研报中没有找到相关内容。"
        elements = [_markdown(escape(clip(body, answer_chars)))]  # a not-found answer names what was searched
        if citations:
            elements.append({"tag": "hr"})
            elements += [citation_panel(c, answer.answer, quote_limit) for c in citations]
            hidden = len(answer.citations) - len(citations)
            if hidden:
                elements.append(_grey(f"另有 {hidden} 条引用未显示"))
        elements.append(_grey(footer_text(answer)))
        elements.append(_feedback_row(answer, conversation, voted))
        return _card(title, elements, subtitle=answer.question, summary=body)

    return fit_card(build, list(answer.citations))


def fit_card(
    build: Callable[[int, int, list[Citation]], dict[str, Any]], citations: list[Citation]
) -> dict[str, Any]:
    """Shorter quotes first, then fewer citations, then a shorter answer, until under MAX_CARD_BYTES."""
    for limit in QUOTE_LIMITS:
        card = build(limit, MAX_ANSWER_CHARS, citations)
        if card_bytes(card) <= MAX_CARD_BYTES:
            return card
    shown = list(citations)
    while shown:
        shown.pop()
        card = build(QUOTE_LIMITS[-1], MAX_ANSWER_CHARS, shown)
        if card_bytes(card) <= MAX_CARD_BYTES:
            return card
    chars = MAX_ANSWER_CHARS
    while chars > 200:
        chars //= 2
        card = build(QUOTE_LIMITS[-1], chars, [])
        if card_bytes(card) <= MAX_CARD_BYTES:
            return card
    return card


def searching_card(question: str, what: str = "正在检索研报…") -> dict[str, Any]:
    return _card("研报问答", [_markdown(f"🔍 {escape(what)}")], subtitle=question, summary=what)


ANSWER_ELEMENT = "answer"  # the element_id a CardKit streaming card types the answer into


def streaming_entity_card(question: str, text: str, title: str = "研报问答") -> dict[str, Any]:
    """A CardKit card in streaming mode: one markdown element (ANSWER_ELEMENT) whose text Feishu
    types out as it grows; the chat list shows "生成中…" until streaming is turned off."""
    card = _card(title, [_markdown(text or "…")], subtitle=question)
    card["body"]["elements"][0]["element_id"] = ANSWER_ELEMENT
    card["config"].update(
        {
            "streaming_mode": True,
            "summary": {"content": "[生成中…]"},
            "streaming_config": {
                "print_frequency_ms": {"default": 30},
                "print_step": {"default": 2},
                "print_strategy": "fast",
            },
        }
    )
    return card


def streaming_card(question: str, text: str) -> dict[str, Any]:
    """An answer being written by the LLM: the text so far and a cursor, no buttons yet."""
    shown = escape(clip(text, MAX_ANSWER_CHARS)) + CURSOR
    return _card("研报问答", [_markdown(shown), _grey("正在生成…")], subtitle=question, summary=text)


def notice_card(title: str, text: str, *, template: str = "blue", note: str = "") -> dict[str, Any]:
    """A plain message as a card: help, refusals, errors, command results. `text` is markdown."""
    elements = [_markdown(text)]
    if note:
        elements.append(_grey(escape(note)))
    card = _card(title, elements, template=template, summary=title)
    while card_bytes(card) > MAX_CARD_BYTES and len(text) > 200:
        text = clip(text, len(text) // 2)
        elements[0] = _markdown(text)
        card = _card(title, elements, template=template, summary=title)
    return card


def report_line(report: Report) -> str:
    parts = [escape(report.title or report.id), *(escape(p) for p in (report.broker, report.date) if p)]
    return " · ".join(parts)


def reports_card(reports: list[Report], limit: int = 40) -> dict[str, Any]:
    if not reports:
        return notice_card(
            "已索引的研报", "还没有索引任何研报。管理员可以发送 PDF/DOCX/HTML/TXT 文件给我，或使用 /reindex。"
        )
    newest = sorted(reports, key=lambda r: r.date or "", reverse=True)
    lines = [f"{i}. {report_line(r)}（{r.chunks} 段）" for i, r in enumerate(newest[:limit], 1)]
    if len(newest) > limit:
        lines.append(f"…另有 {len(newest) - limit} 篇")
    return notice_card(f"已索引的研报（{len(reports)} 篇）", "\n".join(lines))


def summary_text(summary: IndexSummary) -> str:
    text = (
        f"新增 {summary.added} · 更新 {summary.updated} · 未变 {summary.unchanged} · "
        f"移除 {summary.removed} · 写入 {summary.chunks} 段"
    )
    if summary.failed:
        failures = "\n".join(f"- {escape(f.path)}: {escape(f.error)}" for f in summary.failed[:10])
        text += f"\n\n失败 {len(summary.failed)} 个：\n{failures}"
    return text


def indexed_file_card(name: str, summary: IndexSummary) -> dict[str, Any]:
    """The reply to an uploaded file: what was indexed, or the exact reason it was not."""
    if summary.failed:
        return notice_card(
            "未能索引这个文件", f"**{escape(name)}**\n{escape(summary.failed[0].error)}", template="red"
        )
    if not summary.reports:
        return notice_card("文件已在索引中", f"**{escape(name)}** 内容未变，无需重新索引。", template="grey")
    lines = []
    for report in summary.reports:
        lines.append(
            f"**{escape(report.title or report.id)}**\n"
            f"券商：{escape(report.broker or '未识别')} · 日期：{escape(report.date or '未识别')} · {report.chunks} 段"
        )
    return notice_card(
        f"已索引：{name}", "\n\n".join(lines), template="green", note="现在可以就这篇研报提问了。"
    )


TEMPLATES = {"info": "blue", "success": "green", "warning": "orange", "refused": "orange", "error": "red"}


def render_reply(reply: Reply, *, conversation: str | None = None) -> dict[str, Any]:
    """The card for any Reply of the command layer (bot/dispatch.py), in Chinese."""
    title = reply.title("zh") if reply.title else "yanbao"
    if reply.kind == "answer" and reply.answer is not None:
        return answer_card(reply.answer, conversation=conversation, title=title)
    if reply.kind == "reports":
        return reports_card(reply.reports)
    if reply.kind == "indexed" and reply.summary is not None:
        if reply.file_name:
            return indexed_file_card(reply.file_name, reply.summary)
        return notice_card(
            "索引已更新", summary_text(reply.summary), template="red" if reply.summary.failed else "green"
        )
    text = reply.text("zh") if reply.text else ""
    return notice_card(title, escape(text), template=TEMPLATES.get(reply.tone, "blue"))
