"""Turn a read document into the report's own paragraphs: site chrome dropped, the disclaimer kept
apart, repeated paragraphs collapsed. Paragraph text is never rewritten."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

from index.text import fingerprint, has_sentence_punctuation, search_form

# Patterns run on the search form (simplified, half-width, lower-case) of one line.
# Nav bars and breadcrumbs (首页 | 港股 | A股); never applied to a table row.
_NAV_BAR = re.compile(r"^([^|>｜›»]{1,10}\s*[|>｜›»]\s*){2,}[^|>｜›»]{1,10}$")
_CHROME = (
    [
        re.compile(p)
        for p in (
            r"^登录.{0,12}app",
            r"(新浪|东方|同花顺|腾讯|网易|搜狐).{0,6}(财经|证券|自选股)?app",
            r"搜索【信披】",
            r"^海量资讯",
            r"^vip课程",
            r"^加载中",
            r"^app专享",
            r"^\d{1,2}/\d{1,2}$",
            r"^热门推荐$",
            r"^(收起|展开|更多|返回顶部|分享到?[:：]?.*)$",
            r"公众号$",
            r"二维码",
            r"^(股市直播|图文直播间|视频直播间|7x24小时|新浪首页.*|语音播报|相关新闻|相关阅读|热门文章|推荐阅读)$",
            r"^\d{2}-\d{2}\s+\S{2,8}\s+\d{6}\s+(--|[\d.]+)$",  # IPO calendar: "01-06 惠通科技 301601 --"
            r"^(责任编辑|编辑|作者)[:：]",
            r"(点击|扫码|长按).{0,10}(关注|下载|进入|识别)",
            r"^(下载|打开)\S{0,8}app",
            r"^阅读原文$",
            r"^end$",
            r"^(上一篇|下一篇)[:：]",
            r"^©|版权所有|all rights reserved",
            r"^(广告|推广|赞助)(\s|[:：]|$)",
            r"^字号[:：]",
            r"^[(（][^)）]{0,30}(sample note|示例研报|示例)[^)）]{0,30}[)）]$",  # yanbao's own marker on sample notes
        )
    ]
    + [_NAV_BAR]
)
# Lines that carry report metadata (kept for describing the report, not indexed as content).
_META = [
    re.compile(p)
    for p in (
        r"^[(（]?来源[:：]",
        r"^20\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s+\d{1,2}:\d{2}",  # reprint timestamp
        r"^(证券)?分析师[:：]",
        r"^(研究助理|联系人)[:：]",
        r"执业(登记|证书)?编[码号]",
        r"^s\d{12,13}$",  # a bare SAC registration code: S0760523050002
        r"^(报告)?发布(日期|时间)[:：]",
        r"^(数据|资料)来源[:：]",
        # a scraper's front matter: metadata of the page, never the report's text
        r"^(url|title|source|author|published|date|标题|题目|作者|链接|原文链接|网址)\s*[:：]",
        r"^(报告)?日期[:：]",
        r"^[\u4e00-\u9fff]{2,8}(证券|研究所|研究)\s*[·•]\s*20\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}日?$",  # dateline
    )
]
# Where the disclaimer starts: from here on nothing is report content.
_DISCLAIMER_START = [
    re.compile(p)
    for p in (
        r"^【?免责声明】?",
        r"^(重要)?声明[:：]?$",
        r"^本人已在中国证券业协会登记为证券分析师",
        r"^分析师(声明|承诺)",
        r"^本订阅号不是",
        r"^(法律声明|特别声明|一般声明|信息披露)[:：]?$",
        r"^投资评级(说明|体系)",
    )
]
_NUMBERS = re.compile(r"\d+")


@dataclass
class Paragraph:
    text: str  # as written
    page: int | None = None
    kind: str = "text"  # "text" | "heading" | "table_row"
    context: str | None = None  # a table row's caption, units and header (readers.Block.context)


@dataclass
class CleanedReport:
    paragraphs: list[Paragraph]
    disclaimer: list[str] = field(default_factory=list)
    dropped_chrome: list[str] = field(default_factory=list)
    duplicates: int = 0


def is_chrome_line(text: str, table_row: bool = False) -> bool:
    """Site chrome. A table row is never taken for a nav bar: its short cells are data
    (`EPS(元) | 0.60 | 0.83 | 1.08`)."""
    form = search_form(text).strip().lstrip("•·-*● ").strip()
    return not form or any(p.search(form) for p in _CHROME if not (table_row and p is _NAV_BAR))


def is_meta_line(text: str) -> bool:
    form = search_form(text).strip()
    return any(p.search(form) for p in _META)


def starts_disclaimer(text: str) -> bool:
    form = search_form(text).strip()
    return any(p.search(form) for p in _DISCLAIMER_START)


def looks_like_heading(text: str) -> bool:
    """Short lines without sentence punctuation: 【行情回顾】, 行業動向:, 一、…, 1)…, 市場整體行情."""
    stripped = text.strip()
    if len(stripped) > 60 or has_sentence_punctuation(stripped):
        return False
    if re.match(
        r"^(【.+】|[一二三四五六七八九十]+、|\d{1,2}[)）.、]|第[一二三四五六七八九十]+[章节部分])", stripped
    ):
        return True
    return len(stripped) <= 20 and not re.search(r"\d+(\.\d+)?%", stripped)


def clean_reprint_boilerplate(blocks: list, title_hint: str | None = None) -> CleanedReport:
    """`blocks` are readers.Block (text, page, kind). Returns the report's own paragraphs in order."""
    paragraphs: list[Paragraph] = []
    disclaimer: list[str] = []
    dropped: list[str] = []
    in_disclaimer = False
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if in_disclaimer or starts_disclaimer(text):
            in_disclaimer = True
            if not is_chrome_line(text):
                disclaimer.append(text)
            continue
        if is_chrome_line(text, table_row=block.kind == "table_row") or is_meta_line(text):
            dropped.append(text)
            continue
        kind = block.kind if block.kind != "text" else ("heading" if looks_like_heading(text) else "text")
        paragraphs.append(
            Paragraph(text=text, page=block.page, kind=kind, context=getattr(block, "context", None))
        )
    # A trailing run of short keyword lines after the content (reprint tags like "AI 字節 推理") is chrome.
    while paragraphs and paragraphs[-1].kind != "table_row" and _is_tag_line(paragraphs[-1].text):
        dropped.append(paragraphs.pop().text)
    kept, duplicates = collapse_repeated_paragraphs(paragraphs)
    return CleanedReport(
        paragraphs=kept, disclaimer=disclaimer, dropped_chrome=dropped, duplicates=duplicates
    )


def _is_tag_line(text: str) -> bool:
    parts = text.split()
    return (
        len(parts) >= 3
        and all(len(p) <= 6 for p in parts)
        and not has_sentence_punctuation(text)
        and not re.search(r"\d", text)  # a row of figures is data, not keyword tags
    )


def _shingles(fp: str, size: int = 4) -> set[str]:
    return {fp[i : i + size] for i in range(max(1, len(fp) - size + 1))}


# Candidate repeats are found through anchors, chosen by winnowing (Schleimer et al., the MOSS
# algorithm): of every ANCHOR_STEP consecutive ANCHOR-character pieces of a fingerprint, the one with
# the smallest stable hash is an anchor. Any text of ANCHOR + ANCHOR_STEP - 1 characters that two
# paragraphs share gives both the same anchor, so a paragraph contained in another is always found,
# and near-copies share most anchors: each paragraph is compared with the few earlier ones that share
# its anchors, never with all of them (a 60 MB note of 200,000 paragraphs is not 4·10¹⁰
# comparisons). An anchor in more than MAX_POSTING paragraphs is boilerplate and finds nothing useful.
ANCHOR = 8
ANCHOR_STEP = 4
MAX_POSTING = 64
MAX_CANDIDATES = 16


class _Kept:
    """The paragraphs kept so far, indexed for finding repeats."""

    def __init__(self) -> None:
        self.fps: list[str] = []
        self.exact: set[str] = set()
        self.shingles: list[set[str] | None] = []
        self.postings: dict[int, list[int]] = {}

    def add(self, fp: str) -> None:
        index = len(self.fps)
        self.fps.append(fp)
        self.exact.add(fp)
        self.shingles.append(None)  # computed when first compared
        for anchor in _anchors(fp):
            posting = self.postings.setdefault(anchor, [])
            if len(posting) <= MAX_POSTING:
                posting.append(index)

    def candidates(self, fp: str) -> list[int]:
        counts: dict[int, int] = {}
        for anchor in _anchors(fp):
            posting = self.postings.get(anchor)
            if posting is None or len(posting) > MAX_POSTING:
                continue
            for index in posting:
                counts[index] = counts.get(index, 0) + 1
        return sorted(counts, key=lambda i: (-counts[i], i))[:MAX_CANDIDATES]

    def shingles_of(self, index: int) -> set[str]:
        if self.shingles[index] is None:
            self.shingles[index] = _shingles(self.fps[index])
        return self.shingles[index]  # type: ignore[return-value]


def _anchors(fp: str) -> set[int]:
    # zlib.crc32, not hash(): str hashes change from one process to the next
    hashes = [zlib.crc32(fp[i : i + ANCHOR].encode()) for i in range(len(fp) - ANCHOR + 1)]
    if len(hashes) <= ANCHOR_STEP:
        return set(hashes)
    return {min(hashes[i : i + ANCHOR_STEP]) for i in range(len(hashes) - ANCHOR_STEP + 1)}


def collapse_repeated_paragraphs(paragraphs: list[Paragraph]) -> tuple[list[Paragraph], int]:
    """Keep the first copy of each paragraph. A later paragraph is a repeat when it is the same text
    (ignoring punctuation, spacing and script), is contained in a kept paragraph (reprints repeat a
    summary paragraph in pieces), mostly consists of a kept one (a heading glued to a repeat), or is
    a near-identical long copy (a word added or dropped in the second copy). A paragraph that names
    a stock or a figure the kept one lacks is never a repeat: "建议关注A、B、C" and "建议关注A、B、D"
    are two facts."""
    kept: list[Paragraph] = []
    index = _Kept()
    duplicates = 0
    # A digest lists its items first (本期内容: one heading-like line each) and then prints each item's
    # heading again above its text: that second copy is the section of the text, not a repeat.
    listed = {
        fingerprint(para.text)
        for para, after in zip(paragraphs, paragraphs[1:], strict=False)
        if para.kind == "heading" and after.kind == "heading"
    }
    for n, para in enumerate(paragraphs):
        fp = fingerprint(para.text)
        if not fp:
            continue
        heads_text = (
            para.kind == "heading" and n + 1 < len(paragraphs) and paragraphs[n + 1].kind != "heading"
        )
        if fp in listed and heads_text and fp in index.exact:
            kept.append(para)
            continue
        if _is_repeat(fp, index, para.kind == "heading"):
            duplicates += 1
            continue
        kept.append(para)
        index.add(fp)
    return kept, duplicates


def _is_repeat(fp: str, kept: _Kept, heading: bool) -> bool:
    if fp in kept.exact:
        # Repeated short headings ("風險提示:") are structure, but indexing them twice adds nothing.
        return True
    if heading or len(fp) < 12:
        return False
    shingles: set[str] | None = None  # made only when a candidate is long enough to compare
    for i in kept.candidates(fp):
        other = kept.fps[i]
        if len(other) >= len(fp) and fp in other:
            return True  # everything it says is said already
        if len(other) >= 0.8 * len(fp) and other in fp and _adds_no_facts(fp, other):
            return True
        if len(fp) >= 40 and len(other) >= 40 and 0.85 <= len(other) / len(fp) <= 1.18:
            shingles = shingles or _shingles(fp)
            other_shingles = kept.shingles_of(i)
            overlap = len(shingles & other_shingles) / len(shingles | other_shingles)
            if overlap >= 0.85 and _adds_no_facts(fp, other):
                return True
    return False


def _adds_no_facts(fp: str, other: str) -> bool:
    """Whether `fp` names no stock and no number that `other` does not."""
    if not set(_NUMBERS.findall(fp)) <= set(_NUMBERS.findall(other)):
        return False
    from index.lexicon import Lexicon  # loaded once per process; only near-copies get here

    lexicon = Lexicon.load()
    names = {lexicon.stocks_by_name[n].code for n, _, _ in lexicon.find_stocks(fp)}
    others = {lexicon.stocks_by_name[n].code for n, _, _ in lexicon.find_stocks(other)}
    return names <= others
