"""Rankings on the fixture notes: the right paragraph first, for English, simplified and traditional
questions; a broker, a date or "latest" read from the question re-rank, explicit filters exclude."""

from __future__ import annotations

from datetime import date

import pytest

from index.library import Library
from index.llama import YanbaoRetriever
from tests.helpers import make_settings, note_paths

TODAY = date(2025, 1, 21)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    other = root / "other_broker_weekly.txt"
    # A newer weekly from another broker that also talks about on-device AI chips and memory.
    other.write_text(
        "【国盛电子】周报(20250113-20250119)：端侧AI与存储共振\n\n"
        "(来源:国盛证券研究所)\n\n"
        "投资建议：建议关注：端侧AI芯片：乐鑫科技、中科蓝讯；存储：德明利、普冉股份。\n\n"
        "行情回顾：本周申万电子指数涨2.35%，沪深300涨0.78%。\n\n"
        "报告发布日期：2025年1月19日\n",
        encoding="utf-8",
    )
    library = Library(make_settings(root))
    summary = library.index([*note_paths(), other], progress=False)
    assert summary.added == 3
    return library


def top(library: Library, question: str, **options) -> str:
    result = library.search(question, k=5, today=TODAY, **options)
    assert result.hits, question
    return result.hits[0].chunk.text


@pytest.mark.parametrize(
    "question, expected",
    [
        (
            "Which stocks does Zhongtai recommend for on-device AI chips?",
            "端側AI芯片:恒玄科技晶晨股份瑞芯微全志科技",
        ),
        ("中泰推荐哪些存储标的", "存儲:兆易創新江波龍佰維存儲"),
        ("中泰建議關注哪些AI眼鏡供應鏈標的?", "AI眼鏡供應鏈:歌爾股份"),
        ("CES参展厂商有多少家?", "4100家"),
        ("How much did the Shenwan electronics index fall?", "申萬電子指數跌1.86%"),
        ("10Y美债收益率上行至多少", "4.7%"),
    ],
)
def test_the_right_paragraph_ranks_first(library, question, expected):
    assert expected in top(library, question, broker=None)


def test_a_figure_mentioned_in_two_paragraphs_is_in_the_top_three(library):
    # four paragraphs of the strategy note speak of advanced packaging; the one with 420亿元 must be near the top
    result = library.search("国内先进封装设备的市场规模有多大?", k=3, today=TODAY)
    assert any("420亿元" in h.chunk.text for h in result.hits)


def test_a_broker_named_in_the_question_ranks_its_notes_first_without_excluding_others(library):
    # the broker read from a question is a prior: its paragraphs first, other notes still searched
    for question in ("Zhongtai on-device AI chip picks", "中泰 存储 建议关注", "中泰證券 存儲價格"):
        result = library.search(question, k=8, today=TODAY)
        assert result.plan.broker == "中泰证券"
        assert result.hits[0].report.broker == "中泰证券", question
        assert result.reports and len(result.reports) == 3  # nothing was filtered out
    result = library.search("国盛 端侧AI芯片 建议关注", k=8, today=TODAY)
    assert result.hits[0].report.broker == "国盛证券"
    assert "乐鑫科技" in result.hits[0].chunk.text


def test_an_explicit_broker_filter_never_returns_another_brokers_paragraph(library):
    result = library.search("端侧AI芯片 建议关注", k=8, broker="国盛", today=TODAY)
    assert result.hits and {h.report.broker for h in result.hits} == {"国盛证券"}


def test_a_broker_named_for_a_note_without_broker_metadata_still_finds_it(library):
    # the strategy fixture names no broker: asking for one must not hide its paragraphs
    result = library.search("华泰 国内先进封装设备的市场规模有多大?", k=5, today=TODAY)
    assert result.plan.broker == "华泰证券"
    assert any("420亿元" in h.chunk.text for h in result.hits)


def test_a_year_in_the_question_is_a_preference_not_a_filter(library):
    # "2026年" dates no indexed note: the paragraph about the figure is still found
    result = library.search("2026年国内先进封装设备的市场规模有多大?", k=5, today=TODAY)
    assert any("420亿元" in h.chunk.text for h in result.hits)


def test_latest_weekly_prefers_the_newest_weekly(library):
    result = library.search("latest weekly: which memory stocks are recommended?", k=5, today=TODAY)
    assert result.hits[0].report.broker == "国盛证券"  # 2025-01-19 is newer than Zhongtai's 2025-01-13
    assert "德明利" in result.hits[0].chunk.text


def test_explicit_dates_filter_and_hits_carry_each_retrievers_scores(library):
    result = library.search("存储 建议关注", k=5, since="2025-01-14", until="2025-01-20", today=TODAY)
    # only 国盛's note of 2025-01-19 (week 01-13..19); never Zhongtai's of 01-13 (week 01-06..12)
    assert result.hits and {h.report.date for h in result.hits} == {"2025-01-19"}
    assert result.hits[0].report.broker == "国盛证券"
    assert "bm25" in result.hits[0].scores and "fused" in result.hits[0].scores


def test_a_repeated_paragraph_appears_once(library):
    result = library.search("市場整體 申萬電子指數 滬深300 創業板指數", k=8, today=TODAY)
    texts = [h.chunk.text for h in result.hits]
    assert sum("申萬電子指數跌1.86%" in t for t in texts) == 1


def test_llama_index_retriever_returns_nodes_with_report_metadata(library):
    nodes = YanbaoRetriever(library, k=3).retrieve(
        "Which stocks does Zhongtai recommend for on-device AI chips?"
    )
    assert nodes and "晶晨股份" in nodes[0].node.get_content()
    assert nodes[0].node.metadata["broker"] == "中泰证券"
    assert nodes[0].node.metadata["date"] == "2025-01-13"


def test_hits_carry_the_sentences_that_answer(library):
    # one index call: the plan, the ranked hits, and per hit the sentences that support the question
    result = library.search("DDR4 8Gb颗粒现货均价是多少?", k=5, today=TODAY)
    assert result.plan.wants_figure and result.concepts
    best = result.hits[0].evidence[0]
    assert "1.42美元" in best.text and best.figure and best.support >= 0.6
    assert "NAND" in best.text  # the whole statement, not cut at its ；
