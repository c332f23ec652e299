"""Writes the held-out binary notes (nine PDFs and one DOCX) in the shapes real broker notes come in.

The content lives in binary_notes.py; this file is layout only, and the layouts differ on purpose:
- first page with the sidebar (rating, analysts, SAC codes, e-mails, market data, a price chart,
  related reports) on the left on some notes and on the right on others, and on one note
  (民生证券) a first page laid out as one table: a title row, then a main-text cell beside a
  sidebar cell;
- running headers of one line or of three lines (国泰海通, 中金公司) on later pages;
- footers with a page number, or "第N页/共M页" (方正证券, 中信证券: drawn after the whole
  document is laid out, so the total is known);
- data tables with a caption and units; the 中金公司 statements table runs over a page break
  (the column header repeats on the next page);
- 图表 N charts drawn as many vector paths (grid lines, ticks, bars or line segments, labels);
- a rating-definition page and a disclaimer page of their own;
- one traditional-script note (交银国际, MSung-Light).
CID fonts STSong-Light / MSung-Light ship with reportlab, so no font file is needed (viewers
without Adobe's CJK fonts draw blanks; the text layer is complete). Output is byte-for-byte
reproducible (rl_config.invariant; fixed zip timestamps for the DOCX).

    python3 -m venv /tmp/eval2venv && /tmp/eval2venv/bin/pip install reportlab pypdfium2 opencc-python-reimplemented
    /tmp/eval2venv/bin/python eval/heldout/make_pdfs.py      # writes eval/heldout/notes/*.pdf and the .docx
"""

from __future__ import annotations

import math
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))
from binary_notes import HUAXI_CATL, PDF_NOTES  # noqa: E402

NOTES_DIR = Path(__file__).resolve().parent / "notes"


def _build_pdf(note: dict, out: Path) -> int:
    # reportlab is imported here so check.py can import the notes without it.
    from reportlab import rl_config
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas as pdfcanvas
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        FrameBreak,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
        Table,
        TableStyle,
    )

    rl_config.invariant = 1  # same bytes on every run: no timestamp or random document id
    font = note["font"]
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    width, height = A4
    accent = colors.HexColor({"left": "#1f3f77", "right": "#9b1c1c", "table": "#1d5c3a"}[note["layout"]])

    def style(name: str, size: float, leading: float, **extra) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, wordWrap="CJK", **extra)

    body = style("body", 9.5, 15, spaceAfter=6, firstLineIndent=19)
    heading = style("heading", 11.5, 17, spaceBefore=6, spaceAfter=4, textColor=accent)
    side = style("side", 7.5, 11)
    side_label = style("side_label", 8, 12, textColor=accent, spaceBefore=5)
    title = style("title", 17, 23, spaceAfter=4)
    subtitle = style("subtitle", 13, 19, spaceAfter=8, textColor=accent)
    caption = style("caption", 9, 13, spaceBefore=6, spaceAfter=3)
    source = style("source", 7.5, 11, spaceAfter=8, textColor=colors.grey)
    cell = style("cell", 7.5, 10)

    def para(text: str, st: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(text), st)

    def first_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.setFillColor(accent)
        canvas.drawString(40, height - 40, note["banner"])
        canvas.drawRightString(width - 40, height - 40, note["date_line"])
        canvas.setStrokeColor(accent)
        canvas.line(40, height - 46, width - 40, height - 46)
        canvas.restoreState()

    def later_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        lines = note["header"]
        top = height - 30
        for i, line in enumerate(lines):  # one line, or three stacked at the top right
            y = top - i * 10
            if len(lines) == 1:
                canvas.drawString(40, y, line)
            else:
                canvas.drawRightString(width - 40, y, line)
        rule = top - len(lines) * 10 + 4
        canvas.setStrokeColor(accent)
        canvas.line(40, rule, width - 40, rule)
        canvas.restoreState()

    def footer(canvas, page: int, total: int | None) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.drawString(40, 28, note["footer"])
        mark = f"第{page}页/共{total}页" if total else str(page)
        canvas.drawRightString(width - 40, 28, mark)
        canvas.restoreState()

    page_of = note["page_of"]

    class FooterCanvas(pdfcanvas.Canvas):
        """Draws every page's footer at save time, when the page count is known."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                footer(self, number, total if page_of else None)
                super().showPage()
            super().save()

    top = height - 56
    sidebar_width = 140
    gap = 16
    main_width = width - 80 - sidebar_width - gap
    if note["layout"] == "left":
        sidebar_x, main_x = 40, 40 + sidebar_width + gap
    else:
        main_x, sidebar_x = 40, 40 + main_width + gap
    later_top = height - 30 - len(note["header"]) * 10 - 6
    frame_later = Frame(40, 44, width - 80, later_top - 44, id="body")
    if note["layout"] == "table":
        frames_first = [Frame(40, 44, width - 80, top - 44, id="page")]
    else:  # the sidebar frame comes first in the story whichever side it is drawn on
        frames_first = [
            Frame(sidebar_x, 44, sidebar_width, top - 44, id="sidebar", leftPadding=0, rightPadding=6),
            Frame(main_x, 44, main_width, top - 44, id="main"),
        ]
    doc = BaseDocTemplate(str(out), pagesize=A4, title=f"{note['title']} {note['subtitle']}", author="")
    doc.addPageTemplates(
        [
            PageTemplate(id="first", frames=frames_first, onPage=first_page),
            PageTemplate(id="later", frames=[frame_later], onPage=later_page),
        ]
    )

    def price_chart(label: str, w: float) -> Drawing:
        # Many short segments and a dense grid, as chart exports from Wind/Excel come out.
        drawing = Drawing(w, 80)
        for i in range(6):
            drawing.add(Line(0, 8 + i * 11, w - 4, 8 + i * 11, strokeColor=colors.lightgrey, strokeWidth=0.3))
        points = 48
        step = (w - 8) / (points - 1)
        for series, color, amp, drift in ((0, accent, 9, 0.55), (1, colors.grey, 4, 0.2)):
            prev = None
            for i in range(points):
                y = 14 + drift * i + amp * math.sin(i / 3.1 + series) + 3 * math.sin(i * 1.7)
                point = (i * step, y)
                if prev:
                    drawing.add(
                        Line(prev[0], prev[1], point[0], point[1], strokeColor=color, strokeWidth=0.8)
                    )
                prev = point
        drawing.add(String(0, 72, label, fontName=font, fontSize=6.5))
        return drawing

    def data_chart(spec: dict, w: float) -> Drawing:
        labels, values = spec["labels"], spec["values"]
        drawing = Drawing(w, 150)
        x0, y0, pw, ph = 36, 22, w - 50, 110
        vmax = max(values) * 1.2
        vmin = 0 if spec["kind"] == "bar" else min(values) * 0.8
        for i in range(6):
            y = y0 + ph * i / 5
            drawing.add(Line(x0, y, x0 + pw, y, strokeColor=colors.lightgrey, strokeWidth=0.3))
            tick = vmin + (vmax - vmin) * i / 5
            drawing.add(
                String(
                    x0 - 3,
                    y - 2,
                    f"{tick:,.0f}" if vmax > 20 else f"{tick:.1f}",
                    fontName=font,
                    fontSize=5.5,
                    textAnchor="end",
                )
            )
        drawing.add(Line(x0, y0, x0, y0 + ph, strokeColor=colors.black, strokeWidth=0.5))
        slot = pw / len(values)

        def y_of(v: float) -> float:
            return y0 + ph * (v - vmin) / (vmax - vmin)

        prev = None
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            cx = x0 + slot * (i + 0.5)
            drawing.add(Line(cx, y0, cx, y0 - 2, strokeColor=colors.black, strokeWidth=0.4))
            drawing.add(String(cx, y0 - 10, label, fontName=font, fontSize=5.5, textAnchor="middle"))
            if spec["kind"] == "bar":
                drawing.add(
                    Rect(
                        cx - slot * 0.3, y0, slot * 0.6, y_of(value) - y0, fillColor=accent, strokeColor=None
                    )
                )
            else:
                # a line drawn as short segments between interpolated points
                point = (cx, y_of(value))
                if prev:
                    for k in range(8):
                        a = (prev[0] + (point[0] - prev[0]) * k / 8, prev[1] + (point[1] - prev[1]) * k / 8)
                        b = (
                            prev[0] + (point[0] - prev[0]) * (k + 1) / 8,
                            prev[1] + (point[1] - prev[1]) * (k + 1) / 8,
                        )
                        drawing.add(Line(a[0], a[1], b[0], b[1], strokeColor=accent, strokeWidth=1))
                prev = point
                drawing.add(
                    Rect(point[0] - 1.2, point[1] - 1.2, 2.4, 2.4, fillColor=accent, strokeColor=None)
                )
            drawing.add(
                String(cx, y_of(value) + 3, f"{value:,}", fontName=font, fontSize=5.5, textAnchor="middle")
            )
        return drawing

    def table(spec: dict) -> list:
        data = [[para(c, cell) for c in spec["columns"]]] + [
            [para(c, cell) for c in row] for row in spec["rows"]
        ]
        first = 2.0 if len(spec["columns"]) > 5 else 2.6
        col = (width - 80) / (len(spec["columns"]) - 1 + first)
        grid = Table(
            data, colWidths=[col * first] + [col] * (len(spec["columns"]) - 1), repeatRows=1, hAlign="LEFT"
        )
        grid.setStyle(
            TableStyle(
                [
                    ("LINEABOVE", (0, 0), (-1, 0), 0.8, accent),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.5, accent),
                    ("LINEBELOW", (0, -1), (-1, -1), 0.8, accent),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f6")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]
            )
        )
        return [para(spec["caption"], caption), grid, para(spec["source"], source)]

    def blocks(items: list, w: float) -> list:
        flow: list = []
        for kind, value in items:
            if kind == "h":
                flow.append(para(value, heading))
            elif kind == "p":
                flow.append(para(value, body))
            elif kind == "chart":
                flow += [
                    para(value["caption"], caption),
                    data_chart(value, min(w, 360)),
                    para(value["source"], source),
                ]
            else:
                flow += table(value)
        return flow

    def sidebar_flow(w: float) -> list:
        flow: list = [para(note["rating"], side_label)]
        for label, text in note["sidebar"]:
            if label == "chart":
                flow += [Spacer(1, 6), price_chart(text, w - 8)]
            elif label and text:
                flow.append(para(f"{label}：{text}", side_label))
            elif label:
                flow.append(para(label, side_label))
            else:
                flow.append(para(text, side))
        return flow

    story: list = [NextPageTemplate("later")]
    if note["layout"] == "table":
        # The whole first page is one table: title row, then main text | sidebar.
        side_w = 150
        main_w = width - 80 - side_w
        first_main = [para(note["title"], title), para(note["subtitle"], subtitle)]
        first_main += blocks(note["main"], main_w - 12)
        layout = Table(
            [[first_main, sidebar_flow(side_w)]],
            colWidths=[main_w, side_w],
            style=TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEAFTER", (0, 0), (0, 0), 0.5, accent),
                    ("LEFTPADDING", (1, 0), (1, 0), 8),
                ]
            ),
        )
        story.append(layout)
    else:
        story += sidebar_flow(sidebar_width)
        story.append(FrameBreak())
        story += [para(note["title"], title), para(note["subtitle"], subtitle)]
        story += blocks(note["main"], main_width)
    story.append(PageBreak())
    story += blocks(note["body"], width - 80)
    for closing in (note["rating_page"], note["disclaimer"]):
        story.append(PageBreak())
        story += [para(text, heading if len(text) <= 16 else body) for text in closing]
    doc.build(story, canvasmaker=FooterCanvas)
    return doc.page


# ---- DOCX: a minimal WordprocessingML package, as Word writes it (styles, core properties) ------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    "</Relationships>"
)
_DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<w:styles xmlns:w="{_W}">'
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
    '<w:rPr><w:rFonts w:eastAsia="宋体"/><w:sz w:val="21"/></w:rPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/>'
    '<w:rPr><w:b/><w:sz w:val="32"/></w:rPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/>'
    '<w:rPr><w:b/><w:color w:val="C00000"/><w:sz w:val="24"/></w:rPr></w:style>'
    '<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/>'
    "<w:tblPr><w:tblBorders>"
    '<w:top w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:bottom w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:insideH w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    "</w:tblBorders></w:tblPr></w:style>"
    "</w:styles>"
)


def _core(title: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>HX</dc:creator>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2026-03-20T01:00:00Z</dcterms:created>'
        '<dcterms:modified xsi:type="dcterms:W3CDTF">2026-03-20T01:00:00Z</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _w_paragraph(text: str, style: str | None = None) -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{props}<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def _w_table(spec: dict) -> str:
    rows = [spec["columns"]] + spec["rows"]
    grid = "".join('<w:gridCol w:w="1600"/>' for _ in spec["columns"])
    body = "".join(
        "<w:tr>"
        + "".join(
            f'<w:tc><w:tcPr><w:tcW w:w="1600" w:type="dxa"/></w:tcPr>{_w_paragraph(c)}</w:tc>' for c in row
        )
        + "</w:tr>"
        for row in rows
    )
    return (
        '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="0" w:type="auto"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>{body}</w:tbl>"
    )


def _build_docx(note: dict, out: Path) -> None:
    parts = []
    for kind, value in note["blocks"]:
        if kind == "table":
            parts += [
                _w_paragraph(value["caption"], "Heading1"),
                _w_table(value),
                _w_paragraph(value["source"]),
            ]
        else:
            parts.append(_w_paragraph(value, {"title": "Title", "heading": "Heading1"}.get(kind)))
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}"><w:body>{"".join(parts)}'
        '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>'
    )
    files = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
        "word/_rels/document.xml.rels": _DOC_RELS,
        "word/document.xml": document,
        "word/styles.xml": _STYLES,
        "docProps/core.xml": _core(note["title"]),
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 20, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            package.writestr(info, text.encode("utf-8"))


def main() -> None:
    NOTES_DIR.mkdir(parents=True, exist_ok=True)
    for note in PDF_NOTES:
        out = NOTES_DIR / note["file"]
        pages = _build_pdf(note, out)
        print(f"wrote {out.relative_to(NOTES_DIR.parents[2])} ({pages} pages, {out.stat().st_size} bytes)")
    out = NOTES_DIR / HUAXI_CATL["file"]
    _build_docx(HUAXI_CATL, out)
    print(f"wrote {out.relative_to(NOTES_DIR.parents[2])} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
