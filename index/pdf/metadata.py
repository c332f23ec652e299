"""What a broker note says about itself on its first page, in its running lines, its disclaimer
and its file name: broker, publish date, title, analysts, rating, target price, covered stock.

Every field is evidence the PDF shows; a field nothing supports stays None. The broker is a vote:
the file name (20200407-华泰证券-….pdf), the legal name in the disclaimer, analysts' SAC
registration prefixes and e-mail domains, the institute that signs the chart sources and the
banner each count, the stronger ones more.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from index.lexicon import Lexicon
from index.normalize import search_form
from index.readers import ReportHints

__all__ = ["Evidence", "ReportHints", "report_hints"]

# E-mail domains of brokers' research staff (second-level names as the brokers publish them).
_EMAIL_DOMAINS = {
    "htsc": "华泰证券", "citics": "中信证券", "cicc": "中金公司", "gtjas": "国泰君安", "gtht": "国泰海通",
    "htsec": "海通证券", "cmschina": "招商证券", "gf": "广发证券", "swsresearch": "申万宏源",
    "swhysc": "申万宏源", "xyzq": "兴业证券", "dwzq": "东吴证券", "tfzq": "天风证券", "gszq": "国盛证券",
    "kysec": "开源证券", "mszq": "民生证券", "cjsc": "长江证券", "ebscn": "光大证券", "stocke": "浙商证券",
    "foundersc": "方正证券", "orientsec": "东方证券", "dfzq": "东方证券", "guosen": "国信证券",
    "zts": "中泰证券", "west95582": "西部证券", "hx168": "华西证券", "tebon": "德邦证券", "gjzq": "国金证券",
    "nesc": "东北证券", "ctsec": "财通证券", "cindasc": "信达证券", "bocichina": "中银证券",
    "hcyjs": "华创证券", "csc": "中信建投", "chinastock": "中国银河证券", "ghzq": "国海证券",
    "swsc": "西南证券", "cfsc": "华鑫证券", "dxzq": "东兴证券", "essence": "国投证券", "sdicsc": "国投证券",
    "sxzq": "山西证券", "ccnew": "中原证券", "hazq": "华安证券", "gyzq": "国元证券", "tpyzq": "太平洋证券",
    "cgws": "长城证券", "hfzq": "华福证券", "glsc": "国联证券", "dgzq": "东莞证券", "shzq": "上海证券",
    "avicsec": "中航证券", "firstcapital": "第一创业", "ewww": "渤海证券", "longone": "东海证券",
    "cnhbstock": "华宝证券", "eastmoneysec": "东方财富证券", "pasc": "平安证券",
}  # fmt: skip

_SAC = re.compile(r"(?<![A-Za-z0-9])(S\d{4})\d{8,9}(?!\d)", re.I)
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)*?([A-Za-z0-9-]+)\.(com|cn|net|hk)(\.cn|\.hk)?\b", re.I
)
_LEGAL_NAME_EN = re.compile(
    r"\b((?:[A-Z][\w&.\-]*\s+){0,5}?(?:Securities|Research|Capital|International)(?:\s+\(Hong Kong\))?"
    r"\s+(?:Co\.,?\s*)?(?:Limited|Ltd\.?|Company|Inc\.?))"
)
_LEGAL_NAME = re.compile(
    r"([\u4e00-\u9fff]{2,12}?(证券|證券|资产管理|資產管理|国际|國際)(股份有限公司|有限责任公司|有限責任公司|有限公司))"
)
_INSTITUTE = re.compile(
    r"([\u4e00-\u9fff]{2,8}?)(证券研究所|證券研究所|研究所|研究院|研究部|研究中心|研究)(?![\u4e00-\u9fff])"
)
_DATE_CN = re.compile(r"(20\d{2}|19\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_NUM = re.compile(r"(?<!\d)(20\d{2}|19\d{2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})(?!\d)")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DATE_EN = re.compile(
    r"\b(?:(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+((?:19|20)\d{2})|([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+((?:19|20)\d{2}))\b"
)
_BARE_DATE = re.compile(r"^((发布|報告|报告)?(日期|时间)\s*[:：]?\s*)?[\d\s年月日./-]+$")
_DATE_COMPACT = re.compile(r"(?<!\d)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_DATE_LABEL = re.compile(
    r"(发布|發佈|发表|報告|报告|出版|撰写)?(日期|时间|時間)\s*[:：]?\s*$|(日期|时间|時間)\s*[:：]"
)
_RATINGS = (
    "强烈推荐", "强推", "谨慎推荐", "审慎推荐", "审慎增持", "推荐", "买入", "增持", "持有", "中性", "减持", "卖出",
    "跑赢行业", "跑赢大市", "优于大市", "同步大市", "领先大市", "弱于大市", "看好", "超配", "标配", "低配",
    "outperform", "overweight", "buy", "accumulate", "neutral", "hold", "underweight", "underperform", "sell",
)  # fmt: skip
_RATING = re.compile(
    r"(投资评级|评级|rating)[^\u4e00-\u9fffa-z]{0,6}(维持|首次|上调|下调|调高|调低|首次覆盖)?[^\u4e00-\u9fffa-z]{0,6}("
    + "|".join(_RATINGS)
    + ")",
    re.I,
)
_RATING_ALONE = re.compile(
    r"^(" + "|".join(_RATINGS) + r")\s*[(（]?\s*(维持|首次|上调|下调|首次覆盖)?\s*[)）]?$", re.I
)
_TARGET = re.compile(r"(目标价|目標價|target price)(格)?[^\d\n]{0,16}?(\d{1,5}(\.\d{1,3})?)", re.I)
# "英维克(002837)：…", "腾讯控股（0700.HK）": the covered stock leads a company note's title.
_TICKER = re.compile(r"^[^(（:：]{2,16}[(（]\s*((\d{6})(\.(sh|sz|bj|ss))?|(\d{4,5})\.hk)\s*[)）]", re.I)
_TICKER_LABEL = re.compile(r"(股票代码|证券代码|代码|code)[:：\s]*(\d{6}|\d{4,5}\.hk)", re.I)
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
_NOT_NAMES = {
    "分析师", "研究员", "联系人", "研究助理", "执业证书", "证书编号", "执业编号", "编号", "电话", "邮箱", "邮件",
    "投资评级", "评级", "买入", "增持", "持有", "中性", "目标价", "基本数据", "相关研究", "相关报告",
    "证券分析师", "证券研究报告", "资料来源", "首席分析师", "分析师声明", "执业证书编号",
}  # fmt: skip
# Category labels printed large in the banner, never the note's title.
_BANNER_WORDS = re.compile(
    r"^(证券研究报告|研究报告|公司研究|行业研究|公司点评|行业点评|公司报告|行业报告|首次覆盖|深度报告|深度研究|"
    r"策略研究|宏观研究|固收研究|金融工程|晨会纪要|晨会|点评报告|跟踪报告|专题报告|research report|equity research)"
    r"[\s|/·、]*(证券研究报告|公司研究|行业研究|点评|报告)?$",
    re.I,
)
_FILE_BROKER_SPLIT = re.compile(r"[-_—–\s()（）\[\]【】]+")


@dataclass
class Evidence:
    """The lines a PDF offers about itself, by where they were printed."""

    file_name: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    banner: list[str] = field(default_factory=list)  # the first page's top lines and title area
    sidebar: list[str] = field(default_factory=list)
    first_page: list[str] = field(default_factory=list)  # the first page's main lines, in order
    running: list[str] = field(default_factory=list)  # running headers and footers
    sources: list[str] = field(default_factory=list)  # 资料来源 lines under charts and tables
    disclaimer: list[str] = field(default_factory=list)
    title_lines: list[str] = field(default_factory=list)  # the first page's largest lines


def report_hints(evidence: Evidence, lexicon: Lexicon | None = None) -> ReportHints:
    lexicon = lexicon or Lexicon.load()
    front = evidence.banner + evidence.sidebar + evidence.first_page
    hints = ReportHints()
    hints.title = _title(evidence)
    hints.broker = _broker(evidence, lexicon)
    hints.date = _date(evidence)
    hints.analysts = _analysts(evidence.sidebar + evidence.banner + evidence.first_page[:40])
    hints.rating = _rating(evidence.sidebar + evidence.banner + evidence.first_page[:30])
    hints.target_price = _target_price(evidence.sidebar + evidence.banner + evidence.first_page[:30])
    hints.ticker = _ticker(hints.title or "", front, evidence.file_name)
    return hints


# --- broker ---------------------------------------------------------------------------------


def _broker(evidence: Evidence, lexicon: Lexicon) -> str | None:
    votes: dict[str, float] = {}

    def vote(name: str | None, weight: float) -> None:
        if name:
            votes[name] = votes.get(name, 0.0) + weight

    # "20240407-华泰证券-中信证券(600030)-….pdf": the first broker named is the author; a later one
    # may be the covered company.
    stem = evidence.file_name.rsplit(".", 1)[0]
    named = [
        lexicon.canonical_broker(piece) for piece in _FILE_BROKER_SPLIT.split(stem) if 2 <= len(piece) <= 12
    ]
    for order, name in enumerate(n for n in named if n):
        vote(name, 6 if order == 0 else 2)
    front = evidence.banner + evidence.sidebar + evidence.first_page[:40]
    codes = {m.group(0).upper(): m.group(1).upper() for line in front for m in _SAC.finditer(line)}
    for prefix in codes.values():
        vote(lexicon.broker_by_registration(prefix), 4)
    domains = {m.group(2).lower() for line in front + evidence.disclaimer for m in _EMAIL.finditer(line)}
    for domain in domains:
        vote(_canonical(lexicon, _EMAIL_DOMAINS.get(domain) or domain), 3)
    legal = Counter(
        m.group(1)
        for line in evidence.disclaimer
        for pattern in (_LEGAL_NAME, _LEGAL_NAME_EN)
        for m in pattern.finditer(line)
    )
    for name, count in legal.most_common(3):
        vote(lexicon.canonical_broker(name), 2 + min(count, 3))
    # Institutes signing chart sources and running lines: the same line on every page counts
    # once, with a little more for each repeat.
    lines = Counter(evidence.sources + evidence.running)
    for line in evidence.banner:
        lines.setdefault(line, 1)
    for line, count in lines.items():
        for name in _institutes(line, lexicon):
            vote(name, 1.5 + min(count, 4) * 0.5)
    for line in front[:12]:
        for name in lexicon.broker_mentions(line):
            vote(name, 0.5)
    if not votes:
        return None
    return max(votes, key=votes.__getitem__)


def _canonical(lexicon: Lexicon, name: str) -> str | None:
    return lexicon.canonical_broker(name)


def _institutes(line: str, lexicon: Lexicon) -> list[str]:
    """Brokers named as the author of a line: 华泰研究, 山西证券研究所, 资料来源：Wind，国盛证券."""
    names = []
    form = search_form(line)
    for match in _INSTITUTE.finditer(form):
        name = lexicon.canonical_broker(match.group(1)) or lexicon.canonical_broker(match.group(0))
        if name:
            names.append(name)
    if not names and re.search(r"来源|研究所|证券", form):
        names.extend(lexicon.broker_mentions(line))
    return names


# --- date -----------------------------------------------------------------------------------


def _to_iso(y: str, m: str, d: str) -> str | None:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def find_dates(text: str) -> list[str]:
    """Full dates written in `text`, in order (2024年4月7日, 2024-04-07, 2024/4/7, 2024.04.07)."""
    found: list[tuple[int, str]] = []
    for match in _DATE_CN.finditer(text):
        iso = _to_iso(*match.groups())
        if iso:
            found.append((match.start(), iso))
    for match in _DATE_NUM.finditer(text):
        iso = _to_iso(match.group(1), match.group(3), match.group(4))
        if iso:
            found.append((match.start(), iso))
    for match in _DATE_EN.finditer(text):  # 7 April 2024, April 7, 2024 (Hong Kong notes in English)
        day, month, year = (
            (match.group(1), match.group(2), match.group(3))
            if match.group(1)
            else (match.group(5), match.group(4), match.group(6))
        )
        number = _MONTHS.get(month.lower()[:3])
        iso = _to_iso(year, str(number), day) if number else None
        if iso:
            found.append((match.start(), iso))
    return [iso for _, iso in sorted(found)]


def _file_date(name: str) -> str | None:
    stem = name.rsplit(".", 1)[0]
    dates = find_dates(stem)
    if dates:
        return dates[0]
    match = _DATE_COMPACT.search(stem)
    return _to_iso(*match.groups()) if match else None


def _date(evidence: Evidence) -> str | None:
    lines = evidence.banner + evidence.sidebar + evidence.first_page[:40]
    for index, line in enumerate(lines):
        # "发布日期：2024年04月07日", or the label on one line and the date on the next
        if _DATE_LABEL.search(line):
            dates = find_dates(line) or (find_dates(lines[index + 1]) if index + 1 < len(lines) else [])
            if dates:
                return dates[0]
    # The banner, then the title area (what the first page prints above its first paragraph).
    title_area = []
    for line in evidence.first_page:
        if len(line) >= 40:
            break
        title_area.append(line)
    for line in evidence.banner + title_area:
        dates = find_dates(line)
        if dates and "《" not in line:
            return dates[0]
    from_file = _file_date(evidence.file_name)
    if from_file:
        return from_file
    # A date alone on a line of the sidebar; not the ticks of its price chart (many dates) nor a
    # related report's (《…》 2024.03.01).
    bare = [d for line in evidence.sidebar if (d := find_dates(line)) and _BARE_DATE.match(line.strip())]
    if len(bare) == 1:
        return bare[0][0]
    for line in evidence.running:
        dates = find_dates(line)
        if dates:
            return dates[0]
    return None


# --- title, people, rating ------------------------------------------------------------------


def plausible_title(text: str) -> bool:
    """A title a person wrote: some Chinese, or a few words of English; not a tool's placeholder
    ("ppt", "Report", "Microsoft Word - 1.docx") nor a category label (证券研究报告)."""
    text = text.strip()
    if not text or _BANNER_WORDS.match(search_form(text)):
        return False
    if re.search(
        r"^(microsoft (word|powerpoint|excel)|untitled|document\d*$|.*\.(docx?|pptx?|pdf|wps)$)", text, re.I
    ):
        return False
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    return cjk >= 4 or (words >= 3 and len(text) >= 15)


def _title(evidence: Evidence) -> str | None:
    title = "".join(evidence.title_lines).strip()
    if plausible_title(title):
        return title
    meta = (evidence.metadata.get("Title") or "").strip()
    meta = re.sub(r"^microsoft (word|powerpoint|excel) - ", "", meta, flags=re.I)
    return meta if plausible_title(meta) else None


def _analysts(lines: list[str]) -> list[str]:
    names: list[str] = []

    def add(name: str) -> None:
        name = name.strip()
        if (
            _NAME.match(name)
            and name not in _NOT_NAMES
            and name not in names
            and not name.endswith(("证券", "研究"))
        ):
            names.append(name)

    for index, line in enumerate(lines):
        form = line.strip()
        labelled = re.search(
            # "分析师：张三、李四", "研究员 王五": the label, then a colon or a space (not "分析师认为")
            r"(分析师|分析師|研究员|研究員|联系人|聯繫人)(?:\s*[:：]\s*|\s+)([\u4e00-\u9fff·、,，\s]{2,30})",
            form,
        )
        if labelled:
            for piece in re.split(r"[、,，\s]+", labelled.group(2)):
                add(piece)
        if not _SAC.search(form):
            continue
        # The analyst's name is printed beside the registration code, or a line or two above it.
        before = _SAC.split(form)[0]
        candidates = re.findall(r"[\u4e00-\u9fff·]{2,4}", before)
        candidates = [
            c
            for c in candidates
            if c not in _NOT_NAMES and not any(w in c for w in ("证书", "编号", "执业", "分析", "登记"))
        ]
        if candidates:
            add(candidates[-1])
            continue
        for back in (1, 2, 3):
            if index - back < 0:
                break
            previous = lines[index - back].strip()
            head = re.split(r"[\s:：]+", previous)
            picked = next((p for p in head if _NAME.match(p) and p not in _NOT_NAMES), None)
            if picked:
                add(picked)
                break
    return names


def _rating(lines: list[str]) -> str | None:
    joined = " ".join(search_form(line) for line in lines)
    match = _RATING.search(joined)
    if match:
        return _written_rating(match.group(3))
    for line in lines:
        alone = _RATING_ALONE.match(search_form(line).strip())
        if alone:
            return _written_rating(alone.group(1))
    return None


def _written_rating(rating: str) -> str:
    return rating if not rating.isascii() else rating.capitalize()


def _target_price(lines: list[str]) -> float | None:
    for index, line in enumerate(lines):
        form = search_form(line)
        match = _TARGET.search(form)
        if match:
            value = float(match.group(3))
            return value if value > 0 else None
        if re.search(r"(目标价|目標價|target price)", form, re.I) and index + 1 < len(lines):
            following = re.match(r"^\s*(\d{1,5}(\.\d{1,3})?)\s*(元|港元|美元)?\s*$", lines[index + 1])
            if following:
                return float(following.group(1))
    return None


def _ticker(title: str, front: list[str], file_name: str) -> str | None:
    stem = re.sub(
        r"^[\d\s._-]*(-[^-]{2,8}证券-)?", "", file_name.rsplit(".", 1)[0]
    )  # 20240407-华泰证券-英维克(002837)…
    for text in (title, stem):
        match = _TICKER.search(text.strip())
        if match:
            return _ticker_of(match)
    for line in front[:40]:
        match = _TICKER_LABEL.search(line)
        if match:
            return match.group(2).upper()
    return None


def _ticker_of(match: re.Match) -> str:
    return (match.group(2) or match.group(1)).upper()
