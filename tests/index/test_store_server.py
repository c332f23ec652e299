"""Chroma server mode (YANBAO_CHROMA_URL): replicas with their own YANBAO_HOME share one store, and
each one's lexical index is rebuilt from, and kept in step with, what the store holds.

The session's Chroma server is shared with other tests, so these tests index their own copies of
the fixture notes (a report's id follows its path) and look only at the reports they made.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from index.library import Library
from index.store import StoreError
from tests.helpers import copy_notes, make_settings, recommendation_paragraph, write_note


def replica(tmp_path: Path, name: str, url: str) -> Library:
    return Library(make_settings(tmp_path, YANBAO_HOME=str(tmp_path / name), YANBAO_CHROMA_URL=url))


@pytest.fixture
def indexed(tmp_path, chroma_server):
    """Replica A with both fixture notes indexed through the server; returns (A, folder, report ids)."""
    folder = tmp_path / "reports"
    copy_notes(folder)
    a = replica(tmp_path, "replica-a", chroma_server.url)
    summary = a.index([folder], progress=False)
    assert summary.added == 2 and summary.failed == []
    ids = {r.id for r in summary.reports}
    return a, folder, ids


def found_texts(library: Library, question: str, ids: set[str]) -> list[str]:
    return [h.chunk.text for h in library.search(question, k=8, report_ids=ids).hits]


def test_the_store_is_the_server_not_a_local_folder(indexed, chroma_server):
    a, _, _ = indexed
    assert a.status()["store"] == chroma_server.url
    assert a.status()["store_reachable"] is True
    assert not (a.settings.home / "chroma").exists()


@pytest.mark.parametrize("question", ["端側AI芯片", "on-device AI chips Zhongtai"])
def test_search_through_the_server_finds_the_recommendation_paragraph(indexed, question):
    a, _, ids = indexed
    assert recommendation_paragraph() in found_texts(a, question, ids)
    # unscoped too: the server may hold other tests' reports, the paragraph still comes up
    assert recommendation_paragraph() in [h.chunk.text for h in a.search(question, k=8).hits]


def test_a_second_replica_sees_the_same_reports_and_paragraphs(indexed, tmp_path, chroma_server):
    a, _, ids = indexed
    b = replica(tmp_path, "replica-b", chroma_server.url)
    assert not (tmp_path / "replica-b" / "lexical" / "lexical" / "CURRENT").exists()

    mine_a = {r.id: r for r in a.reports() if r.id in ids}
    mine_b = {r.id: r for r in b.reports() if r.id in ids}
    assert mine_b == mine_a and len(mine_b) == 2
    for rid, report in mine_b.items():
        # B's lexical index was rebuilt from the store: every chunk, as written
        assert [c.text for c in b.lexical.report_chunks(rid)] == [
            c.text for c in a.lexical.report_chunks(rid)
        ]
        assert len(b.lexical.report_chunks(rid)) == report.chunks
    for question in ("端側AI芯片", "on-device AI chips Zhongtai"):
        assert recommendation_paragraph() in found_texts(b, question, ids), question
    assert (tmp_path / "replica-b" / "lexical" / "lexical" / "CURRENT").exists()


def test_a_second_replica_indexing_the_same_files_finds_them_unchanged(indexed, tmp_path, chroma_server):
    _, folder, _ = indexed
    b = replica(tmp_path, "replica-b", chroma_server.url)
    summary = b.index([folder], progress=False)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 2)


def test_a_report_indexed_through_a_is_searchable_through_b_after_refresh(indexed, tmp_path, chroma_server):
    a, _, _ = indexed
    b = replica(tmp_path, "replica-b", chroma_server.url)
    b.refresh()
    marker = f"墨子号量子卫星星地链路{uuid.uuid4().int % 10**6:06d}"
    note = write_note(
        tmp_path / "new" / "quantum.txt",
        [
            "通信行业点评：量子通信进入工程化阶段",
            f"{marker}完成千公里级密钥分发验证，量子通信骨干网建设有望提速。",
            "我们看好量子密钥分发设备与光器件供应商的订单增长。",
        ],
    )
    summary = a.index([note], progress=False)
    assert summary.added == 1
    (new_report,) = summary.reports

    assert new_report.id not in b.lexical.reports  # B has not looked yet
    assert b.refresh() is True
    assert new_report.id in b.lexical.reports
    hits = b.searcher.search(marker, k=3).hits
    assert hits and marker in hits[0].chunk.text
    assert hits[0].report.id == new_report.id
    assert b.refresh() is False  # nothing new since


def test_a_report_removed_through_a_disappears_from_b(indexed, tmp_path, chroma_server):
    a, _, ids = indexed
    b = replica(tmp_path, "replica-b", chroma_server.url)
    b.refresh()
    gone = sorted(ids)[0]
    assert gone in b.lexical.reports
    assert a.remove(gone) is True
    b.refresh()
    assert gone not in b.lexical.reports
    assert gone not in {r.id for r in b.reports()}
    assert b.lexical.report_chunks(gone) == []


def test_an_unreachable_server_is_an_error_naming_the_setting(tmp_path):
    from tests.fakes.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match="YANBAO_CHROMA_URL"):
        replica(tmp_path, "replica-x", url)
