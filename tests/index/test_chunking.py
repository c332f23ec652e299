"""Chunk boundaries: paragraphs as written, long ones split between Chinese sentences, short ones
merged within their section but never across a heading."""

from __future__ import annotations

import pytest

from index.chunking import chunk_paragraphs
from index.clean import clean_reprint_boilerplate
from index.readers import read_document
from index.text import sentences as split_sentences
from tests.helpers import (
    SIMPLIFIED_SEED,
    STRATEGY_NOTE,
    TRADITIONAL_SEED,
    WEEKLY_NOTE,
    needs_shared,
    note_lines,
    recommendation_paragraph,
    write_note,
)

ALL_NOTES = pytest.mark.parametrize(
    "note",
    [
        WEEKLY_NOTE,
        STRATEGY_NOTE,
        pytest.param(TRADITIONAL_SEED, marks=needs_shared),
        pytest.param(SIMPLIFIED_SEED, marks=needs_shared),
    ],
    ids=["weekly", "strategy", "seed-traditional", "seed-simplified"],
)

SENTENCE_ENDS = tuple("。！？；!?;")
# closing quotes and brackets may follow a sentence end
CLOSERS = "”」』\"')）"


def chunks_of(path):
    document = read_document(path)
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    return cleaned, chunk_paragraphs(cleaned.paragraphs)


def ends_a_sentence(text: str) -> bool:
    return text.rstrip().rstrip(CLOSERS).endswith(SENTENCE_ENDS)


def long_paragraph() -> str:
    sentences = [
        f"第{n}条：字节跳动资本开支持续提升，带动服务器、交换机与光模块需求增长{ending}"
        for n, ending in zip(range(1, 25), "。！？；" * 6, strict=True)
    ]
    text = "".join(sentences)
    assert len(text) > 500
    return text


def test_a_long_paragraph_splits_between_sentences_only(tmp_path):
    paragraph = long_paragraph()
    note = write_note(tmp_path / "long.txt", ["一、行业动向", paragraph])
    _, chunks = chunks_of(note)
    assert len(chunks) >= 2
    assert "".join(c.text for c in chunks) == paragraph  # nothing lost, nothing added, in order
    sentences = set(split_sentences(paragraph))
    for chunk in chunks:
        assert ends_a_sentence(chunk.text), f"cut mid-sentence: …{chunk.text[-20:]}"
        assert set(split_sentences(chunk.text)) <= sentences
        assert chunk.section == "一、行业动向"
        assert len(chunk.text) <= 500


def test_the_weeklys_long_paragraph_splits_between_sentences(tmp_path):
    cleaned, chunks = chunks_of(WEEKLY_NOTE)
    paragraph = next(p.text for p in cleaned.paragraphs if p.text.startswith("據展會主辦方統計"))
    assert len(paragraph) > 500
    pieces = [c.text for c in chunks if c.text in paragraph]
    assert len(pieces) >= 2
    assert "".join(pieces) == paragraph
    for piece in pieces:
        assert ends_a_sentence(piece), f"cut mid-sentence: …{piece[-20:]}"


def test_short_paragraphs_merge_within_a_section_never_across_a_heading(tmp_path):
    first = [
        "本周申万通信指数上涨4.27%，科创板指数上涨2.17%。",
        "物联网、设备商与IDC三个板块的周涨幅位居前三。",
    ]
    second = [
        "建议关注光模块龙头中际旭创与新易盛的订单弹性。",
        "同时关注IDC基建环节润泽科技与光环新网的扩张。",
    ]
    note = write_note(tmp_path / "short.txt", ["一、市场回顾", *first, "二、投资建议", *second])
    _, chunks = chunks_of(note)
    assert [(c.section, c.text) for c in chunks] == [
        ("一、市场回顾", "\n".join(first)),
        ("二、投资建议", "\n".join(second)),
    ]


def test_short_one_sentence_paragraphs_are_indexed_not_taken_for_headings(tmp_path):
    note = write_note(
        tmp_path / "short.txt",
        [
            "一、市场回顾",
            "本周通信指数上涨4.27%。",
            "物联网板块表现领先。",
            "二、投资建议",
            "关注光模块龙头。",
            "关注IDC基建。",
        ],
    )
    _, chunks = chunks_of(note)
    assert [(c.section, c.text) for c in chunks] == [
        ("一、市场回顾", "本周通信指数上涨4.27%。\n物联网板块表现领先。"),
        ("二、投资建议", "关注光模块龙头。\n关注IDC基建。"),
    ]


def test_the_weeklys_recommendation_paragraph_is_one_chunk():
    _, chunks = chunks_of(WEEKLY_NOTE)
    paragraph = recommendation_paragraph()
    matching = [c for c in chunks if "AI眼鏡供應鏈:" in c.text]
    assert len(matching) == 1
    assert matching[0].text == paragraph
    assert matching[0].section == "建議關注"


@ALL_NOTES
def test_every_chunk_is_report_text_as_written(note):
    cleaned, chunks = chunks_of(note)
    kept = "\n".join(p.text for p in cleaned.paragraphs)
    raw_lines = note_lines(note)
    assert chunks
    for chunk in chunks:
        # a piece of one paragraph, or consecutive whole paragraphs joined by "\n"
        assert chunk.text in kept, chunk.text[:60]
        for line in chunk.text.split("\n"):
            assert any(line in raw for raw in raw_lines), line[:60]


@ALL_NOTES
def test_chunks_cover_every_content_paragraph_once_in_order(note):
    cleaned, chunks = chunks_of(note)
    content = [p.text for p in cleaned.paragraphs if p.kind != "heading"]  # headings become sections
    assert "".join(c.text.replace("\n", "") for c in chunks) == "".join(content)


def test_headings_are_sections_not_chunks():
    cleaned, chunks = chunks_of(STRATEGY_NOTE)
    assert "美国市场" not in [c.text for c in chunks]
    sections = {c.section for c in chunks}
    assert "【半导体产业】——先进封装产能紧缺,国产设备迎来验证窗口" in sections
