"""Companies recognised by every name yanbao knows: one key per company, whatever the alias."""

from __future__ import annotations

import pytest

from index.companies import company_names
from index.lexicon import Lexicon


@pytest.fixture(scope="module")
def names():
    return company_names(Lexicon.load())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("贵州茅台", "600519"),
        ("貴州茅台", "600519"),  # traditional script
        ("茅台", "600519"),  # short form
        ("Kweichow Moutai", "600519"),  # English
        ("600519.SH", "600519"),  # code
        ("中兴", "000063"),
        ("ZTE", "000063"),
        ("0763.HK", "000063"),  # its Hong Kong listing is the same company
        ("CATL", "300750"),
        ("寧德時代", "300750"),
        ("博创科技", "300548"),  # former name of 长芯博创
        ("腾讯控股", "HK:0700"),
        ("騰訊控股", "HK:0700"),
        ("Tencent's cloud", "HK:0700"),
        ("00700.HK", "HK:0700"),
        ("英伟达", "US:NVDA"),
        ("NVDA", "US:NVDA"),
        ("Nvidia", "US:NVDA"),
    ],
)
def test_each_alias_names_its_company(names, text, key):
    assert [m.key for m in names.mentions(text)] == [key], text


def test_mentions_are_where_the_text_writes_them(names):
    text = "建议关注茅台、寧德時代与腾讯控股(0700.HK)"
    found = [(m.surface, m.name) for m in names.mentions(text)]
    assert found == [
        ("茅台", "贵州茅台"),
        ("寧德時代", "宁德时代"),
        ("腾讯控股", "腾讯控股"),
        ("0700.HK", "腾讯控股"),
    ]
    for m in names.mentions(text):
        assert text[m.start : m.end] == m.surface


def test_a_short_form_inside_a_longer_name_is_the_longer_company(names):
    assert [m.key for m in names.mentions("中兴通讯与京东方A")] == ["000063", "000725"]


@pytest.mark.parametrize(
    "text",
    ["收入增长和利润率", "apple pie and meta-analysis", "the MU of the model", "完美的一周", "联想到光模块"],
)
def test_everyday_words_are_no_company(names, text):
    assert names.mentions(text) == []
