"""The lexicon on the notes: stock lists split, brokers named, English bridged to Chinese."""

from __future__ import annotations

import json
from pathlib import Path

import jieba
import pytest

from index.lexicon import Lexicon, fold, short_english_names, userdict_path
from tests.helpers import SIMPLIFIED_SEED, TRADITIONAL_SEED, needs_shared, recommendation_paragraph

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.load()


def test_fold_keeps_length_and_simplifies() -> None:
    text = "【山證通信】周跟蹤(20241216-20241222) 萬科Ａ"
    assert fold(text) == "【山证通信】周跟踪(20241216-20241222) 万科A"
    assert len(fold(text)) == len(text)


def test_the_weeklys_recommendation_paragraph_gives_exactly_its_stocks(lex: Lexicon) -> None:
    para = recommendation_paragraph()
    names = list(dict.fromkeys(name for name, _, _ in lex.find_stocks(para)))
    assert (
        names
        == (
            "恒玄科技 晶晨股份 瑞芯微 全志科技 歌爾股份 水晶光電 藍特光學 兆易創新 江波龍 佰維存儲 滬電股份 勝宏科技 生益科技"
        ).split()
    )
    for name, start, end in lex.find_stocks(para):
        assert para[start:end] == name


@needs_shared
def test_seed_000s_recommendation_paragraph_gives_exactly_its_stocks(lex: Lexicon) -> None:
    para = next(
        p for p in TRADITIONAL_SEED.read_text(encoding="utf-8").splitlines() if p.startswith("建議關注")
    )
    names = list(dict.fromkeys(name for name, _, _ in lex.find_stocks(para)))
    assert (
        names
        == (
            "潤澤科技 光環新網 英維克 高瀾股份 歐陸通 博創科技 寒武紀 浪潮信息 華勤技術 中興通訊 紫光股份 銳捷網絡 "
            "光迅科技 華工科技 金信諾 沃爾核材 樂鑫科技 泰凌微 廣和通 中科創達 新易盛 瑞可達 中際旭創 神宇股份"
        ).split()
    )
    # offsets point into the text as written (traditional)
    for name, start, end in lex.find_stocks(para):
        assert para[start:end] == name


def test_run_together_names_split(lex: Lexicon) -> None:
    found = lex.find_stocks("字節邊緣算力:樂鑫科技泰凌微廣和通中科創達;")
    assert [n for n, _, _ in found] == ["樂鑫科技", "泰凌微", "廣和通", "中科創達"]
    assert [lex.stocks_by_name[fold(n)].code for n, _, _ in found] == ["688018", "688591", "300638", "300496"]


def test_former_and_suffixed_names(lex: Lexicon) -> None:
    stock = lex.stocks_by_name["博创科技"]
    assert (stock.code, stock.name) == ("300548", "长芯博创")
    assert "博创科技" in stock.former
    assert lex.stocks_by_name["寒武纪"].code == "688256"  # 寒武纪-U in the master
    assert lex.stock_by_code("000002").name == "万科A"
    assert lex.stocks_by_name["万科"].code == "000002"


def test_everyday_words_are_not_stocks_unless_listed(lex: Lexicon) -> None:
    assert lex.find_stocks("展示了基于边缘大模型的智能机器人、语音智能体AI玩具") == []
    assert lex.find_stocks("农产品价格上涨") == []
    listed = [n for n, _, _ in lex.find_stocks("建议关注:中兴通讯、机器人、农产品(000061)")]
    assert listed == ["中兴通讯", "机器人", "农产品"]


@needs_shared
def test_research_house_is_not_the_stock(lex: Lexicon) -> None:
    names = {n for n, _, _ in lex.find_stocks(TRADITIONAL_SEED.read_text(encoding="utf-8"))}
    assert "山西證券" not in names  # only ever 山西證券研究所 in the note
    assert lex.broker_mentions(TRADITIONAL_SEED.read_text(encoding="utf-8")) == ["山西证券"]


@needs_shared
def test_strategy_seed_mentions(lex: Lexicon) -> None:
    codes = [s.code for s in lex.stocks_in(SIMPLIFIED_SEED.read_text(encoding="utf-8"))]
    assert codes == ["300750", "688256", "688041"]  # 宁德时代, 寒武纪, 海光信息


@pytest.mark.parametrize(
    "text",
    [
        "Shanxi",
        "shanxi securities",
        "SHANXI SECURITIES",
        "山证",
        "山證",
        "山西证券",
        "山西證券",
        "【山證通信】周跟蹤",
        "Shanxi's view",
    ],
)
def test_broker_aliases(lex: Lexicon, text: str) -> None:
    assert lex.canonical_broker(text) == "山西证券"


def test_broker_lookalikes_are_not_brokers(lex: Lexicon) -> None:
    assert lex.canonical_broker("How much did the Shenwan telecom index rise?") is None
    assert lex.canonical_broker("申萬通信指數漲4.27%") is None
    assert lex.broker_mentions("中泰化学涨停") == []
    assert lex.broker_mentions("据上海证券报报道") == []
    assert lex.broker_mentions("Everbright Bank results") == []
    assert lex.canonical_broker("【天风电新】英维克") == "天风证券"
    assert lex.canonical_broker("CICC") == "中金公司"
    assert lex.canonical_broker("安信证券") == "国投证券"


def test_broker_by_registration(lex: Lexicon) -> None:
    assert lex.broker_by_registration("S0760523050002") == "山西证券"
    assert lex.broker_by_registration("执业登记编码:S0760524060001") == "山西证券"
    assert lex.broker_by_registration("S9999000000000") is None


def test_expand_english(lex: Lexicon) -> None:
    terms = lex.expand_english("Which stocks does Shanxi recommend for edge compute?")
    assert {"边缘算力", "边缘计算", "建议关注", "推荐"} <= set(terms)
    assert "算力" not in terms  # "edge compute" is matched whole, not also as "compute"
    assert lex.expand_english("optical modules, liquid-cooling and capex") == [
        "光模块",
        "液冷",
        "资本开支",
        "Capex",
    ]
    assert lex.expand_english("How much did the Shenwan telecom index rise?") == ["申万通信指数", "涨"]
    assert set(lex.expand_english("CSI 300, ChiNext, STAR Market")) >= {"沪深300", "创业板", "科创板"}
    assert "美债收益率" in lex.expand_english("10-year Treasury yields")
    assert lex.expand_english("ups and downs") == ["涨", "跌"]  # UPS (power) only in capitals
    assert lex.expand_english("山证推荐哪些IDC标的") == ["IDC", "数据中心"]


def test_link_companies(lex: Lexicon) -> None:
    linked = lex.link_companies("What do they say about ZTE and Innolight's 800G modules?")
    assert [(s.name, s.code) for s in linked] == [("中兴通讯", "000063"), ("中际旭创", "300308")]
    assert [s.code for s in lex.link_companies("Kweichow Moutai, CATL and BYD")] == [
        "600519",
        "300750",
        "002594",
    ]
    assert [s.name for s in lex.link_companies("000063.SZ vs 300308")] == ["中兴通讯", "中际旭创"]
    assert [s.name for s in lex.link_companies("Envicool")] == ["英维克"]  # derived from the master
    # common English words and brokers are not companies
    assert lex.link_companies("What is the best stock in the world for power and energy?") == []
    assert lex.link_companies("Ping An Securities says") == []


def test_short_english_names() -> None:
    assert short_english_names("SHENZHEN ENVICOOL TECHNOLOGY CO., LTD.") == ["SHENZHEN ENVICOOL", "ENVICOOL"]
    assert short_english_names("ZTE CORPORATION") == ["ZTE"]


def test_jieba_keeps_names_and_terms_whole() -> None:
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(userdict_path()))
    tokens = tokenizer.lcut(fold("字節邊緣算力:樂鑫科技泰凌微廣和通中科創達;光模块、液冷受益于资本开支"))
    for word in ["中科创达", "泰凌微", "乐鑫科技", "广和通", "边缘算力", "光模块", "液冷", "资本开支"]:
        assert word in tokens
    # IDC stays its own token so a question about IDC matches 字节IDC基建
    assert "IDC" in tokenizer.lcut("建议关注:字节IDC基建:润泽科技")


@pytest.mark.parametrize("name", ["dev.jsonl", "wide.jsonl"])
def test_eval_set_evidence_is_in_its_source(name: str) -> None:
    """Every evidence string of an eval set is text of the note its "source" names (a path relative
    to the repository root); notes under ../shared are absent in a newcomer's clone and skipped."""
    rows = [json.loads(line) for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 50
    checked = 0
    for row in rows:
        if row["evidence"] is None:
            assert row["kind"] == "not-found" and row["must_include"] == [] and row["source"] is None
            continue
        path = ROOT / row["source"]
        if not path.is_file():
            assert row["source"].startswith("../shared/"), row  # only shared notes may be absent
            continue
        checked += 1
        assert row["evidence"] in path.read_text(encoding="utf-8"), row
        assert all(m == fold(m) for m in row["must_include"]), row
    assert checked >= 20, "the project's own notes' rows were not checked"
