"""Cleaning web reprints: site chrome and metadata lines out, the disclaimer kept apart, repeated
paragraphs indexed once, and the report's own text kept exactly as written. The project's fixture
notes cover it everywhere; the real seeds too when ../shared is there."""

from __future__ import annotations

import re

import pytest

from index.clean import Paragraph, clean_reprint_boilerplate, collapse_repeated_paragraphs
from index.readers import read_document
from tests.helpers import (
    SIMPLIFIED_SEED,
    STRATEGY_NOTE,
    TRADITIONAL_SEED,
    WEEKLY_NOTE,
    fingerprint,
    needs_shared,
    note_lines,
    write_note,
)

# Site chrome and report metadata of a Sina reprint, as written in the weekly notes (traditional script).
CHROME_MARKERS = [
    "新浪財經APP",
    "熱門推薦",
    "二維碼",
    "股市直播",
    "圖文直播間",
    "視頻直播間",
    "7X24小時",
    "VIP課程推薦",
    "加載中",
    "APP專享直播",
    "新浪財經公眾號",
    "新浪首頁",
    "返回頂部",
    "搜索【信披】",
    "市場投研資訊",
    "免責聲明",
    "本訂閱號不是",
    "禁止我司員工",
    "本人已在中國證券業協會登記為證券分析師",
    "資料來源",
    "證券研究所)",
    "分析師:",
    "執業登記編碼",
    "S0740",
    "S0760",
    "報告發布日期",
]
IPO_CALENDAR_LINE = re.compile(r"\d{2}-\d{2}\s+\S{2,8}\s+\d{6}\s+(--|[\d.]+)")


def cleaned(path):
    document = read_document(path)
    return clean_reprint_boilerplate(document.blocks, document.title_hint)


@pytest.fixture(scope="module")
def traditional():
    return cleaned(WEEKLY_NOTE)


@pytest.fixture(scope="module")
def simplified():
    return cleaned(STRATEGY_NOTE)


# Every note of the weekly-reprint and strategy shapes: the fixtures always, the real seeds when present.
ALL_NOTES = pytest.mark.parametrize(
    "note",
    [
        WEEKLY_NOTE,
        STRATEGY_NOTE,
        pytest.param(TRADITIONAL_SEED, marks=needs_shared),
        pytest.param(SIMPLIFIED_SEED, marks=needs_shared),
    ],
    ids=["weekly", "strategy", "seed-traditional", "seed-simplified"],
)


def kept_texts(report) -> list[str]:
    return [p.text for p in report.paragraphs]


@ALL_NOTES
def test_no_kept_paragraph_carries_site_chrome_or_metadata(note):
    for text in kept_texts(cleaned(note)):
        for marker in CHROME_MARKERS:
            assert marker not in text, f"site chrome {marker!r} kept in: {text[:80]}"
        assert not IPO_CALENDAR_LINE.search(text), f"IPO calendar line kept: {text}"
        assert text.strip().upper() != "END"
        assert not text.startswith(("来源:", "來源:", "(來源", "（來源")), text


@pytest.mark.parametrize(
    "note", [WEEKLY_NOTE, pytest.param(TRADITIONAL_SEED, marks=needs_shared)], ids=["weekly", "seed"]
)
def test_the_note_really_has_that_chrome(note):
    # guards the test above against a note that silently lost its junk
    raw = note.read_text(encoding="utf-8")
    for marker in ("新浪財經APP", "熱門推薦", "二維碼", "股市直播", "免責聲明", "資料來源", "執業登記編碼"):
        assert marker in raw
    assert IPO_CALENDAR_LINE.search("01-06 惠通科技 301601 --")
    assert any(IPO_CALENDAR_LINE.search(line) for line in note_lines(note))


def test_disclaimer_is_kept_apart_from_the_content(traditional):
    disclaimer = "\n".join(traditional.disclaimer)
    assert disclaimer.strip()
    assert "本訂閱號不是中泰證券研究所證券研究報告的正式發布渠道" in disclaimer
    assert "禁止我司員工將我司證券研究報告私自提供" in disclaimer
    content = "\n".join(kept_texts(traditional))
    for line in traditional.disclaimer:
        assert line not in content


def test_a_note_without_a_disclaimer_has_none(simplified):
    assert simplified.disclaimer == []


@pytest.mark.parametrize(
    ("marker", "why"),
    [
        ("據展會主辦方統計,本屆CES共有超過4100家廠商參展", "行業動向 paragraph, printed twice"),
        ("根據行業機構的報價,本周DDR4", "memory-price paragraph, printed twice"),
        ("申萬電子指數跌1.86%", "market paragraph, printed three times"),
        ("從個股情況看", "individual stocks paragraph, printed twice"),
        ("下游需求復甦不及預期", "risk paragraph, printed twice"),
        ("AI眼鏡與AI PC成為消費電子新主線", "point heading, printed twice"),
        ("端側AI新品密集發布,存儲價格企穩回升", "title, printed twice"),
    ],
)
def test_repeated_paragraphs_of_the_weekly_are_kept_once(traditional, marker, why):
    raw_copies = sum(fingerprint(marker) in fingerprint(line) for line in note_lines(WEEKLY_NOTE))
    assert raw_copies >= 2, f"the note should repeat the {why}"
    kept_copies = sum(fingerprint(marker) in fingerprint(text) for text in kept_texts(traditional))
    assert kept_copies == 1, f"{why}: kept {kept_copies} times"


def test_no_two_kept_paragraphs_share_a_fingerprint(traditional, simplified):
    for report in (traditional, simplified):
        prints = [fingerprint(text) for text in kept_texts(report)]
        assert len(prints) == len(set(prints))


@ALL_NOTES
def test_kept_text_is_the_note_text_exactly(note):
    lines = set(note_lines(note))
    for text in kept_texts(cleaned(note)):
        assert text in lines, f"kept paragraph is not a line of the note: {text[:80]}"


def test_traditional_stays_traditional(traditional):
    content = "\n".join(kept_texts(traditional))
    assert "存儲價格" in content and "建議關注" in content and "藍特光學" in content
    assert "存储价格" not in content and "建议关注" not in content


def test_the_report_content_of_the_weekly_survives(traditional):
    texts = kept_texts(traditional)
    lines = note_lines(WEEKLY_NOTE)
    must_keep = [
        next(line for line in lines if line.startswith("建議關注:")),
        next(line for line in lines if line.startswith("市場整體:")),
        next(line for line in lines if line.startswith("據展會主辦方統計")),
        next(line for line in lines if line.startswith("根據行業機構的報價")),
        "下游需求復甦不及預期,端側AI新品推廣節奏不及預期,行業競爭加劇導致價格下降,海外貿易限制升級。",
    ]
    for line in must_keep:
        assert line in texts, line[:40]


@pytest.mark.parametrize(
    "note", [STRATEGY_NOTE, pytest.param(SIMPLIFIED_SEED, marks=needs_shared)], ids=["strategy", "seed"]
)
def test_the_strategy_note_loses_only_its_metadata_line_and_end_marker(note):
    lines = note_lines(note)
    assert lines[0].startswith("来源:") and lines[-1] == "END"
    assert kept_texts(cleaned(note)) == lines[1:-1]


def test_a_reprint_with_its_own_chrome_keeps_only_the_report(tmp_path):
    note = write_note(
        tmp_path / "reprint.txt",
        [
            "【国盛计算机】AI应用周报：端侧模型加速落地",
            "2025年01月08日 09:30 市场投研资讯",
            "登录新浪财经APP 搜索【信披】查看更多考评等级",
            "（来源：国盛证券研究所）",
            "端侧大模型在手机上的推理成本下降，AI应用进入加速落地期。",
            "建议关注：金山办公、科大讯飞、万兴科技。",
            "扫描二维码关注我们",
            "热门推荐",
            "01-13 星图测控 920116 6.92",
            "免责声明",
            "本报告仅供国盛证券的客户使用。",
        ],
    )
    report = cleaned(note)
    assert kept_texts(report) == [
        "【国盛计算机】AI应用周报：端侧模型加速落地",
        "端侧大模型在手机上的推理成本下降，AI应用进入加速落地期。",
        "建议关注：金山办公、科大讯飞、万兴科技。",
    ]
    assert report.disclaimer[-1] == "本报告仅供国盛证券的客户使用。"


def test_collapse_keeps_the_first_copy_across_scripts_and_punctuation():
    paragraphs = [
        Paragraph("字节跳动资本开支或达1600亿元，已接近META 2023年的资本开支水平。"),
        Paragraph("AI算力产业链直接受益于头部大模型训练。"),
        # the same paragraph, in traditional script with half-width punctuation
        Paragraph("字節跳動資本開支或達1600億元,已接近META 2023年的資本開支水平。"),
    ]
    kept, duplicates = collapse_repeated_paragraphs(paragraphs)
    assert [p.text for p in kept] == [paragraphs[0].text, paragraphs[1].text]
    assert duplicates == 1


def test_collapse_keeps_distinct_paragraphs_that_share_a_start():
    # two different facts with a common opening are both report content
    paragraphs = [
        Paragraph("本周申万通信指数上涨4.27%，科创板指数上涨2.17%，通信板块表现领先。"),
        Paragraph("本周申万通信指数上涨4.27%，但光模块板块回调明显，中际旭创下跌6.1%。"),
    ]
    kept, duplicates = collapse_repeated_paragraphs(paragraphs)
    assert [p.text for p in kept] == [p.text for p in paragraphs]
    assert duplicates == 0


def test_a_bare_registration_code_line_is_not_content(tmp_path):
    note = write_note(
        tmp_path / "signed.txt",
        [
            "通信行业周跟踪：算力产业链景气上行",
            "光模块与交换机订单饱满，我们维持行业推荐评级。",
            "高宇洋",
            "S0760523050002",
        ],
    )
    assert "S0760523050002" not in kept_texts(cleaned(note))


# --- nothing of the report is lost (issue 15, section 3) ------------------------------------

FORECAST_ROWS = [
    "指标 | 2024A | 2025E | 2026E",
    "营业收入(亿元) | 45.6 | 60.3 | 78.9",
    "归母净利润(亿元) | 5.1 | 7.2 | 9.6",
    "EPS(元) | 0.60 | 0.83 | 1.08",
    "P/E | 42 | 30 | 23",
]
FORECAST_INTRO = "我们预计公司2024-2026年营业收入分别为45.6/60.3/78.9亿元，维持“买入”评级。"


def forecast_html() -> bytes:
    cells = "".join(
        "<tr>" + "".join(f"<td>{cell.strip()}</td>" for cell in row.split("|")) + "</tr>"
        for row in FORECAST_ROWS
    )
    return (
        "<html><body><nav>首页 | 研报 | 公司研究</nav><h1>英维克(002837)：液冷订单高增</h1>"
        f"<p>{FORECAST_INTRO}</p><table>{cells}</table><p>风险提示：订单不及预期。</p></body></html>"
    ).encode()


def forecast_docx(path):
    import docx

    document = docx.Document()
    document.add_heading("英维克(002837)：液冷订单高增", level=1)
    document.add_paragraph(FORECAST_INTRO)
    rows = [[cell.strip() for cell in row.split("|")] for row in FORECAST_ROWS]
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    document.add_paragraph("风险提示：订单不及预期。")
    document.save(str(path))
    return path


@pytest.mark.parametrize("kind", ["html", "docx"])
def test_forecast_table_rows_are_kept_not_taken_for_breadcrumbs(tmp_path, kind):
    if kind == "html":
        path = tmp_path / "note.html"
        path.write_bytes(forecast_html())
    else:
        path = forecast_docx(tmp_path / "note.docx")
    report = cleaned(path)
    rows = [p.text for p in report.paragraphs if p.kind == "table_row"]
    assert rows == FORECAST_ROWS
    assert not any("首页" in p.text for p in report.paragraphs)  # a real nav bar still goes


def test_table_rows_from_any_reader_survive_cleaning_even_last_in_the_note():
    # the PDF reader gives table rows as blocks of kind "table_row"; at the end of the content they
    # are not the reprint's keyword tags either
    from index.readers import Block

    blocks = [Block("英维克盈利预测", page=3), Block(FORECAST_INTRO, page=3)]
    blocks += [Block(row, page=3, kind="table_row") for row in FORECAST_ROWS]
    blocks += [Block("免责声明", page=4), Block("本报告仅供客户使用。", page=4)]
    report = clean_reprint_boilerplate(blocks)
    assert [p.text for p in report.paragraphs if p.kind == "table_row"] == FORECAST_ROWS


def test_a_paragraph_that_differs_only_in_its_last_stock_is_not_a_repeat():
    first = (
        "建议关注：端侧AI芯片龙头恒玄科技、晶晨股份、瑞芯微，以及受益于存储涨价的兆易创新、江波龙和佰维存储。"
    )
    second = (
        "建议关注：端侧AI芯片龙头恒玄科技、晶晨股份、瑞芯微，以及受益于存储涨价的兆易创新、江波龙和德明利。"
    )
    kept, duplicates = collapse_repeated_paragraphs([Paragraph(first), Paragraph(second)])
    assert [p.text for p in kept] == [first, second] and duplicates == 0


def test_a_paragraph_that_differs_only_in_a_figure_is_not_a_repeat():
    first = "本周申万电子指数下跌1.86%，科创板指数下跌2.41%，沪深300下跌1.13%，深圳成指下跌1.99%，创业板指下跌2.86%。"
    second = first.replace("2.86%", "3.12%")
    kept, _ = collapse_repeated_paragraphs([Paragraph(first), Paragraph(second)])
    assert [p.text for p in kept] == [first, second]


def test_a_longer_copy_that_adds_a_stock_is_kept():
    first = "建议关注：端侧AI芯片龙头恒玄科技、晶晨股份、瑞芯微与全志科技，订单弹性最大。"
    second = "建议关注：端侧AI芯片龙头恒玄科技、晶晨股份、瑞芯微与全志科技，订单弹性最大。另关注乐鑫科技。"
    kept, _ = collapse_repeated_paragraphs([Paragraph(first), Paragraph(second)])
    assert [p.text for p in kept] == [first, second]


def test_repeats_are_found_among_thousands_of_paragraphs():
    # each paragraph is compared with the few that share its pieces, not with every earlier one;
    # repeats far apart are still found
    distinct = [
        Paragraph(
            f"第{n}段：本周第{n}号样本公司的订单同比增长{n % 97}%，库存周转{n % 53}天，毛利率{n % 41}%。"
        )
        for n in range(4000)
    ]
    repeats = [Paragraph(distinct[n].text.replace("，", ",")) for n in (0, 1999, 3999)]
    contained = [Paragraph(distinct[10].text[:20])]
    kept, duplicates = collapse_repeated_paragraphs(distinct + repeats + contained)
    assert [p.text for p in kept] == [p.text for p in distinct]
    assert duplicates == 4
