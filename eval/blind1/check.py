"""Checks eval/blind1.jsonl against the notes it was written on, without running yanbao.

For every line: the fields and their values are well-formed; the evidence (8-40 characters) is an
exact substring of the source file's text (for a PDF, of its text layer, line breaks aside); and
every must_include string is simplified and present in the folded paragraph that holds the
evidence, so a correct answer can be quoted from that one paragraph. Prints counts by language,
kind and source for the README.

    python eval/blind1/check.py [FILE.jsonl]   # needs opencc (and pypdfium2 for the PDFs)

Paragraphs are what a reader should make of the file: a line of a .txt/.md note, the text of a
<p> of an .html note (each is written on one line), and for a PDF the text units listed in
make_pdfs.NOTES (a paragraph, a sidebar line, or a table row with its caption).
"""

from __future__ import annotations

import html
import json
import re
import sys
import unicodedata
from collections import Counter
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUESTIONS = ROOT / "eval" / "blind1.jsonl"
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

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
try:  # the scorer's own folding when the project is importable
    from index.normalize import search_form
except ImportError:  # opencc alone is enough to check
    import opencc

    _t2s = opencc.OpenCC("t2s")

    def search_form(text: str) -> str:
        return _t2s.convert(unicodedata.normalize("NFKC", text)).lower()


from make_pdfs import NOTES as PDF_NOTES  # noqa: E402
from make_pdfs import paragraphs as pdf_paragraphs  # noqa: E402

_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")


def fold(text: str) -> str:
    return _SPACE.sub("", search_form(text))


def _pdf_text(path: Path) -> str:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def load_source(path: Path) -> tuple[str, list[str]]:
    """(the text evidence must be a substring of, the paragraphs a reader should make)."""
    if path.suffix == ".pdf":
        note = next(n for n in PDF_NOTES if n["file"] == path.name)
        return _pdf_text(path), pdf_paragraphs(note)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return text, [html.unescape(_TAG.sub("", line)).strip() for line in text.splitlines()]
    return text, text.splitlines()


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
    if row["kind"] not in KINDS:
        problems.append(f"{where}: kind {row['kind']!r} not in {sorted(KINDS)}")
    date.fromisoformat(row["today"])
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
    path = (ROOT / row["source"]).resolve()
    if not path.is_file():
        problems.append(f"{where}: source {row['source']} not found (../shared absent?)")
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
    print(f"{len(rows)} questions")
    for field in ("lang", "kind"):
        counts = Counter(row[field] for row in rows)
        print(f"by {field}: " + ", ".join(f"{k} {v} ({v / len(rows):.0%})" for k, v in counts.most_common()))
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
