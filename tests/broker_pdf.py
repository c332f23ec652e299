"""Broker-shaped research-note PDFs, written with reportlab, for the PDF reader's tests and benchmarks.

Real sell-side notes share a shape, and each part of it is a trap for a text extractor:
  * page 1 is two columns: a narrow sidebar (rating, target price, analysts with SAC codes and
    e-mails, a small market-data table, a price chart, related reports) beside the main text
    (投资要点), under a banner (证券研究报告, date) and a title; some brokers lay that page out as
    one ruled table with a sidebar cell and a main-text cell;
  * every later page has a running header (report type, stock, a rule) and footer (a reminder to read
    the disclaimer, a page number);
  * figures are captioned (图表 N: …), drawn as hundreds of vector paths with tick labels, often two
    side by side, with a source line (资料来源: Wind, XX研究) under them;
  * data tables (盈利预测, 估值表) carry a caption and units, and the long ones run over a page;
    the financial statements at the end are four tables in a 2x2 grid;
  * headings are often "bold" by drawing the text twice, a fraction of a point apart;
  * the last pages are the analyst declaration, the disclaimer and the rating definitions.

`write_note(path, spec)` writes one note and returns a `NoteTruth`: the paragraphs a person would
cite (exactly as drawn), the sidebar lines, the data tables, and the metadata, so tests and
benchmarks can score a reader against what was really on the page.

Test and benchmark helper only: nothing in bot/ or index/ imports it.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["Analyst", "NoteSpec", "NoteTruth", "TableTruth", "note_specs", "write_note"]

PAGE_W, PAGE_H = 595.0, 842.0  # A4 in points
MARGIN = 48.0


@dataclass
class Analyst:
    name: str
    sac: str  # 执业证书编号, e.g. S0570519110003
    email: str
    phone: str = "+86-21-28972085"


@dataclass
class NoteSpec:
    """What one generated note looks like. Defaults make a 华泰-style company note."""

    seed: int = 0
    broker: str = "华泰证券"
    institute: str = "华泰研究"  # how the broker signs its sources
    company: str = "华泰证券股份有限公司"  # the legal name the disclaimer uses
    email_domain: str = "htsc.com.cn"
    day: date = date(2024, 4, 7)
    stock_name: str = "英维克"
    stock_code: str = "002837"
    title: str = "液冷龙头受益于算力基建，上调盈利预测"
    rating: str = "买入"
    rating_change: str = "维持"
    target_price: float | None = 45.6
    analysts: list[Analyst] = field(
        default_factory=lambda: [
            Analyst("刘志成", "S0570518080005", "liuzhicheng@htsc.com.cn"),
            Analyst("王晓燕", "S0570522070002", "wangxiaoyan@htsc.com.cn"),
        ]
    )
    sidebar: str = "left"  # "left" | "right"
    first_page: str = "columns"  # "columns" (two frames) | "table" (one ruled layout table)
    title_span: str = "main"  # "main": the title sits over the main column; "full": across the page
    overprint_bold: bool = True  # headings drawn twice, 0.3 pt apart
    body_pages: int = 6  # about how many pages of text, figures and tables follow page 1
    chart_points: int = 240  # points of each line series (each segment is its own path)
    traditional: bool = False
    metadata_title: str | None = None  # what the file's Title says (None: the note's title)
    shaded_sidebar: bool = True
    first_line_indent: bool = False  # body paragraphs start two characters in
    justify: bool = False  # body text set flush left and right
    bullets: bool = False  # the first page's points are bulleted (●) with a hanging indent
    banner_date: bool = True  # the banner prints the date (otherwise only the file name has it)
    page_numbers: str = "plain"  # "plain": 3; "of": 第 3 页 共 12 页
    # Figures and Latin words set in their own (embedded TrueType) font, as Word does: "Vera" or
    # "VeraBd" (bundled with reportlab). Every line then switches fonts, and glyph heights, often.
    latin_font: str | None = None
    # A TrueType/TTC Chinese font file to embed instead of the CID fonts (none is bundled with
    # reportlab; e.g. wqy-microhei.ttc where the system has it).
    cjk_font_file: str | None = None
    disclaimer_headings: bool = True  # the disclaimer pages open with 分析师声明, 一般声明, …


@dataclass
class TableTruth:
    caption: str  # as drawn, e.g. "图表12：可比公司估值表"
    units: str | None  # e.g. "单位：百万元" when drawn apart from the caption
    header: list[str]
    rows: list[list[str]]


@dataclass
class NoteTruth:
    title: str
    broker: str
    date: str  # YYYY-MM-DD
    analysts: list[str]
    rating: str
    target_price: float | None
    ticker: str
    paragraphs: list[str] = field(default_factory=list)  # main text, in reading order
    headings: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)  # figure captions
    sidebar: list[str] = field(default_factory=list)  # every text line of the first-page sidebar
    tables: list[TableTruth] = field(default_factory=list)
    disclaimer: list[str] = field(default_factory=list)
    pages: int = 0


# --- the words ------------------------------------------------------------------------------

_SENTENCES = (
    "公司发布{y}年年报，实现营业收入{a}亿元，同比增长{p}%，归母净利润{b}亿元，同比增长{q}%。",
    "分业务看，{seg}业务收入{a}亿元，同比增长{p}%，毛利率{m}%，同比提升{d}个百分点。",
    "我们认为公司在{ind}领域的先发优势明显，客户结构持续优化，海外收入占比提升至{m}%。",
    "受益于下游{ind}需求的快速增长，公司订单饱满，产能利用率维持在较高水平。",
    "报告期内公司研发投入{b}亿元，占营业收入的{d}%，研发人员数量同比增加{q}%。",
    "费用端，销售费用率和管理费用率分别为{d}%和{e}%，同比下降{f}和{g}个百分点，规模效应逐步显现。",
    "我们预计公司{y1}-{y3}年归母净利润分别为{b}/{c}/{h}亿元，对应EPS分别为{e}/{f}/{g}元。",
    "参考可比公司{y1}年平均{pe}倍PE，给予公司{y1}年{pe2}倍PE，对应目标价{tp}元。",
    "经营性现金流净额{a}亿元，同比大幅改善，应收账款周转天数下降至{n}天。",
    "从行业格局看，前五大厂商合计市场份额约{m}%，行业集中度仍有较大提升空间。",
    "随着{ind}渗透率的提升，我们认为相关环节的市场空间有望在{y3}年达到{a}亿元。",
    "单季度看，{y}年第四季度公司实现收入{b}亿元，环比增长{q}%，超出市场预期。",
    "公司新建的{seg}产线已于{y}年下半年投产，新增产能约{n}万套，将在{y1}年充分释放。",
    "我们注意到原材料价格自{y}年以来有所回落，公司毛利率有望在未来两年保持稳定。",
    "海外市场方面，公司已通过多家头部客户的认证，并于{y}年实现批量供货。",
    "考虑到下游资本开支节奏的不确定性，我们下调公司{y1}年收入预测{d}%，维持{y2}年预测不变。",
    "截至{y}年末，公司在手订单约{a}亿元，同比增长{p}%，为未来业绩增长提供了保障。",
    "We expect revenue to grow {p}% in {y1}, driven by data-center cooling and energy-storage orders.",
    "行业层面，{ind}政策持续加码，招标规模同比增长{p}%，景气度维持高位。",
    "公司股权激励计划设定的考核目标为{y1}-{y3}年净利润复合增速不低于{q}%，彰显管理层信心。",
)
_SEGMENTS = ("机房温控", "机柜温控", "储能温控", "液冷", "客车空调", "轨道交通", "云计算", "光模块")
_INDUSTRIES = ("算力基础设施", "数据中心", "储能", "新能源汽车", "人工智能", "工业自动化", "通信设备")
_HEADINGS = (
    "投资要点",
    "业绩回顾：收入利润双增长",
    "液冷业务打开成长空间",
    "储能温控需求旺盛",
    "盈利预测与估值",
    "行业景气度持续提升",
    "海外市场加速拓展",
    "费用管控成效显著",
    "风险提示",
)
_LEADS = ("业绩符合预期", "液冷业务高增长", "储能温控放量", "盈利预测与估值", "海外拓展顺利")
_ITEMS = ("营业收入", "+/-%", "归母净利润", "+/-%", "EPS（元）", "ROE（%）", "PE（倍）", "PB（倍）")
_BS_ITEMS = (
    "流动资产", "现金", "应收账款", "其他应收款", "预付账款", "存货", "其他流动资产", "非流动资产",
    "长期投资", "固定资产", "无形资产", "其他非流动资产", "资产总计", "流动负债", "短期借款",
    "应付账款", "其他流动负债", "非流动负债", "长期借款", "负债合计", "少数股东权益", "股本",
    "资本公积", "留存收益", "归属母公司股东权益", "负债和股东权益",
)  # fmt: skip
_IS_ITEMS = (
    "营业收入", "营业成本", "营业税金及附加", "营业费用", "管理费用", "研发费用", "财务费用",
    "资产减值损失", "公允价值变动收益", "投资净收益", "营业利润", "营业外收入", "营业外支出",
    "利润总额", "所得税", "净利润", "少数股东损益", "归属母公司净利润", "EBITDA", "EPS（元）",
)  # fmt: skip
_CF_ITEMS = (
    "经营活动现金流", "净利润", "折旧摊销", "财务费用", "投资损失", "营运资金变动",
    "投资活动现金流", "资本支出", "长期投资", "筹资活动现金流", "短期借款", "长期借款",
    "普通股增加", "资本公积增加", "现金净增加额",
)  # fmt: skip
_RATIO_ITEMS = (
    "营业收入增长率", "营业利润增长率", "归母净利润增长率", "毛利率", "净利率", "ROE", "ROIC",
    "资产负债率", "净负债比率", "流动比率", "速动比率", "总资产周转率", "P/E", "P/B", "EV/EBITDA",
)  # fmt: skip
_PEERS = ("申菱环境", "佳力图", "高澜股份", "同飞股份", "曙光数创", "飞荣达", "中石科技", "银轮股份")


class _Words:
    def __init__(self, rng: random.Random, year: int) -> None:
        self.rng = rng
        self.year = year

    def number(self, low: float, high: float, digits: int = 2) -> str:
        return f"{self.rng.uniform(low, high):.{digits}f}"

    def sentence(self) -> str:
        r, y = self.rng, self.year
        return r.choice(_SENTENCES).format(
            y=y - 1, y1=y, y2=y + 1, y3=y + 2,
            a=self.number(10, 300), b=self.number(1, 30), c=self.number(1, 40), h=self.number(2, 50),
            p=self.number(5, 80, 1), q=self.number(5, 120, 1), m=self.number(20, 60, 1),
            d=self.number(0.5, 9, 1), e=self.number(0.3, 3), f=self.number(0.3, 3), g=self.number(0.3, 3),
            n=r.randint(30, 900), pe=r.randint(18, 40), pe2=r.randint(20, 45), tp=self.number(20, 90),
            seg=r.choice(_SEGMENTS), ind=r.choice(_INDUSTRIES),
        )  # fmt: skip

    def paragraph(self, sentences: tuple[int, int] = (2, 5)) -> str:
        return "".join(self.sentence() for _ in range(self.rng.randint(*sentences)))

    def figures_row(self, count: int, scale: float = 1000.0) -> list[str]:
        return [f"{self.rng.uniform(-0.2, 1.0) * scale:,.2f}" for _ in range(count)]


# --- reportlab plumbing -------------------------------------------------------------------


def _styles(font: str, spec: NoteSpec):
    from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    def style(name: str, size: float, leading: float, **kw) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, wordWrap="CJK", **kw)

    align = TA_JUSTIFY if spec.justify else TA_LEFT
    indent = 20 if spec.first_line_indent else 0
    return {
        "body": style("body", 10, 16, spaceAfter=7, alignment=align, firstLineIndent=indent),
        "lead": style("lead", 10, 16, spaceAfter=7, alignment=align),
        "bullet": style("bullet", 10, 16, spaceAfter=5, leftIndent=12, bulletIndent=0, bulletFontName=font),
        "title": style("title", 18, 24, spaceAfter=6),
        "banner": style("banner", 13, 16),
        "h1": style("h1", 13, 18, spaceBefore=8, spaceAfter=6),
        "side_h": style("side_h", 9.5, 13, spaceBefore=5, spaceAfter=2),
        "side": style("side", 8, 11),
        "side_big": style("side_big", 14, 18),
        "caption": style("caption", 9, 12, spaceBefore=6, spaceAfter=3),
        "source": style("source", 7.5, 10, spaceBefore=2, spaceAfter=6),
        "units": style("units", 7.5, 10, alignment=TA_RIGHT),
        "cell": style("cell", 7.5, 9.5),
        "disclaimer": style("disclaimer", 8, 12, spaceAfter=5),
    }


def _flowable_base():
    from reportlab.platypus import Flowable

    return Flowable


def _overprinted(paragraph, offset: float = 0.3):
    """A paragraph drawn twice, `offset` points apart: how many PDFs make Chinese text bold."""
    from reportlab.platypus import Flowable

    class Overprinted(Flowable):
        def __init__(self) -> None:
            super().__init__()
            self.inner = paragraph

        def wrap(self, available_width, available_height):
            self.width, self.height = self.inner.wrap(available_width, available_height)
            return self.width, self.height

        def getSpaceBefore(self):  # noqa: N802 (reportlab's name)
            return self.inner.getSpaceBefore()

        def getSpaceAfter(self):  # noqa: N802
            return self.inner.getSpaceAfter()

        def draw(self):
            self.inner.drawOn(self.canv, 0, 0)
            self.inner.drawOn(self.canv, offset, 0)

    return Overprinted()


def _chart(width: float, height: float, rng: random.Random, font: str, points: int, year: int):
    """A line-and-bar chart drawn as many separate vector paths, with tick labels and a legend."""
    from reportlab.lib import colors
    from reportlab.platypus import Flowable

    series = []
    for _ in range(2):
        value, values = rng.uniform(0.3, 0.7), []
        for _ in range(points):
            value = min(0.95, max(0.05, value + rng.uniform(-0.04, 0.04)))
            values.append(value)
        series.append(values)
    bars = [rng.uniform(0.1, 0.9) for _ in range(24)]
    ticks_y = [f"{v}%" for v in range(-30, 61, 15)]
    ticks_x = [f"{year - 1}/{m:02d}" for m in range(1, 13, 2)]

    class Chart(Flowable):
        def wrap(self, available_width, available_height):
            self.width, self.height = min(width, available_width), height
            return self.width, self.height

        def draw(self):
            c = self.canv
            left, bottom, w, h = 28, 22, self.width - 36, self.height - 36
            c.setFont(font, 6.5)
            c.setStrokeColor(colors.lightgrey)
            c.setLineWidth(0.3)
            for i, label in enumerate(ticks_y):
                y = bottom + h * i / (len(ticks_y) - 1)
                c.line(left, y, left + w, y)  # gridline
                c.drawRightString(left - 3, y - 2, label)
            for i, label in enumerate(ticks_x):
                c.drawString(left + w * i / (len(ticks_x) - 1) - 12, bottom - 10, label)
            c.setFillColor(colors.HexColor("#c8d7ea"))
            for i, v in enumerate(bars):
                c.rect(left + w * (i + 0.2) / len(bars), bottom, w * 0.6 / len(bars), h * v, stroke=0, fill=1)
            c.setLineWidth(0.8)
            for colour, values in zip(
                (colors.HexColor("#1f4e8c"), colors.HexColor("#c0504d")), series, strict=True
            ):
                c.setStrokeColor(colour)
                for i in range(len(values) - 1):  # one path per segment, as chart exporters write them
                    x1 = left + w * i / (len(values) - 1)
                    x2 = left + w * (i + 1) / (len(values) - 1)
                    c.line(x1, bottom + h * values[i], x2, bottom + h * values[i + 1])
            c.setFillColor(colors.black)
            c.setFont(font, 6.5)
            c.drawString(left + 4, bottom + h + 6, "营业收入（亿元）")
            c.drawString(left + w / 2, bottom + h + 6, "同比增速（右轴）")

    return Chart()


def _table_style(kind: str):
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    commands = [
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LEADING", (0, 0), (-1, -1), 9.5),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if kind == "grid":
        commands.append(("GRID", (0, 0), (-1, -1), 0.4, colors.grey))
    else:  # the three-line table of most Chinese notes
        commands += [
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.HexColor("#1f4e8c")),
            ("LINEBELOW", (0, 0), (-1, 0), 0.4, colors.HexColor("#1f4e8c")),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, colors.HexColor("#1f4e8c")),
        ]
    return TableStyle(commands)


# --- the note ---------------------------------------------------------------------------------


class _Note:
    def __init__(self, spec: NoteSpec) -> None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        self.spec = spec
        if spec.cjk_font_file:  # an embedded TrueType Chinese font, as real notes carry
            from reportlab.pdfbase.ttfonts import TTFont

            self.font = Path(spec.cjk_font_file).stem
            pdfmetrics.registerFont(TTFont(self.font, spec.cjk_font_file, subfontIndex=0))
        else:  # reportlab's Adobe CID fonts: not embedded, but PDFium maps them to Unicode
            self.font = "MSung-Light" if spec.traditional else "STSong-Light"
            pdfmetrics.registerFont(UnicodeCIDFont(self.font))
        if spec.latin_font:
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont(spec.latin_font, f"{spec.latin_font}.ttf"))
        self.rng = random.Random(spec.seed)
        self.words = _Words(self.rng, spec.day.year)
        self.styles = _styles(self.font, spec)
        self.figure = 0
        self.expected_pages = 0  # known after a first build, for "第 3 页 共 12 页"
        if spec.traditional:
            import opencc

            self._converter = opencc.OpenCC("s2hk")
        self.truth = NoteTruth(
            title=self.t(f"{spec.stock_name}（{spec.stock_code}）：{spec.title}"),
            broker=spec.broker,
            date=spec.day.isoformat(),
            analysts=[a.name for a in spec.analysts],  # converted below for traditional notes
            rating=spec.rating,
            target_price=spec.target_price,
            ticker=spec.stock_code,
        )
        self.truth.analysts = [self.t(name) for name in self.truth.analysts]

    def t(self, text: str) -> str:
        return self._converter.convert(text) if self.spec.traditional else text

    # ---- flowables that also record what a reader should find ----
    def para(
        self, text: str, style: str = "body", record: list[str] | None = None, bullet: str | None = None
    ):
        from reportlab.platypus import Paragraph

        text = self.t(text)
        if record is not None:
            record.append(text)  # a bullet is layout, not part of what a reader should give back
        markup = escape(text)
        if self.spec.latin_font:
            # Word sets figures and Latin words in a Latin font inside Chinese text: every line
            # switches fonts (and glyph heights) several times.
            markup = re.sub(
                r"[A-Za-z0-9.,%/+\-]+",
                lambda m: f'<font name="{self.spec.latin_font}">{m.group(0)}</font>',
                markup,
            )
        return Paragraph(markup, self.styles[style], bulletText=bullet)

    def heading(self, text: str, style: str = "h1", record: bool = True):
        flowable = self.para(text, style, self.truth.headings if record else None)
        return _overprinted(flowable) if self.spec.overprint_bold else flowable

    def body(self, sentences: tuple[int, int] = (2, 5)):
        return self.para(self.words.paragraph(sentences), record=self.truth.paragraphs)

    def figure_block(self, width: float, title: str):
        self.figure += 1
        caption = f"图表{self.figure}：{title}"
        return [
            self.para(caption, "caption", self.truth.captions),
            _chart(width, 150, self.rng, self.font, self.spec.chart_points, self.spec.day.year),
            self.para(f"资料来源：Wind，{self.spec.institute}", "source"),
        ]

    def data_table(self, title: str, header: list[str], rows: list[list[str]], kind: str, units: str | None):
        from reportlab.platypus import Table

        self.figure += 1
        caption = self.t(f"图表{self.figure}：{title}")
        header = [self.t(h) for h in header]
        rows = [[self.t(c) for c in row] for row in rows]
        self.truth.tables.append(TableTruth(caption, self.t(units) if units else None, header, rows))
        table = Table([header, *rows], repeatRows=1, hAlign="LEFT")
        table.setStyle(_table_style(kind))
        table.setStyle([("FONTNAME", (0, 0), (-1, -1), self.font)])
        parts = [self.para(caption, "caption")]
        if units:
            parts.append(self.para(units, "units"))
        return [*parts, table, self.para(f"资料来源：公司公告，{self.spec.institute}预测", "source")]

    def years(self) -> list[str]:
        y = self.spec.day.year
        return [f"{y - 2}A", f"{y - 1}A", f"{y}E", f"{y + 1}E", f"{y + 2}E"]

    # ---- page 1 ----
    def sidebar_flowables(self, width: float) -> list:
        from reportlab.platypus import Table

        spec, s = self.spec, self.truth.sidebar
        out = [
            self.para(f"投资评级（{spec.rating_change}）", "side_h", s),
            self.para(spec.rating, "side_big", s),
        ]
        if spec.target_price is not None:
            out.append(self.para(f"目标价（人民币）：{spec.target_price:.2f}", "side", s))
        out.append(self.para("研究员", "side_h", s))
        for analyst in spec.analysts:
            out += [
                self.para(f"{analyst.name}", "side", s),
                self.para(f"SAC No. {analyst.sac}", "side", s),
                self.para(analyst.email, "side", s),
                self.para(analyst.phone, "side", s),
            ]
        out.append(self.para("基本数据", "side_h", s))
        facts = [
            ["目标价（人民币）", f"{spec.target_price or 0:.2f}"],
            ["收盘价（人民币）", self.words.number(10, 60)],
            ["市值（人民币百万）", self.words.figures_row(1, 30000)[0]],
            ["6个月平均日成交额", self.words.number(50, 900)],
            ["52周价格范围", f"{self.words.number(10, 30)}-{self.words.number(30, 60)}"],
        ]
        facts = [[self.t(a), b] for a, b in facts]
        s.extend(f"{a} {b}" for a, b in facts)
        table = Table(facts, colWidths=[width * 0.62, width * 0.38])
        table.setStyle(
            [("FONTNAME", (0, 0), (-1, -1), self.font), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
             ("ALIGN", (1, 0), (1, -1), "RIGHT"), ("TOPPADDING", (0, 0), (-1, -1), 1),
             ("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("LEFTPADDING", (0, 0), (-1, -1), 0)]
        )  # fmt: skip
        out.append(table)
        out.append(self.para("股价走势图", "side_h", s))
        out.append(_chart(width, 100, self.rng, self.font, self.spec.chart_points // 2, spec.day.year))
        out.append(self.para("相关研究", "side_h", s))
        for n in range(1, 4):
            day = spec.day - timedelta(days=17 * n)
            out.append(
                self.para(
                    f"{n}《{spec.stock_name}({spec.stock_code} CH,{spec.rating}): "
                    f"{self.rng.choice(_LEADS)}》{day:%Y.%m.%d}",
                    "side",
                    s,
                )
            )
        return out

    def main_first_page(self) -> list:
        spec = self.spec
        out = []
        if spec.title_span == "main":
            out.append(self.title_flowable())
        out.append(self.heading("投资要点"))
        for lead in self.rng.sample(_LEADS, 3):
            text = f"{lead}：{self.words.paragraph((2, 3))}"
            if spec.bullets:
                out.append(self.para(text, "bullet", self.truth.paragraphs, bullet="●"))
            else:
                out.append(self.para(text, record=self.truth.paragraphs))
        rows = []
        for item in _ITEMS[:5]:
            rows.append([item, *self.words.figures_row(5, 100 if "%" in item or "EPS" in item else 3000)])
        out += self.data_table(
            "经营预测指标与估值", ["会计年度", *self.years()], rows, "three", "单位：百万元"
        )
        return out

    def title_flowable(self):
        return self.heading(self.truth.title, "title", False)

    # ---- later pages ----
    def body_flowables(self) -> list:
        from reportlab.platypus import CondPageBreak, KeepTogether, Table

        width = PAGE_W - 2 * MARGIN
        out = []
        for section in range(max(1, self.spec.body_pages)):
            out.append(
                self.heading(f"{section + 1}、{self.t(_HEADINGS[1 + section % (len(_HEADINGS) - 2)])}")
            )
            for _ in range(self.rng.randint(2, 3)):
                out.append(self.body((3, 6)))
            shape = section % 3
            if shape == 0:  # two figures side by side
                left = self.figure_block(width / 2 - 8, "公司营业收入及增速")
                right = self.figure_block(width / 2 - 8, "公司归母净利润及增速")
                pair = Table([[left, right]], colWidths=[width / 2, width / 2])
                pair.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
                out.append(pair)
            elif shape == 1:  # one wide figure
                out.append(KeepTogether(self.figure_block(width, "下游需求测算")))
            else:  # a data table, long enough to run over a page every other time
                peers = self.rng.sample(_PEERS, 6)
                rows = [
                    [
                        name,
                        f"{self.rng.randint(1, 688999):06d}.SZ",
                        *self.words.figures_row(3, 60),
                        *self.words.figures_row(3, 80),
                    ]
                    for name in (peers * (6 if section % 2 else 1))
                ]
                header = [
                    "公司",
                    "代码",
                    *(f"EPS {y}" for y in self.years()[2:]),
                    *(f"PE {y}" for y in self.years()[2:]),
                ]
                out.append(CondPageBreak(160))
                out += self.data_table(
                    "可比公司估值表", header, rows, "grid" if section % 2 else "three", "单位：元，倍"
                )
            for _ in range(self.rng.randint(1, 2)):
                out.append(self.body((2, 5)))
        out.append(self.heading("风险提示"))
        out.append(self.body((2, 3)))
        return out

    def statements(self) -> list:
        """The financial statements: four tables in a 2x2 grid (a layout table holding data tables)."""
        from reportlab.platypus import PageBreak, Table

        width = PAGE_W - 2 * MARGIN
        inner = []
        for title, items in (("资产负债表", _BS_ITEMS), ("利润表", _IS_ITEMS), ("现金流量表", _CF_ITEMS), ("主要财务比率", _RATIO_ITEMS)):  # fmt: skip
            header = [self.t(title), *self.years()]
            rows = [[self.t(item), *self.words.figures_row(5, 5000)] for item in items]
            self.truth.tables.append(TableTruth(header[0], self.t("单位：百万元"), header, rows))
            table = Table([header, *rows], colWidths=[width / 2 * 0.34] + [width / 2 * 0.13] * 5)
            table.setStyle(_table_style("three"))
            table.setStyle([("FONTNAME", (0, 0), (-1, -1), self.font), ("FONTSIZE", (0, 0), (-1, -1), 6.5)])
            inner.append(table)
        grid = Table([[inner[0], inner[1]], [inner[2], inner[3]]], colWidths=[width / 2, width / 2])
        grid.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 2)])
        return [
            PageBreak(),
            self.heading("附录：财务预测表", record=True),
            self.para("单位：百万元", "units"),
            grid,
        ]

    def disclaimer(self) -> list:
        from reportlab.platypus import PageBreak, Table

        spec, d = self.spec, self.truth.disclaimer

        def heading(text: str) -> list:
            return [self.heading(text, record=False)] if spec.disclaimer_headings else []

        out = [PageBreak(), *heading("分析师声明")]
        names = "、".join(a.name for a in spec.analysts)
        out.append(self.para(f"本人，{names}，兹证明本报告所表达的观点准确地反映了分析师对标的证券或发行人的个人意见；"
                             "彼以往、现在或未来并无就其研究报告所提供的具体建议或所表述的意见直接或间接收取任何报酬。", "disclaimer", d))  # fmt: skip
        out += heading("一般声明及披露")
        for _ in range(4):
            out.append(self.para(f"本报告由{spec.company}（已具备中国证监会批准的证券投资咨询业务资格，以下简称“本公司”）制作。"
                                 "本报告所载资料是仅供接收人的严格保密资料。本报告仅供本公司及其客户和其关联机构使用。"
                                 "本公司不因接收人收到本报告而视其为客户。" + self.words.sentence(), "disclaimer", d))  # fmt: skip
        out += heading("投资评级说明")
        grid = Table(
            [[self.t(a), self.t(b)] for a, b in (
                ("行业评级", "增持：预计行业股票指数超越基准"), ("", "中性：预计行业股票指数基本与基准持平"),
                ("公司评级", "买入：预计股价超越基准20%以上"), ("", "增持：预计股价超越基准5%~20%"),
                ("", "持有：预计股价相对基准波动在-15%~5%之间"), ("", "卖出：预计股价弱于基准15%以上"))],
            colWidths=[80, 300],
        )  # fmt: skip
        grid.setStyle([("FONTNAME", (0, 0), (-1, -1), self.font), ("FONTSIZE", (0, 0), (-1, -1), 8),
                       ("GRID", (0, 0), (-1, -1), 0.4, "grey")])  # fmt: skip
        out.append(grid)
        out.append(self.para(f"{spec.broker}研究所  南京：南京市建邺区江东中路228号  电子邮件：ht-rd@{spec.email_domain}", "disclaimer", d))  # fmt: skip
        return out

    # ---- page decorations ----
    def first_page_decor(self, canvas, doc) -> None:
        from reportlab.lib import colors

        spec = self.spec
        canvas.saveState()
        canvas.setFont(self.font, 12)
        canvas.drawString(MARGIN, PAGE_H - 40, self.t("证券研究报告"))
        canvas.setFont(self.font, 9)
        canvas.drawRightString(
            PAGE_W - MARGIN,
            PAGE_H - 40,
            self.t(
                "公司研究/首次覆盖"
                + (
                    f"  {spec.day.year}年{spec.day.month:02d}月{spec.day.day:02d}日"
                    if spec.banner_date
                    else ""
                )
            ),
        )
        canvas.setStrokeColor(colors.HexColor("#1f4e8c"))
        canvas.line(MARGIN, PAGE_H - 46, PAGE_W - MARGIN, PAGE_H - 46)
        if spec.shaded_sidebar and spec.first_page == "columns":
            x0, _ = self.sidebar_x()
            canvas.setFillColor(colors.HexColor("#eef2f7"))
            canvas.rect(
                x0 - 4, 60, self.sidebar_width() + 8, PAGE_H - 60 - self.first_top(), stroke=0, fill=1
            )
        canvas.setFillColor(colors.black)
        canvas.setFont(self.font, 7.5)
        canvas.drawString(MARGIN, 30, self.t("免责声明和披露以及分析师声明是报告的一部分，请务必一起阅读。"))
        canvas.drawRightString(PAGE_W - MARGIN, 30, "1")
        canvas.restoreState()

    def later_page_decor(self, canvas, doc) -> None:
        from reportlab.lib import colors

        spec = self.spec
        canvas.saveState()
        canvas.setFont(self.font, 8)
        canvas.drawString(MARGIN, PAGE_H - 36, self.t(f"{spec.stock_name} ({spec.stock_code})"))
        canvas.drawRightString(PAGE_W - MARGIN, PAGE_H - 36, self.t(f"{spec.broker}研究所 | 公司研究"))
        canvas.setStrokeColor(colors.HexColor("#1f4e8c"))
        canvas.line(MARGIN, PAGE_H - 42, PAGE_W - MARGIN, PAGE_H - 42)
        canvas.setFont(self.font, 7.5)
        canvas.drawString(MARGIN, 30, self.t("免责声明和披露以及分析师声明是报告的一部分，请务必一起阅读。"))
        number = (
            str(doc.page) if spec.page_numbers == "plain" else f"第 {doc.page} 页 共 {self.expected_pages} 页"
        )
        canvas.drawRightString(PAGE_W - MARGIN, 30, self.t(number))
        canvas.restoreState()

    # ---- geometry of page 1 ----
    def sidebar_width(self) -> float:
        return 150.0

    def sidebar_x(self) -> tuple[float, float]:
        """x of the sidebar frame and of the main frame."""
        if self.spec.sidebar == "left":
            return MARGIN, MARGIN + self.sidebar_width() + 18
        return PAGE_W - MARGIN - self.sidebar_width(), MARGIN

    def first_top(self) -> float:
        return 56 + (70 if self.spec.title_span == "full" else 0)

    def _build(self, path: Path) -> NoteTruth:
        from reportlab.platypus import BaseDocTemplate, Frame, NextPageTemplate, PageTemplate, Table

        spec = self.spec
        width = PAGE_W - 2 * MARGIN
        side_w = self.sidebar_width()
        main_w = width - side_w - 18
        top = self.first_top()
        height = PAGE_H - 60 - top
        side_x, main_x = self.sidebar_x()
        frames_first = []
        story: list = []
        if spec.title_span == "full":
            frames_first.append(Frame(MARGIN, PAGE_H - top, width, 66, id="title", showBoundary=0))
            story.append(self.title_flowable())
        sidebar = self.sidebar_flowables(side_w - 8 if spec.first_page == "table" else side_w)
        main = self.main_first_page()
        if spec.first_page == "columns":
            frames_first += [
                Frame(side_x, 60, side_w, height, id="side", leftPadding=0, rightPadding=0),
                Frame(main_x, 60, main_w, height, id="main", leftPadding=0, rightPadding=0),
            ]
            if spec.title_span == "full":
                from reportlab.platypus import FrameBreak

                story.append(FrameBreak())
            from reportlab.platypus import FrameBreak

            story += [*sidebar, FrameBreak(), *main]
        else:
            frames_first.append(Frame(MARGIN, 60, width, height, id="page", leftPadding=0, rightPadding=0))
            if spec.title_span == "full":
                from reportlab.platypus import FrameBreak

                story.append(FrameBreak())
            cells = [sidebar, main] if spec.sidebar == "left" else [main, sidebar]
            widths = [side_w, width - side_w] if spec.sidebar == "left" else [width - side_w, side_w]
            layout = Table([cells], colWidths=widths)
            layout.setStyle(
                [("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.6, "grey"),
                 ("LINEAFTER", (0, 0), (0, 0), 0.6, "grey"), ("LEFTPADDING", (0, 0), (-1, -1), 5),
                 ("RIGHTPADDING", (0, 0), (-1, -1), 5)]
            )  # fmt: skip
            story.append(layout)
        story.append(NextPageTemplate("later"))
        from reportlab.platypus import PageBreak

        story.append(PageBreak())
        story += self.body_flowables()
        story += self.statements()
        story += self.disclaimer()
        later = Frame(MARGIN, 50, width, PAGE_H - 110, id="body", leftPadding=0, rightPadding=0)
        doc = BaseDocTemplate(
            str(path),
            pagesize=(PAGE_W, PAGE_H),
            title=spec.metadata_title if spec.metadata_title is not None else self.truth.title,
            author=spec.broker,
            pageTemplates=[
                PageTemplate("first", frames_first, onPage=self.first_page_decor),
                PageTemplate("later", [later], onPage=self.later_page_decor),
            ],
        )
        doc.build(story)
        self.truth.pages = doc.page
        return self.truth

    def build(self, path: Path) -> NoteTruth:
        if self.spec.page_numbers == "of":
            # The footer names the page count, known only once the note is laid out.
            self.expected_pages = _Note(self.spec)._build(path).pages
        return self._build(path)


def write_note(path: Path, spec: NoteSpec | None = None) -> NoteTruth:
    """Write one broker-shaped note to `path`; returns what a reader should find in it."""
    return _Note(spec or NoteSpec()).build(Path(path))


# Brokers the benchmark set rotates through: (name, institute signature, legal name, e-mail domain, SAC prefix).
_BROKERS = (
    ("华泰证券", "华泰研究", "华泰证券股份有限公司", "htsc.com.cn", "S0570"),
    ("山西证券", "山西证券研究所", "山西证券股份有限公司", "sxzq.com", "S0760"),
    ("国盛证券", "国盛证券研究所", "国盛证券有限责任公司", "gszq.com", "S0680"),
    ("天风证券", "天风证券研究所", "天风证券股份有限公司", "tfzq.com", "S1110"),
    ("开源证券", "开源证券研究所", "开源证券股份有限公司", "kysec.cn", "S0790"),
)
_NAMES = ("张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴昊")


def find_cjk_font() -> str | None:
    """A Chinese TrueType font: YANBAO_TEST_CJK_FONT, or one installed on this machine (WenQuanYi,
    Noto CJK, ...), if any."""
    named = os.environ.get("YANBAO_TEST_CJK_FONT")
    if named and Path(named).is_file():
        return named
    for folder in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"):
        if folder.is_dir():
            for pattern in (
                "wqy-*.tt[cf]",
                "NotoSansCJK*.tt[cf]",
                "NotoSerifCJK*.tt[cf]",
                "*[Ss]ong*.tt[cf]",
            ):
                found = sorted(folder.rglob(pattern))
                if found:
                    return str(found[0])
    return None


def note_specs(
    count: int, body_pages: int = 25, seed: int = 0, cjk_font_file: str | None = None
) -> list[NoteSpec]:
    """`count` varied notes (brokers, sidebar side, layout-table first pages, traditional script,
    placeholder metadata titles, bullets, indents, justification) of about `body_pages` + 3 pages
    each, deterministic by seed. With `cjk_font_file` the Chinese font is embedded and figures and
    Latin words are set in an embedded Latin font on every other note, as Word does; without one,
    PDFium drops a few characters where reportlab's unembedded CID fonts meet another font, so
    Latin fonts are left out."""
    rng = random.Random(seed)
    specs = []
    for n in range(count):
        broker, institute, company, domain, prefix = _BROKERS[n % len(_BROKERS)]
        names = rng.sample(_NAMES, rng.randint(1, 3))
        analysts = [
            Analyst(name, f"{prefix}{rng.randint(510000000, 524999999):09d}"[:14], f"analyst{i}@{domain}")
            for i, name in enumerate(names)
        ]
        specs.append(
            NoteSpec(
                seed=seed * 1000 + n,
                broker=broker,
                institute=institute,
                company=company,
                email_domain=domain,
                day=date(2023, 1, 3) + timedelta(days=rng.randint(0, 700)),
                analysts=analysts,
                sidebar="left" if n % 3 else "right",
                first_page="table" if n % 4 == 3 else "columns",
                title_span="full" if n % 2 else "main",
                overprint_bold=n % 2 == 0,
                body_pages=body_pages,
                traditional=n % 5 == 4,
                metadata_title=("ppt", "Report", None)[n % 3],
                first_line_indent=n % 3 == 1,
                justify=n % 4 == 1,
                bullets=n % 3 == 2,
                banner_date=n % 5 != 1,
                page_numbers="of" if n % 2 else "plain",
                latin_font="Vera" if cjk_font_file and n % 2 == 0 and n % 5 != 4 else None,
                cjk_font_file=cjk_font_file if not n % 5 == 4 else None,  # traditional notes keep MSung
            )
        )
    return specs


# --- scoring a reader against the truth -------------------------------------------------------


@dataclass
class ReadingScore:
    """How a reader did on one note: the figures the issue's acceptance is stated in."""

    paragraphs: int  # paragraphs in the note's main text
    whole: int  # of them, found as one block, exactly as drawn
    missing: list[str]  # the paragraphs not found whole
    sidebar_leaks: list[str]  # blocks holding a sidebar line
    tables: int
    tables_with_caption: int  # tables whose every row carries the caption
    table_rows_missing: list[str]
    metadata_errors: list[str]  # "broker: got X, want Y"

    @property
    def integrity(self) -> float:
        return self.whole / self.paragraphs if self.paragraphs else 1.0


def _squeeze(text: str) -> str:
    """Whitespace as a reader should give it back: single spaces between Latin words, none added."""
    return " ".join(text.split())


def score_reading(document, truth: NoteTruth) -> ReadingScore:
    """Compare a `Document` (index.readers) with what `write_note` drew."""
    main = [b for b in document.blocks if b.kind != "table_row"]
    texts = {_squeeze(b.text) for b in main}  # exact, spaces included
    missing = [p for p in truth.paragraphs if _squeeze(p) not in texts]
    # A sidebar line is leaked when it shows up inside a main-text block (short labels such as
    # "研究员" can occur in running text, so only lines of 6 characters or more are looked for).
    leaks = []
    for line in truth.sidebar:
        key = "".join(line.split())
        if len(key) >= 6:
            leaks.extend(b.text for b in document.blocks if key in "".join(b.text.split()))
    rows = [b for b in document.blocks if b.kind == "table_row"]
    tables_ok, rows_missing = 0, []
    for table in truth.tables:
        caption_ok = True
        for row in table.rows:
            want = _squeeze(" | ".join(row))
            found = [b for b in rows if _squeeze(b.text) == want]
            if not found:
                rows_missing.append(" | ".join(row))
                caption_ok = False
            elif not any(b.context and _squeeze(table.caption) in _squeeze(b.context) for b in found):
                caption_ok = False
        tables_ok += caption_ok
    hints = document.hints
    errors = []
    for name, want in (("broker", truth.broker), ("date", truth.date), ("analysts", truth.analysts),
                       ("rating", truth.rating), ("target_price", truth.target_price), ("ticker", truth.ticker)):  # fmt: skip
        got = getattr(hints, name, None) if hints else None
        if got != want:
            errors.append(f"{name}: got {got!r}, want {want!r}")
    title = hints.title if hints else None
    if title != truth.title:
        errors.append(f"title: got {title!r}, want {truth.title!r}")
    return ReadingScore(
        paragraphs=len(truth.paragraphs),
        whole=len(truth.paragraphs) - len(missing),
        missing=missing,
        sidebar_leaks=sorted(set(leaks)),
        tables=len(truth.tables),
        tables_with_caption=tables_ok,
        table_rows_missing=rows_missing,
        metadata_errors=errors,
    )
