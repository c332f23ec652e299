"""Turn the bytes of a text or HTML report into str without assuming UTF-8.

Chinese notes arrive as UTF-8, GB18030/GBK/GB2312 (mainland), Big5/Big5-HKSCS (Taiwan, Hong Kong)
or UTF-16 from Windows tools. GBK and Big5 share the same byte ranges, so a Big5 file usually
decodes "successfully" as GB18030 into nonsense; we decode with each candidate and keep the one
whose characters are common in real Chinese text.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

from index.errors import ReadError

# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Tried in this order; on equal scores the earlier wins (mainland notes are the majority).
# cp950 is Windows' Big5 with a few extra characters that big5hkscs lacks.
_CHINESE_CODECS = ("gb18030", "big5hkscs", "cp950")

# Names seen in <meta charset> and the codec that reads them; GB2312/GBK pages routinely
# contain characters only their superset has, and Big5 pages HKSCS characters.
_CODEC_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
}

# Control bytes that never appear in text (tab, newlines, form feed, ESC-free); 0x1a is the DOS end mark.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x19\x1b-\x1f\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

# Below this share of "ordinary" non-ASCII characters a decoding is mojibake, not Chinese text.
_PLAUSIBLE = 0.5


def decode_text(data: bytes, name: str, declared: str | None = None) -> str:
    """Decode a text file's bytes, newlines normalized to "\\n" and any BOM dropped.

    `declared` is an encoding the file claims (an HTML meta charset); pages often lie, so it
    only breaks ties between decodings that read equally well, and never overrides valid UTF-8.
    Raises ReadError for empty, binary or undecodable data.
    """
    if not data:
        raise ReadError(name, "empty file")
    text = _decode(data, name, declared)
    return normalize_newlines(text)


def normalize_newlines(text: str) -> str:
    # \f separates pages in text dumped from PDFs; \v, U+2028/2029 are line breaks from Word.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\f\v\u2028\u2029\x85]", "\n", text)
    return text.replace("\x1a", "")


def _decode(data: bytes, name: str, declared: str | None) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise ReadError(
                    name, f"undecodable text (starts with a {codec} BOM but {exc.reason})"
                ) from None

    if b"\x00" in data:
        # NUL bytes: either UTF-16 written without a BOM, or not text at all.
        text = _bomless_utf16(data)
        if text is None:
            raise ReadError(name, "not text (binary data)")
        return text
    if len(_CONTROL_BYTES.findall(data[:65536])) > max(2, len(data[:65536]) // 100):
        raise ReadError(name, "not text (binary data)")

    try:
        # Valid UTF-8 with non-ASCII bytes is almost never an accident of another encoding.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass

    candidates = list(_CHINESE_CODECS)
    codec = _CODEC_ALIASES.get((declared or "").strip().lower(), (declared or "").strip().lower())
    if codec and codec not in ("utf-8", "utf8"):
        try:
            codecs.lookup(codec)
            candidates.insert(0, codec)
        except LookupError:
            pass

    # Strictly greater: on a tie the earlier candidate wins, so a declared charset breaks ties
    # but cannot override bytes that read clearly better in another encoding.
    best: tuple[float, str] | None = None
    for codec in dict.fromkeys(candidates):
        text = _decode_tolerant(data, codec)
        if text is None:
            continue
        score = _ordinary_share(text[:200_000])  # a long prefix tells as well as the whole
        if best is None or score > best[0]:
            best = (score, text)
    if best is not None and best[0] >= _PLAUSIBLE:
        return best[1]

    fallback = _charset_normalizer_guess(data)
    if fallback is not None:
        return fallback
    raise ReadError(name, "undecodable text (not UTF-8, UTF-16, GB18030 or Big5)")


def _decode_tolerant(data: bytes, codec: str) -> str | None:
    """Decode strictly, or with a handful of bad bytes (a file cut mid-character, one stray byte)."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    text = data.decode(codec, errors="replace")
    if text.count("\ufffd") > max(2, len(text) // 1000):
        return None
    return text


def _bomless_utf16(data: bytes) -> str | None:
    if len(data) % 2:
        return None
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if not _CONTROL_CHARS.search(text) and _ordinary_share(text, ascii_counts=True) >= 0.9:
            return text
    return None


def _charset_normalizer_guess(data: bytes) -> str | None:
    """Last resort for non-Chinese legacy encodings (Shift-JIS, cp1252, …)."""
    from charset_normalizer import from_bytes

    match = from_bytes(data).best()
    if match is None or match.chaos > 0.2:
        return None
    text = str(match)
    return None if _CONTROL_CHARS.search(text) else text


def _ordinary_share(text: str, ascii_counts: bool = False) -> float:
    """Share of characters a reader would expect in a Chinese note: common hanzi (simplified or
    traditional), CJK and full-width punctuation, general punctuation. ASCII is left out unless
    asked for, since it reads the same in every candidate encoding and would hide the difference."""
    common = _common_hanzi()
    good = total = 0
    for ch in text:
        if ch.isspace():
            continue
        if ch < "\x80":
            if ascii_counts:
                total += 1
                good += ch.isprintable()
            continue
        total += 1
        if (
            ch in common
            or "\u3000" <= ch <= "\u303f"  # CJK punctuation
            or "\uff00" <= ch <= "\uffef"  # full-width forms
            or "\u2000" <= ch <= "\u206f"  # general punctuation: “ ” — …
            or ch in "·×÷°±≤≥％￥€£"
        ):
            good += 1
    return good / total if total else 1.0


@lru_cache(maxsize=1)
def _common_hanzi() -> frozenset[str]:
    """GB2312 (all 6763 hanzi, simplified) plus Big5 level 1 (5401 common traditional): the
    characters ordinary Chinese prose is written with, derived from the codecs themselves."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xF8):
        row = bytes(b for trail in range(0xA1, 0xFF) for b in (lead, trail))
        chars.update(row.decode("gb2312", errors="ignore"))
    for lead in range(0xA4, 0xC7):
        trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
        row = bytes(b for trail in trails for b in (lead, trail))
        chars.update(row.decode("big5", errors="ignore"))
    return frozenset(c for c in chars if "\u4e00" <= c <= "\u9fff")
