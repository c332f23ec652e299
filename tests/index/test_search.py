"""Rankings on the real seeds: the right paragraph first, for English, simplified and traditional
questions, with broker filters and "latest" (issue 3)."""

from __future__ import annotations

from datetime import date

import pytest

from index.library import Library
from index.llama import YanbaoRetriever
from tests.helpers import make_settings, seed_paths

TODAY = date(2025, 1, 8)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    other = root / "other_broker_weekly.txt"
    # A newer weekly from another broker that also talks about edge compute and IDC.
    other.write_text(
        "【国盛计算机】周报(20241223-20241229)：端侧AI与IDC共振\n\n"
        "(来源:国盛证券研究所)\n\n"
        "投资建议：建议关注：边缘算力：移远通信、美格智能；IDC：奥飞数据、数据港。\n\n"
        "行情回顾：本周申万计算机指数跌1.86%，沪深300涨1.35%。\n\n"
        "报告发布日期：2024年12月29日\n",
        encoding="utf-8",
    )
    library = Library(make_settings(root))
    summary = library.index([*seed_paths(), other], progress=False)
    assert summary.added == 3
    return library


def top(library: Library, question: str, **options) -> str:
    result = library.search(question, k=5, today=TODAY, **options)
    assert result.hits, question
    return result.hits[0].chunk.text


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Which stocks does Shanxi recommend for edge compute?", "字節邊緣算力:樂鑫科技泰凌微廣和通中科創達"),
        ("山证推荐哪些IDC标的", "字節IDC基建:潤澤科技"),
        ("山證建議關注哪些海外AEC標的?", "海外AEC:新易盛"),
        ("豆包11月月活?", "5998萬"),
        ("How much did the Shenwan telecom index rise?", "申萬通信指數漲4.27%"),
        ("美债收益率上周五收于多少", "4.6%"),
    ],
)
def test_the_right_paragraph_ranks_first(library, question, expected):
    assert expected in top(library, question, broker=None)


def test_a_figure_mentioned_in_two_paragraphs_is_in_the_top_three(library):
    # two paragraphs of seed 004 speak of GB300 and HBM capacity; the one with 288GB must be near the top
    result = library.search("What is the HBM capacity of the new Nvidia GPU?", k=3, today=TODAY)
    assert any("288GB" in h.chunk.text for h in result.hits)


def test_a_broker_filtered_question_never_returns_another_brokers_paragraph(library):
    for question in ("Shanxi edge compute picks", "山证 IDC 建议关注", "山西證券 行情"):
        result = library.search(question, k=8, today=TODAY)
        assert result.plan.broker == "山西证券"
        assert result.hits and {h.report.broker for h in result.hits} == {"山西证券"}
    result = library.search("国盛 边缘算力 建议关注", k=8, today=TODAY)
    assert {h.report.broker for h in result.hits} == {"国盛证券"}
    assert "移远通信" in result.hits[0].chunk.text


def test_latest_weekly_prefers_the_newest_weekly(library):
    result = library.search("latest weekly: which IDC stocks are recommended?", k=5, today=TODAY)
    assert result.hits[0].report.broker == "国盛证券"  # 2024-12-29 is newer than Shanxi's 2024-12-25
    assert "奥飞数据" in result.hits[0].chunk.text


def test_explicit_dates_filter_and_hits_carry_each_retrievers_scores(library):
    result = library.search("IDC 建议关注", k=5, since="2024-12-28", until="2024-12-31", today=TODAY)
    # only the notes of 2024-12-29 (国盛) and 2024-12-30 (seed 004, no broker); never Shanxi's of 12-25
    assert result.hits and {h.report.date for h in result.hits} <= {"2024-12-29", "2024-12-30"}
    assert result.hits[0].report.broker == "国盛证券"
    assert "bm25" in result.hits[0].scores and "fused" in result.hits[0].scores


def test_a_repeated_paragraph_appears_once(library):
    result = library.search("市場整體 申萬通信指數 滬深300 創業板指數", k=8, today=TODAY)
    texts = [h.chunk.text for h in result.hits]
    assert sum("申萬通信指數漲4.27%" in t for t in texts) == 1


def test_llama_index_retriever_returns_nodes_with_report_metadata(library):
    nodes = YanbaoRetriever(library, k=3).retrieve("Which stocks does Shanxi recommend for edge compute?")
    assert nodes and "泰凌微" in nodes[0].node.get_content()
    assert nodes[0].node.metadata["broker"] == "山西证券"
    assert nodes[0].node.metadata["date"] == "2024-12-25"
