"""Checks eval/heldout.jsonl against the notes it was written on, without running yanbao.

For every line: the fields and their values are well-formed; the evidence (8-40 characters) is an
exact substring of the source file's text (for a PDF, of its text layer with line breaks and spaces
ignored; for a DOCX, of its paragraphs and table rows); and every must_include string is simplified
and present in the folded paragraph that holds the evidence, so a correct answer can be quoted from
that one paragraph. The question's script must match its `lang`. Prints counts for the README.

    python eval/heldout/check.py [FILE.jsonl]   # needs opencc (and pypdfium2 for the PDFs)

Paragraphs are what a reader should make of the file: a line of a .txt note; a line of a .md note,
except that a markdown table is one unit; the text of a <p> of an .html note (each is written on
one line); a paragraph or a table row (cells joined by " | ") of the .docx; and for a PDF the text
units listed by binary_notes.pdf_units (a paragraph, a sidebar line, or a table row with its caption).
"""

from __future__ import annotations

import html
import json
import re
import sys
import unicodedata
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUESTIONS = ROOT / "eval" / "heldout.jsonl"
TODAY = "2026-04-20"  # every line is asked on the same day, a few days after the newest note
LANGS = {"en", "zh-Hans", "zh-Hant"}
KINDS = {
    "stock-list",
    "number",
    "two-figure",
    "table",
    "date",
    "broker-filter",
    "latest",
    "fact",
    "not-found",
}
NOISE = re.compile(
    r"谢谢|謝謝|麻烦了|麻煩了|请引用原文|請引用原文|thanks|thx|pls quote|:[a-z_]+:", re.IGNORECASE
)

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
try:  # the scorer's own folding when the project is importable
    from index.text import search_form
except ImportError:  # opencc alone is enough to check
    import opencc

    _t2s = opencc.OpenCC("t2s")

    def search_form(text: str) -> str:
        return _t2s.convert(unicodedata.normalize("NFKC", text)).lower()


from binary_notes import PDF_NOTES, pdf_units  # noqa: E402

_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def fold(text: str) -> str:
    return _SPACE.sub("", search_form(text))


def _pdf_text(path: Path) -> str:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def _docx_units(path: Path) -> list[str]:
    """Body paragraphs and table rows in document order, read from the package itself."""
    with zipfile.ZipFile(path) as package:
        root = ElementTree.fromstring(package.read("word/document.xml"))

    def text(node) -> str:
        return "".join(t.text or "" for t in node.iter(f"{_W}t"))

    units = []
    for child in root.find(f"{_W}body"):
        if child.tag == f"{_W}p":
            units.append(text(child))
        elif child.tag == f"{_W}tbl":
            for row in child.iter(f"{_W}tr"):
                units.append(" | ".join(text(cell) for cell in row.iter(f"{_W}tc")))
    return [u for u in units if u.strip()]


def _md_units(text: str) -> list[str]:
    units: list[str] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("|"):
            if in_table:
                units[-1] += "\n" + line
            else:
                units.append(line)
            in_table = True
        else:
            units.append(line)
            in_table = False
    return units


def load_source(path: Path) -> tuple[str, list[str]]:
    """(the text evidence must be a substring of, the paragraphs a reader should make)."""
    if path.suffix == ".pdf":
        note = next(n for n in PDF_NOTES if n["file"] == path.name)
        return _pdf_text(path), pdf_units(note)
    if path.suffix == ".docx":
        units = _docx_units(path)
        return "\n".join(units), units
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return text, [html.unescape(_TAG.sub("", line)).strip() for line in text.splitlines()]
    if path.suffix == ".md":
        return text, _md_units(text)
    return text, text.splitlines()


def _script_problem(row: dict) -> str | None:
    question = NOISE.sub("", row["question"])
    han = [ch for ch in question if "\u4e00" <= ch <= "\u9fff"]
    if row["lang"] == "en":
        return "an en question with Chinese characters" if len(han) > 6 else None
    if not han:
        return f"a {row['lang']} question without Chinese characters"
    simplified = search_form("".join(han))
    if row["lang"] == "zh-Hant" and simplified == "".join(han):
        return "a zh-Hant question written in simplified characters"
    if row["lang"] == "zh-Hans" and simplified != "".join(han):
        return "a zh-Hans question with traditional characters"
    return None


def check_line(number: int, row: dict, cache: dict) -> list[str]:
    where = f"line {number}"
    problems = []
    for field in ("question", "evidence", "must_include", "lang", "kind", "source", "today"):
        if field not in row:
            problems.append(f"{where}: missing field {field!r}")
    if problems:
        return problems
    if row["lang"] not in LANGS:
        problems.append(f"{where}: lang {row['lang']!r} not in {sorted(LANGS)}")
    elif script := _script_problem(row):
        problems.append(f"{where}: {script}")
    if row["kind"] not in KINDS:
        problems.append(f"{where}: kind {row['kind']!r} not in {sorted(KINDS)}")
    date.fromisoformat(row["today"])
    if row["today"] != TODAY:
        problems.append(f"{where}: today {row['today']} (every line is asked on {TODAY})")
    if row["evidence"] is None:
        if row["kind"] != "not-found" or row["must_include"] or row["source"] is not None:
            problems.append(f"{where}: a null evidence needs kind not-found, no must_include, source null")
        return problems
    if row["kind"] == "not-found":
        problems.append(f"{where}: kind not-found with an evidence")
    evidence = row["evidence"]
    if not 8 <= len(evidence) <= 40:
        problems.append(f"{where}: evidence is {len(evidence)} characters (8-40)")
    if not row["must_include"]:
        problems.append(f"{where}: an answerable question needs must_include")
    for item in row["must_include"]:
        if search_form(item) != item.lower():  # the scorer lower-cases both sides
            problems.append(f"{where}: must_include {item!r} is not simplified, half-width text")
    if not row["source"].startswith("eval/heldout/notes/"):
        problems.append(f"{where}: source {row['source']} is not a held-out note")
    path = (ROOT / row["source"]).resolve()
    if not path.is_file():
        problems.append(f"{where}: source {row['source']} not found")
        return problems
    if path not in cache:
        cache[path] = load_source(path)
    text, paragraphs = cache[path]
    if path.suffix == ".pdf":
        present = _SPACE.sub("", evidence) in _SPACE.sub("", text)
    else:
        present = evidence in text
    if not present:
        problems.append(f"{where}: evidence {evidence!r} is not in {row['source']}")
        return problems
    target = fold(evidence)
    holders = [fold(p) for p in paragraphs if target in fold(p)]
    if not holders:
        problems.append(f"{where}: no single paragraph of {row['source']} holds {evidence!r}")
    elif not any(all(fold(m) in p for m in row["must_include"]) for p in holders):
        missing = [m for m in row["must_include"] if not any(fold(m) in p for p in holders)]
        problems.append(f"{where}: must_include {missing} not in the paragraph holding {evidence!r}")
    return problems


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else QUESTIONS
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cache: dict = {}
    problems = [p for number, row in enumerate(rows, start=1) for p in check_line(number, row, cache)]
    questions = Counter(row["question"] for row in rows)
    problems += [f"question asked twice: {q!r}" for q, n in questions.items() if n > 1]
    unused = sorted(
        p.name
        for p in (HERE / "notes").iterdir()
        if p.name not in {Path(r["source"]).name for r in rows if r["source"]}
    )
    problems += [f"note {name} has no question" for name in unused]
    print(f"{len(rows)} questions")
    for field in ("lang", "kind"):
        counts = Counter(row[field] for row in rows)
        print(f"by {field}: " + ", ".join(f"{k} {v} ({v / len(rows):.0%})" for k, v in counts.most_common()))
    print(f"with user noise: {sum(1 for row in rows if NOISE.search(row['question']))}")
    sources = Counter(Path(row["source"]).name if row["source"] else "(not-found)" for row in rows)
    print("by source:")
    for name, count in sources.most_common():
        print(f"  {count:3d}  {name}")
    for problem in problems:
        print("PROBLEM", problem)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
