"""English words the glossary lacks, read as the Chinese forms the indexed notes use (index/translate.py):
on a small dictionary and corpus written here, and on the shipped dictionary."""

from __future__ import annotations

from pathlib import Path

import jieba

from index.concepts import Concept, coverage
from index.translate import EnglishDictionary, Translator, english_dictionary

DICTIONARY = """\
# test dictionary
box office\t票房
charging\t充电
pile\t桩|堆|垛
offshore\t离岸|海上
wind power\t风电|风能
inverter\t反相器|逆变器
close\t关|结束|接近|收盘|近|亲密|靠近|闭|合|停|密切|紧|封
"""

PARAGRAPHS = [
    "3月上旬全国电影票房为21.6亿元,同比增长18%。",
    "全国公共充电桩保有量达到392万台。",
    "1-2月国内海上风电招标量合计3.1GW。",
    "2月我国逆变器出口金额为58.3亿元。",
]


def translator(tmp_path: Path) -> Translator:
    path = tmp_path / "en_zh.tsv"
    path.write_text(DICTIONARY, encoding="utf-8")
    tokenizer = jieba.Tokenizer()
    tokens = [t for p in PARAGRAPHS for t in tokenizer.lcut(p)]
    vocabulary = set(tokens) | {c for p in PARAGRAPHS for c in p}

    def probe(words: list[str], k: int) -> list[str]:  # the paragraphs holding any of the words
        return [p for p in PARAGRAPHS if any(w in p for w in words)][:k]

    return Translator(EnglishDictionary(path), tokenizer.lcut, vocabulary, probe)


def forms(t: Translator, question: str) -> dict[str, tuple[str, ...]]:
    return {e.english: e.forms for e in t.expand(question.lower(), [], {"how", "many", "what", "the", "was"})}


def test_a_phrase_is_read_whole_or_composed_word_by_word(tmp_path: Path) -> None:
    t = translator(tmp_path)
    assert forms(t, "What was the box office?") == {"box office": ("票房",)}
    # no dictionary entry for the phrase: its words' readings composed, kept where a note holds them
    assert forms(t, "How many charging piles?")["charging piles"] == ("充电桩",)
    assert forms(t, "offshore wind power tenders")["offshore wind power"] == ("海上风电",)


def test_only_readings_some_note_holds_are_kept(tmp_path: Path) -> None:
    t = translator(tmp_path)
    assert forms(t, "inverter exports")["inverter"] == ("逆变器",)  # 反相器: no note says it
    assert "tenders" not in forms(t, "offshore wind power tenders")  # not in the dictionary


def test_a_word_of_too_many_readings_is_not_read_alone(tmp_path: Path) -> None:
    assert forms(translator(tmp_path), "where did it close") == {}


def test_the_shipped_dictionary_reads_inflected_words() -> None:
    dictionary = english_dictionary()
    assert len(dictionary) > 50_000
    assert "票房" in dictionary.lookup("box office")
    assert "挖掘机" in dictionary.lookup("excavators")  # plural
    assert "减速器" in dictionary.lookup("reducers")


def test_a_passage_without_the_expansion_of_the_main_word_does_not_cover_the_question() -> None:
    # "How many domestic air conditioners…": 空调 weighs most, 国内 less
    concepts = [
        Concept("air conditioners", ("空调",), weight=1.0, expansion=True),
        Concept("domestic", ("国内",), weight=0.5, expansion=True),
    ]
    assert coverage(concepts, "3月空调出口排产约1,150万台") >= 0.6  # says it another way than 国内
    assert coverage(concepts, "2月国内rv减速器出货量为6.8万台") < 0.6  # 国内, and no air conditioner
