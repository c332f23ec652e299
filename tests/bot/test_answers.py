"""Answers with verified citations (issue 4): extractive on the fixture notes, LLM answers through a
real OpenAI-compatible server on 127.0.0.1, the weekly summary, and follow-up questions."""

# ruff: noqa: F811  (pytest fixtures imported by name)
from __future__ import annotations

from datetime import date

import pytest

from bot.answer import Citation
from bot.answering.verify import verify_answer
from bot.llm import LLMClient
from bot.service import Yanbao
from index.library import Library
from index.normalize import search_form
from tests.fakes.openai_server import Garbage, Hang, Reply, Status, Stream, openai_server  # noqa: F401
from tests.helpers import WEEKLY_FACTS, make_settings, note_paths

TODAY = date(2025, 1, 20)
EDGE = "Which stocks does Zhongtai recommend for on-device AI chips?"
EDGE_NAMES = ["恒玄科技", "晶晨股份", "瑞芯微", "全志科技"]
DRAM = "DDR4 8Gb颗粒现货均价是多少?"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("answers"))
    library = Library(settings)
    summary = library.index(note_paths(), progress=False)
    assert summary.added == 2
    return library


@pytest.fixture
def service(library, tmp_path):
    settings = library.settings.replace(home=tmp_path / "state-home")  # own history per test
    return Yanbao(settings, library=library)


def llm_service(library, tmp_path, server, **options) -> Yanbao:
    settings = library.settings.replace(home=tmp_path / "llm-home")
    client = LLMClient(server.url, "fake-model", timeout=options.pop("timeout", 2.0), backoff=0.01, **options)
    return Yanbao(settings, library=library, llm=client)


def folded(text: str) -> str:
    return search_form(text)


# ---- extractive, offline ------------------------------------------------------------------------


def test_on_device_chips_lists_exactly_the_four_names_citing_the_recommendation_paragraph(service):
    answer = service.ask(EDGE, today=TODAY)
    assert answer.found and answer.mode == "extractive"
    assert all(name in answer.answer for name in EDGE_NAMES)
    # no other recommended stock leaks in from the neighbouring lists
    for other in ("歌爾股份", "兆易創新", "滬電股份", "江波龍"):
        assert other not in answer.answer
    assert answer.citations[0].text.startswith("建議關注:")
    assert answer.citations[0].broker == "中泰证券" and answer.citations[0].date == WEEKLY_FACTS["date"]
    assert "[1]" in answer.answer


def test_a_spot_price_answer_keeps_the_number_with_its_unit(service):
    answer = service.ask(DRAM, today=TODAY)
    assert answer.found
    assert "1.42美元" in answer.answer
    assert "1.42美元" in answer.citations[0].text


def test_bank_stocks_are_not_in_the_notes(service):
    answer = service.ask("Which bank stocks does Zhongtai recommend?", today=TODAY)
    assert not answer.found
    assert answer.citations == []
    assert "do not cover" in answer.answer
    assert "周跟蹤" in answer.answer  # names the closest report(s)
    assert 1 <= len(answer.searched) <= 3


def test_courtesy_words_do_not_change_the_answer(service):
    for question in (EDGE, DRAM):
        plain = service.ask(question, today=TODAY)
        assert plain.found
        for wrapped in (
            f"{question} 谢谢",
            f"请引用原文：{question}",
            f"你好，{question}麻烦了",
            f"Hi, {question} Please cite the source, thanks!",
        ):
            answer = service.ask(wrapped, today=TODAY)
            assert answer.answer == plain.answer, wrapped
            assert [c.paragraph for c in answer.citations] == [c.paragraph for c in plain.citations]


def test_a_two_figure_statement_is_quoted_with_both_figures(service):
    # "…1.42美元,環比下跌0.7%…;NAND…2.86美元…": a ； joins the two figures of one statement
    answer = service.ask("DDR4颗粒和NAND晶圆的现货均价分别是多少?", today=TODAY)
    assert answer.found
    assert "1.42美元" in answer.answer and "2.86美元" in answer.answer


def test_a_broker_named_for_a_note_without_broker_metadata_is_still_answered(service):
    # the strategy note names no broker; a question naming one is answered from it, not refused
    answer = service.ask("华泰：2025年国内先进封装设备的市场规模有多大?", today=TODAY)
    assert answer.found and "420亿元" in answer.answer
    assert answer.citations[0].broker is None


def test_another_brokers_note_does_not_answer_for_the_broker_named(service):
    # only 中泰 recommends storage names: "国盛's picks" are not answered with 中泰's
    answer = service.ask("国盛推荐哪些存储标的?", today=TODAY)
    assert not answer.found
    assert "兆易創新" not in answer.answer


def test_broker_filter_never_cites_another_brokers_paragraph(service):
    answer = service.ask("中泰推荐哪些存储标的", today=TODAY)
    assert answer.found
    assert {c.broker for c in answer.citations} == {"中泰证券"}
    assert "兆易創新" in answer.answer


def test_every_answer_name_and_number_occurs_in_its_citation(service):
    for question in (EDGE, DRAM, "申万电子指数跌了多少?", "2025年全球AI PC出货量预计多少?"):
        answer = service.ask(question, today=TODAY)
        cited = folded(
            " ".join(c.text + (c.section or "") + c.title + (c.broker or "") for c in answer.citations)
        )
        for name, _, _ in service.library.lexicon.find_stocks(answer.answer):
            assert folded(name) in cited, (question, name)


def test_weekly_summarizes_the_zhongtai_weekly_with_its_recommendation_lists_cited(service):
    answer = service.weekly(broker="中泰")
    assert answer.found
    assert "中泰证券" in answer.answer
    assert "1.86%" in answer.answer  # the week's market move
    assert all(name in answer.answer for name in EDGE_NAMES)  # the recommendation lists
    assert any(c.text.startswith("建議關注:") for c in answer.citations)
    assert "風險提示" in answer.answer or "Risks" in answer.answer


def test_weekly_for_a_broker_without_weeklies_says_so(service):
    answer = service.weekly(broker="中信证券")
    assert not answer.found
    assert "No weekly note" in answer.answer


def test_follow_up_in_the_same_conversation_keeps_broker_and_report(service):
    first = service.ask(EDGE, conversation="test:thread-1", today=TODAY)
    assert first.found
    follow = service.ask("and for memory?", conversation="test:thread-1", today=TODAY)
    assert follow.found
    assert "兆易創新" in follow.answer and "江波龍" in follow.answer
    assert follow.citations[0].report_id == first.citations[0].report_id
    # a fresh conversation has no such context: the bare follow-up is not a recommendation question
    fresh = service.ask("and for memory?", conversation="test:thread-2", today=TODAY)
    assert "recommends" not in fresh.answer


def test_a_very_long_question_is_trimmed_with_a_note(service):
    answer = service.ask(DRAM + "。" * 12000, today=TODAY)
    assert answer.note and "trimmed" in answer.note


# ---- verification --------------------------------------------------------------------------------


def _citation(n: int, text: str) -> Citation:
    return Citation(n, "r1", "【中泰電子】周跟蹤", "中泰证券", "2025-01-13", "weekly", n, text)


def test_verification_drops_invented_markers_and_unsupported_names(library):
    citations = [_citation(1, "端側AI芯片:恒玄科技晶晨股份瑞芯微全志科技")]
    text = "Zhongtai recommends 恒玄科技 and 晶晨股份 [1]. It also likes 贵州茅台 [1]. See [7]."
    verified = verify_answer(text, citations, library.lexicon)
    assert "恒玄科技" in verified.text
    assert "贵州茅台" not in verified.text
    assert "[7]" not in verified.text
    assert any("贵州茅台" in d for d in verified.dropped) and "[7]" in verified.dropped


def test_verification_drops_numbers_the_citation_does_not_contain(library):
    citations = [_citation(1, "申萬電子指數跌1.86%")]
    verified = verify_answer(
        "The index fell 1.86% [1]. It fell 9.99% the week before [1].", citations, library.lexicon
    )
    assert "1.86%" in verified.text and "9.99" not in verified.text


# ---- LLM answers through a real OpenAI-compatible server -------------------------------------------


def test_llm_answer_non_streaming(library, tmp_path, openai_server):
    openai_server.responder = lambda req: (
        "中泰证券建议关注端侧AI芯片：恒玄科技、晶晨股份、瑞芯微、全志科技 [1]"
    )
    answer = llm_service(library, tmp_path, openai_server).ask(EDGE, today=TODAY)
    assert answer.mode == "llm" and answer.found and answer.model == "fake-model"
    assert "晶晨股份" in answer.answer
    assert answer.citations and "晶晨股份" in answer.citations[0].text
    prompt = openai_server.requests[-1].json["messages"][-1]["content"]
    assert "[1]" in prompt and "端側AI芯片" in prompt  # numbered context paragraphs, as written


def test_llm_answer_streaming_reports_partial_text(library, tmp_path, openai_server):
    openai_server.responder = lambda req: (
        Stream(["DDR4 8Gb颗粒", "现货均价为", "1.42美元 [1]"]) if req.get("stream") else "DDR4 [1]"
    )
    partial: list[str] = []
    answer = llm_service(library, tmp_path, openai_server).ask(DRAM, on_text=partial.append, today=TODAY)
    assert answer.mode == "llm" and "1.42美元" in answer.answer
    assert len(partial) >= 2 and partial[-1].endswith("[1]")


def test_llm_429_then_success(library, tmp_path, openai_server):
    openai_server.responder = lambda req: "DDR4 8Gb颗粒现货均价为1.42美元 [1]"
    openai_server.script([Status(429, retry_after=0)])
    answer = llm_service(library, tmp_path, openai_server).ask(DRAM, today=TODAY)
    assert answer.mode == "llm" and "1.42美元" in answer.answer


def test_llm_500_falls_back_to_extractive(library, tmp_path, openai_server):
    openai_server.responder = lambda req: Status(500)
    answer = llm_service(library, tmp_path, openai_server, max_retries=1).ask(EDGE, today=TODAY)
    assert answer.mode == "extractive" and answer.found
    assert answer.fallback and "unavailable" in answer.fallback.lower()
    assert all(name in answer.answer for name in EDGE_NAMES)


def test_llm_hang_past_the_timeout_falls_back(library, tmp_path, openai_server):
    openai_server.responder = lambda req: Hang(seconds=10)
    answer = llm_service(library, tmp_path, openai_server, timeout=1.0, max_retries=0).ask(EDGE, today=TODAY)
    assert answer.mode == "extractive" and answer.found and answer.fallback


def test_llm_garbage_falls_back(library, tmp_path, openai_server):
    openai_server.responder = lambda req: Garbage("<html>gateway</html>")
    answer = llm_service(library, tmp_path, openai_server, max_retries=0).ask(EDGE, today=TODAY)
    assert answer.mode == "extractive" and answer.found


def test_llm_citing_a_paragraph_it_was_not_given_is_cleaned(library, tmp_path, openai_server):
    def responder(req):
        prompt = req["messages"][-1]["content"]
        given = prompt.count("\n[")  # numbered paragraphs supplied
        return f"中泰证券建议关注恒玄科技、晶晨股份 [1]。另见 [{given + 3}]。"

    openai_server.responder = responder
    answer = llm_service(library, tmp_path, openai_server).ask(EDGE, today=TODAY)
    assert answer.mode == "llm"
    assert any(d.startswith("[") for d in answer.dropped)
    markers = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", answer.answer)}
    assert markers <= {c.n for c in answer.citations}


def test_llm_naming_a_stock_not_in_the_context_is_dropped(library, tmp_path, openai_server):
    openai_server.responder = lambda req: "中泰证券建议关注贵州茅台 [1]。"
    answer = llm_service(library, tmp_path, openai_server).ask(EDGE, today=TODAY)
    assert "贵州茅台" not in answer.answer
    # nothing supported was left: the extractive answer stands in, with the four real names
    assert answer.mode == "extractive" and all(name in answer.answer for name in EDGE_NAMES)


def test_llm_not_found_is_honest(library, tmp_path, openai_server):
    openai_server.responder = lambda req: "NOT_FOUND"
    answer = llm_service(library, tmp_path, openai_server).ask(EDGE, today=TODAY)
    assert not answer.found and answer.citations == []


def test_when_a_note_was_published_is_answered_from_its_publish_date(service):
    answer = service.ask("中泰证券这份电子周报是哪天发布的?", today=TODAY)
    assert answer.found and "2025年1月13日" in answer.answer
    assert answer.citations[0].date == "2025-01-13"
    english = service.ask("When was Zhongtai's electronics weekly published?", today=TODAY)
    assert english.found and "2025-01-13" in english.answer
