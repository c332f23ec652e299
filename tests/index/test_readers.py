"""Readers turn report files into the paragraphs and table rows a reader of the report sees.

Every fixture is written by the test itself or is one of tests/fixtures/; the real seed notes are
read from ../shared/seeds when it is there.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from index.encoding import decode_text
from index.readers import SUPPORTED_SUFFIXES, ReadError, read_bytes, read_document
from tests.helpers import (
    SIMPLIFIED_SEED,
    STRATEGY_NOTE,
    TRADITIONAL_SEED,
    WEEKLY_NOTE,
    needs_shared,
    note_lines,
    recommendation_paragraph,
)


def encodable(lines: list[str], encoding: str) -> list[str]:
    """The note's lines that `encoding` can hold, so the round trip is exact by construction."""
    kept = []
    for line in lines:
        try:
            line.encode(encoding)
        except UnicodeEncodeError:
            continue
        kept.append(line)
    assert len(kept) > len(lines) / 2, f"too little of the note encodes to {encoding}"
    return kept


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("note", "encoding", "bom"),
    [
        (STRATEGY_NOTE, "utf-8", b""),
        (WEEKLY_NOTE, "utf-8", b"\xef\xbb\xbf"),
        (STRATEGY_NOTE, "gbk", b""),
        (STRATEGY_NOTE, "gb18030", b""),
        (WEEKLY_NOTE, "gb18030", b""),  # traditional characters written in a mainland encoding
        (WEEKLY_NOTE, "big5", b""),
        (WEEKLY_NOTE, "big5hkscs", b""),
        (STRATEGY_NOTE, "utf-16-le", b"\xff\xfe"),
        (WEEKLY_NOTE, "utf-16-be", b"\xfe\xff"),
        (WEEKLY_NOTE, "utf-32-le", b"\xff\xfe\x00\x00"),
    ],
)
def test_report_text_decodes_exactly_in_each_encoding(tmp_path, note, encoding, bom):
    paragraphs = encodable(note_lines(note), encoding)
    # The notes' layout: one paragraph per line, blank lines between.
    original = "\n\n".join(paragraphs) + "\n"
    path = tmp_path / f"note-{encoding}.txt"
    path.write_bytes(bom + original.encode(encoding))

    assert decode_text(path.read_bytes(), path.name) == original
    document = read_document(path)
    assert [block.text for block in document.blocks] == paragraphs


def test_big5_is_not_mistaken_for_gbk_on_a_short_note(tmp_path):
    # Big5 bytes are mostly valid GBK too; a short note gives the detector little to go on.
    text = "字節跳動大幅催化算力產業鏈,O3推理表現震撼"
    assert decode_text(text.encode("big5"), "short.txt") == text
    assert decode_text("中国移动研报：算力产业链".encode("gbk"), "short.txt") == "中国移动研报：算力产业链"


def test_windows_newlines_and_old_mac_newlines_become_paragraph_breaks():
    assert (
        decode_text("第一段。\r\n第二段。\r第三段。".encode("gb18030"), "n.txt")
        == "第一段。\n第二段。\n第三段。"
    )
    document = read_bytes("第一段。\r\n\r\n第二段。\r\n".encode(), "n.txt")
    assert [block.text for block in document.blocks] == ["第一段。", "第二段。"]


def test_binary_data_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(ReadError) as error:
        read_document(path)
    assert str(error.value) == f"{path}: not text (binary data)"
    assert error.value.path == path


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_zero_byte_files_are_refused_with_the_file_name(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ReadError, match="empty file") as error:
        read_document(path)
    assert path.name in str(error.value)
    assert "\n" not in str(error.value)


def test_unsupported_and_missing_files_say_which_file(tmp_path):
    with pytest.raises(ReadError, match=r"notes\.xlsx: unsupported file type \(\.xlsx"):
        read_bytes(b"PK\x03\x04", "notes.xlsx")
    with pytest.raises(ReadError, match="gone.pdf: cannot open"):
        read_document(tmp_path / "gone.pdf")


def test_suffix_is_case_insensitive():
    document = read_bytes("行业动向:\n\n字节跳动大幅催化算力产业链。".encode("gbk"), "WEEKLY.TXT")
    assert [block.text for block in document.blocks] == ["行业动向:", "字节跳动大幅催化算力产业链。"]


# --- the fixture notes and the real seeds ----------------------------------------------------


@pytest.mark.parametrize(
    "note",
    [
        WEEKLY_NOTE,
        STRATEGY_NOTE,
        pytest.param(TRADITIONAL_SEED, marks=needs_shared),
        pytest.param(SIMPLIFIED_SEED, marks=needs_shared),
    ],
    ids=["weekly", "strategy", "seed-traditional", "seed-simplified"],
)
def test_text_notes_read_as_their_paragraphs(note):
    document = read_document(note)
    assert [block.text for block in document.blocks] == note_lines(note)
    assert all(block.page is None and block.kind == "text" for block in document.blocks)


def test_the_weekly_keeps_the_recommendation_paragraph_intact():
    texts = [block.text for block in read_document(WEEKLY_NOTE).blocks]
    paragraph = next(text for text in texts if "AI眼鏡供應鏈:" in text)
    assert paragraph == recommendation_paragraph()
    assert "端側AI芯片:恒玄科技晶晨股份瑞芯微全志科技;AI眼鏡供應鏈:" in paragraph
    assert paragraph.endswith("生益科技")


@needs_shared
def test_traditional_seed_keeps_the_recommendation_paragraph_intact():
    texts = [block.text for block in read_document(TRADITIONAL_SEED).blocks]
    paragraph = next(text for text in texts if "字節邊緣算力" in text)
    assert paragraph.startswith("建議關注:字節IDC基建:潤澤科技")
    assert "字節邊緣算力:樂鑫科技泰凌微廣和通中科創達;海外AEC:" in paragraph
    assert paragraph.endswith("神宇股份")


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_headings_lists_and_tables():
    note = (
        "# 通信行业周报\n\n"
        "## 一、行业动向\n"
        "字节跳动大幅催化**算力产业链**。\n"
        "- 润泽科技\n"
        "* 光环新网\n\n"
        "| 代码 | 名称 |\n| --- | --- |\n| 300442 | 润泽科技 |\n\n"
        "---\n"
        "详见[原文](https://example.com)。\n"
    )
    blocks = read_bytes(note.encode(), "weekly.md").blocks
    assert [(block.kind, block.text) for block in blocks] == [
        ("heading", "通信行业周报"),
        ("heading", "一、行业动向"),
        ("text", "字节跳动大幅催化算力产业链。"),
        ("text", "润泽科技"),
        ("text", "光环新网"),
        ("table_row", "代码 | 名称"),
        ("table_row", "300442 | 润泽科技"),
        ("text", "详见原文。"),
    ]


# --- HTML -----------------------------------------------------------------------------------

REPRINT_HTML = """<!DOCTYPE html>
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>【山证通信】周跟踪--字节跳动大幅催化算力产业链_新浪财经_新浪网</title>
<meta name="publishdate" content="2024-12-26">
<script>var ad = "下载新浪财经APP";</script>
<style>.ad-box { color: red }</style>
</head><body>
<div class="top-nav"><a href="/">首页</a> <a href="/stock">股票</a></div>
<nav><ul><li>直播</li><li>行情中心</li></ul></nav>
<div class="main-wrap">
  <div id="artibody" class="article">
    <h1>【山证通信】周跟踪--字节跳动大幅催化算力产业链</h1>
    <p>(来源:山西证券研究所)</p>
    <p>根据36氪报道,2024上半年字节跳动整体收入达到730亿美元,
       假设全年收入约1500亿美元。</p>
    <div class="ad-box">登录新浪财经APP 搜索【信披】查看更多考评等级</div>
    <table>
      <tr><th>代码</th><th>名称</th><th>涨跌幅</th></tr>
      <tr><td>300442</td><td><span>润泽</span>科技</td><td>12.5%</td></tr>
    </table>
    <div>风险提示:<br>海外算力需求不及预期;<br>国产化进度不及预期。</div>
    <noscript>请开启JavaScript</noscript>
  </div>
  <div class="sidebar"><h3>热门推荐</h3><p>A股三大指数集体收涨</p></div>
  <div id="qrcode_box">扫描二维码关注公众号</div>
</div>
<footer>新浪财经 版权所有</footer>
</body></html>
"""


def test_html_reprint_gives_article_paragraphs_and_table_rows_without_chrome(tmp_path):
    path = tmp_path / "reprint.html"
    path.write_bytes(REPRINT_HTML.encode("gbk"))  # a GB2312-declared page, as Sina serves them

    document = read_document(path)

    assert [(block.kind, block.text) for block in document.blocks] == [
        ("heading", "【山证通信】周跟踪--字节跳动大幅催化算力产业链"),
        ("text", "(来源:山西证券研究所)"),
        ("text", "根据36氪报道,2024上半年字节跳动整体收入达到730亿美元,假设全年收入约1500亿美元。"),
        ("table_row", "代码 | 名称 | 涨跌幅"),
        ("table_row", "300442 | 润泽科技 | 12.5%"),
        ("text", "风险提示:"),
        ("text", "海外算力需求不及预期;"),
        ("text", "国产化进度不及预期。"),
    ]
    assert document.title_hint == "【山证通信】周跟踪--字节跳动大幅催化算力产业链_新浪财经_新浪网"
    assert document.date_hint == "2024-12-26"
    everything = "\n".join(block.text for block in document.blocks)
    for chrome in ("APP", "首页", "直播", "热门推荐", "二维码", "版权所有", "JavaScript"):
        assert chrome not in everything


def test_html_without_an_article_container_reads_the_body():
    page = "<html><head><meta property='og:title' content='策略週報'></head><body><div><p>第一段。</p><p>第二段。</p></div><div class='footer-links'>關於我們</div></body></html>"
    document = read_bytes(page.encode("big5"), "page.htm")
    assert [block.text for block in document.blocks] == ["第一段。", "第二段。"]
    assert document.title_hint == "策略週報"


# --- DOCX -----------------------------------------------------------------------------------


def test_docx_keeps_headings_paragraphs_and_table_rows_in_order(tmp_path):
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    document.core_properties.title = "通信行业周报"
    document.add_heading("一、行业动向", level=1)
    document.add_paragraph("字节跳动已跃升为世界顶级CSP。")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(
        table.rows, [("代码", "名称", "涨跌幅"), ("300442", "润泽科技", "12.5%")], strict=True
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("表格之后的段落。")
    document.add_heading("二、投资建议", level=2)
    document.add_paragraph("建议关注算力产业链。")
    # Report templates put the cover title in a content control (<w:sdt>); it must not be lost.
    cover = document.add_paragraph("【山证通信】周跟踪")
    control, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    control.append(content)
    document.element.body.insert(0, control)
    content.append(cover._p)
    path = tmp_path / "weekly.docx"
    document.save(path)

    read = read_document(path)

    assert [(block.kind, block.text) for block in read.blocks] == [
        ("text", "【山证通信】周跟踪"),
        ("heading", "一、行业动向"),
        ("text", "字节跳动已跃升为世界顶级CSP。"),
        ("table_row", "代码 | 名称 | 涨跌幅"),
        ("table_row", "300442 | 润泽科技 | 12.5%"),
        ("text", "表格之后的段落。"),
        ("heading", "二、投资建议"),
        ("text", "建议关注算力产业链。"),
    ]
    assert read.title_hint == "通信行业周报"
    assert all(block.page is None for block in read.blocks)


def test_damaged_or_encrypted_docx_is_refused_with_the_file_name():
    with pytest.raises(ReadError, match=r"^broken\.docx: damaged DOCX"):
        read_bytes(b"PK\x03\x04 this zip stops here", "broken.docx")
    # Word saves password-protected documents as an OLE container, like the old .doc format.
    with pytest.raises(ReadError, match=r"^locked\.docx: not a DOCX package \(password-protected"):
        read_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "locked.docx")


# --- PDF ------------------------------------------------------------------------------------

LONG_PARAGRAPH = (
    "根据36氪报道,2024上半年字节跳动整体收入达到730亿美元,假设全年收入约1500亿美元,"
    "根据全球主流CSP资本开支/收入约11%的历史经验值,2024年其资本开支或超过1100亿人民币。"
    "我们看到在中美AI角逐加剧的背景下,24Q3阿里、腾讯的资本开支均创下历史新高,"
    "我们认为2025年国内CSP的资本开支水平仍有可能超预期。"
)
# English wraps between words: the join must put the space back, once.
MIXED_PARAGRAPH = (
    "OpenAI announced the reasoning models o3 and o3-mini on the last day of its launch event; "
    "on the ARC-AGI benchmark o3 scored 75.7% at the lowest compute setting and 87.5% with more "
    "inference time, a step towards agents that can work on their own."
)
# Long enough to run from the bottom of page 1 onto page 2.
SPANNING_PARAGRAPH = (
    "在OpenAI的12日发布会最后一天,OpenAI宣布了新的推理模型o3和o3-mini。"
    "根据测试结果,o3在被认为是通往AGI的基准测试ARC-AGI中成为首个突破基准的AI模型,"
    "其最低性能达到75.7%,更多推理时间则可以达到87.5%。" * 4
) + "跨页段落到此结束。"


def write_report_pdf(path: Path) -> Path:
    """A two-page Chinese weekly with a running header and footer, headings, a wrapped
    paragraph, a ruled table and a paragraph that crosses the page break."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    body = ParagraphStyle(
        "body",
        fontName="STSong-Light",
        fontSize=10.5,
        leading=16,
        wordWrap="CJK",
        firstLineIndent=21,
        spaceAfter=6,
    )
    heading = ParagraphStyle(
        "heading", fontName="STSong-Light", fontSize=15, leading=20, spaceBefore=6, spaceAfter=8
    )

    def running_lines(canvas, doc):
        canvas.saveState()
        canvas.setFont("STSong-Light", 9)
        canvas.drawString(72, 800, "山西证券研究所 通信行业周报")
        canvas.drawString(72, 45, "请务必阅读正文之后的免责声明部分")
        canvas.drawString(270, 30, f"第 {doc.page} 页 / 共 2 页")
        canvas.restoreState()

    grid = TableStyle(
        [("FONTNAME", (0, 0), (-1, -1), "STSong-Light"), ("GRID", (0, 0), (-1, -1), 0.5, colors.black)]
    )
    story = [
        Paragraph("一、行业动向", heading),
        Paragraph(LONG_PARAGRAPH, body),
        Paragraph("表1:重点公司涨跌幅", body),
        Table(
            [["代码", "名称", "涨跌幅"], ["300442", "润泽科技", "12.5%"], ["300383", "光环新网", "-3.2%"]],
            style=grid,
        ),
        Paragraph("表格之后的段落,依然是正文。", body),
        Paragraph(MIXED_PARAGRAPH, body),
        Spacer(1, 360),
        Paragraph(SPANNING_PARAGRAPH, body),
        Paragraph("二、投资建议", heading),
        Paragraph("建议关注字节边缘算力:乐鑫科技、泰凌微、广和通、中科创达。", body),
    ]
    SimpleDocTemplate(str(path), pagesize=A4, title="通信行业周报", author="山西证券").build(
        story, onFirstPage=running_lines, onLaterPages=running_lines
    )
    return path


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory) -> Path:
    return write_report_pdf(tmp_path_factory.mktemp("pdf") / "weekly.pdf")


def test_pdf_paragraphs_come_back_joined_with_page_numbers(report_pdf):
    blocks = read_document(report_pdf).blocks
    texts = [block.text for block in blocks]

    wrapped = next(block for block in blocks if block.text.startswith("根据36氪报道"))
    assert wrapped.text == LONG_PARAGRAPH  # four wrapped lines, one block, no stray spaces
    assert wrapped.page == 1
    spanning = next(block for block in blocks if block.text.startswith("在OpenAI的12日"))
    assert spanning.text == SPANNING_PARAGRAPH  # joined across the page break
    assert spanning.page == 1
    last = blocks[-1]
    assert (last.text, last.page) == ("建议关注字节边缘算力:乐鑫科技、泰凌微、广和通、中科创达。", 2)
    assert texts.index("表格之后的段落,依然是正文。") < texts.index(SPANNING_PARAGRAPH)
    assert MIXED_PARAGRAPH in texts


def test_pdf_headings_and_table_rows(report_pdf):
    blocks = read_document(report_pdf).blocks
    assert [(block.text, block.page) for block in blocks if block.kind == "heading"] == [
        ("一、行业动向", 1),
        ("二、投资建议", 2),
    ]
    rows = [block for block in blocks if block.kind == "table_row"]
    assert [row.text for row in rows] == ["300442 | 润泽科技 | 12.5%", "300383 | 光环新网 | -3.2%"]
    # Every row carries its caption and header row, so a chunk of rows can be read on its own.
    assert all(row.context == "表1:重点公司涨跌幅\n代码 | 名称 | 涨跌幅" for row in rows)
    texts = [block.text for block in blocks]
    # The table sits where it was printed, and its cells are not repeated as prose.
    assert texts.index("300442 | 润泽科技 | 12.5%") + 2 == texts.index("表格之后的段落,依然是正文。")
    assert not any("润泽科技" in block.text for block in blocks if block.kind != "table_row")


def test_pdf_running_headers_footers_and_page_numbers_are_dropped(report_pdf):
    document = read_document(report_pdf)
    everything = "\n".join(block.text for block in document.blocks)
    assert "山西证券研究所 通信行业周报" not in everything
    assert "免责声明" not in everything
    assert "页 / 共" not in everything
    assert document.title_hint == "通信行业周报"
    assert document.date_hint and document.date_hint.startswith("D:")


def test_pdf_read_from_memory_matches_the_file(report_pdf):
    assert read_bytes(report_pdf.read_bytes(), "upload.PDF").blocks == read_document(report_pdf).blocks


def encrypted(pdf: Path, user_password: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_with_a_user_password_is_refused(report_pdf, tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted(report_pdf, "secret"))
    with pytest.raises(ReadError) as error:
        read_document(path)
    assert str(error.value) == f"{path}: password-protected PDF"


def test_pdf_encrypted_with_an_empty_password_is_read(report_pdf):
    # Brokers often "protect" PDFs against copying only; such files open without a password.
    document = read_bytes(encrypted(report_pdf, ""), "restricted.pdf")
    assert LONG_PARAGRAPH in [block.text for block in document.blocks]


def test_truncated_pdf_is_refused_as_damaged(report_pdf, tmp_path):
    path = tmp_path / "cut.pdf"
    data = report_pdf.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match=r"cut\.pdf: damaged PDF \(") as error:
        read_document(path)
    assert "\n" not in str(error.value)


def test_non_pdf_bytes_with_a_pdf_name_are_refused():
    with pytest.raises(ReadError, match=r"^fake\.pdf: damaged PDF"):
        read_bytes("这不是PDF文件".encode(), "fake.pdf")


def test_pdf_without_a_text_layer_asks_for_ocr(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scanned.pdf"
    page = canvas.Canvas(str(path))
    page.rect(72, 72, 400, 600, fill=1)  # stands in for a scanned page image: marks, no text
    page.showPage()
    page.save()
    with pytest.raises(ReadError) as error:
        read_document(path)
    assert str(error.value) == f"{path}: no text layer (scanned PDF? OCR it first)"
