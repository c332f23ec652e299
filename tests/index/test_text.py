"""index/text.py: the one definition of sentences, clauses, folds and fingerprints."""

from __future__ import annotations

from index.text import (
    clauses,
    closes_line,
    compact_form,
    fingerprint,
    fold_same_length,
    phrases,
    search_form,
    sentences,
)


def test_sentences_keep_each_delimiter_and_lose_nothing():
    text = "算力需求超预期。订单饱满！还能持续吗？我们认为可以；风险在于制裁"
    assert sentences(text) == ["算力需求超预期。", "订单饱满！", "还能持续吗？", "我们认为可以；风险在于制裁"]
    assert "".join(sentences(text)) == text


def test_a_semicolon_does_not_cut_a_two_figure_statement():
    text = (
        "2024年实现营业收入298.4亿元，同比增长35.1%；实现归母净利润56.2亿元，同比增长44.2%。点评：设备放量。"
    )
    first = sentences(text)[0]
    assert "298.4亿元" in first and "56.2亿元" in first
    assert clauses(first) == [
        "2024年实现营业收入298.4亿元，同比增长35.1%；",
        "实现归母净利润56.2亿元，同比增长44.2%。",
    ]
    assert "".join(phrases(first)) == first and len(phrases(first)) == 4


def test_closing_quotes_stay_with_their_sentence_and_english_stops_need_a_space():
    assert sentences("他说“算力需求超预期。”市场随即上涨。") == ["他说“算力需求超预期。”", "市场随即上涨。"]
    assert sentences("The index rose 4.27% this week. Telecom led.") == [
        "The index rose 4.27% this week.",
        " Telecom led.",
    ]


def test_a_line_break_ends_a_sentence_and_stays_with_it():
    text = "行业动向：\n字节资本开支或达1600亿元"
    assert sentences(text) == ["行业动向：\n", "字节资本开支或达1600亿元"]


def test_lines_that_close_a_unit():
    assert closes_line("建议关注：") and closes_line("需求旺盛。") and closes_line("风险在于制裁；")
    assert not closes_line("字节跳动已躍升為世界頂級")


def test_folds_agree_on_script_width_and_case():
    assert search_form("字節跳動ＡＩ") == "字节跳动ai"
    assert fold_same_length("字節跳動ＡＩ") == "字节跳动AI"
    assert compact_form("申萬 通信指數 漲4.27%") == "申万通信指数涨4.27%"
    assert fingerprint("申萬通信指數，漲4.27%。") == fingerprint("申万通信指数 涨4.27%")
