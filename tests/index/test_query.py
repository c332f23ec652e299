"""parse_query with a fixed today: brokers, dates, recency, companies, sectors, list questions."""

from __future__ import annotations

import datetime as dt

import pytest

from index.query import detect_language, parse_query

TODAY = dt.date(2025, 1, 10)  # a Friday


def plan(question: str):
    return parse_query(question, TODAY)


def test_english_question_about_the_traditional_seed() -> None:
    p = plan("Which stocks does Shanxi recommend for edge compute?")
    assert p.language == "en"
    assert p.broker == "山西证券"
    assert {"边缘算力", "边缘计算", "建议关注"} <= set(p.terms)
    assert p.sectors == ["边缘算力"]
    assert p.wants_list
    assert (p.since, p.until, p.prefer_latest, p.kind) == (None, None, False, None)
    assert p.question == "Which stocks does Shanxi recommend for edge compute?"


def test_simplified_broker_short_name() -> None:
    p = plan("山证推荐哪些IDC标的")
    assert (p.language, p.broker, p.wants_list) == ("zh-Hans", "山西证券", True)
    assert "IDC" in p.sectors
    assert {"数据中心", "建议关注"} <= set(p.terms)


@pytest.mark.parametrize(
    "question, broker",
    [
        ("山西證券最新周報", "山西证券"),
        ("【山證通信】周跟蹤 建議關注哪些?", "山西证券"),
        ("What does Shanxi Securities say?", "山西证券"),
        ("How much did the Shenwan telecom index rise?", None),
        ("国盛计算机周报中申万计算机指数跌了多少?", "国盛证券"),
        ("Which high-dividend stocks does Everbright recommend?", "光大证券"),
    ],
)
def test_broker(question: str, broker: str | None) -> None:
    assert plan(question).broker == broker


def test_language() -> None:
    assert detect_language("豆包11月月活?") == "zh-Hans"
    assert detect_language("字節邊緣算力推薦哪些公司?") == "zh-Hant"
    assert detect_language("Which stocks does 山证 recommend?") == "en"
    assert detect_language("华为昇腾的份额") == "zh-Hans"  # 昇 is simplified too


@pytest.mark.parametrize(
    "question, since, until",
    [
        ("week of Dec 16", "2024-12-16", "2024-12-22"),
        ("How did ChiNext do in the week of December 18?", "2024-12-16", "2024-12-22"),
        ("the week of 2024-12-16", "2024-12-16", "2024-12-22"),
        ("12月16日那周的周报", "2024-12-16", "2024-12-22"),
        ("2024年12月的研报", "2024-12-01", "2024-12-31"),
        ("notes from December 2024", "2024-12-01", "2024-12-31"),
        ("Dec 2024 weekly", "2024-12-01", "2024-12-31"),
        ("reports in 2024-12", "2024-12-01", "2024-12-31"),
        ("12月16日申万通信指数涨多少", "2024-12-16", "2024-12-16"),
        ("since 2024-12-01", "2024-12-01", None),
        ("after 2024-12-20", "2024-12-21", None),
        ("before Dec 20", None, "2024-12-19"),
        ("from Dec 16 to Dec 20", "2024-12-16", "2024-12-20"),
        ("12月16日至12月20日", "2024-12-16", "2024-12-20"),
        ("12月以来的报告", "2024-12-01", None),
        ("Which stocks did Shanxi recommend in 2024?", "2024-01-01", "2024-12-31"),
        ("今年的研报", "2025-01-01", "2025-12-31"),
        ("本月的周报", "2025-01-01", "2025-01-31"),
        ("上周的周报", "2024-12-30", "2025-01-05"),
        ("last week's weekly", "2024-12-30", "2025-01-05"),
        ("last month", "2024-12-01", "2024-12-31"),
        ("近两周", "2024-12-27", "2025-01-10"),
    ],
)
def test_dates(question: str, since: str | None, until: str | None) -> None:
    p = plan(question)
    assert (p.since, p.until) == (since, until)


@pytest.mark.parametrize(
    "question",
    [
        "豆包11月月活?",  # November is the month of the figure, not of the note
        "字节跳动2025年资本开支预计多少?",
        "What capex does ByteDance plan in 2025?",
        "How much did southbound funds net buy in 2024?",
        "What was Doubao's MAU in November?",
        "展望2025-2026,AI训练的scalinglaw",
    ],
)
def test_years_and_months_of_figures_are_not_filters(question: str) -> None:
    p = plan(question)
    assert (p.since, p.until) == (None, None)


def test_day_without_year_is_the_most_recent_one() -> None:
    assert plan("Dec 16").since == "2024-12-16"
    assert plan("Jan 8").since == "2025-01-08"
    assert plan("Jan 20").since == "2024-01-20"  # not after today


@pytest.mark.parametrize(
    "question, latest, kind",
    [
        ("What's in the latest weekly?", True, "weekly"),
        ("最新周报推荐了哪些信创标的?", True, "weekly"),
        ("最近有什么研报", True, None),
        ("本周申万通信指数涨幅", True, None),
        ("山證周跟蹤", False, "weekly"),
        ("What did the strategy note say?", False, None),
    ],
)
def test_recency_and_kind(question: str, latest: bool, kind: str | None) -> None:
    p = plan(question)
    assert (p.prefer_latest, p.kind) == (latest, kind)


def test_companies_and_entity_linking() -> None:
    p = plan("What does ZTE's rally mean for Innolight?")
    assert p.companies == ["中兴通讯", "中际旭创"]
    assert {"中兴通讯", "中际旭创"} <= set(p.terms)
    p = plan("博创科技周涨幅是多少?")
    assert p.companies == ["长芯博创"]  # today's name; the note's name is already in the question
    assert "长芯博创" in p.terms
    p = plan("EverProX target price")
    assert "博创科技" in p.terms and "目标价" in p.terms


def test_names_inside_names_are_not_topics() -> None:
    p = plan("山西证券的观点")
    assert p.companies == [] and p.sectors == []  # 山西证券 here is the broker; 证券 is not the sector
    p = plan("China Merchants Bank view")
    assert p.companies == ["招商银行"] and "银行" not in p.sectors


def test_not_found_questions_are_still_understood() -> None:
    p = plan("Which bank stocks does Shanxi recommend?")
    assert (p.broker, p.sectors, p.wants_list) == ("山西证券", ["银行"], True)
    assert plan("山证对白酒板块怎么看?").sectors == ["白酒"]


def test_list_questions() -> None:
    assert plan("跌幅居前的个股有哪些?").wants_list
    assert plan("Which telecom stocks were the top gainers?").wants_list
    assert not plan("豆包11月月活?").wants_list
    assert not plan("How much did the Shenwan telecom index rise that week?").wants_list


@pytest.mark.parametrize(
    "wrapped, plain",
    [
        ("山证推荐哪些IDC标的？谢谢", "山证推荐哪些IDC标的？"),
        ("麻烦问下，豆包11月月活多少？请引用原文", "豆包11月月活多少？"),
        ("你好，字节跳动2025年资本开支预计多少？麻烦了", "字节跳动2025年资本开支预计多少？"),
        ("请引用原文：A股1月需要防范什么?", "A股1月需要防范什么?"),
        (
            "Which stocks does Shanxi recommend for edge compute? Please cite the source, thanks!",
            "Which stocks does Shanxi recommend for edge compute?",
        ),
        ("Hi, where did the 10-year yield close? Thanks.", "where did the 10-year yield close?"),
    ],
)
def test_courtesy_words_are_not_the_question(wrapped: str, plain: str) -> None:
    p = plan(wrapped)
    assert p.question == plain and p.asked == wrapped
    q = parse_query(plain, TODAY)
    assert (p.broker, p.terms, p.companies, p.wants_list, p.wants_figure) == (
        q.broker,
        q.terms,
        q.companies,
        q.wants_list,
        q.wants_figure,
    )


def test_a_question_made_only_of_thanks_stays_as_asked() -> None:
    assert plan("谢谢!").question == "谢谢!"


@pytest.mark.parametrize(
    "question, figure, listing",
    [
        ("豆包11月月活多少?", True, False),
        ("Where did the 10-year Treasury yield close last Friday?", True, False),
        ("通信行业涨幅前十的标的重合度是多少?", True, False),  # a figure about stocks, not a list
        ("哪些标的涨幅超过20%?", False, True),
        ("国盛计算机周报里涨幅居前的个股?", False, True),
        ("How does West Securities view DeepSeek?", False, False),
    ],
)
def test_what_kind_of_answer_a_question_wants(question: str, figure: bool, listing: bool) -> None:
    p = plan(question)
    assert (p.wants_figure, p.wants_list) == (figure, listing)
