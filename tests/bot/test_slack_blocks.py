"""Block Kit rendering of Answers: Slack's limits hold, the cited clause stays in the quote."""

from __future__ import annotations

import json

from bot.answer import Answer, Citation
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_VALUE,
    MAX_SECTION_CHARS,
    answer_text_from_blocks,
    quote_around,
    quotes_from_blocks,
    render_answer,
    split_for_sections,
)
from tests.helpers import WEEKLY_NOTE


def long_paragraphs() -> list[str]:
    text = WEEKLY_NOTE.read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n") if len(p.strip()) > 300]


def citation(n: int, text: str, title: str = "【中泰電子】周跟蹤(20250106-20250112)") -> Citation:
    return Citation(
        n=n,
        report_id=f"r{n}",
        title=title,
        broker="中泰证券",
        date="2025-01-13",
        source="/notes/000.txt",
        paragraph=n,
        text=text,
    )


def test_quote_keeps_the_cited_clause_of_a_long_paragraph():
    paragraph = max(long_paragraphs(), key=len)
    clause = "我們預計2025年全球AI PC出貨量有望達到1.1億台"
    assert len(paragraph) > 400 and "1.1億台" in paragraph
    quote = quote_around(paragraph, clause, limit=200)
    assert "1.1億台" in quote
    assert len(quote) <= 202
    assert quote.startswith("…") or paragraph.startswith(quote.rstrip("…")[:20])


def test_quote_of_a_short_paragraph_is_the_whole_paragraph():
    assert quote_around("短段落。", "无关") == "短段落。"


def test_answer_renders_sections_citations_footer_and_buttons():
    paragraph = max(long_paragraphs(), key=len)
    answer = Answer(
        question="今年AI PC出货量预计多少？",
        answer="2025年全球AI PC出貨量有望達到1.1億台。[1]",
        mode="llm",
        found=True,
        model="qwen-plus",
        citations=[citation(1, paragraph)],
    )
    text, blocks = render_answer(answer, conversation="slack:C1:1.0")
    assert "1.1億台" in text
    kinds = [b["type"] for b in blocks]
    assert kinds == ["section", "divider", "context", "context", "actions"]
    cite = blocks[2]["elements"][0]["text"]
    assert "【中泰電子】周跟蹤" in cite and "中泰证券" in cite and "2025-01-13" in cite and "1.1億台" in cite
    assert "qwen-plus" in blocks[3]["elements"][0]["text"]
    buttons = blocks[4]["elements"]
    assert [b["text"]["text"][0] for b in buttons] == ["👍", "👎"]
    value = json.loads(buttons[0]["value"])
    assert value["q"] == answer.question and value["r"] == [[1, "r1", 1]] and value["c"] == "slack:C1:1.0"
    assert answer_text_from_blocks(blocks) == answer.answer
    assert "1.1億台" in quotes_from_blocks(blocks)[1]


def test_huge_answers_respect_slack_limits():
    paragraphs = long_paragraphs()
    long_text = "。".join(f"第{i}句很长的回答内容，重复以超过限制[{i % 60 + 1}]" for i in range(800))
    answer = Answer(
        question="问" * 5000,
        answer=long_text,
        mode="extractive",
        found=True,
        citations=[citation(i, paragraphs[i % len(paragraphs)] * 3, title="题" * 400) for i in range(1, 61)],
    )
    text, blocks = render_answer(answer, asked_by="U1", notes=["trimmed"])
    assert len(blocks) <= MAX_BLOCKS
    assert len(text) <= 3000
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                assert len(element["text"]) <= MAX_SECTION_CHARS
            if element.get("type") == "button":
                assert len(element["value"]) <= MAX_BUTTON_VALUE
    assert blocks[-1]["type"] == "actions"
    assert any("more:" in e.get("text", "") for b in blocks for e in b.get("elements", []))


def test_sections_split_at_sentence_breaks():
    text = "甲乙丙丁。" * 1000
    pieces = split_for_sections(text, 3000)
    assert all(len(p) <= 3000 for p in pieces)
    assert all(p.endswith("。") for p in pieces)
    assert "".join(pieces) == text


def test_markup_in_answers_is_escaped():
    answer = Answer(question="q", answer="A<B & C>D [1]", mode="extractive", found=True, citations=[])
    _, blocks = render_answer(answer)
    assert blocks[0]["text"]["text"] == "A&lt;B &amp; C&gt;D [1]"
