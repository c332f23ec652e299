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
    TRADITIONAL_SEED,
    recommendation_paragraph,
    seed_lines,
    write_note,
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


def test_seed_000s_long_paragraph_splits_between_sentences(tmp_path):
    cleaned, chunks = chunks_of(TRADITIONAL_SEED)
    paragraph = next(p.text for p in cleaned.paragraphs if p.text.startswith("根據36氪報道"))
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


def test_seed_000s_recommendation_paragraph_is_one_chunk():
    _, chunks = chunks_of(TRADITIONAL_SEED)
    paragraph = recommendation_paragraph()
    matching = [c for c in chunks if "字節邊緣算力" in c.text]
    assert len(matching) == 1
    assert matching[0].text == paragraph
    assert matching[0].section == "建議關注"


@pytest.mark.parametrize("seed", [TRADITIONAL_SEED, SIMPLIFIED_SEED], ids=["traditional", "simplified"])
def test_every_chunk_is_report_text_as_written(seed):
    cleaned, chunks = chunks_of(seed)
    kept = "\n".join(p.text for p in cleaned.paragraphs)
    raw_lines = seed_lines(seed)
    assert chunks
    for chunk in chunks:
        # a piece of one paragraph, or consecutive whole paragraphs joined by "\n"
        assert chunk.text in kept, chunk.text[:60]
        for line in chunk.text.split("\n"):
            assert any(line in raw for raw in raw_lines), line[:60]


@pytest.mark.parametrize("seed", [TRADITIONAL_SEED, SIMPLIFIED_SEED], ids=["traditional", "simplified"])
def test_chunks_cover_every_content_paragraph_once_in_order(seed):
    cleaned, chunks = chunks_of(seed)
    content = [p.text for p in cleaned.paragraphs if p.kind != "heading"]  # headings become sections
    assert "".join(c.text.replace("\n", "") for c in chunks) == "".join(content)


def test_headings_are_sections_not_chunks():
    cleaned, chunks = chunks_of(SIMPLIFIED_SEED)
    assert "美国市场" not in [c.text for c in chunks]
    sections = {c.section for c in chunks}
    assert "【北美AI产业】——从英伟达GB300看，北美推理端逻辑继续增强".replace("，", ",") in sections
