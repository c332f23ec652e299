"""Verification checks each claim against the paragraphs it cites, by company, not by spelling."""

from __future__ import annotations

import pytest

from bot.answer import Citation
from bot.answering.verify import inert, verify_answer
from index.lexicon import Lexicon

WEEKLY = "端側AI芯片:恒玄科技晶晨股份瑞芯微全志科技;存儲:兆易創新江波龍"
STRATEGY = "宁德时代与中兴通讯的订单有望超预期,美债收益率上行至4.7%。"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


def cite(n: int, text: str) -> Citation:
    return Citation(n, f"r{n}", "周跟蹤", "中泰证券", "2025-01-13", "note.txt", n, text)


CITATIONS = [cite(1, WEEKLY), cite(2, STRATEGY)]


@pytest.mark.parametrize(
    "claim",
    [
        "贵州茅台 is the top pick",
        "Kweichow Moutai is the top pick",
        "茅台是首选",
        "腾讯控股是首选",
        "Tencent leads",
    ],
)
def test_a_company_the_cited_paragraph_lacks_is_dropped_in_any_alias(lexicon, claim):
    verified = verify_answer(f"中泰证券建议关注恒玄科技 [1]。{claim} [1]。", CITATIONS, lexicon)
    assert verified.text == "中泰证券建议关注恒玄科技 [1]。"
    assert len(verified.dropped) == 1 and claim.split()[0][:2] in verified.dropped[0]


@pytest.mark.parametrize("claim", ["CATL", "寧德時代", "300750", "ZTE", "中兴"])
def test_a_company_the_cited_paragraph_names_in_another_alias_is_kept(lexicon, claim):
    verified = verify_answer(f"The note is upbeat on {claim} [2].", CITATIONS, lexicon)
    assert verified.text == f"The note is upbeat on {claim} [2]." and verified.dropped == []


def test_a_company_supported_only_by_another_citation_is_dropped(lexicon):
    # CATL is in [2], not in the paragraph this sentence cites
    verified = verify_answer("恒玄科技 [1]、宁德时代 [1]", CITATIONS, lexicon)
    assert verified.text == "恒玄科技 [1]" and "宁德时代" in verified.dropped[0]


def test_an_uncited_claim_is_dropped_even_when_some_paragraph_supports_it(lexicon):
    verified = verify_answer(
        "恒玄科技 is recommended [1].\n\n宁德时代 is also mentioned.", CITATIONS, lexicon
    )
    assert verified.text == "恒玄科技 is recommended [1]."
    assert verified.dropped == ["宁德时代 is also mentioned. (uncited: 宁德时代)"]
    assert verified.cited == [1]  # [2] never shows: nothing cites it


def test_a_sentence_without_markers_rests_on_the_next_marker_of_its_passage(lexicon):
    text = "中泰证券的端侧AI芯片推荐如下：\n- 恒玄科技\n- 晶晨股份 [1]\n\nNo advice of my own."
    verified = verify_answer(text, CITATIONS, lexicon)
    assert verified.text == text and verified.cited == [1]


def test_when_the_marked_sentence_falls_its_marker_moves_to_the_claim_that_rested_on_it(lexicon):
    verified = verify_answer("恒玄科技 is recommended. 贵州茅台 too [1].", CITATIONS, lexicon)
    assert verified.text == "恒玄科技 is recommended. [1]" and verified.cited == [1]


def test_claim_free_sentences_need_no_citation(lexicon):
    verified = verify_answer("Here is what the note says. 恒玄科技 [1]", CITATIONS, lexicon)
    assert verified.text == "Here is what the note says. 恒玄科技 [1]"


def test_a_quoted_clause_is_one_claim(lexicon):
    text = "中泰证券：“端側AI芯片:恒玄科技。存儲:兆易創新” [1]"
    assert verify_answer(text, CITATIONS, lexicon).text == text


def test_note_markers_become_text():
    assert inert("详见附注[2]与[13]，另见［4］") == "详见附注［2］与［13］，另见［4］"
    assert inert("4.27% [a] [1234]") == "4.27% [a] [1234]"


def test_a_number_written_right_after_a_chinese_character_is_checked_too(lexicon):
    citations = [cite(1, "本周申万通信指数下跌1.48%，通信板块排名第24位。")]
    verified = verify_answer(
        "申万通信指数下跌1.48% [1]。申万通信指数上涨5.20% [1]。板块排名第17位 [1]。", citations, lexicon
    )
    assert "下跌1.48%" in verified.text
    assert "5.20" not in verified.text and "第17位" not in verified.text
    assert len(verified.dropped) == 2
