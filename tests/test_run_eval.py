"""benchmarks/run_eval.py, what `make eval` runs: it indexes the notes a question set names (paths
relative to the repository root) into a throwaway home, skips and counts lines whose note is absent,
and prints retrieval, answer and refusal figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_eval_indexes_the_named_notes_and_skips_absent_ones(tmp_path):
    lines = [
        {
            "question": "英维克2025年营收预测是多少?",
            "evidence": "营业收入分别为46.8亿元、61.2亿元、78.5亿元",
            "must_include": ["61.2亿元"],
            "lang": "zh-Hans",
            "kind": "number",
            "source": "samples/tianfeng_envicool_company_20250106.txt",
            "today": "2025-01-08",
        },
        {
            "question": "这个问题的研报不在这里?",
            "evidence": "不存在",
            "must_include": [],
            "lang": "zh-Hans",
            "kind": "fact",
            "source": "eval/notes/no_such_note.txt",
        },
        {
            "question": "招商银行2025年的目标价是多少?",
            "evidence": None,
            "must_include": [],
            "lang": "zh-Hans",
            "kind": "not-found",
            "source": None,
        },
    ]
    questions = tmp_path / "set.jsonl"
    questions.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run_eval.py"),
            str(questions),
            "--model",
            "none",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "eval/notes/no_such_note.txt is absent" in result.stderr
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["skipped_absent_source"] == 1 and report["questions"] == 2
    assert report["retrieval"]["recall@5"] == 1.0
    assert report["answers"]["not_found_refused"] == report["answers"]["not_found_questions"] == 1
    assert report["answers"]["accuracy"] == 1.0
