"""`/changes [broker] [sector]` and "what changed in Shanxi's picks since last week?": a broker's
latest weekly note compared with its previous one in the same series (the same broker and sector).

Four kinds of change, each line cited to the paragraph it comes from in the new or the old note:
- recommendation lists: names added to and dropped from each labelled list ("光模块：…"), lists
  that are new or no longer given, names moved from one list to another;
- theses: numbered theses (1）…) whose topic the other note does not have: new, or no longer there;
- views: a rating written in the text ("维持行业“看好”评级", "由“看好”下调至“中性”", "买入(维持)")
  for the industry or a stock that differs between the notes;
- figures: a clause both notes write the same way but with other numbers or another direction
  ("申万通信指数上涨2.35%" → "申万通信指数下跌1.48%").
Extractive and offline; an LLM may rephrase the lines, and bot/answering/verify.py checks every
name and number of either against the paragraphs cited.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.answer import Answer, Citation
from bot.answering.extractive import RECOMMEND_PREFIX, _header, _recommendation_segments, is_recommendation
from bot.answering.generative import numbered_context, prefer_verified
from bot.answering.verify import inert, renumber, verify_answer
from bot.answering.weekly import _THESIS, _key_chunks, end_date, latest_weeklies, weeklies_of
from bot.llm import LLMClient, LLMError
from index.filters import SearchFilter
from index.lexicon import Lexicon
from index.records import Chunk, Report
from index.text import search_form
from prompts import render

log = logging.getLogger("yanbao.changes")

MAX_PAIRS = 3
MAX_FIGURES = 8

# ---- what a question about changes looks like ----------------------------------------------------
_CHANGE_EN = re.compile(
    r"\b(what(?:'s| has| have)?\s+changed|what(?:'s|\s+is)\s+new\b|changes?\s+(?:in|to|from|since)|since last week|"
    r"(?:vs\.?|versus|compared (?:with|to)) (?:the )?(?:last|previous|prior) (?:week|weekly)|"
    r"week[- ]over[- ]week|added (?:or|and) dropped|added to|dropped from)\b",
    re.I,
)
_CHANGE_ZH = re.compile(
    r"(什么|哪些|啥|有无|有没有)(变化|变动|调整|不同|新变化)|较上周|相比上周|与上周相比|和上周(相比|比)|比上周|"
    r"调入|调出|剔除|新增.{0,6}(标的|推荐|关注)|(推荐|标的|观点|组合|名单|评级).{0,4}(变化|调整|变动)"
)
# what makes a change question about a broker's weekly rather than about a market figure
_ABOUT_WEEKLY = re.compile(
    r"picks?|recommend|list|view|rating|weekly|thesis|theses|last week|推荐|标的|关注|观点|组合|名单|周报|"
    r"周跟踪|评级|上周|本周",
    re.I,
)


def wants_changes(question: str, broker: str | None, companies: list[str]) -> bool:
    """A question asking what changed between a broker's weeklies ("what changed in Shanxi's picks
    since last week?", "山证本周推荐有什么变化"), not about a company or a market figure. Routing
    one here wrongly costs a right answer, so it takes both a change word and a word about picks,
    views or the weekly."""
    if not (_CHANGE_EN.search(question) or _CHANGE_ZH.search(search_form(question))):
        return False
    if companies and not broker:
        return False  # "what changed in 乐鑫科技's outlook": a question about the company
    # the picks, views or weekly must be what changed: "山证认为资本开支有什么变化" asks for a figure
    return bool(_ABOUT_WEEKLY.search(search_form(question)))


# ---- which notes are compared -------------------------------------------------------------------
def title_sectors(report: Report, lexicon: Lexicon) -> set[str]:
    """The sectors a note's title names (通信, 计算机): what makes a series of a broker's weeklies."""
    title = report.title
    for _, start, end in reversed(lexicon.broker_spans(title)):  # 证券 of 山西证券 is no sector
        title = title[:start] + " " + title[end:]
    named = {entry.chinese[0] for entry, _ in lexicon.glossary_chinese(title) if entry.category == "sector"}
    return named | set(report.sectors)


def same_series(a: Report, b: Report, lexicon: Lexicon) -> bool:
    if a.broker != b.broker:
        return False
    sa, sb = title_sectors(a, lexicon), title_sectors(b, lexicon)
    return not sa or not sb or bool(sa & sb)


def pairs_to_compare(
    reports: list[Report], broker: str | None, sector: str | None, chunks_of, lexicon: Lexicon
) -> list[tuple[Report, Report | None]]:
    """(latest weekly, the one before it in its series, or None) for the broker asked (or each
    broker with a weekly in the latest week)."""
    out = []
    for latest in latest_weeklies(reports, broker, sector, chunks_of, lexicon)[:MAX_PAIRS]:
        earlier = [
            r
            for r in weeklies_of(reports, latest.broker, None, chunks_of, lexicon)
            if r.id != latest.id and end_date(r) < end_date(latest) and same_series(latest, r, lexicon)
        ]
        out.append((latest, earlier[0] if earlier else None))
    return out


# ---- what each note says ----------------------------------------------------------------------------
@dataclass
class Listed:
    label: str  # as written ("光模块"); "" for an unlabelled list
    names: dict[str, Chunk] = field(default_factory=dict)  # stock name -> the paragraph listing it


def recommendation_lists(chunks: list[Chunk], lexicon: Lexicon) -> dict[str, Listed]:
    """The note's recommendation lists by label (search form), in the order written."""
    lists: dict[str, Listed] = {}
    for chunk in chunks:
        whole = bool(RECOMMEND_PREFIX.match(chunk.text.strip())) or is_recommendation(chunk)
        if not whole:
            continue
        for label, names, _ in _recommendation_segments(chunk.text, lexicon, True):
            listed = lists.setdefault(search_form(label), Listed(label))
            for name in names:
                listed.names.setdefault(name, chunk)
    return lists


@dataclass
class Thesis:
    topic: str  # "液冷" of "2）液冷：AI数据中心液冷渗透率加速提升"
    heading: str
    chunk: Chunk


def theses(chunks: list[Chunk], lexicon: Lexicon) -> list[Thesis]:
    out = []
    for chunk in _key_chunks(chunks, lexicon)["theses"]:
        heading = chunk.section if chunk.section and _THESIS.match(chunk.section) else chunk.text
        heading = heading.split("\n")[0].strip()
        body = _THESIS.sub("", heading).strip()  # "2）液冷：…" is shown without its number
        topic = re.split(r"[:：,，。;；]", body)[0].strip()
        out.append(Thesis(topic[:20] or body[:20], body[:120], chunk))
    return out


_RATING_WORDS = {
    "强烈推荐": 1, "强推": 1, "推荐": 1, "谨慎推荐": 1, "审慎推荐": 1, "买入": 1, "增持": 1, "审慎增持": 1,
    "优于大市": 1, "强于大市": 1, "跑赢行业": 1, "跑赢大市": 1, "领先大市": 1, "看好": 1, "超配": 1,
    "中性": 0, "持有": 0, "同步大市": 0, "标配": 0,
    "减持": -1, "卖出": -1, "弱于大市": -1, "跑输行业": -1, "低配": -1, "回避": -1, "看淡": -1, "谨慎": -1,
}  # fmt: skip
_RATING = "|".join(sorted(_RATING_WORDS, key=len, reverse=True))
_Q = r"[“”\"'‘’「」『』]?"
# each: the rating it names is group "rating"
_RATING_PATTERNS = [
    re.compile(
        rf"由{_Q}(?:{_RATING}){_Q}(?:评级)?(?:下调|上调|调低|调高|调整)(?:至|为){_Q}(?P<rating>{_RATING}){_Q}"
    ),
    re.compile(rf"(?:下调|上调|调低|调高|调整)(?:至|为){_Q}(?P<rating>{_RATING}){_Q}"),
    re.compile(rf"(?:维持|给予|首次覆盖|首次给予)[^，,。；;]{{0,12}}?{_Q}(?P<rating>{_RATING}){_Q}评级"),
    re.compile(rf"评级[:：]?\s*{_Q}(?P<rating>{_RATING}){_Q}"),
    re.compile(rf"(?P<rating>{_RATING})\s*[(（](?:维持|首次|上调|下调)[)）]"),
]
_CLAUSE = re.compile(r"[，；;。！？!?\n]|,(?!\d)")


@dataclass
class View:
    subject: str  # a stock name, or "" for the note's industry
    rating: str
    clause: str
    chunk: Chunk
    industry: str | None = None  # "通信" of "维持通信行业“看好”评级"

    @property
    def polarity(self) -> int:
        return _RATING_WORDS[self.rating]


def views(chunks: list[Chunk], lexicon: Lexicon) -> dict[str, View]:
    """The ratings the note writes in its paragraphs, by subject (the first for each)."""
    out: dict[str, View] = {}
    for chunk in chunks:
        for clause in _CLAUSE.split(chunk.text):
            form = search_form(clause)
            for pattern in _RATING_PATTERNS:
                match = pattern.search(form)
                if match is None:
                    continue
                before = form[: match.start()]
                stocks = [name for name, start, _ in lexicon.find_stocks(clause) if start < match.start()]
                subject = stocks[-1] if stocks and "行业" not in before else ""
                sectors = [
                    e.chinese[0] for e, _ in lexicon.glossary_chinese(before) if e.category == "sector"
                ]
                industry = sectors[-1] if sectors and not subject else None
                view = View(subject, match.group("rating"), clause.strip(), chunk, industry)
                out.setdefault(subject, view)
                break
    return out


@dataclass
class Figure:
    shown: str  # the clause as written, without a date range in brackets
    chunk: Chunk


_DATE_RANGE = re.compile(r"[(（][^()（）]*\d{1,4}[./-]\d{1,2}[^()（）]*[)）]")
# numbers that are names or dates, not figures: 2025年, 1月13日, Q3, 800G, 1.6T
_LITERAL_NUMBER = re.compile(
    r"(?:19|20)\d{2}年|\d{1,2}月\d{1,2}日|\d{1,2}月|[QH][1-4]|\d+(?:\.\d+)?[A-Za-z]+"
)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[-+]?\d+(?:\.\d+)?")
_DIRECTION = re.compile(r"上涨|下跌|上升|下降|增长|下滑|减少|回落|涨|跌")
_LEAD = re.compile(r"^(本周|上周|本月|上月|同期|其中|同时|此外|另外|整体来看|从.{0,8}来看)")


def _figure_key(clause: str) -> str | None:
    """The clause with its numbers and directions masked; None when it is no figure to compare
    (no number, a list of several, no words)."""
    form = _LEAD.sub("", search_form(_DATE_RANGE.sub("", clause)).strip())
    masked = _LITERAL_NUMBER.sub(lambda m: "\0" * len(m.group()), form)
    numbers = _NUMBER.findall(masked)
    if not numbers or len(numbers) > 2 or "分别" in form:
        return None
    key = _DIRECTION.sub("±", _NUMBER.sub("#", masked)).replace("\0", "")
    words = re.sub(r"[#±%\s\d.,，、:：()（）+-]", "", key)
    if len(re.findall(r"[\u4e00-\u9fffA-Za-z]", words)) < 2:
        return None
    return key


def figures(chunks: list[Chunk], lexicon: Lexicon) -> dict[str, Figure]:
    """Clauses with figures, by their masked form; a form written twice with other numbers in the
    same note is ambiguous and left out."""
    out: dict[str, Figure] = {}
    ambiguous: set[str] = set()
    parts = _key_chunks(chunks, lexicon)
    skip = {id(c) for c in parts["recommendations"] + parts["risks"]}
    for chunk in chunks:
        if id(chunk) in skip:
            continue
        for clause in _CLAUSE.split(chunk.text):
            key = _figure_key(clause)
            if key is None:
                continue
            shown = _DATE_RANGE.sub("", clause).strip()
            seen = out.get(key)
            if seen is not None and search_form(seen.shown) != search_form(shown):
                ambiguous.add(key)
            out.setdefault(key, Figure(shown, chunk))
    return {k: v for k, v in out.items() if k not in ambiguous}


# ---- the comparison --------------------------------------------------------------------------------
_WORDS = {
    "en": {
        "compare": "Comparing {new} {n} with the previous weekly {old} {o}",
        "lists": "Recommendations 建议关注:",
        "added": "added {names}",
        "dropped": "dropped {names}",
        "new_list": "• new list {label}: {names} {n}",
        "gone_list": "• no longer listed {label}: {names} {o}",
        "moved": "• {name} moved from {old_label} {o} to {new_label} {n}",
        "views": "Views 观点:",
        "view": "• {subject}: {old} {o} → {new} {n} ({how})",
        "industry": "industry rating",
        "up": "upgraded",
        "down": "downgraded",
        "same_way": "changed",
        "reversed": "reversed",
        "theses": "Theses 论点:",
        "new_thesis": "• new: {heading} {n}",
        "gone_thesis": "• no longer discussed: {heading} {o}",
        "figures": "Figures 数据:",
        "figure": "• {old} {o} → {new} {n}",
        "no_change": "No change: {new} {n} keeps the recommendation lists, views, theses and figures of {old} {o}.",
        "only_one": "Only one weekly note {what} is indexed: {new}. There is no earlier one to compare it with.",
        "none": "No weekly note{what} is indexed yet.",
        "unlabelled": "(the list)",
    },
    "zh": {
        "compare": "对比 {new} {n} 与上一期周报 {old} {o}",
        "lists": "建议关注：",
        "added": "新增 {names}",
        "dropped": "移出 {names}",
        "new_list": "• 新增列表 {label}：{names} {n}",
        "gone_list": "• 不再列出 {label}：{names} {o}",
        "moved": "• {name} 由 {old_label} {o} 调整至 {new_label} {n}",
        "views": "观点/评级：",
        "view": "• {subject}：{old} {o} → {new} {n}（{how}）",
        "industry": "行业评级",
        "up": "上调",
        "down": "下调",
        "same_way": "调整",
        "reversed": "反转",
        "theses": "论点：",
        "new_thesis": "• 新论点：{heading} {n}",
        "gone_thesis": "• 不再提及：{heading} {o}",
        "figures": "数据变化：",
        "figure": "• {old} {o} → {new} {n}",
        "no_change": "没有变化：{new} {n} 的推荐列表、观点、论点与数据与 {old} {o} 相同。",
        "only_one": "{what}只有一期周报入库：{new}，没有更早的一期可以对比。",
        "none": "还没有{what}周报入库。",
        "unlabelled": "（列表）",
    },
}


class _Citer:
    """Numbers the paragraphs cited, once each, in the order the text first cites them."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._index: dict[tuple[str, int], int] = {}

    def __call__(self, report: Report, chunk: Chunk) -> str:
        key = (report.id, chunk.paragraph)
        if key not in self._index:
            self.citations.append(Citation.of(len(self.citations) + 1, report, chunk))
            self._index[key] = len(self.citations)
        return f"[{self._index[key]}]"


def _join(names: list[str], language: str) -> str:
    return ("、" if language == "zh" else ", ").join(names)


def compare(
    new: Report, old: Report, chunks_of, lexicon: Lexicon, language: str, cite: _Citer
) -> tuple[list[str], bool]:
    """The lines saying what changed from `old` to `new`; False when nothing did."""
    w = _WORDS[language]
    new_chunks, old_chunks = chunks_of(new.id), chunks_of(old.id)
    english = language == "en"
    lines: list[str] = []

    def n(chunk: Chunk) -> str:
        return cite(new, chunk)

    def o(chunk: Chunk) -> str:
        return cite(old, chunk)

    # recommendation lists
    new_lists, old_lists = (
        recommendation_lists(new_chunks, lexicon),
        recommendation_lists(old_chunks, lexicon),
    )
    added = {
        k: [x for x in v.names if k not in old_lists or x not in old_lists[k].names]
        for k, v in new_lists.items()
    }
    dropped = {
        k: [x for x in v.names if k not in new_lists or x not in new_lists[k].names]
        for k, v in old_lists.items()
    }
    moved: list[str] = []
    for key, names in added.items():
        for name in list(names):
            source = next((k for k, gone in dropped.items() if name in gone and k != key), None)
            if source is not None:
                names.remove(name)
                dropped[source].remove(name)
                moved.append(
                    w["moved"].format(
                        name=name,
                        old_label=inert(old_lists[source].label or w["unlabelled"]),
                        o=o(old_lists[source].names[name]),
                        new_label=inert(new_lists[key].label or w["unlabelled"]),
                        n=n(new_lists[key].names[name]),
                    )
                )
    list_lines: list[str] = []
    for key, listed in new_lists.items():
        label = inert(listed.label or w["unlabelled"])
        if key not in old_lists:
            if added[key]:
                list_lines.append(
                    w["new_list"].format(
                        label=label, names=_join(added[key], language), n=n(listed.names[added[key][0]])
                    )
                )
            continue
        parts = []
        if added[key]:
            parts.append(
                w["added"].format(names=_join(added[key], language)) + " " + n(listed.names[added[key][0]])
            )
        if dropped.get(key):
            gone = dropped[key]
            parts.append(
                w["dropped"].format(names=_join(gone, language)) + " " + o(old_lists[key].names[gone[0]])
            )
        if parts:
            list_lines.append(
                f"• {label}{': ' if english else '：'}" + ("; " if english else "；").join(parts)
            )
    for key, listed in old_lists.items():
        if key not in new_lists and dropped.get(key):
            gone = dropped[key]
            list_lines.append(
                w["gone_list"].format(
                    label=inert(listed.label or w["unlabelled"]),
                    names=_join(gone, language),
                    o=o(listed.names[gone[0]]),
                )
            )
    if list_lines or moved:
        lines += [w["lists"], *list_lines, *moved]

    # views
    new_views, old_views = views(new_chunks, lexicon), views(old_chunks, lexicon)
    view_lines = []
    for subject, now in new_views.items():
        before = old_views.get(subject)
        if before is None or before.rating == now.rating:
            continue
        if now.polarity * before.polarity < 0:
            how = w["reversed"]
        else:
            how = (
                w["up"]
                if now.polarity > before.polarity
                else w["down"]
                if now.polarity < before.polarity
                else w["same_way"]
            )
        view_lines.append(
            w["view"].format(
                subject=subject or (f"{w['industry']} ({now.industry})" if now.industry else w["industry"]),
                old=before.rating,
                o=o(before.chunk),
                new=now.rating,
                n=n(now.chunk),
                how=how,
            )
        )
    if view_lines:
        lines += [w["views"], *view_lines]

    # theses
    new_theses, old_theses = theses(new_chunks, lexicon), theses(old_chunks, lexicon)

    def has_topic(thesis: Thesis, others: list[Thesis]) -> bool:
        topic = search_form(thesis.topic)
        return any(
            topic and (topic == search_form(t.topic) or topic in search_form(t.heading)) for t in others
        )

    thesis_lines = [
        w["new_thesis"].format(heading=inert(t.heading), n=n(t.chunk))
        for t in new_theses
        if not has_topic(t, old_theses)
    ]
    thesis_lines += [
        w["gone_thesis"].format(heading=inert(t.heading), o=o(t.chunk))
        for t in old_theses
        if not has_topic(t, new_theses)
    ]
    if thesis_lines:
        lines += [w["theses"], *thesis_lines]

    # figures
    new_figures, old_figures = figures(new_chunks, lexicon), figures(old_chunks, lexicon)
    figure_lines = []
    for key, figure in new_figures.items():
        earlier = old_figures.get(key)
        if earlier is None or search_form(earlier.shown) == search_form(figure.shown):
            continue
        figure_lines.append(
            w["figure"].format(
                old=inert(earlier.shown), o=o(earlier.chunk), new=inert(figure.shown), n=n(figure.chunk)
            )
        )
    if figure_lines:
        lines += [w["figures"], *figure_lines[:MAX_FIGURES]]
    return lines, bool(lines)


def _anchor(report: Report, chunks_of, lexicon: Lexicon) -> Chunk | None:
    """The paragraph that stands for a note when saying nothing changed: its recommendation list,
    else its first thesis or market review, else its first paragraph."""
    chunks = chunks_of(report.id)
    parts = _key_chunks(chunks, lexicon)
    for name in ("recommendations", "theses", "market"):
        if parts[name]:
            return parts[name][0]
    return chunks[0] if chunks else None


def describe_changes(
    library,
    *,
    broker: str | None = None,
    sector: str | None = None,
    language: str = "en",
    llm: LLMClient | None = None,
    where: SearchFilter | None = None,
    question: str | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Answer:
    """What changed between the latest weekly (of `broker`, about `sector`) and the previous one,
    among the notes `where` allows."""
    lexicon = library.lexicon
    language = "zh" if language.startswith("zh") else "en"
    w = _WORDS[language]
    question = question or "/changes" + "".join(f" {p}" for p in (broker, sector) if p)
    canonical = (lexicon.canonical_broker(broker) or broker) if broker else None
    allowed = [r for r in library.lexical.reports.values() if where is None or where.matches(r)]
    chunks_of = library.lexical.report_chunks
    pairs = pairs_to_compare(allowed, canonical, sector, chunks_of, lexicon)
    what = " ".join(p for p in (canonical, sector) if p)
    if not pairs:
        text = w["none"].format(what=(f" for {what}" if language == "en" else what) if what else "")
        return Answer(question, text, "extractive", found=False)
    cite = _Citer()
    blocks: list[str] = []
    lonely: list[Report] = []
    for new, old in pairs:
        if old is None:
            lonely.append(new)
            continue
        head_new, head_old = _anchor(new, chunks_of, lexicon), _anchor(old, chunks_of, lexicon)
        if head_new is None or head_old is None:
            continue
        lines, changed = compare(new, old, chunks_of, lexicon, language, cite)
        header = f"*{_header(new, language == 'en')}*"
        names = {
            "new": f"《{inert(new.title)}》 ({new.date or end_date(new)})",
            "old": f"《{inert(old.title)}》 ({old.date or end_date(old)})",
        }
        if changed:
            intro = w["compare"].format(
                new=names["new"], n=cite(new, head_new), old=names["old"], o=cite(old, head_old)
            )
            blocks.append("\n".join([header, intro, *lines]))
        else:
            blocks.append(
                "\n".join(
                    [
                        header,
                        w["no_change"].format(
                            new=names["new"], n=cite(new, head_new), old=names["old"], o=cite(old, head_old)
                        ),
                    ]
                )
            )
    if not blocks:
        newest = lonely[0]
        text = w["only_one"].format(
            what=(f"from {what}" if language == "en" else what)
            if what
            else ("of this series" if language == "en" else "该系列"),
            new=f"《{newest.title}》 ({newest.date or end_date(newest)})",
        )
        return Answer(question, text, "extractive", found=False, searched=[r.title for r in lonely])
    text = "\n\n".join(blocks)
    citations = cite.citations
    phrased = _llm_phrasing(llm, text, citations, language, on_text) if llm is not None else None
    chosen = prefer_verified(phrased, text, citations, lexicon, llm)
    verified = verify_answer(chosen.text, citations, lexicon)
    final, used = renumber(verified.text, citations, verified.cited)
    return Answer(
        question,
        final,
        chosen.mode,
        found=bool(used),
        citations=used,
        dropped=chosen.dropped + verified.dropped,
        model=chosen.model,
        fallback=chosen.fallback,
    )


def _llm_phrasing(
    llm: LLMClient, text: str, citations: list[Citation], language: str, on_text: Callable[[str], None] | None
) -> str | None:
    messages = [
        {"role": "system", "content": render("system")},
        {
            "role": "user",
            "content": render(
                "changes",
                language="English" if language == "en" else "Chinese",
                changes=text,
                context=numbered_context(citations),
            ),
        },
    ]
    try:
        return llm.complete(messages, on_text)
    except LLMError as exc:
        log.warning("changes LLM phrasing failed, extractive lines used", extra={"reason": str(exc)})
        return None
