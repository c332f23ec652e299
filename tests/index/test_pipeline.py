"""Index runs end to end into a real embedded Chroma store: what goes in, incremental re-runs,
replaced and pruned reports, bad files, crash-safety, and the dense path with a real model."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest

from index.library import Library
from index.pipeline import UsageError
from tests.helpers import (
    STRATEGY_FACTS,
    STRATEGY_NOTE,
    WEEKLY_FACTS,
    WEEKLY_NOTE,
    copy_notes,
    encrypt_pdf,
    fingerprint,
    json_out,
    make_pdf,
    make_settings,
    minilm_path,
    note_lines,
    recommendation_paragraph,
    run_yanbao,
    write_note,
)

CHROME = [
    "新浪財經APP",
    "熱門推薦",
    "二維碼",
    "股市直播",
    "免責聲明",
    "本訂閱號",
    "資料來源",
    "執業登記編碼",
    "分析師:",
]
IPO_CALENDAR_LINE = re.compile(r"\d{2}-\d{2}\s+\S{2,8}\s+\d{6}\s+(--|[\d.]+)")


def open_library(tmp_path: Path, **env: str) -> Library:
    return Library(make_settings(tmp_path, **env))


def stored_chunks(library: Library) -> list[tuple[str, str, dict]]:
    """(id, text, metadata) of every chunk in the Chroma collection, committed or not."""
    got = library.store.chunks.get(include=["documents", "metadatas"])
    return list(zip(got["ids"], got["documents"], got["metadatas"], strict=True))


def assert_store_consistent(library: Library) -> None:
    """Every chunk belongs to a committed report version; counts agree everywhere."""
    reports = library.store.reports()
    committed = library.store.committed_versions()
    chunks = stored_chunks(library)
    assert library.store.pending_reports() == []
    assert library.store.count_chunks() == sum(r.chunks for r in reports)
    for cid, _, meta in chunks:
        assert committed.get(meta["report_id"]) == meta["version"], f"orphan chunk {cid}"
    for report in reports:
        assert len(library.store.chunks_of(report.id, committed[report.id])) == report.chunks
    library.refresh()
    assert len(library.lexical) == len(chunks)
    assert set(library.lexical.reports) == {r.id for r in reports}


def hits_containing(library: Library, question: str, phrase: str, k: int = 20) -> list:
    return [h for h in library.search(question, k=k).hits if phrase in h.chunk.text]


@pytest.fixture
def seeded(tmp_path):
    """Both fixture notes (copied under tmp_path) indexed into a fresh lexical-only library."""
    folder = tmp_path / "reports"
    copy_notes(folder)
    library = open_library(tmp_path)
    summary = library.index([folder], progress=False)
    return library, folder, summary


# --- what goes in ---------------------------------------------------------------------------


def test_both_notes_give_exactly_two_reports_with_their_metadata(seeded):
    library, folder, summary = seeded
    assert summary.to_json() == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "chunks": library.store.count_chunks(),
        "failed": [],
    }
    reports = {Path(r.source).name: r for r in library.reports()}
    assert sorted(reports) == sorted(p.name for p in (WEEKLY_NOTE, STRATEGY_NOTE))
    weekly, strategy = reports[WEEKLY_NOTE.name], reports[STRATEGY_NOTE.name]
    assert (weekly.broker, weekly.date, weekly.period) == tuple(
        WEEKLY_FACTS[k] for k in ("broker", "date", "period")
    )
    assert weekly.analysts == WEEKLY_FACTS["analysts"] and weekly.kind == "weekly"
    assert (strategy.broker, strategy.date, strategy.analysts) == (None, STRATEGY_FACTS["date"], [])
    assert weekly.source == str((folder / WEEKLY_NOTE.name).resolve())
    assert_store_consistent(library)


def test_no_chunk_text_is_stored_twice(seeded):
    library, _, _ = seeded
    texts = [text for _, text, _ in stored_chunks(library)]
    assert len(texts) == len(set(texts))
    prints = [fingerprint(t) for t in texts]
    assert len(prints) == len(set(prints))
    # the weekly prints these paragraphs two or three times; the store holds each once
    everything = fingerprint("".join(texts))
    for marker in (
        "據展會主辦方統計",
        "根據行業機構的報價",
        "申萬電子指數跌1.86%",
        "從個股情況看",
        "下游需求復甦不及預期",
    ):
        assert everything.count(fingerprint(marker)) == 1, marker
    lexical_texts = [c.text for rid in library.lexical.reports for c in library.lexical.report_chunks(rid)]
    assert sorted(lexical_texts) == sorted(texts)


def test_no_stored_chunk_carries_site_chrome(seeded):
    library, _, _ = seeded
    for _, text, _ in stored_chunks(library):
        for marker in CHROME:
            assert marker not in text, f"{marker!r} stored in: {text[:60]}"
        assert not IPO_CALENDAR_LINE.search(text)


def test_stored_chunks_are_the_report_text_as_written(seeded):
    library, _, _ = seeded
    by_source = {r.id: Path(r.source) for r in library.reports()}
    for _, text, meta in stored_chunks(library):
        lines = note_lines(by_source[meta["report_id"]])
        for piece in text.split("\n"):
            assert any(piece in line for line in lines), piece[:60]


def test_search_finds_the_recommendation_paragraph(seeded):
    library, _, _ = seeded
    for question in ("端側AI芯片", "端侧AI芯片", "on-device AI chips Zhongtai"):
        texts = [h.chunk.text for h in library.search(question).hits]
        assert recommendation_paragraph() in texts, question


# --- incremental runs -----------------------------------------------------------------------


def test_a_second_run_reports_everything_unchanged_and_writes_nothing(seeded, tmp_path):
    library, folder, _ = seeded
    generation, count = library.store.generation(), library.store.count_chunks()
    ids = sorted(cid for cid, _, _ in stored_chunks(library))
    catalog = library.store.catalog.get(include=["metadatas", "documents"])

    again = library.index([folder], progress=False)
    assert again.to_json() == {
        "added": 0, "updated": 0, "unchanged": 2, "removed": 0, "chunks": 0, "failed": []
    }  # fmt: skip
    assert library.store.generation() == generation
    assert library.store.count_chunks() == count
    assert sorted(cid for cid, _, _ in stored_chunks(library)) == ids
    assert library.store.catalog.get(include=["metadatas", "documents"]) == catalog

    # a new process (a fresh Library on the same home) agrees
    fresh = open_library(tmp_path)
    assert fresh.index([folder], progress=False).unchanged == 2
    assert fresh.store.generation() == generation


def test_a_changed_file_replaces_its_old_chunks(tmp_path):
    folder = tmp_path / "reports"
    note = folder / "strategy.txt"
    folder.mkdir()
    original = STRATEGY_NOTE.read_text(encoding="utf-8")
    assert original.count("量价齐升") == 1
    note.write_text(original, encoding="utf-8")
    library = open_library(tmp_path)
    assert library.index([folder], progress=False).added == 1
    (before,) = library.reports()
    assert hits_containing(library, "量价齐升", "量价齐升")

    note.write_text(original.replace("量价齐升", "量增价稳"), encoding="utf-8")
    summary = library.index([folder], progress=False)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 0)
    (after,) = library.reports()
    assert after.id == before.id  # same file, same report id
    assert after.content_hash != before.content_hash
    assert hits_containing(library, "量价齐升", "量价齐升") == []
    assert hits_containing(library, "量增价稳", "量增价稳")
    assert not any("量价齐升" in text for _, text, _ in stored_chunks(library))
    assert_store_consistent(library)


def test_prune_removes_reports_whose_files_are_gone(seeded):
    library, folder, _ = seeded
    (folder / STRATEGY_NOTE.name).unlink()

    without_prune = library.index([folder], progress=False)
    assert (without_prune.unchanged, without_prune.removed) == (1, 0)
    assert len(library.reports()) == 2

    summary = library.index([folder], prune=True, progress=False)
    assert (summary.unchanged, summary.removed) == (1, 1)
    (left,) = library.reports()
    assert left.source.endswith(WEEKLY_NOTE.name)
    assert hits_containing(library, "量价齐升", "量价齐升") == []
    assert_store_consistent(library)


def test_prune_leaves_reports_outside_the_given_folders_alone(tmp_path):
    library = open_library(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    copy_notes(one)
    write_note(two / "other.txt", ["通信行业周报：光模块景气", "光模块订单饱满，我们维持行业推荐评级。"])
    library.index([one, two], progress=False)
    (two / "other.txt").unlink()
    (one / STRATEGY_NOTE.name).unlink()
    assert library.index([two], prune=True, progress=False).removed == 1
    assert len(library.reports()) == 2  # one's vanished file is not under "two": kept


def test_a_missing_path_is_a_usage_error_and_nothing_is_written(tmp_path):
    library = open_library(tmp_path)
    with pytest.raises(UsageError, match="no-such-folder"):
        library.index([tmp_path / "no-such-folder"], progress=False)
    assert library.store.count_chunks() == 0 and library.store.generation() == 0


# --- bad input ------------------------------------------------------------------------------


def bad_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder of broken files next to good ones; returns it and {file name: expected reason}."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4096))
    (folder / "garbage.txt").write_bytes(b"\x00\x01\x02\xff\xfe" + bytes(range(256)) * 16)
    pdf = make_pdf(
        tmp_path / "note.pdf", ["Shanxi Securities weekly: edge compute demand", "Buy the leaders."]
    )
    (folder / "locked.pdf").write_bytes(encrypt_pdf(pdf, "secret"))
    data = pdf.read_bytes()
    (folder / "cut.pdf").write_bytes(data[: len(data) // 2])
    big5_lines = [line for line in note_lines(WEEKLY_NOTE) if _encodes(line, "big5")]
    write_note(folder / "big5-weekly.txt", big5_lines, encoding="big5")
    # GBK has no no-break space: a publish line "发布时间:\xa0 2025-01-06" would get a plain one
    gbk_lines = [line.replace("\xa0", " ") for line in note_lines(STRATEGY_NOTE)]
    write_note(folder / "gbk-strategy.txt", gbk_lines, encoding="gbk")
    expected = {
        "empty.txt": "empty file",
        "photo.pdf": "damaged PDF",
        "garbage.txt": "not text",
        "locked.pdf": "password-protected PDF",
        "cut.pdf": "damaged PDF (truncated",
    }
    return folder, expected


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def test_bad_files_fail_one_by_one_and_the_rest_is_indexed(seeded, tmp_path):
    library, _, _ = seeded
    before = {r.id: r for r in library.reports()}
    folder, expected = bad_folder(tmp_path)

    summary = library.index([folder], progress=False)
    failed = {Path(f.path).name: f.error for f in summary.failed}
    assert sorted(failed) == sorted(expected)
    for name, reason in expected.items():
        assert reason in failed[name], (name, failed[name])
        assert "\n" not in failed[name]
    assert all(Path(f.path).parent == folder for f in summary.failed)
    assert summary.added == 2  # the Big5 and GBK notes

    reports = {Path(r.source).name: r for r in library.reports()}
    assert reports["big5-weekly.txt"].broker == WEEKLY_FACTS["broker"]
    assert reports["big5-weekly.txt"].date == WEEKLY_FACTS["date"]
    assert reports["gbk-strategy.txt"].date == STRATEGY_FACTS["date"]
    # nothing already in the store was lost
    for rid, report in before.items():
        assert rid in {r.id for r in library.reports()}
        assert len(library.lexical.report_chunks(rid)) == report.chunks
    assert recommendation_paragraph() in [h.chunk.text for h in library.search("端側AI芯片", k=10).hits]
    assert_store_consistent(library)


@pytest.mark.slow
def test_cli_names_each_bad_file_and_exits_1(tmp_path):
    home = tmp_path / "home"
    seeds = tmp_path / "reports"
    copy_notes(seeds)
    assert run_yanbao(["index", str(seeds), "--json"], home).returncode == 0
    folder, expected = bad_folder(tmp_path)

    result = run_yanbao(["index", str(folder), "--json"], home)
    assert result.returncode == 1, result.stderr
    out = json_out(result)
    assert out["added"] == 2
    assert {Path(f["path"]).name for f in out["failed"]} == set(expected)

    text = run_yanbao(["index", str(folder)], home)  # the human summary, same failures
    assert text.returncode == 1
    shown = text.stdout + text.stderr
    for name, reason in expected.items():
        lines = [line for line in shown.splitlines() if name in line]
        assert len(lines) == 1, (name, shown)
        assert reason in lines[0], lines[0]

    library = open_library(tmp_path, YANBAO_HOME=str(home))  # nothing already indexed was lost
    names = {Path(r.source).name for r in library.reports()}
    assert {WEEKLY_NOTE.name, STRATEGY_NOTE.name, "big5-weekly.txt", "gbk-strategy.txt"} == names
    assert_store_consistent(library)


# Crash-safety (kills at every step of index, remove, prune and the lexical catch-up): test_crashes.py


# --- the dense path, with the MiniLM model packaged in a wheel ----------------------------------


@pytest.fixture(scope="module")
def dense_library(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("dense")
    folder = tmp_path / "reports"
    copy_notes(folder)
    library = open_library(tmp_path, YANBAO_EMBED_MODEL=str(minilm_path()))
    summary = library.index([folder], progress=False)
    return library, summary


@pytest.mark.slow
def test_dense_indexing_stores_384_dimensional_vectors(dense_library):
    library, summary = dense_library
    assert library.embedder_status.problem is None
    assert library.embedder_status.embedder is not None
    assert summary.added == 2 and summary.failed == []
    got = library.store.chunks.get(include=["embeddings"])
    assert len(got["ids"]) == summary.chunks > 0
    for vector in got["embeddings"]:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(float(x) ** 2 for x in vector)), 1.0, rel_tol=1e-3)
    assert library.status()["embed_model"] == str(minilm_path())
    assert_store_consistent(library)


@pytest.mark.slow
def test_dense_search_returns_hits_with_a_dense_score(dense_library):
    library, _ = dense_library
    result = library.search("on-device AI chips Zhongtai", k=5)
    assert result.hits
    assert any("dense" in hit.scores for hit in result.hits)
    assert recommendation_paragraph() in [h.chunk.text for h in result.hits]


@pytest.mark.slow
def test_lexical_and_dense_stores_do_not_mix(dense_library, tmp_path):
    library, _ = dense_library
    lexical = Library(library.settings.replace(embed_model="none"))
    assert lexical.space != library.space
    assert lexical.store.count_chunks() == 0  # vectors of different spaces live apart


def test_json_of_a_summary_is_what_the_cli_prints(seeded):
    _, _, summary = seeded
    assert json.loads(json.dumps(summary.to_json())) == summary.to_json()
