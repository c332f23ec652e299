"""`yanbao eval FILE.jsonl`: retrieval recall@1/3/5 and MRR of the evidence paragraph, answer
accuracy (every must_include string present), and unsupported stock names in answers (target 0).

A line: {"question", "evidence" (a substring of the right paragraph, or null when the notes do not
answer it), "must_include": [...], "lang", "kind", "source", "today"}. "source" is the note's path
relative to the repository root (eval/notes/…, samples/…, ../shared/…); `sources_of` resolves them,
and a line whose source file is absent is skipped and counted, never scored as a miss.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

from bot.service import Yanbao
from index.text import compact_form as fold  # the scorer compares what index/text.py folds


def load_items(path: Path) -> list[dict]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if "question" not in item:
            raise ValueError(f"{path}:{number}: missing field 'question'")
        items.append(item)
    return items


def unsupported_names(answer, lexicon) -> list[str]:
    """Stock names the answer states that none of its citations (paragraph, heading, report title,
    broker) contains. A not-found answer states none: it only lists the reports searched."""
    if not answer.found:
        return []
    cited = [fold(c.text + (c.section or "") + c.title + (c.broker or "")) for c in answer.citations]
    return [
        name for name, _, _ in lexicon.find_stocks(answer.answer) if not any(fold(name) in c for c in cited)
    ]


def sources_of(items: list[dict], root: Path) -> tuple[list[Path], list[str]]:
    """The note files a question set names (relative to `root`), and the names that are absent."""
    present: dict[Path, None] = {}
    missing: dict[str, None] = {}
    for item in items:
        source = item.get("source")
        if not source:
            continue
        path = (root / source).resolve()
        if path.is_file():
            present.setdefault(path)
        else:
            missing.setdefault(source)
    return list(present), list(missing)


def evaluate_file(
    service: Yanbao, path: Path, k: int = 5, today: date | None = None, root: Path | None = None
) -> dict:
    """`today` anchors relative dates ("latest", "last week"); a line's own "today" wins. With
    `root`, lines whose source file is absent under it are skipped (and counted)."""
    items = load_items(path)
    skipped = 0
    if root is not None:
        kept = [i for i in items if not i.get("source") or (root / i["source"]).is_file()]
        skipped, items = len(items) - len(kept), kept
    lexicon = service.library.lexicon
    rows = []
    for item in items:
        evidence = item.get("evidence")
        asked_on = date.fromisoformat(item["today"]) if item.get("today") else today
        started = time.perf_counter()
        result = service.library.search(item["question"], k=k, today=asked_on)
        search_seconds = time.perf_counter() - started
        rank = None
        if evidence:
            target = fold(evidence)
            for position, hit in enumerate(result.hits, start=1):
                if target in fold(hit.chunk.text) or target in fold(
                    f"{hit.chunk.section or ''}{hit.chunk.text}"
                ):
                    rank = position
                    break
        answer = service.ask(item["question"], today=asked_on)
        text = fold(answer.answer)
        if evidence is None:
            answer_ok = not answer.found
        else:
            answer_ok = answer.found and all(fold(s) in text for s in item.get("must_include", []))
        rows.append(
            {
                "question": item["question"],
                "lang": item.get("lang", "?"),
                "kind": item.get("kind", "?"),
                "evidence": evidence,
                "rank": rank,
                "answer_ok": answer_ok,
                "found": answer.found,
                "answer": answer.answer,
                "unsupported": unsupported_names(answer, lexicon),
                "search_ms": round(search_seconds * 1000, 1),
            }
        )
    report = summarize(rows, k)
    report["skipped_absent_source"] = skipped
    return report


def _retrieval(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["evidence"]]
    n = len(scored) or 1
    return {
        "questions": len(scored),
        "recall@1": sum(1 for r in scored if r["rank"] and r["rank"] <= 1) / n,
        "recall@3": sum(1 for r in scored if r["rank"] and r["rank"] <= 3) / n,
        "recall@5": sum(1 for r in scored if r["rank"] and r["rank"] <= 5) / n,
        "mrr": sum(1 / r["rank"] for r in scored if r["rank"]) / n,
    }


def summarize(rows: list[dict], k: int) -> dict:
    by_lang: dict[str, list[dict]] = defaultdict(list)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_lang[row["lang"]].append(row)
        by_kind[row["kind"]].append(row)
    return {
        "k": k,
        "questions": len(rows),
        "retrieval": _retrieval(rows),
        "answers": {
            "accuracy": sum(1 for r in rows if r["answer_ok"]) / (len(rows) or 1),
            "unsupported_names": sum(len(r["unsupported"]) for r in rows),
            "not_found_questions": sum(1 for r in rows if not r["evidence"]),
            "not_found_refused": sum(1 for r in rows if not r["evidence"] and not r["found"]),
        },
        "by_lang": {
            lang: {**_retrieval(rs), "answer_accuracy": sum(r["answer_ok"] for r in rs) / len(rs)}
            for lang, rs in sorted(by_lang.items())
        },
        "by_kind": {
            kind: {**_retrieval(rs), "answer_accuracy": sum(r["answer_ok"] for r in rs) / len(rs)}
            for kind, rs in sorted(by_kind.items())
        },
        "misses": [
            r
            for r in rows
            if (r["evidence"] and (not r["rank"] or r["rank"] > 5)) or not r["answer_ok"] or r["unsupported"]
        ],
        "search_ms_p50": sorted(r["search_ms"] for r in rows)[len(rows) // 2] if rows else 0,
    }


def render_report(report: dict) -> str:
    r, a = report["retrieval"], report["answers"]
    skipped = report.get("skipped_absent_source", 0)
    lines = [
        f"questions: {report['questions']} ({r['questions']} with evidence)"
        + (f"; {skipped} skipped: their source file is absent" if skipped else ""),
        f"retrieval: recall@1 {r['recall@1']:.3f}  recall@3 {r['recall@3']:.3f}  recall@5 {r['recall@5']:.3f}  "
        f"MRR {r['mrr']:.3f}  (search p50 {report['search_ms_p50']} ms)",
        f"answers:   accuracy {a['accuracy']:.3f}  unsupported stock names {a['unsupported_names']}  "
        f"not-found refused {a['not_found_refused']}/{a['not_found_questions']}",
        "",
        "by language:",
    ]
    for lang, s in report["by_lang"].items():
        lines.append(
            f"  {lang:<8} n={s['questions']:<3} R@1 {s['recall@1']:.2f}  R@5 {s['recall@5']:.2f}  "
            f"MRR {s['mrr']:.2f}  answers {s['answer_accuracy']:.2f}"
        )
    lines.append("by kind:")
    for kind, s in report["by_kind"].items():
        lines.append(
            f"  {kind:<14} n={s['questions']:<3} R@1 {s['recall@1']:.2f}  R@5 {s['recall@5']:.2f}  "
            f"MRR {s['mrr']:.2f}  answers {s['answer_accuracy']:.2f}"
        )
    if report["misses"]:
        lines.append("")
        lines.append("misses:")
        for m in report["misses"]:
            why = []
            if m["evidence"] and (not m["rank"] or m["rank"] > 5):
                why.append(f"evidence rank {m['rank']}")
            if not m["answer_ok"]:
                why.append("answer")
            if m["unsupported"]:
                why.append(f"unsupported {m['unsupported']}")
            lines.append(f"  - {m['question']}  [{', '.join(why)}]")
            lines.append(f"      → {m['answer'][:160]}")
    return "\n".join(lines)
