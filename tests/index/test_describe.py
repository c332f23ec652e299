"""Describing a report from its own text: broker, publish date, covered period, analysts, kind and
stocks. What the text does not say stays None, never guessed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from index.clean import clean_reprint_boilerplate
from index.describe import describe_report
from index.lexicon import Lexicon
from index.readers import read_document
from tests.helpers import (
    SIMPLIFIED_SEED,
    STRATEGY_FACTS,
    STRATEGY_NOTE,
    TRADITIONAL_SEED,
    WEEKLY_FACTS,
    WEEKLY_NOTE,
    needs_shared,
    write_note,
)


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


def describe(path: Path, lexicon: Lexicon):
    document = read_document(path)
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    return describe_report(
        document.blocks,
        cleaned,
        lexicon,
        document.title_hint,
        date_hint=document.date_hint,
        file_name=path.name,  # as the pipeline does: a date in the file name is the last resort
    )


@pytest.fixture(scope="module")
def weekly(lexicon):
    return describe(WEEKLY_NOTE, lexicon)


@pytest.fixture(scope="module")
def strategy(lexicon):
    return describe(STRATEGY_NOTE, lexicon)


# --- the weekly fixture: 【中泰電子】周跟蹤, a traditional web reprint -----------------------------


def test_the_weeklys_broker_is_named_in_simplified(weekly):
    assert weekly.broker == WEEKLY_FACTS["broker"]


def test_the_weeklys_publish_date_beats_the_reprint_date(weekly):
    # the reprint is stamped "2025年01月14日 07:52"; the report says 報告發布日期:2025年01月13日
    assert weekly.date == WEEKLY_FACTS["date"] == "2025-01-13"


def test_the_weeklys_covered_period_comes_from_the_title(weekly):
    assert weekly.period == WEEKLY_FACTS["period"]


def test_the_weeklys_analysts_as_written_in_order(weekly):
    assert weekly.analysts == WEEKLY_FACTS["analysts"]


def test_the_weekly_is_a_weekly(weekly):
    assert weekly.kind == "weekly"


def test_the_weeklys_title_is_the_headline_as_written(weekly):
    assert weekly.title == "【中泰電子】周跟蹤(20250106-20250112)--端側AI新品密集發布,存儲價格企穩回升"


def test_the_weeklys_stocks_include_every_recommended_name(weekly):
    for name in ("恒玄科技", "晶晨股份", "瑞芯微", "全志科技"):
        assert name in weekly.stocks, name
    for name in ("歌尔股份", "蓝特光学", "江波龙", "生益科技"):
        assert name in weekly.stocks, name
    assert len(weekly.stocks) == len(set(weekly.stocks))


# --- the strategy fixture: simplified, no broker named ----------------------------------------


def test_the_strategy_notes_date_from_its_publish_line(strategy):
    assert strategy.date == STRATEGY_FACTS["date"]


def test_the_strategy_note_has_no_broker_and_no_analysts(strategy):
    # "来源:" is empty in this reprint: nothing names the broker, so none is guessed
    assert strategy.broker is None
    assert strategy.analysts == []
    assert strategy.period is None


def test_the_strategy_note_is_a_strategy_note(strategy):
    assert strategy.kind == "strategy"
    assert strategy.title.startswith("美元指数走强叠加关税预期")


# --- the real seeds (../shared) -------------------------------------------------------------


@needs_shared
def test_seed_000_is_described_from_its_own_text(lexicon):
    weekly = describe(TRADITIONAL_SEED, lexicon)
    assert weekly.broker == "山西证券"
    assert weekly.date == "2024-12-25"  # 報告發布日期, not the reprint's 2024年12月26日
    assert weekly.period == "2024-12-16/2024-12-22"
    assert weekly.analysts == ["高宇洋", "張天", "趙天宇"]
    assert weekly.kind == "weekly"
    assert weekly.title == "【山證通信】周跟蹤(20241216-20241222)--字節跳動大幅催化算力產業鏈,O3推理表現震撼"
    for name in ("乐鑫科技", "泰凌微", "广和通", "中科创达", "润泽科技", "寒武纪", "中兴通讯", "新易盛"):
        assert name in weekly.stocks, name


@needs_shared
def test_seed_004_is_a_strategy_note_with_no_broker(lexicon):
    strategy = describe(SIMPLIFIED_SEED, lexicon)
    assert (strategy.date, strategy.broker, strategy.analysts, strategy.period) == (
        "2024-12-30",
        None,
        [],
        None,
    )
    assert strategy.kind == "strategy"
    assert strategy.title.startswith("10Y美债收益率上行叠加业绩期")


# --- notes written here ---------------------------------------------------------------------


SAC_ONLY_WEEKLY = [
    "电子行业周跟踪(20250106-20250112)：国补落地带动消费电子复苏",
    "本周观点",
    "手机以旧换新补贴正式落地，我们看好消费电子产业链的复苏，关注品牌与零部件环节。",
    "分析师：李明",
    "执业登记编码：S0760520110001",
    "报告发布日期：2025年1月13日",
]


def test_simplified_weekly_signed_by_an_analyst(tmp_path, lexicon):
    desc = describe(write_note(tmp_path / "weekly.txt", SAC_ONLY_WEEKLY), lexicon)
    assert desc.analysts == ["李明"]
    assert desc.date == "2025-01-13"
    assert desc.period == "2025-01-06/2025-01-12"
    assert desc.kind == "weekly"


def test_broker_known_only_from_an_analyst_registration_code(tmp_path, lexicon):
    # no 【山證…】 prefix, no 來源 line, no "山西证券研究所" anywhere: only S0760… says 山西证券
    desc = describe(write_note(tmp_path / "weekly.txt", SAC_ONLY_WEEKLY), lexicon)
    assert desc.broker == "山西证券"


def test_broker_from_a_source_line_in_traditional_script(tmp_path, lexicon):
    note = write_note(
        tmp_path / "reprint.txt",
        [
            "半導體設備行業點評：國產替代加速",
            "2025年01月08日 09:30 市場投研資訊",
            "(來源:國盛證券研究所)",
            "刻蝕與薄膜沉積設備的國產化率持續提升,我們看好設備龍頭的訂單增長。",
        ],
    )
    desc = describe(note, lexicon)
    assert desc.broker == "国盛证券"
    # no publish line: the reprint's own date is the best the text offers
    assert desc.date == "2025-01-08"
    assert desc.analysts == []


def test_publish_date_beats_reprint_date_in_any_order(tmp_path, lexicon):
    note = write_note(
        tmp_path / "late.txt",
        [
            "计算机行业周报：AI应用加速",
            "报告发布日期：2025年2月3日",
            "2025年02月05日 10:02 市场投研资讯",
            "AI应用的商业化进入加速期，我们看好办公软件与智能体的落地。",
        ],
    )
    assert describe(note, lexicon).date == "2025-02-03"


def test_a_note_with_no_date_has_date_none(tmp_path, lexicon):
    # dates inside sentences are events, not the publish date: nothing to go on, so None
    note = write_note(
        tmp_path / "undated.txt",
        [
            "A股市场展望：政策真空期的应对",
            "2025年1月20日，美国新任总统将正式就职，海外政策对中国市场的冲击可能加大。",
            "我们预计2024Q4财报季缺乏亮点，1月市场以缩量震荡为主。",
        ],
    )
    desc = describe(note, lexicon)
    assert desc.date is None
    assert desc.broker is None
    assert desc.analysts == []
    assert desc.period is None


def test_an_impossible_period_is_not_reported(tmp_path, lexicon):
    note = write_note(
        tmp_path / "bad-period.txt",
        ["通信行业周跟踪(20241322-20241216)：标题日期有误", "本周通信板块上涨，物联网板块表现领先。"],
    )
    assert describe(note, lexicon).period is None


# --- real notes and the notes written for eval/: broker and date from general cues ---------------

ROOT = Path(__file__).resolve().parents[2]
REAL_NOTES = ROOT.parent / "shared" / "realnotes"
ISO_DATE = re.compile(r"20\d{2}-\d{2}-\d{2}")


def expected_metadata(folder: Path) -> list[tuple[Path, str | None, str | None]]:
    """(file, broker, date) from a notes.json; a broker or date "not shown in stored text" is None."""
    rows = []
    for note in json.loads((folder / "notes.json").read_text(encoding="utf-8")):
        broker = note.get("broker")
        broker = None if not broker or "not shown" in broker else broker
        shown = note.get("date") or ""
        dates = ISO_DATE.findall(shown) if "not in stored text" not in shown else []
        rows.append((folder / note["file"], broker, dates[0] if dates else None))
    return rows


def check_metadata(folder: Path, lexicon: Lexicon) -> None:
    wrong = []
    for path, broker, day in expected_metadata(folder):
        got = describe(path, lexicon)
        want_broker = lexicon.canonical_broker(broker) if broker else None
        if got.broker != want_broker:
            wrong.append(f"{path.name}: broker {got.broker!r}, expected {want_broker!r}")
        # a weekly whose date notes.json gives as "week A..B" may be dated by any day of that week
        week = ISO_DATE.findall(json.dumps(day)) if day else []
        if got.date != day and not (week and got.period and got.period.startswith(week[0])):
            wrong.append(f"{path.name}: date {got.date!r}, expected {day!r}")
    assert not wrong, "\n".join(wrong)


def test_notes_written_for_eval_get_their_broker_and_date(lexicon):
    # title without brackets, 来源 line, dateline, front matter, -YYMMDD, e-mail domains, SAC prefixes
    check_metadata(ROOT / "eval" / "notes", lexicon)


@pytest.mark.skipif(
    not (REAL_NOTES / "notes.json").is_file(),
    reason="../shared/realnotes absent (newcomer's clone)",
)
def test_real_notes_get_the_broker_and_date_their_notes_json_gives(lexicon):
    check_metadata(REAL_NOTES, lexicon)


def test_front_matter_is_metadata_and_never_the_title_or_text(tmp_path, lexicon):
    note = write_note(
        tmp_path / "scraped.txt",
        [
            "URL: https://example.com/a/1.html",
            "TITLE: 某证券：光模块需求超预期",
            "发布时间: 2025-02-03 10:00",
            "来源: 智通财经",
            "智通财经APP获悉，国盛证券发布研报称，800G光模块需求超预期，维持行业“增持”评级。",
        ],
    )
    document = read_document(note)
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    desc = describe_report(document.blocks, cleaned, lexicon, document.title_hint)
    assert desc.title == "某证券：光模块需求超预期"
    assert desc.date == "2025-02-03"
    assert desc.broker == "国盛证券"  # "XX证券发布研报称": the media outlet is not the author
    assert all(not p.text.startswith(("URL", "TITLE", "发布时间", "来源")) for p in cleaned.paragraphs)


def test_broker_only_in_email_domains_and_sac_codes(tmp_path, lexicon):
    note = write_note(
        tmp_path / "extract.txt",
        [
            "電子行業週報",
            "證券分析師：王某 wangmou@guosen.com.cn 執證編碼：S0980521050001",
            "本週電子板塊上漲2.35%，跑贏滬深300指數1.22個百分點。",
        ],
    )
    assert describe(note, lexicon).broker == "国信证券"


def test_dates_in_titles(tmp_path, lexicon):
    for title, day in [
        ("长江证券通信行业周跟踪：卫星组网提速-20260108", "2026-01-08"),
        ("招商证券-半导体设备行业深度报告-241230", "2024-12-30"),
        ("2025年2月6日 策略快评：春季行情展望", "2025-02-06"),
    ]:
        note = write_note(tmp_path / "t.txt", [title, "本周通信板块上涨3.2%，跑赢沪深300指数1.1个百分点。"])
        assert describe(note, lexicon).date == day, title
