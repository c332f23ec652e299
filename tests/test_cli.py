"""The `yanbao` command as scripts and people use it: a subprocess of .venv/bin/yanbao with its own
YANBAO_HOME, no model hub, no LLM. Output shapes and exit codes are those of INTERFACES.md."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from index.pipeline import report_id_for
from tests.fakes.servers import free_port
from tests.helpers import (
    STRATEGY_FACTS,
    STRATEGY_NOTE,
    WEEKLY_FACTS,
    WEEKLY_NOTE,
    copy_notes,
    json_out,
    note_lines,
    recommendation_paragraph,
    run_yanbao,
)

SUMMARY_KEYS = {"added", "updated", "unchanged", "removed", "chunks", "failed"}
REPORT_KEYS = {"id", "title", "broker", "date", "period", "analysts", "source", "kind", "chunks"}
ANSWER_KEYS = {"question", "answer", "mode", "found", "citations"}
CITATION_KEYS = {"n", "report_id", "title", "broker", "date", "source", "paragraph", "text"}
E5 = "intfloat/multilingual-e5-small"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A home with both fixture notes indexed by `yanbao index --json`; later commands only read it."""
    tmp_path = tmp_path_factory.mktemp("cli")
    folder = tmp_path / "reports"
    copy_notes(folder)
    home = tmp_path / "home"
    result = run_yanbao(["index", str(folder), "--json"], home)
    return home, folder, result


def test_index_json_prints_exactly_the_interfaces_keys(indexed):
    _, _, result = indexed
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    summary = json.loads(lines[0])
    assert set(summary) == SUMMARY_KEYS
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["removed"]) == (2, 0, 0, 0)
    assert summary["failed"] == []
    assert isinstance(summary["chunks"], int) and summary["chunks"] > 2


def test_a_second_index_run_reports_everything_unchanged(indexed):
    home, folder, _ = indexed
    result = run_yanbao(["index", str(folder), "--json"], home)
    assert result.returncode == 0, result.stderr
    assert json_out(result) == {
        "added": 0,
        "updated": 0,
        "unchanged": 2,
        "removed": 0,
        "chunks": 0,
        "failed": [],
    }


def test_index_prints_a_readable_summary(indexed):
    home, folder, _ = indexed
    result = run_yanbao(["index", str(folder)], home)
    assert result.returncode == 0
    assert "0 added" in result.stdout and "2 unchanged" in result.stdout and "0 failed" in result.stdout


def test_a_missing_path_is_a_usage_error_exit_2(tmp_path):
    home = tmp_path / "home"
    missing = tmp_path / "no-such-folder"
    result = run_yanbao(["index", str(missing), "--json"], home)
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert result.stdout == ""
    assert not (home / "chroma").exists()  # refused before anything was opened


def test_a_file_that_is_not_a_report_is_a_usage_error_exit_2(tmp_path):
    sheet = tmp_path / "numbers.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    result = run_yanbao(["index", str(sheet)], tmp_path / "home")
    assert result.returncode == 2
    assert "numbers.xlsx" in result.stderr


def test_reports_json_lists_report_records(indexed):
    home, folder, _ = indexed
    result = run_yanbao(["reports", "--json"], home)
    assert result.returncode == 0, result.stderr
    reports = json_out(result)
    assert isinstance(reports, list) and len(reports) == 2
    for report in reports:
        assert REPORT_KEYS <= set(report)
        assert report["kind"] in ("weekly", "strategy", "company", "industry", "other")
        assert isinstance(report["analysts"], list) and isinstance(report["chunks"], int)
        assert Path(report["source"]).parent == folder.resolve()
    by_name = {Path(r["source"]).name: r for r in reports}
    weekly, strategy = by_name[WEEKLY_NOTE.name], by_name[STRATEGY_NOTE.name]
    assert weekly["broker"] == WEEKLY_FACTS["broker"]
    assert (weekly["date"], weekly["period"]) == (WEEKLY_FACTS["date"], WEEKLY_FACTS["period"])
    assert weekly["analysts"] == WEEKLY_FACTS["analysts"]
    assert weekly["kind"] == "weekly"
    assert (strategy["broker"], strategy["date"], strategy["period"]) == (None, STRATEGY_FACTS["date"], None)
    assert reports[0]["date"] >= reports[1]["date"]  # newest first


def assert_answer(answer: dict, question: str) -> None:
    assert ANSWER_KEYS <= set(answer)
    assert answer["question"] == question
    assert answer["mode"] == "extractive"  # no LLM configured
    assert isinstance(answer["found"], bool)
    for citation in answer["citations"]:
        assert CITATION_KEYS <= set(citation)
        assert f"[{citation['n']}]" in answer["answer"]


def test_ask_json_gives_an_answer_with_cited_paragraphs(indexed):
    home, _, _ = indexed
    question = "端側AI芯片推薦了哪些公司?"
    result = run_yanbao(["ask", "--json", question], home)
    assert result.returncode == 0, result.stderr
    answer = json_out(result)
    assert_answer(answer, question)
    assert answer["found"] is True and answer["citations"]
    lines = note_lines(WEEKLY_NOTE)
    for citation in answer["citations"]:
        assert citation["title"] == lines[0]
        assert citation["broker"] == WEEKLY_FACTS["broker"] and citation["date"] == WEEKLY_FACTS["date"]
        assert isinstance(citation["paragraph"], int) and citation["paragraph"] >= 0
        assert any(citation["text"] in line for line in lines)  # the paragraph as written
    assert recommendation_paragraph() in [c["text"] for c in answer["citations"]]


def test_ask_json_dash_reads_one_question_per_line(indexed):
    home, _, _ = indexed
    questions = ["端側AI芯片", "on-device AI chips Zhongtai", "2025年国内先进封装设备市场规模有多大?"]
    result = run_yanbao(
        ["ask", "--json", "-"], home, stdin="\n".join([questions[0], "", *questions[1:]]) + "\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(questions)  # blank lines are not questions
    answers = [json.loads(line) for line in lines]
    for answer, question in zip(answers, questions, strict=True):
        assert_answer(answer, question)
        assert answer["found"] is True
    assert any("420亿元" in c["text"] for c in answers[2]["citations"])


def test_doctor_json_works_with_no_network(indexed):
    home, _, _ = indexed
    dead = f"http://127.0.0.1:{free_port()}"  # any attempt to go out fails at once
    result = run_yanbao(
        ["doctor", "--json"],
        home,
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        HF_ENDPOINT=dead,
        NO_PROXY="127.0.0.1,localhost",
        timeout=60,  # a Chroma server on loopback (make test's 2nd pass)
    )
    assert result.returncode == 0, result.stderr
    report = json_out(result)
    assert report["ok"] is True
    assert report["index"]["store_reachable"] is True
    assert report["index"]["reports"] == 2
    assert report["index"]["space"] == "lexical"
    assert report["index"]["embed_model"] is None


@pytest.mark.slow
def test_reports_remove_takes_a_report_out(tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "reports"
    weekly, strategy = copy_notes(folder)
    assert run_yanbao(["index", str(folder), "--json"], home).returncode == 0
    gone, kept = report_id_for(str(strategy.resolve())), report_id_for(str(weekly.resolve()))
    result = run_yanbao(["reports", "remove", gone, "--json"], home)
    assert result.returncode == 0, result.stderr
    assert json_out(result) == {"removed": True, "id": gone}
    assert [r["id"] for r in json_out(run_yanbao(["reports", "--json"], home))] == [kept]
    again = run_yanbao(["reports", "remove", gone, "--json"], home)
    assert again.returncode == 1 and json_out(again)["removed"] is False


# --- an embedding model that cannot be loaded --------------------------------------------------


def test_an_unavailable_model_means_lexical_only_quickly_and_said_on_stderr(indexed):
    home, _, _ = indexed
    started = time.monotonic()
    result = run_yanbao(["ask", "--json", "端側AI芯片"], home, YANBAO_EMBED_MODEL=E5, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 30, f"took {elapsed:.0f}s: the model hub must not be waited on"
    assert E5 in result.stderr and "lexical-only" in result.stderr
    answer = json_out(result)  # stdout stays clean JSON
    assert answer["found"] is True
    assert recommendation_paragraph() in [c["text"] for c in answer["citations"]]


def test_an_unreachable_model_hub_is_not_waited_on(indexed):
    # no HF_HUB_OFFLINE this time: the hub is simply not there
    home, _, _ = indexed
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_yanbao(
        ["reports", "--json"], home, YANBAO_EMBED_MODEL=E5, HF_HUB_OFFLINE="0", HF_ENDPOINT=dead, timeout=60
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 30, f"took {elapsed:.0f}s"
    assert len(json_out(result)) == 2
    assert E5 in result.stderr


def test_an_unavailable_model_is_said_once(indexed):
    home, _, _ = indexed
    result = run_yanbao(["ask", "--json", "端側AI芯片"], home, YANBAO_EMBED_MODEL=E5, timeout=60)
    assert result.returncode == 0
    mentions = [line for line in result.stderr.splitlines() if E5 in line]
    assert len(mentions) == 1, mentions


def test_a_quiet_command_prints_no_debug_logs(indexed):
    # bm25s logs every index build at DEBUG; CLI commands other than serve log at WARNING
    home, _, _ = indexed
    result = run_yanbao(["ask", "--json", "端側AI芯片"], home)
    assert result.returncode == 0
    assert '"DEBUG"' not in result.stderr, result.stderr


def test_ask_hits_adds_the_top_retrieved_paragraphs_in_rank_order(indexed):
    home, _, _ = indexed
    result = run_yanbao(["ask", "--json", "--hits", "3", "端側AI芯片推薦了哪些公司?"], home)
    assert result.returncode == 0, result.stderr
    answer = json_out(result)
    hits = answer["hits"]
    assert 1 <= len(hits) <= 3
    for n, hit in enumerate(hits, start=1):
        assert CITATION_KEYS <= set(hit) and hit["n"] == n
        assert isinstance(hit["score"], float)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert recommendation_paragraph() in [h["text"] for h in hits]
    plain = json_out(run_yanbao(["ask", "--json", "端側AI芯片推薦了哪些公司?"], home))
    assert "hits" not in plain  # only when asked for
