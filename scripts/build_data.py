"""Build yanbao's knowledge files in index/data/ from the reference data in ../shared/data.

    .venv/bin/python scripts/build_data.py [--source ../shared/data] [--out index/data]

Writes stocks.tsv (security master with former names) and userdict.txt (jieba user dictionary),
and checks the hand-curated glossary.tsv, brokers.tsv and company_aliases.tsv against the master.
The built files are committed, so yanbao never reads ../shared at run time.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jieba
import opencc

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "index" / "data"

# Securities that are not companies a note would recommend by name: B shares (200xxx, 900xxx).
B_SHARE_PREFIXES = ("200", "900")
# Beijing exchange codes in the 2023 list (the master covers Shanghai and Shenzhen only).
BEIJING_PREFIXES = ("43", "83", "87", "88", "92")
# Master short names carry status marks reports rarely write: XD/XR/DR (ex-dividend day, name cut
# to fit), N/C (first days of trading) before the name; -U/-W/-UW/-WD (unprofitable, weighted
# votes) after it.
STATUS_PREFIX = re.compile(r"^(XD|XR|DR|N|C)(?=[\u4e00-\u9fff])")
STATUS_SUFFIX = re.compile(r"-(U|W|UW|WD)$")
ST_PREFIX = re.compile(r"^(\*ST|S\*ST|ST|S)(?=[\u4e00-\u9fff])")
DELISTED = re.compile(r"退$|^PT")

# Financial media and sites that reprint notes: their names contain stock and broker names
# (东方财富网, 上海证券报, 中金在线) that must not be read as the company or the broker.
MEDIA_NAMES = (
    "东方财富网 东方财富研报中心 新浪财经 同花顺财经 雪球网 格隆汇 财联社 证券时报 中国证券报 上海证券报 "
    "证券日报 第一财经 经济观察报 华尔街见闻 智通财经 金融界 和讯网 中金在线 中金网 财新网 界面新闻 "
    "每日经济新闻 21世纪经济报道 证券之星 全景网 云财经 万得资讯"
).split()

# jieba frequencies: stock names and glossary terms get at least this much so they beat the
# two-word split in running text (jieba's dictionary totals about 6e7; common words are 1e3-1e5).
STOCK_FREQ = 3000
TERM_FREQ = 3000
FINANCE_FREQ = 300

GLOSSARY_CATEGORIES = frozenset("theme sector company index section action metric macro".split())

_t2s = opencc.OpenCC("t2s")
T2S_FOLDS_SIMPLIFIED = set("昇乾")


def fold(text: str) -> str:
    """Full-width to half-width and traditional to simplified, one character for one."""
    chars = []
    for ch in text:
        norm = unicodedata.normalize("NFKC", ch)
        chars.append(norm if len(norm) == 1 else ch)
    text = "".join(chars)
    out = _t2s.convert(text)
    if len(out) != len(text):
        out = "".join(c if len(s := _t2s.convert(c)) != 1 else s for c in text)
    return out


def clean_name(raw: str) -> str:
    """Master short name as reports write it: no inner spaces, half-width letters."""
    text = unicodedata.normalize("NFKC", raw)
    return re.sub(r"\s+", "", text)


@dataclass
class StockRow:
    code: str
    name: str
    english: str
    exchange: str
    former: list[str] = field(default_factory=list)

    def add_alias(self, alias: str) -> None:
        if alias and alias != self.name and alias not in self.former:
            self.former.append(alias)


def _strip_st(name: str) -> str:
    return ST_PREFIX.sub("", name)


def read_master(source: Path) -> list[dict[str, str]]:
    with open(source / "a_share_master.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_codes_2023(source: Path) -> dict[str, str]:
    with open(source / "a_share_codes_2023.csv", encoding="utf-8", newline="") as fh:
        return {r["stock_code"]: clean_name(r["short_name"]) for r in csv.DictReader(fh)}


def build_stocks(source: Path) -> list[StockRow]:
    master = read_master(source)
    old_names = read_codes_2023(source)
    rows: dict[str, StockRow] = {}
    for rec in master:
        code = rec["code"]
        raw = clean_name(rec["short_name"])
        name = raw
        aliases: list[str] = []
        if m := STATUS_SUFFIX.search(name):
            name = name[: m.start()]
            aliases.append(raw)
        if m := STATUS_PREFIX.match(name):
            cut = name[m.end() :]
            # An ex-dividend name is truncated (XD兴业银); the 2023 list has the full one.
            old = _strip_st(old_names.get(code, ""))
            name = old if old.startswith(cut) and len(old) > len(cut) else cut
        row = StockRow(code, name, " ".join(rec["english_name"].split()), rec["exchange"])
        for alias in aliases:
            row.add_alias(alias)
        rows[code] = row

    # Beijing exchange companies exist only in the 2023 list; reports cite them rarely, but a
    # name the lexicon does not know cannot be split out of run-together lists.
    for code, name in old_names.items():
        if code in rows or not code.startswith(BEIJING_PREFIXES) or DELISTED.search(name):
            continue
        rows[code] = StockRow(code, name, "", "BJ")

    for code, row in rows.items():
        old = old_names.get(code)
        if old and old != row.name and not DELISTED.search(old):
            row.add_alias(old)
        # ST marks come and go; the bare name (when long enough to be distinctive) and the
        # *ST/ST spellings all refer to the same company.
        for name in [row.name, *row.former]:
            bare = _strip_st(name)
            if bare != name and len(bare) >= 3:
                row.add_alias(bare)
            if name.startswith("*ST"):
                row.add_alias(name[1:])
        # 万科A -> 万科: A-share class letters are dropped in running text.
        if re.search(r"[\u4e00-\u9fff]A$", row.name) and len(row.name) >= 3:
            row.add_alias(row.name[:-1])

    _drop_ambiguous_aliases(rows)
    return sorted(rows.values(), key=lambda r: r.code)


def _drop_ambiguous_aliases(rows: dict[str, StockRow]) -> None:
    """An alias that is another company's current name, or shared by two companies, names neither."""
    current = {fold(r.name) for r in rows.values()}
    counts = Counter(fold(a) for r in rows.values() for a in set(r.former))
    for row in rows.values():
        row.former = [a for a in row.former if fold(a) not in current and counts[fold(a)] == 1]


def write_stocks(rows: list[StockRow], out: Path) -> None:
    with open(out / "stocks.tsv", "w", encoding="utf-8", newline="") as fh:
        fh.write("code\tname\tenglish\tformer\texchange\n")
        for r in rows:
            fh.write(f"{r.code}\t{r.name}\t{r.english}\t{'|'.join(r.former)}\t{r.exchange}\n")


def read_tsv(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise SystemExit(f"{path}: row {n} has {len(cells)} columns, expected {len(header)}: {line!r}")
        out.append(dict(zip(header, cells, strict=True)))
    return out


def check_curated(out: Path, rows: list[StockRow]) -> list[str]:
    """Problems in the hand-curated files, as messages naming the file and row."""
    problems: list[str] = []
    names = {fold(n) for r in rows for n in [r.name, *r.former]}
    for rec in read_tsv(out / "company_aliases.tsv"):
        if fold(rec["name"]) not in names:
            problems.append(f"company_aliases.tsv: {rec['alias']!r} names {rec['name']!r}, not in stocks.tsv")
    for rec in read_tsv(out / "company_short_names.tsv"):
        if fold(rec["name"]) not in names:
            problems.append(
                f"company_short_names.tsv: {rec['alias']!r} names {rec['name']!r}, not in stocks.tsv"
            )
    codes = {r.code for r in rows}
    for rec in read_tsv(out / "listed_abroad.tsv"):
        if rec["a_share"] and rec["a_share"] not in codes:
            problems.append(
                f"listed_abroad.tsv: {rec['key']} has a_share {rec['a_share']!r}, not in stocks.tsv"
            )
    seen: dict[str, str] = {}
    for rec in read_tsv(out / "brokers.tsv"):
        for alias in [rec["broker"], *rec["aliases"].split("|")]:
            key = fold(alias).lower()
            if key in seen and seen[key] != rec["broker"]:
                problems.append(f"brokers.tsv: alias {alias!r} of {rec['broker']} also names {seen[key]}")
            seen[key] = rec["broker"]
    for rec in read_tsv(out / "glossary.tsv"):
        if rec["category"] not in GLOSSARY_CATEGORIES:
            problems.append(f"glossary.tsv: {rec['english']!r} has unknown category {rec['category']!r}")
        for term in rec["chinese"].split(","):
            # OpenCC folds a few simplified characters too (昇 -> 升); those are not typos.
            if fold(term) != term and not set(term) & T2S_FOLDS_SIMPLIFIED:
                problems.append(f"glossary.tsv: {term!r} is not simplified (fold gives {fold(term)!r})")
    return problems


def _is_dictionary_word(word: str) -> bool:
    # jieba's user dictionary is space-separated and its tokenizer keeps runs of these characters
    # together; anything else could never come out of jieba as one token.
    return bool(re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9+#&._%-]+", word)) and bool(
        re.search(r"[\u4e00-\u9fff]", word)
    )


def keep_glossary_term_whole(term: str, glossary_terms: set[str]) -> bool:
    """Whether jieba should keep a glossary term as one token.

    Not when a question could name only a part: terms mixing Latin letters and Chinese (IDC基建 would
    hide IDC), two glossary terms run together (受益标的 = 受益 + 标的), or long compounds
    (申万通信指数 keeps matching through 申万 / 通信 / 指数).
    """
    if re.search(r"[A-Za-z0-9]", term) or len(term) > 5:
        return False
    return not any(term[:i] in glossary_terms and term[i:] in glossary_terms for i in range(1, len(term)))


def build_userdict(source: Path, out: Path, rows: list[StockRow]) -> dict[str, tuple[int, str]]:
    jieba.setLogLevel(60)
    jieba.initialize()
    base = jieba.dt.FREQ
    entries: dict[str, tuple[int, str]] = {}

    def add(word: str, floor: int, tag: str) -> None:
        word = fold(word)
        if not _is_dictionary_word(word) or len(word) < 2:
            return
        freq = max(floor, base.get(word, 0) or 0, entries.get(word, (0, ""))[0])
        entries[word] = (freq, entries.get(word, (0, tag))[1] if word in entries else tag)

    # THUOCL document frequencies are on another scale than jieba's; only the word list is used.
    # Long entries are mostly full company names, which jieba already splits sensibly.
    for line in (source / "THUOCL_caijing.txt").read_text(encoding="utf-8").splitlines():
        word = line.split("\t")[0].strip()
        if 2 <= len(word) <= 6:
            add(word, FINANCE_FREQ, "fin")
    glossary_terms = {t for rec in read_tsv(out / "glossary.tsv") for t in rec["chinese"].split(",")}
    for term in sorted(glossary_terms):
        if keep_glossary_term_whole(term, glossary_terms):
            add(term, TERM_FREQ, "term")
    for rec in read_tsv(out / "brokers.tsv"):
        for alias in [rec["broker"], *rec["aliases"].split("|")]:
            if not alias.startswith("【"):
                add(alias, TERM_FREQ, "broker")
    for name in MEDIA_NAMES:
        add(name, TERM_FREQ, "media")
    for row in rows:
        for name in [row.name, *row.former]:
            add(name, STOCK_FREQ, "stock")

    with open(out / "userdict.txt", "w", encoding="utf-8") as fh:
        for word, (freq, tag) in sorted(entries.items(), key=lambda kv: (kv[1][1], kv[0])):
            fh.write(f"{word} {freq} {tag}\n")
    return entries


# Stock names jieba knows as ordinary words or places, which in a research note still nearly
# always mean the company (brands, founders' coinages). Everything else jieba tags as a common
# noun, place or idiom is treated as ambiguous: found only in a list of other stocks.
COMPANY_LIKE = set(
    "五粮液 寒武纪 同仁堂 康普顿 全聚德 雅戈尔 江苏舜天 西藏天路 福斯特 白云机场 蒙娜丽莎 伊戈尔 克劳斯 "
    "东方明珠 平高电气 瑞贝卡 安彩高科 贝斯特 泸天化 阿拉丁 康斯特 阿尔特 哈尔斯 伊力特 金达莱 康恩贝 "
    "张小泉 马应龙 吉林敖东 五芳斋 克莱特 苏常柴 青海华鼎 苏泊尔 比亚迪 新大洲 报喜鸟 金龙鱼 利尔达 "
    "富士达 爱仕达 惠而浦 云天化 新黄浦 英派斯 九牧王 利亚德 乐凯胶片 科士达 富安娜 神州数码 老凤祥 "
    "伯特利 史丹利 达仁堂 分众传媒 吉贝尔 东风汽车 漫步者 深圳机场 科威尔 贝因美 红蜻蜓 斯迪克 海达尔 "
    "同花顺 索菲亚 金麒麟 柳工 万科 张裕 鲁泰 南玻".split()
)
# Everyday phrases jieba tags as proper nouns, so the rule above misses them.
EXTRA_AMBIGUOUS = set("新世界 新天地 三人行 新华网 新大陆".split())


def find_ambiguous_names(out: Path, rows: list[StockRow]) -> dict[str, str]:
    """Stock names that are also everyday words, with the reason, for find_stocks to treat warily."""
    jieba_words: dict[str, tuple[int, str]] = {}
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            word, freq, tag = line.split()
            jieba_words[word] = (int(freq), tag)
    glossary_terms = {t for rec in read_tsv(out / "glossary.tsv") for t in rec["chinese"].split(",")}
    out_names: dict[str, str] = {}
    for row in rows:
        for name in [row.name, *row.former]:
            key = fold(name)
            if key in COMPANY_LIKE:
                continue
            freq, tag = jieba_words.get(key, (0, ""))
            if key in EXTRA_AMBIGUOUS:
                out_names[key] = "everyday phrase"
            elif key in glossary_terms:
                out_names[key] = "glossary term"
            elif len(key) <= 2:
                out_names[key] = "two characters"
            elif freq >= 3 and tag not in {"nt", "nz", "j"}:
                out_names[key] = f"jieba word ({tag} {freq})"
    with open(out / "ambiguous_names.txt", "w", encoding="utf-8") as fh:
        fh.write("# Stock names that are also ordinary words; built by scripts/build_data.py.\n")
        fh.write("# find_stocks accepts them only next to other stock names or a stock code.\n")
        for key, why in sorted(out_names.items()):
            fh.write(f"{key}\t{why}\n")
    return out_names


def check_segmentation(out: Path) -> list[str]:
    """Words that must come out of jieba whole once the user dictionary is loaded."""
    must_stay_whole = ["中科创达", "泰凌微", "乐鑫科技", "广和通", "边缘算力", "光模块", "液冷", "资本开支"]
    tok = jieba.Tokenizer()
    tok.load_userdict(str(out / "userdict.txt"))
    sentence = "字节边缘算力:乐鑫科技泰凌微广和通中科创达;光模块与液冷受益于资本开支"
    tokens = tok.lcut(sentence)
    return [f"userdict.txt: {w!r} is split in {tokens}" for w in must_stay_whole if w not in tokens]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="folder with a_share_master.csv etc."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="index/data folder to write")
    args = parser.parse_args(argv)
    if not (args.source / "a_share_master.csv").is_file():
        print(f"error: {args.source}/a_share_master.csv not found; pass --source", file=sys.stderr)
        return 2

    rows = build_stocks(args.source)
    write_stocks(rows, args.out)
    problems = check_curated(args.out, rows)
    entries = build_userdict(args.source, args.out, rows)
    ambiguous = find_ambiguous_names(args.out, rows)
    problems += check_segmentation(args.out)

    by_exchange = Counter(r.exchange for r in rows)
    tags: dict[str, int] = defaultdict(int)
    for _, tag in entries.values():
        tags[tag] += 1
    print(
        f"stocks.tsv: {len(rows)} rows {dict(by_exchange)}, {sum(1 for r in rows if r.english)} with English, "
        f"{sum(1 for r in rows if r.former)} with former names/aliases"
    )
    print(f"userdict.txt: {len(entries)} words {dict(tags)}")
    print(f"ambiguous_names.txt: {len(ambiguous)} names")
    for name in (
        "glossary.tsv",
        "brokers.tsv",
        "company_aliases.tsv",
        "company_short_names.tsv",
        "listed_abroad.tsv",
    ):
        print(f"{name}: {len(read_tsv(args.out / name))} rows (hand-curated, checked)")
    for p in problems:
        print("problem:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
