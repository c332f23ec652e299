"""The PDF reader on notes shaped like real broker research (tests/broker_pdf.py draws them with
reportlab): the paragraphs a user would cite come back whole, nothing from the first page's sidebar
gets into them, tables keep their caption, and the report's metadata is read off the page."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from index.chunking import chunk_paragraphs
from index.clean import clean_reprint_boilerplate
from index.describe import describe_report
from index.lexicon import Lexicon
from index.readers import read_bytes, read_document
from tests.broker_pdf import NoteSpec, find_cjk_font, score_reading, write_note


def note(tmp_path_factory, name: str, **spec) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("pdf") / name
    return path, write_note(path, NoteSpec(body_pages=3, **spec))


@pytest.fixture(scope="module")
def sidebar_left(tmp_path_factory):
    """A 华泰-style company note: sidebar on the left, title over the main column, bold headings
    drawn twice, a disclaimer at the end; the file name says only "report.pdf"."""
    return note(tmp_path_factory, "report.pdf", seed=1, metadata_title="ppt")


@pytest.fixture(scope="module")
def sidebar_right(tmp_path_factory):
    return note(
        tmp_path_factory,
        "20230406-山西证券-英维克(002837)-液冷龙头.pdf",
        seed=2,
        sidebar="right",
        title_span="full",
        broker="山西证券",
        institute="山西证券研究所",
        company="山西证券股份有限公司",
        email_domain="sxzq.com",
        day=date(2023, 4, 6),
        banner_date=False,  # the date is in the file name only
        first_line_indent=True,
        justify=True,
        page_numbers="of",
    )


@pytest.fixture(scope="module")
def layout_table(tmp_path_factory):
    """The first page laid out as one ruled table: a sidebar cell beside a main-text cell."""
    return note(tmp_path_factory, "layout.pdf", seed=3, first_page="table", bullets=True, traditional=True)


NOTES = ["sidebar_left", "sidebar_right", "layout_table"]


@pytest.mark.parametrize("fixture", NOTES)
def test_every_paragraph_comes_back_whole(fixture, request):
    path, truth = request.getfixturevalue(fixture)
    score = score_reading(read_document(path), truth)
    assert score.missing == []  # across line wraps, page breaks, first-line indents, bullets
    assert score.paragraphs >= 12


@pytest.mark.parametrize("fixture", NOTES)
def test_no_sidebar_line_gets_into_the_main_text(fixture, request):
    path, truth = request.getfixturevalue(fixture)
    document = read_document(path)
    assert score_reading(document, truth).sidebar_leaks == []
    # The sidebar is kept apart, not lost: the analysts' registration codes are in it.
    aside = "\n".join(block.text for block in document.aside)
    for analyst in NoteSpec().analysts if fixture == "sidebar_left" else []:
        assert analyst.sac in aside


@pytest.mark.parametrize("fixture", NOTES)
def test_every_data_table_row_carries_its_caption(fixture, request):
    path, truth = request.getfixturevalue(fixture)
    score = score_reading(read_document(path), truth)
    assert score.table_rows_missing == []
    assert score.tables_with_caption == score.tables >= 5


def test_a_table_chunk_can_be_found_by_year_and_item(sidebar_left):
    """ "2024E 归母净利润": the year is in the header, the item in a row, the units in the caption
    line; every chunk of the forecast table holds all three."""
    path, _ = sidebar_left
    document = read_document(path)
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    chunks = chunk_paragraphs(cleaned.paragraphs)
    forecast = [c.text for c in chunks if "归母净利润 |" in c.text]
    assert forecast
    for text in forecast:
        assert "经营预测指标与估值" in text and "单位：百万元" in text and "2024E" in text


def test_a_table_running_over_a_page_keeps_its_caption_on_the_next(tmp_path):
    # Every other valuation table has 36 rows: it runs over a page break.
    path = tmp_path / "long-table.pdf"
    truth = write_note(path, NoteSpec(body_pages=6, seed=5))
    document = read_document(path)
    long_tables = [t for t in truth.tables if len(t.rows) > 30]
    assert long_tables
    rows = [b for b in document.blocks if b.kind == "table_row"]
    for table in long_tables:
        for row in table.rows:
            found = [b for b in rows if b.text == " | ".join(row)]
            assert found and all(table.caption in b.context for b in found), row
        pages = {b.page for b in rows if b.context and table.caption in b.context}
        assert len(pages) >= 2  # the table did cross a page, and both halves carry its caption


def test_running_headers_footers_and_page_numbers_are_dropped(sidebar_right):
    path, truth = sidebar_right
    document = read_document(path)
    text = "\n".join(block.text for block in document.blocks)
    assert "研究所 | 公司研究" not in text  # the running header
    assert "请务必一起阅读" not in text  # the running footer
    assert "页 共" not in text  # 第 3 页 共 9 页


def test_disclaimer_pages_are_set_aside(sidebar_left):
    path, _ = sidebar_left
    document = read_document(path)
    text = "\n".join(block.text for block in document.blocks)
    assert "以下简称“本公司”" not in text and "投资评级说明" not in text and "兹证明" not in text
    assert any("以下简称“本公司”" in line for line in document.disclaimer)


def test_disclaimer_pages_without_a_heading_are_set_aside(tmp_path):
    path = tmp_path / "no-headings.pdf"
    truth = write_note(path, NoteSpec(body_pages=2, seed=9, disclaimer_headings=False))
    document = read_document(path)
    text = "\n".join(block.text for block in document.blocks)
    assert "以下简称“本公司”" not in text and "兹证明" not in text
    assert score_reading(document, truth).missing == []


def test_text_drawn_twice_for_bold_is_read_once(sidebar_left):
    path, truth = sidebar_left
    document = read_document(path)
    headings = [block.text for block in document.blocks if block.kind == "heading"]
    assert "投资要点" in headings
    assert document.hints.title == truth.title  # 英维克（002837）：…, not "…基建基建…"
    for block in document.blocks:
        assert "投资要点投资要点" not in block.text


@pytest.mark.parametrize("fixture", NOTES)
def test_report_metadata_is_read_off_the_first_page_and_file_name(fixture, request):
    path, truth = request.getfixturevalue(fixture)
    hints = read_document(path).hints
    assert (hints.broker, hints.date, hints.analysts) == (truth.broker, truth.date, truth.analysts)
    assert (hints.rating, hints.target_price, hints.ticker) == ("买入", 45.6, "002837")


def test_a_placeholder_pdf_title_does_not_replace_the_heading(sidebar_left):
    path, truth = sidebar_left  # its PDF Info Title is "ppt"
    document = read_document(path)
    assert document.title_hint == truth.title
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    description = describe_report(
        document.blocks, cleaned, Lexicon.load(), document.title_hint, document.hints
    )
    assert description.title == truth.title
    assert (description.broker, description.date, description.kind) == ("华泰证券", "2024-04-07", "company")


def test_the_page_count_is_on_the_document(sidebar_left):
    path, truth = sidebar_left
    assert read_document(path).pages == truth.pages
    assert read_bytes(path.read_bytes(), "upload.pdf").pages == truth.pages


def test_chinese_text_is_extracted_from_the_cid_font():
    """reportlab's STSong-Light is a CID font without embedded glyphs: PDFium must still map it
    to Unicode, or none of these tests means anything."""
    import io

    import pypdfium2 as pdfium
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont("STSong-Light", 12)
    page.drawString(72, 720, "归母净利润同比增长12.5%")
    page.save()
    text = pdfium.PdfDocument(out.getvalue())[0].get_textpage().get_text_range()
    assert "归母净利润同比增长12.5%" in text


def test_a_title_overprinted_run_by_run_reads_once(tmp_path):
    """The trap of real note 13 ("行業拐點或行業拐點或已顯現,迎接已顯現,迎接AIAI"): each run of a bold
    title drawn twice, 0.4 pt apart, one run after another, with a Latin word in its own font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    path = tmp_path / "overprint.pdf"
    page = canvas.Canvas(str(path))
    x = 72.0
    for text, font in (
        ("行业拐点或", "STSong-Light"),
        ("已显现，迎接", "STSong-Light"),
        ("AI", "Vera"),
        ("时代晨曦", "STSong-Light"),
    ):
        for offset in (0, 0.4):
            page.setFont(font, 20)
            page.drawString(x + offset, 720, text)
        x += pdfmetrics.stringWidth(text, font, 20)
    page.setFont("STSong-Light", 10)
    page.drawString(72, 680, "2024年行业不利因素尽数释放，业绩步入低位有望迎来拐点。")
    page.showPage()
    page.save()
    document = read_document(path)
    assert [(b.kind, b.text) for b in document.blocks] == [
        ("heading", "行业拐点或已显现，迎接AI时代晨曦"),
        ("text", "2024年行业不利因素尽数释放，业绩步入低位有望迎来拐点。"),
    ]
    assert document.hints.title == "行业拐点或已显现，迎接AI时代晨曦"


CJK_FONT = find_cjk_font()


@pytest.mark.skipif(
    CJK_FONT is None, reason="no Chinese TrueType font on this machine (e.g. fonts-wqy-microhei)"
)
def test_embedded_fonts_with_figures_in_a_latin_font(tmp_path):
    """As Word writes them: an embedded Chinese font, and figures and Latin words in an embedded
    Latin font, so lines switch fonts (and glyph heights) every few characters."""
    for number, layout in enumerate(({}, {"sidebar": "right", "first_page": "table", "justify": True})):
        path = tmp_path / f"embedded{number}.pdf"
        truth = write_note(
            path,
            NoteSpec(body_pages=3, seed=11 + number, cjk_font_file=CJK_FONT, latin_font="Vera", **layout),
        )
        score = score_reading(read_document(path), truth)
        assert (score.missing, score.sidebar_leaks, score.metadata_errors) == ([], [], [])
        assert score.tables_with_caption == score.tables


def test_a_row_label_wrapped_in_its_cell_stays_with_its_figures(tmp_path):
    """A ruled forecast table whose label column wraps "归属于母公司股东的净利润" over three lines,
    the figures centred on the middle one: one row, with its caption and header."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    cell = ParagraphStyle("cell", fontName="STSong-Light", fontSize=8, leading=10, wordWrap="CJK")
    body = ParagraphStyle("body", fontName="STSong-Light", fontSize=10, leading=16, wordWrap="CJK")
    rows = [
        ["会计年度", "2023A", "2024E", "2025E"],
        [Paragraph("营业收入", cell), "1,234.5", "1,456.7", "1,678.9"],
        [Paragraph("归属于母公司股东的净利润", cell), "234.5", "256.7", "278.9"],
        [Paragraph("每股收益", cell), "0.45", "0.51", "0.58"],
    ]
    table = Table(rows, colWidths=[50, 60, 60, 60])
    table.setStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), "STSong-Light"),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, "black"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.4, "black"),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, "black"),
        ]
    )
    path = tmp_path / "forecast.pdf"
    SimpleDocTemplate(str(path)).build(
        [
            Paragraph("图表3：盈利预测（单位：百万元）", body),
            table,
            Paragraph("资料来源：Wind，华泰研究预测", body),
        ]
    )
    rows_read = [(b.text, b.context) for b in read_document(path).blocks if b.kind == "table_row"]
    context = "图表3：盈利预测（单位：百万元）\n会计年度 | 2023A | 2024E | 2025E"
    assert rows_read == [
        ("营业收入 | 1,234.5 | 1,456.7 | 1,678.9", context),
        ("归属于母公司股东的净利润 | 234.5 | 256.7 | 278.9", context),
        ("每股收益 | 0.45 | 0.51 | 0.58", context),
    ]
