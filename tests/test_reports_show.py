"""`yanbao reports show ID`: what was read from a report's file, as an admin checks it after an
upload. A broker-shaped PDF is indexed with `yanbao index` (lexical-only) and shown back."""

from __future__ import annotations

from datetime import date

import pytest

from tests.broker_pdf import NoteSpec, write_note
from tests.helpers import json_out, run_yanbao


@pytest.fixture(scope="module")
def indexed_pdf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("show")
    path = tmp / "reports" / "20240407-华泰证券-英维克(002837)-首次覆盖.pdf"
    path.parent.mkdir()
    truth = write_note(path, NoteSpec(body_pages=2, seed=7, day=date(2024, 4, 7)))
    home = tmp / "home"
    result = run_yanbao(["index", str(path.parent), "--json"], home, YANBAO_EMBED_MODEL="none")
    assert json_out(result)["added"] == 1, result.stderr
    report = json_out(run_yanbao(["reports", "--json"], home, YANBAO_EMBED_MODEL="none"))[0]
    return home, report, truth


def test_show_json_gives_the_report_and_its_paragraphs_in_order(indexed_pdf):
    home, report, truth = indexed_pdf
    shown = json_out(run_yanbao(["reports", "show", report["id"], "--json"], home, YANBAO_EMBED_MODEL="none"))
    assert set(shown) == {"report", "paragraphs"}
    assert shown["report"]["id"] == report["id"]
    assert (shown["report"]["broker"], shown["report"]["date"]) == ("华泰证券", "2024-04-07")
    assert shown["report"]["analysts"] == truth.analysts
    assert (shown["report"]["rating"], shown["report"]["target_price"], shown["report"]["ticker"]) == (
        "买入",
        45.6,
        "002837",
    )
    paragraphs = shown["paragraphs"]
    assert len(paragraphs) == report["chunks"]
    assert all(set(p) == {"paragraph", "page", "section", "text"} for p in paragraphs)
    assert [p["paragraph"] for p in paragraphs] == list(range(len(paragraphs)))
    assert paragraphs[0]["page"] == 1
    text = "\n".join(p["text"] for p in paragraphs)
    assert truth.paragraphs[0] in text
    assert "SAC No." not in text  # the sidebar describes the report; it is not its text
    forecast = next(p for p in paragraphs if "归母净利润 |" in p["text"])
    assert forecast["text"].startswith("图表1：经营预测指标与估值")


def test_show_accepts_an_id_prefix_and_prints_text(indexed_pdf):
    home, report, truth = indexed_pdf
    result = run_yanbao(["reports", "show", report["id"][:8]], home, YANBAO_EMBED_MODEL="none")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(truth.title)
    assert "broker: 华泰证券" in result.stdout and "date: 2024-04-07" in result.stdout


def test_show_of_an_unknown_id_says_so(indexed_pdf):
    home, _, _ = indexed_pdf
    result = run_yanbao(["reports", "show", "0000000000000000"], home, YANBAO_EMBED_MODEL="none")
    assert result.returncode == 1
    assert "no such report: 0000000000000000" in result.stderr
    missing = run_yanbao(["reports", "show"], home, YANBAO_EMBED_MODEL="none")
    assert missing.returncode == 2 and "needs a report ID" in missing.stderr
