"""Read a report file (.pdf, .html/.htm, .docx, .txt, .md) into a Document of text blocks.

A block is one paragraph or one table row, as written in the report. Readers do no cleaning
of their own beyond what the format forces (site chrome in HTML, page headers in PDF); the
cleaning step decides what is boilerplate.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from index.encoding import decode_text
from index.errors import ReadError
from index.files import DEFAULT_MAX_FILE_MB, max_bytes, read_report_file
from index.tables import mark_tables

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Block",
    "Document",
    "ReadError",
    "ReportHints",
    "read_bytes",
    "read_document",
]

SUPPORTED_SUFFIXES = (".pdf", ".html", ".htm", ".docx", ".txt", ".md")


@dataclass
class Block:
    text: str  # one paragraph (or one table row) as written, whitespace-trimmed
    page: int | None = None  # 1-based PDF page; None for other formats
    kind: str = "text"  # "text" | "table_row" | "heading"
    # For a table row: what makes its figures mean something, as printed above the table
    # (caption with units, then the header row); every chunk made of the row carries it.
    context: str | None = None


@dataclass
class ReportHints:
    """What a reader found about the report outside its main text (a PDF's sidebar, banner,
    disclaimer and file name). Fields nothing supports stay None; describe prefers these."""

    broker: str | None = None  # canonical broker name
    date: str | None = None  # publish date, YYYY-MM-DD
    title: str | None = None
    analysts: list[str] = field(default_factory=list)
    rating: str | None = None  # as printed: 买入, 增持, 推荐, Outperform, ...
    target_price: float | None = None
    ticker: str | None = None  # the covered stock's code: 002837, 0700.HK


@dataclass
class Document:
    path: Path
    blocks: list[Block] = field(default_factory=list)
    title_hint: str | None = None
    date_hint: str | None = None
    pages: int = 0  # PDF pages read (0 for other formats): the pipeline reports pages/s
    aside: list[Block] = field(default_factory=list)  # sidebar, banner, source lines: not main text
    disclaimer: list[str] = field(default_factory=list)  # the disclaimer pages' text, kept apart
    hints: ReportHints | None = None


def read_document(path: Path, limit: int = max_bytes(DEFAULT_MAX_FILE_MB)) -> Document:
    """Read a report from disk; raises ReadError naming the file for anything unreadable, for
    anything but a regular file, and for a file over `limit` bytes."""
    path = Path(path)
    _check_suffix(path)
    return _read(read_report_file(path, limit), path)


def read_bytes(data: bytes, name: str) -> Document:
    """Read an upload held in memory; `name` gives the suffix and is used in error messages."""
    path = Path(name)
    _check_suffix(path)
    return _read(data, path)


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        shown = path.suffix or "no suffix"
        raise ReadError(path, f"unsupported file type ({shown}; supported: {', '.join(SUPPORTED_SUFFIXES)})")


def _read(data: bytes, path: Path) -> Document:
    if not data:
        raise ReadError(path, "empty file")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(data, path)
    if suffix in (".html", ".htm"):
        return _read_html(data, path)
    if suffix == ".docx":
        return _read_docx(data, path)
    text = decode_text(data, str(path))
    blocks = _markdown_blocks(text) if suffix == ".md" else _plain_blocks(text)
    blocks = mark_tables(blocks)  # forecast tables: rows carry their header, as in PDFs
    return Document(path=path, blocks=blocks)


# --- shared text helpers -------------------------------------------------------------------

_CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"


def _collapse_inline(text: str) -> str:
    """HTML-style whitespace, except that a source line break before a Chinese character is no
    space (browsers drop it too); reprints often wrap after an ASCII comma inside Chinese text."""
    text = text.replace("\xa0", " ")
    text = re.sub(rf"(?<=[{_CJK},.;:!?)%])[ \t]*[\r\n]+[ \t\r\n]*(?=[{_CJK}])", "", text)
    return re.sub(r"[ \t\r\n\f\v]+", " ", text).strip()


# --- plain text and Markdown ---------------------------------------------------------------


def _trim(line: str) -> str:
    # str.strip() knows the ideographic space U+3000 but not zero-width spaces and stray BOMs.
    return line.strip().strip("\u200b\u200c\u200d\u2060\ufeff").strip()


def _plain_blocks(text: str) -> list[Block]:
    # Reports in .txt put one paragraph per line (the seeds add blank lines between them);
    # a single newline inside a note is a new paragraph too, never a soft wrap.
    return [Block(_trim(line)) for line in text.split("\n") if _trim(line)]


_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)(\s+#+)?\s*$")
_MD_SETEXT = re.compile(r"^(=+|-{2,})\s*$")
_MD_RULE = re.compile(r"^([-*_])(\s*\1){2,}\s*$")
_MD_BULLET = re.compile(r"^[-*+•]\s+")
_MD_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_MD_FENCE = re.compile(r"^(```|~~~)")


def _markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    previous_blank = True
    for raw in text.split("\n"):
        line = _trim(raw)
        if not line or _MD_FENCE.match(line):
            previous_blank = True
            continue
        if _MD_SETEXT.match(line) and not previous_blank and blocks and blocks[-1].kind == "text":
            blocks[-1].kind = "heading"  # "Title\n=====" is a heading, not a rule
            continue
        previous_blank = False
        if _MD_RULE.match(line) or _MD_TABLE_SEPARATOR.match(line):
            continue
        if heading := _MD_HEADING.match(line):
            blocks.append(Block(_markdown_inline(heading.group(1)), kind="heading"))
            continue
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            cells = [_markdown_inline(cell.strip()) for cell in line[1:-1].split("|")]
            if any(cells):
                blocks.append(Block(" | ".join(cells), kind="table_row"))
            continue
        line = re.sub(r"^(>\s*)+", "", line)
        line = _MD_BULLET.sub("", line)
        if text_ := _markdown_inline(line):
            blocks.append(Block(text_))
    return blocks


def _markdown_inline(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) and ![alt](src) keep the words
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return text.strip()


# --- HTML -----------------------------------------------------------------------------------

# Elements that are never article text.
_HTML_DROP_TAGS = (
    "script", "style", "noscript", "iframe", "svg", "nav", "aside", "form", "template",
    "button", "select", "textarea", "object", "embed", "canvas", "video", "audio", "map",
)  # fmt: skip
# Long words are safe as substrings of class/id ("top-navbar", "hotRecommend");
# short ones must be a whole token, or "ad" would hit "header" and "head".
_CHROME_SUBSTRINGS = re.compile(
    r"nav|menu|footer|sidebar|recommend|share|comment|qrcode|advert|breadcrumb|banner|popup|toolbar"
    r"|login|subscribe|copyright|hotnews|related|weixin|wechat",
    re.IGNORECASE,
)
_CHROME_TOKENS = {"ad", "ads", "adv", "gg", "hot", "rank", "side", "qr", "tool", "tools", "foot", "tags", "app"}  # fmt: skip
# In priority order: the usual containers of the article body on Chinese news and broker sites.
_ARTICLE_SELECTORS = (
    "article", "#artibody", "#article", ".article", ".article-content", "#content", ".content", "main", '[role="main"]',
)  # fmt: skip
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote",
    "figure", "figcaption", "hr", "header", "footer", "address", "center", "tbody", "thead", "caption",
}  # fmt: skip
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_DATE_METAS = (
    "publishdate", "pubdate", "publish_date", "article:published_time", "og:release_date",
    "date", "dc.date", "weibo:article:create_at",
)  # fmt: skip


def _read_html(data: bytes, path: Path) -> Document:
    from bs4 import BeautifulSoup

    text = decode_text(data, str(path), declared=_declared_charset(data))
    soup = BeautifulSoup(text, "lxml")
    title_hint = _html_title(soup)
    date_hint = _html_date(soup)
    body = soup.body or soup
    _drop_chrome(body)
    root = _article_container(body)
    blocks = _html_blocks(root)
    blocks = mark_tables(blocks)
    if not blocks:
        raise ReadError(path, "no text found in the HTML page")
    return Document(path=path, blocks=blocks, title_hint=title_hint, date_hint=date_hint)


def _declared_charset(data: bytes) -> str | None:
    head = data[:4096].decode("ascii", errors="ignore")
    match = re.search(r"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", head, re.IGNORECASE)
    return match.group(1) if match else None


def _html_title(soup) -> str | None:
    og = soup.find("meta", attrs={"property": "og:title"})
    if og and og.get("content", "").strip():
        return og["content"].strip()  # Unlike <title>, carries no "_新浪财经_新浪网" site suffix.
    if soup.title and soup.title.get_text(strip=True):
        return _collapse_inline(soup.title.get_text())
    return None


def _html_date(soup) -> str | None:
    for meta in soup.find_all("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or "").strip().lower()
        if key in _DATE_METAS and meta.get("content", "").strip():
            return meta["content"].strip()
    time = soup.find("time", attrs={"datetime": True})
    return time["datetime"].strip() if time and time["datetime"].strip() else None


def _drop_chrome(body) -> None:
    for tag in body.find_all(_HTML_DROP_TAGS):
        tag.decompose()
    # A <header> inside <article> is the article's own title block; elsewhere it is the site's.
    for tag in body.find_all(["header", "footer"]):
        if tag.name == "footer" or not tag.find_parent("article"):
            tag.decompose()
    body_length = len(body.get_text(strip=True)) or 1
    for tag in body.find_all(True):
        if tag.decomposed or tag.name in ("html", "body", "article", "main"):
            continue
        if _looks_like_chrome(tag) or _is_hidden(tag):
            # A wrapper with most of the page's text is the page, whatever its class says.
            if len(tag.get_text(strip=True)) < 0.5 * body_length:
                tag.decompose()


def _looks_like_chrome(tag) -> bool:
    names = " ".join([*(tag.get("class") or []), tag.get("id") or ""])
    if not names.strip():
        return False
    if _CHROME_SUBSTRINGS.search(names):
        return True
    return any(token in _CHROME_TOKENS for token in re.split(r"[\s_\-]+", names.lower()))


def _is_hidden(tag) -> bool:
    style = (tag.get("style") or "").replace(" ", "").lower()
    return tag.has_attr("hidden") or "display:none" in style or "visibility:hidden" in style


def _article_container(body):
    """The main article element when the page has an obvious one, else the whole body."""
    body_length = len(body.get_text(strip=True))
    for selector in _ARTICLE_SELECTORS:
        matches = body.select(selector)
        if not matches:
            continue
        best = max(matches, key=lambda tag: len(tag.get_text(strip=True)))
        # A small ".content" box (a caption, a teaser) is not the article.
        if len(best.get_text(strip=True)) >= 0.3 * body_length:
            return best
    return body


def _html_blocks(root) -> list[Block]:
    from bs4 import NavigableString

    blocks: list[Block] = []
    pending: list[str] = []

    def flush() -> None:
        text = _collapse_inline("".join(pending))
        pending.clear()
        if text:
            blocks.append(Block(text))

    def walk(node) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, doctype or CDATA
                    pending.append(str(child))
                continue
            name = child.name
            if name == "br":
                flush()
            elif name == "table" and not _is_layout_table(child):
                flush()
                if child.caption and (caption := _collapse_inline(_inline_text(child.caption))):
                    blocks.append(Block(caption))
                blocks.extend(_html_table_rows(child))
            elif name in _HEADING_TAGS:
                flush()
                if text := _collapse_inline(_inline_text(child)):
                    blocks.append(Block(text, kind="heading"))
            elif name == "pre":
                flush()
                blocks.extend(Block(line.strip()) for line in child.get_text().split("\n") if line.strip())
            elif name in _BLOCK_TAGS or name in ("table", "tr", "td", "th"):
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(root)
    flush()
    return blocks


def _is_layout_table(table) -> bool:
    """Old sites lay out whole pages with <table>; a table whose cells hold paragraphs or
    other tables is a container, not data with rows."""
    if table.find("table"):
        return True
    return any(len(cell.get_text(strip=True)) > 300 for cell in table.find_all(["td", "th"]))


def _html_table_rows(table) -> list[Block]:
    rows = []
    for tr in table.find_all("tr"):
        cells = [_collapse_inline(_inline_text(cell)) for cell in tr.find_all(["td", "th"], recursive=False)]
        if any(cells):
            rows.append(Block(" | ".join(cells), kind="table_row"))
    return rows


def _inline_text(tag) -> str:
    """Text of an element with <br> and nested blocks read as spaces, so cells don't glue words."""
    from bs4 import NavigableString

    parts = []
    for node in tag.descendants:
        if isinstance(node, NavigableString):
            if type(node) is NavigableString:
                parts.append(str(node))
        elif node.name == "br" or node.name in _BLOCK_TAGS:
            parts.append(" ")
    return "".join(parts)


# --- DOCX -----------------------------------------------------------------------------------

_DOCX_HEADING_STYLE = re.compile(r"^(heading|title|subtitle|标题|標題)", re.IGNORECASE)


def _read_docx(data: bytes, path: Path) -> Document:
    import docx
    from docx.table import Table

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        # An OLE container: Word's encrypted .docx or an old binary .doc renamed.
        raise ReadError(
            path, "not a DOCX package (password-protected, or an old .doc file: save it as .docx)"
        )
    if not data.startswith(b"PK"):
        raise ReadError(path, "damaged DOCX (not a zip package)")
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        for item in _docx_body_items(document.element.body, document._body):
            if isinstance(item, Table):
                blocks.extend(_docx_table_rows(item))
            else:
                blocks.extend(_docx_paragraph_blocks(item))
        title = (document.core_properties.title or "").strip() or None
    except ReadError:
        raise
    except Exception as exc:  # python-docx surfaces zip, XML and missing-part errors as many types
        raise ReadError(path, f"damaged DOCX ({type(exc).__name__}: {exc})") from None
    return Document(path=path, blocks=blocks, title_hint=title)


def _docx_body_items(element, parent):
    """Paragraphs and tables in document order, including those inside content controls
    (<w:sdt>, used by report templates for cover titles), which python-docx's own iterator skips."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in element.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent)
        elif child.tag == qn("w:tbl"):
            yield Table(child, parent)
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _docx_body_items(content, parent)


def _docx_paragraph_blocks(paragraph) -> list[Block]:
    style = paragraph.style.name if paragraph.style is not None else ""
    kind = "heading" if _DOCX_HEADING_STYLE.match(style or "") else "text"
    # A manual line break (Shift+Enter) inside a paragraph starts a new line of its own.
    return [Block(line.strip(), kind=kind) for line in paragraph.text.split("\n") if line.strip()]


def _docx_table_rows(table) -> list[Block]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: list = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):  # a merged cell is returned once per grid column it spans
                continue
            seen.append(cell._tc)
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(Block(" | ".join(cells), kind="table_row"))
    return rows


# --- PDF ------------------------------------------------------------------------------------


def _read_pdf(data: bytes, path: Path) -> Document:
    from index.pdf import read_pdf

    return read_pdf(data, path)
