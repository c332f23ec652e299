"""The pages' pieces, in reading order, made into the report's blocks: lines joined into paragraphs
(across line, column and page breaks), headings told apart, tables kept as rows that carry their
caption, units and header, figure internals (tick labels, legends) and source lines left out, and
the disclaimer pages set aside.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from index.pdf.layout import Placed, TableRegion
from index.pdf.lines import Segment
from index.pdf.tables import Table, build_tables, is_tabular_line
from index.text import closes_line

__all__ = ["Assembled", "Line", "PageItems", "assemble"]

_LIST_MARKER = re.compile(
    r"^([一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[、)）]|\d{1,2}\.(?!\d)|[•●■◆▪·►▶❖□√✓-]\s*)"
)
SECTION = re.compile(
    r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]|第[一二三四五六七八九十\d]+[章节節部分]|\d{1,2}(\.\d{1,2}){0,2}[、.．\s])"
)
CAPTION = re.compile(
    r"^\s*(图表|圖表|图|圖|表|附表|附图|附圖|Figure|Fig\.|Table|Exhibit|Chart)\s*[\d一二三四五六七八九十]+",
    re.I,
)
_SOURCE = re.compile(r"^\s*[(（]?\s*(资料|資料|数据|數據)?(来源|來源)\s*[:：]|^\s*sources?\s*:", re.I)
_UNITS = re.compile(r"^\s*[(（]?\s*(单位|單位|币种|幣種|unit)\s*[:：]", re.I)
_NOTE = re.compile(r"^\s*(注|備註|备注|note)\s*[:：\d]", re.I)
# Where the disclaimer pages begin: from such a heading on, nothing is the report's own text.
_DISCLAIMER_HEADING = re.compile(
    r"^[【\[]?\s*(证券分析师声明|證券分析師聲明|研究员声明|免责声明|免責聲明|免责条款|免責條款|分析师声明|分析師聲明|分析师承诺|分析師承諾|一般声明|一般聲明|"
    r"重要声明|重要聲明|法律声明|法律聲明|特别声明|特別聲明|信息披露|披露声明|声明与承诺|"
    r"(投资|投資|股票|行业|行業)?评级(说明|体系|標準|标准)|(投资|投資)?評級(說明|體系|標準)|"
    r"证券分析师承诺|證券分析師承諾|分析师介绍|分析师简介|作者简介|研究团队简介|"
    r"disclaimer|important disclosures?|analyst certification|disclosure appendix)",
    re.I,
)
# A table of contents line: a title, dot leaders, a page number ("1. 行业概况 ........ 3").
_CONTENTS_LINE = re.compile(r"([.…·．。]\s*){4,}\s*\d{1,3}$")
_TABLE_TITLE = re.compile(r"预测|估值|财务|指标|数据|摘要|对比|比较|一览|明细|預測|估值|財務|數據|表$")
_BULLET = re.compile(r"^[•●■◆▪►▶❖◇○◎□➢➤√✓·]\s*")
# What legal text is made of: the pages after the report, when they carry no heading we know.
_LEGAL_WORDS = re.compile(
    r"本公司|本报告|本報告|投资者|投資者|证券投资咨询|證券投資諮詢|免责|免責|不构成|不構成|法律责任|法律責任|"
    r"版权|版權|授权|授權|评级|評級|执业资格|執業資格|this report|disclaimer|investors?\b",
    re.I,
)
_FIGURE_ONLY = re.compile(r"^[\d\s,.%+\-−–—/:()（）年月日季度QHEA×x]*$")


@dataclass(slots=True)
class Line:
    text: str
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    left: float  # edges of the column the line was read in
    right: float
    first_word: float  # width of its first word: would it have fitted at the end of the line above?
    segment: Segment


@dataclass
class PageItems:
    number: int
    items: list[Placed | TableRegion]


@dataclass
class Block:
    text: str
    page: int
    kind: str  # "text" | "heading" | "table_row"
    context: str | None = None


@dataclass
class Assembled:
    blocks: list[Block] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # 资料来源 lines: who wrote the charts
    disclaimer: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    body_size: float = 10.0


def _line(placed: Placed) -> Line:
    s = placed.segment
    return Line(
        text=s.text.strip(),
        page=s.page,
        x0=s.x0,
        x1=s.x1,
        top=s.top,
        bottom=s.bottom,
        size=round(s.size, 1),
        bold=s.bold,
        left=placed.left,
        right=placed.right,
        first_word=s.first_word_width(),
        segment=s,
    )


# --- pages into a stream of lines and tables ----------------------------------------------------


def _page_stream(page: PageItems) -> list[Line | Table]:
    """A page's lines and tables in reading order; runs of table-like lines become tables."""
    stream: list[Table | Placed] = []
    for piece in page.items:
        if isinstance(piece, TableRegion):
            stream.extend(build_tables(piece.segments))
        else:
            stream.append(piece)
    out: list[Line | Table] = []
    index = 0
    while index < len(stream):
        item = stream[index]
        if isinstance(item, Table):
            out.append(item)
            index += 1
            continue
        run = [item]
        if is_tabular_line(item.segment):
            for following in stream[index + 1 :]:
                if not (
                    isinstance(following, Placed)
                    and is_tabular_line(following.segment)
                    and _same_column(following, run[-1])
                ):
                    break
                run.append(following)
        if len(run) >= 2:
            # The line above a run of figures that names its columns (会计年度 2023A 2024E) is its header.
            segments = [p.segment for p in run]
            header = out[-1] if out and isinstance(out[-1], Line) else None
            if header is not None and _is_header_for(header, run):
                out.pop()
                segments.insert(0, header.segment)
            out.extend(build_tables(segments))
            index += len(run)
            continue
        out.append(_line(item))
        index += 1
    return out


def _same_column(a: Placed, b: Placed) -> bool:
    return abs(a.left - b.left) < 2 and abs(a.right - b.right) < 2 and a.segment.page == b.segment.page


def _is_header_for(line: Line, run: list[Placed]) -> bool:
    first = run[0].segment
    if line.page != first.page or first.top - line.bottom > 2.5 * first.size or len(line.text) > 80:
        return False
    return bool(
        re.search(r"(19|20)\d{2}\s*[AEF年]|FY\d{2}|[A-Z]{2,}\s", line.text)
    ) and not line.text.endswith("。")


# --- figures, captions, sources -------------------------------------------------------------


def _attach_captions(stream: list[Line | Table], sources: list[str], body_size: float) -> list[Line | Table]:
    """Give tables their caption and units; drop what is inside a figure (between a caption and its
    source line: tick labels, legends) and the source lines themselves."""
    out: list[Line | Table] = []
    in_figure: Line | None = None
    for item in stream:
        if isinstance(item, Table):
            in_figure = None
            caption, units = _caption_before(out, item, body_size)
            item.caption = item.caption or caption
            item.units = item.units or units
            out.append(item)
            continue
        if _SOURCE.match(item.text):
            sources.append(item.text)
            in_figure = None
            continue
        if CAPTION.match(item.text) and len(item.text) <= 80 and not _CONTENTS_LINE.search(item.text):
            in_figure = item
            out.append(item)
            continue
        if in_figure is not None:
            if _is_prose(item) or item.page != in_figure.page:
                in_figure = None
            elif _UNITS.match(item.text):
                out.append(item)  # units of a table that may follow
                continue
            else:
                continue  # a tick label, a legend, an axis title
        if _FIGURE_ONLY.match(item.text) and len(item.text) < 40:
            continue  # figures with no words: chart ticks, a stray page number
        if _CONTENTS_LINE.search(item.text):
            continue  # the table of contents and the list of figures point at the text; they are not it
        out.append(item)
    return out


def _caption_before(out: list[Line | Table], table: Table, body_size: float) -> tuple[str | None, str | None]:
    """The caption and units printed just above a table (taken out of the text)."""
    caption = units = None
    while out and isinstance(out[-1], Line):
        line = out[-1]
        near = line.page == table.page and table.top - line.bottom < 40
        if not near:
            break
        if _UNITS.match(line.text) and units is None:
            units = line.text
            out.pop()
            continue
        if CAPTION.match(line.text) or (caption is None and _is_title_like(line, body_size)):
            caption = line.text
            out.pop()
        break
    if caption and units is None:
        match = re.search(r"[(（]\s*(单位|單位)\s*[:：][^)）]*[)）]", caption)
        units = match.group(0) if match else None
    return caption, units


def _is_title_like(line: Line, body_size: float) -> bool:
    """A table's title printed without a number ("盈利预测与估值"): short, set apart by its size or
    weight, and no sentence's end (the last line of a paragraph above a table is none)."""
    if len(line.text) > 30 or line.text.endswith(tuple("。，,；;.!?！？")) or _is_prose(line):
        return False
    return line.bold or abs(line.size - body_size) > 0.5 or bool(_TABLE_TITLE.search(line.text))


def _is_prose(line: Line) -> bool:
    return len(line.text) >= 30 and bool(re.search(r"[，。；,;]", line.text))


# --- continued tables -------------------------------------------------------------------------


def _join_continued_tables(streams: list[list[Line | Table]]) -> None:
    """A table that opens a page with no caption, as wide as the one that closed the page before,
    is that table continued: it takes its caption, units and (if it repeats none) header."""
    previous_last: Table | None = None
    for stream in streams:
        first = next((item for item in stream if isinstance(item, Table) or not _is_heading_like(item)), None)
        if isinstance(first, Table) and previous_last is not None and first.caption is None:
            if len(first.rows[0]) == len(previous_last.rows[0]):
                first.caption = previous_last.caption
                first.units = first.units or previous_last.units
                first.continued = True
                if first.header_rows == 0 or first.header != previous_last.header:
                    if (
                        first.rows[: previous_last.header_rows]
                        != previous_last.rows[: previous_last.header_rows]
                    ):
                        first.rows = previous_last.rows[: previous_last.header_rows] + first.rows
                        first.header_rows = previous_last.header_rows
        last = stream[-1] if stream else None
        previous_last = last if isinstance(last, Table) else None


def _is_heading_like(item: Line | Table) -> bool:
    return isinstance(item, Line) and len(item.text) < 30 and not _is_prose(item)


# --- paragraphs -------------------------------------------------------------------------------


@dataclass
class _Metrics:
    body_size: float
    body_bold: bool
    pitch: dict[float, float]  # font size -> distance between the tops of consecutive lines

    def pitch_of(self, size: float) -> float:
        return self.pitch.get(size, 1.5 * size)


def _metrics(lines: list[Line]) -> _Metrics:
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[line.size] += len(line.text)
    body_size = sizes.most_common(1)[0][0] if sizes else 10.0
    body = [line for line in lines if line.size == body_size]
    bold_chars = sum(len(line.text) for line in body if line.bold)
    body_bold = bold_chars * 2 > sum(len(line.text) for line in body)
    steps: dict[float, Counter[float]] = {}
    for a, b in zip(lines, lines[1:], strict=False):
        if a.page == b.page and a.size == b.size and abs(a.left - b.left) < 2:
            step = b.top - a.top
            if 0.9 * a.size < step < 2.5 * a.size:
                steps.setdefault(a.size, Counter())[round(step * 2) / 2] += 1
    pitch = {size: counter.most_common(1)[0][0] for size, counter in steps.items()}
    return _Metrics(body_size, body_bold, pitch)


def _column_edges(lines: list[Line]) -> None:
    """Set each line's column edges from the lines that start where it does (give or take an
    indent): the left is where they start, the right where most of the long ones end. The region a
    line was read in can be wider than its column (a title across the page above a sidebar)."""
    ordered = sorted(lines, key=lambda line: line.x0)
    clusters: list[list[Line]] = []
    for line in ordered:
        if clusters and line.x0 - clusters[-1][0].x0 <= 2.5 * line.size:
            clusters[-1].append(line)
        else:
            clusters.append([line])
    for cluster in clusters:
        ends = sorted(line.x1 for line in cluster if len(line.text) >= 6) or sorted(
            line.x1 for line in cluster
        )
        right = statistics.median(ends[len(ends) // 2 :])
        left = cluster[0].x0
        for line in cluster:
            line.left = max(line.left, left - 0.5)
            line.right = min(line.right, max(right, line.x0 + 1))


def _starts_paragraph(previous: Line, line: Line, metrics: _Metrics, first: Line | None = None) -> bool:
    """Whether `line` begins a new paragraph rather than continuing `previous` after a wrap;
    `first` is the first line of the paragraph `previous` belongs to."""
    em = max(line.size, 1.0)
    if abs(line.size - previous.size) > 0.15 * em:
        return True  # a heading, a caption, a footnote
    if line.bold != previous.bold and line.size <= 1.15 * metrics.body_size:
        # A bold line of body size is a heading or a lead-in; large text (a title) is only
        # sometimes drawn twice, so its boldness says nothing.
        return True
    indented = line.x0 > line.left + 0.8 * em
    if indented and first is not None and _LIST_MARKER.match(first.text) and line.x0 <= first.x0 + 3 * em:
        indented = False  # the hanging indent of a bulleted or numbered point
    ends_sentence = closes_line(previous.text)  # index/text.py: the one definition
    # A wrapped line stops early only when the next word would not fit; if it would have fitted,
    # the line above was the last of its paragraph (or a heading).
    if previous.right - previous.x1 > max(line.first_word + em, 3 * em):
        return True
    if ends_sentence and (
        indented or previous.x1 < previous.right - 1.5 * em or _LIST_MARKER.match(line.text)
    ):
        return True
    if _LIST_MARKER.match(line.text) and line.x0 < previous.x0 - 0.5 * em:
        return True  # a hanging list: the item's marker sticks out left of the lines it wraps
    moved = line.page != previous.page or line.top < previous.top or abs(line.left - previous.left) > 2 * em
    if moved:
        # A paragraph running into the next column or page continues unindented at its top.
        return indented
    return line.top - previous.top > metrics.pitch_of(line.size) + 0.3 * em


def _join_wrapped(left: str, right: str) -> str:
    """Two pieces of one paragraph broken by a line wrap: no space inside Chinese text, one space
    between Latin words ("Notation One" / "(ASN.1"), none after a hyphen or a slash that split a
    word, none before closing punctuation."""
    if not left or not right:
        return left + right
    last, first = left[-1], right[0]
    # "结果," / "o3": a half-width comma inside Chinese text is no Latin word end.
    core = left.rstrip(",.;:!?%)]}\"'")
    latin_before = bool(core) and core[-1].isascii()
    if (
        latin_before
        and last.isascii()
        and first.isascii()
        and last not in "-/+([{"
        and first not in ".,;:!?)]}%"
    ):
        return f"{left} {right}"
    return left + right


def _kind(lines: list[Line], text: str, metrics: _Metrics) -> str:
    if len(lines) > 2 or len(text) > 60 or text.endswith(("。", "；", ";", "，", ",")):
        return "text"
    if lines[0].size > 1.15 * metrics.body_size or (lines[0].bold and not metrics.body_bold):
        return "heading"
    if len(lines) == 1 and SECTION.match(text) and len(text) <= 30 and not text.endswith(("：", ":")):
        return "heading"
    return "text"


def _disclaimer_start(streams: list[list[Line | Table]]) -> tuple[int, int] | None:
    """(page index, item index) where the disclaimer pages begin: at a disclaimer heading, or else
    at the first of the last pages that read as legal text throughout."""
    pages = len(streams)
    for page_index, stream in enumerate(streams):
        if page_index == 0 and pages > 1:
            continue
        for item_index, item in enumerate(stream):
            if isinstance(item, Line) and len(item.text) <= 40 and _DISCLAIMER_HEADING.match(item.text):
                # A short report can put its disclaimer on the last page under the text; a long one
                # never starts it in its first half (that is a reference to it, e.g. in a summary).
                if page_index + 1 >= pages / 2 or pages <= 2:
                    return page_index, item_index
    start = None
    for page_index in range(pages - 1, 0, -1):
        lines = [item.text for item in streams[page_index] if isinstance(item, Line)]
        legal = sum(len(text) for text in lines if _LEGAL_WORDS.search(text))
        if not lines or legal < 0.5 * sum(len(text) for text in lines):
            break
        start = (page_index, 0)
    return start


def assemble(pages: list[PageItems]) -> Assembled:
    result = Assembled()
    page_streams = [_page_stream(page) for page in pages]
    sizes: Counter[float] = Counter()
    for stream in page_streams:
        for item in stream:
            if isinstance(item, Line):
                sizes[item.size] += len(item.text)
    body_size = sizes.most_common(1)[0][0] if sizes else 10.0
    streams = [_attach_captions(stream, result.sources, body_size) for stream in page_streams]
    _join_continued_tables(streams)
    start = _disclaimer_start(streams)
    if start is not None:
        page_index, item_index = start
        tail = streams[page_index][item_index:] + [item for s in streams[page_index + 1 :] for item in s]
        result.disclaimer = [
            item.text if isinstance(item, Line) else "\n".join(item.row_texts()) for item in tail
        ]
        streams = streams[:page_index] + [streams[page_index][:item_index]]
    lines = [item for stream in streams for item in stream if isinstance(item, Line)]
    for stream in streams:
        _column_edges([item for item in stream if isinstance(item, Line)])
    metrics = _metrics(lines)
    result.body_size = metrics.body_size
    current: list[Line] = []

    def flush() -> None:
        if current:
            text = ""
            for line in current:
                text = _join_wrapped(text, line.text)
            text = _BULLET.sub("", text)  # a bullet is layout: "● 业绩符合预期：…" is cited without it
            if not text:
                current.clear()
                return
            result.blocks.append(Block(text, current[0].page, _kind(current, text, metrics)))
            current.clear()

    for stream in streams:
        for item in stream:
            if isinstance(item, Table):
                flush()
                result.tables.append(item)
                result.blocks.extend(_table_blocks(item))
                continue
            if current and (
                _starts_paragraph(current[-1], item, metrics, current[0]) or CAPTION.match(item.text)
            ):
                flush()
            current.append(item)
            if CAPTION.match(item.text):
                flush()  # a figure's caption stands alone
    flush()
    return result


def _table_blocks(table: Table) -> list[Block]:
    context_lines = []
    caption = table.caption or ""
    if table.units and table.units not in caption:
        caption = f"{caption} {table.units}".strip()
    if caption:
        context_lines.append(caption)
    context_lines.extend(table.header)
    context = "\n".join(context_lines) or None
    body = table.rows[table.header_rows :] if context else table.rows
    return [Block(" | ".join(row), table.page, "table_row", context) for row in body if any(row)]
