"""`/changes` and "what changed since last week?": the Shanxi telecom weeklies of 2025-01-13 and
2025-01-20 (tests/fixtures/, invented) differ in every way the command reports: names added to and
dropped from a list, a list new and one no longer given, the industry rating downgraded, a thesis
new and one gone, index figures and a shipment figure moved. Each line must cite the paragraph it
rests on, in the new note or the old one."""

# ruff: noqa: F811  (pytest fixtures imported by name)
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.answer import Answer, Citation
from bot.answering.changes import wants_changes
from bot.console import handle_line
from bot.llm import LLMClient
from bot.permissions import OPERATOR
from bot.service import Yanbao
from index.lexicon import Lexicon
from index.library import Library
from index.query import parse_query
from tests.fakes.openai_server import openai_server  # noqa: F401
from tests.helpers import FIXTURES, json_out, make_settings, run_yanbao, write_note

WEEK1 = FIXTURES / "shanxi_telecom_weekly_20250113.txt"
WEEK2 = FIXTURES / "shanxi_telecom_weekly_20250120.txt"
OLD_TITLE = "通信行业周跟踪(20250106-20250112)"
NEW_TITLE = "通信行业周跟踪(20250113-20250119)"


def week3_same_as_week2(folder: Path) -> Path:
    """The week after 2025-01-20, saying what 2025-01-20 said (only its dates differ)."""
    text = WEEK2.read_text(encoding="utf-8")
    for old, new in (
        ("20250113-20250119", "20250120-20250126"),
        ("2025年01月20日", "2025年01月27日"),
        ("2025年1月20日", "2025年1月27日"),
        ("2025.01.13-2025.01.17", "2025.01.20-2025.01.24"),
    ):
        text = text.replace(old, new)
    path = folder / "shanxi_telecom_weekly_20250127.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Yanbao:
    tmp = tmp_path_factory.mktemp("changes")
    yanbao = Yanbao(make_settings(tmp))
    folder = tmp / "reports"
    folder.mkdir()
    notes = [WEEK1, WEEK2]
    # a computer weekly of the same broker between the two: another series, never "the previous one"
    notes.append(
        write_note(
            folder / "shanxi_computer_weekly_20250116.txt",
            [
                "【山西证券】计算机行业周跟踪(20250110-20250116)：信创招标回暖",
                "报告发布日期：2025年1月16日 山西证券研究所",
                "投资建议：我们维持计算机行业“中性”评级。",
                "建议关注：信创：中国软件、太极股份。",
            ],
        )
    )
    summary = yanbao.reindex(notes, by=OPERATOR, prune=False)
    assert summary.ok and summary.added == 3
    return yanbao


def cited(answer: Answer, line_words: str) -> list[Citation]:
    """The citations of the answer line containing `line_words`."""
    line = next(line for line in answer.answer.splitlines() if line_words in line)
    by_n = {c.n: c for c in answer.citations}
    return [by_n[int(n)] for n in re.findall(r"\[(\d+)\]", line)]


def from_note(citations: list[Citation], title_part: str) -> list[Citation]:
    return [c for c in citations if title_part in c.title]


def test_changes_lists_each_change_citing_the_new_or_the_old_note(service):
    answer = service.changes("山证", "通信")
    assert answer.found and answer.mode == "extractive", answer.answer
    text = answer.answer

    # the picks: added and dropped within a list, a list new, a list no longer given
    line = next(line for line in text.splitlines() if "光模块" in line and "added" in line)
    added, dropped = line.split(";")
    assert "光迅科技" in added and "天孚通信" in dropped
    new_cite, dropped_cite = cited(answer, "added 光迅科技")  # one line, "added … [n]; dropped … [m]"
    assert NEW_TITLE in new_cite.title and "光迅科技" in new_cite.text
    assert OLD_TITLE in dropped_cite.title and "天孚通信" in dropped_cite.text
    assert all(NEW_TITLE in c.title for c in cited(answer, "new list 液冷"))
    assert "英维克" in text and "高澜股份" in text
    assert all(OLD_TITLE in c.title for c in cited(answer, "no longer listed 卫星互联网"))
    assert "中国卫通" in text and "海格通信" in text
    assert "运营商" not in text  # an unchanged list is not a change

    # the view: the industry rating, downgraded, cited in both notes
    rating = cited(answer, "industry rating")
    assert [OLD_TITLE in c.title for c in rating] == [True, False]
    assert "“看好”评级" in rating[0].text and "下调至“中性”" in rating[1].text
    assert re.search(r"看好 \[\d+\] → 中性 \[\d+\] \(downgraded\)", text)

    # the theses: one new, one gone
    assert all(NEW_TITLE in c.title for c in cited(answer, "new: 液冷"))
    assert all(OLD_TITLE in c.title for c in cited(answer, "no longer discussed: 卫星互联网"))
    assert "new: 光模块" not in text  # the same topic, another week

    # the figures: each moved figure as it was and as it is
    index_line = cited(answer, "申万通信指数上涨2.35%")
    assert [OLD_TITLE in c.title for c in index_line] == [True, False]
    assert "申万通信指数下跌1.48%" in next(
        line for line in text.splitlines() if "申万通信指数上涨2.35%" in line
    )
    assert "环比增长35%" in text and "环比增长18%" in text
    assert "2800亿美元" not in text  # said the same in both weeks

    # nothing of the computer weekly in between
    assert not any("计算机" in c.title for c in answer.citations)
    assert from_note(answer.citations, OLD_TITLE) and from_note(answer.citations, NEW_TITLE)
    assert answer.dropped == []  # every line passed verification


def test_no_change_is_said_when_there_is_none(service, tmp_path):
    library: Library = service.library
    same = Yanbao(service.settings.replace(home=tmp_path / "home2"))
    summary = same.reindex([WEEK2, week3_same_as_week2(tmp_path)], by=OPERATOR, prune=False)
    assert summary.ok and summary.added == 2
    answer = same.changes("山西证券")
    assert answer.found
    assert answer.answer.splitlines()[1].startswith("No change:"), answer.answer
    titles = {c.title for c in answer.citations}
    assert any("20250120-20250126" in t for t in titles) and any(NEW_TITLE in t for t in titles)
    assert library is not same.library


def test_a_series_with_one_note_has_nothing_to_compare(service):
    answer = service.changes("山西证券", "计算机")
    assert not answer.found
    assert "Only one weekly note from 山西证券 计算机" in answer.answer
    assert "信创招标回暖" in answer.answer
    assert not service.changes("中泰证券").found


def test_questions_about_what_changed_get_the_comparison(service):
    english = service.ask("What changed in Shanxi's picks since last week?")
    assert english.found and "added 光迅科技" in english.answer
    chinese = service.ask("山证本周推荐有什么变化？")
    assert chinese.found and "新增 光迅科技" in chinese.answer and "移出 天孚通信" in chinese.answer
    # a question about a figure is a question, not a comparison of weeklies
    figure = service.ask("800G光模块出货量环比增长多少？")
    assert "→" not in figure.answer and "800G" in figure.answer


def test_console_and_cli_verbs(service, tmp_path):
    printed = handle_line(service, "/changes 山证", "console:test")
    assert "added 光迅科技" in printed and "[1]" in printed
    home = tmp_path / "cli-home"
    indexed = run_yanbao(["index", "--json", str(WEEK1), str(WEEK2)], home)
    assert indexed.returncode == 0, indexed.stderr
    out = json_out(run_yanbao(["changes", "--json", "山西证券"], home))
    assert set(out) >= {"question", "answer", "mode", "found", "citations"}
    assert out["found"] and "光迅科技" in out["answer"]
    periods = {re.search(r"\((\d{8}-\d{8})\)", c["title"]).group(1) for c in out["citations"]}
    assert periods == {"20250106-20250112", "20250113-20250119"}  # both notes cited


def test_an_llm_may_phrase_the_changes_but_each_name_and_number_is_checked(service, tmp_path, openai_server):
    def phrase(request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        added = re.search(r"added 光迅科技 (\[\d+\])", prompt).group(1)
        dropped = re.search(r"dropped 天孚通信 (\[\d+\])", prompt).group(1)
        return (
            f"Shanxi added 光迅科技 to its optical-module picks {added} and dropped 天孚通信 {dropped}.\n"
            f"It also added 贵州茅台 {added}.\n"  # no cited paragraph names it
            f"The telecom index fell 9.99% {added}."  # a number no cited paragraph holds
        )

    openai_server.responder = phrase
    client = LLMClient(openai_server.url, "fake-model", timeout=2.0, backoff=0.01)
    llm = Yanbao(service.settings.replace(home=tmp_path / "llm-home"), library=service.library, llm=client)
    answer = llm.changes("山证")
    assert answer.mode == "llm" and answer.found
    assert "光迅科技" in answer.answer and "天孚通信" in answer.answer
    assert "贵州茅台" not in answer.answer and "9.99" not in answer.answer
    assert any("贵州茅台" in d for d in answer.dropped) and any("9.99" in d for d in answer.dropped)


@pytest.mark.parametrize(
    "question",
    [
        "What new energy-storage installations does Zhongtai expect in China in 2025?",
        "光模块价格有什么变化？",
        "What changed in 乐鑫科技's outlook?",
        "How did the Shenwan telecom index change?",
        "山证认为字节跳动资本开支有什么变化？",
    ],
)
def test_questions_that_are_not_about_two_weeklies_are_searched(question):
    plan = parse_query(question, date(2025, 1, 20), Lexicon.load())
    assert not wants_changes(question, plan.broker, plan.companies)


@pytest.mark.parametrize(
    "question",
    [
        "What changed in Shanxi's picks since last week?",
        "what's new in Guosheng's recommendations?",
        "山证本周推荐有什么变化？",
        "国盛较上周调入了哪些标的",
        "和上周相比，中泰的观点有什么调整？",
    ],
)
def test_questions_about_what_changed_are_recognised(question):
    plan = parse_query(question, date(2025, 1, 20), Lexicon.load())
    assert wants_changes(question, plan.broker, plan.companies)
