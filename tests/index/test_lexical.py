"""The lexical index on tantivy: BM25 as before, caught up incrementally from the store's change
log, shared by processes on one home, rebuilt when the store is replaced; and explicit filters
applied inside both engines (index/filters.py). Inputs: the sample notes in samples/."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from index.filters import SearchFilter, report_interval
from index.library import Library
from index.records import Report
from index.store import connect
from tests.helpers import make_settings, write_note
from tests.index.libraries import open_library

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOTES = {
    "guosheng": "guosheng_computer_weekly_20241229.txt",  # 国盛证券 weekly, 2024-12-23..29, published 12-29
    "everbright": "everbright_hk_strategy_20250103.txt",  # 光大证券 strategy, 2025-01-03
    "tianfeng": "tianfeng_envicool_company_20250106.txt",  # 天风证券 company note, 2025-01-06
    "kaiyuan": "kaiyuan_telecom_liquid_cooling_20250107.html",  # 开源证券 industry note, 2025-01-07
}


def copy_samples(folder: Path, names: tuple[str, ...] = tuple(NOTES.values())) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SAMPLES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("lexical")
    library = Library(make_settings(root, YANBAO_HOME=str(root / "home")))
    summary = library.index([copy_samples(root / "reports")], progress=False)
    assert summary.added == 4 and summary.failed == []
    yield library
    library.close()


def by_broker(library: Library) -> dict[str, Report]:
    return {r.broker: r for r in library.reports() if r.broker}


# --- BM25 ----------------------------------------------------------------------------------------
def test_scores_are_bm25_over_the_products_tokens_exactly_as_bm25s_computed_them(library):
    import bm25s

    got = library.store.chunks.get(include=["metadatas"])
    ids = got["ids"]
    tokens = [m["tokens"].split() or ["<empty>"] for m in got["metadatas"]]
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(tokens, show_progress=False)
    for question in ("AI Agent 金山办公 金山办公", "液冷 温控 订单", "南向资金 净流入 港股"):
        query = library.tokenizer.tokens(question)
        expected = reference.get_scores([t for t in query if t in reference.vocab_dict])
        found = library.lexical.search(query, 50)
        assert found, question
        for chunk_id, score in found:
            assert math.isclose(score, float(expected[ids.index(chunk_id)]), rel_tol=1e-4), question
        # and nothing bm25s scores above zero is missed
        assert {cid for cid, _ in found} == {ids[i] for i, s in enumerate(expected) if s > 0}


def test_idf_and_vocabulary_answer_from_the_index(library):
    assert "金山办公" in library.lexical.vocabulary
    assert "从未出现过的词" not in library.lexical.vocabulary
    rare, common = library.lexical.idf("金山办公"), library.lexical.idf("液冷")
    assert rare is not None and common is not None and rare > common > 0
    assert library.lexical.idf("从未出现过的词") is None


def test_chunk_and_report_chunks_give_the_stored_paragraphs_in_order(library):
    report = by_broker(library)["天风证券"]
    chunks = library.lexical.report_chunks(report.id)
    assert [c.paragraph for c in chunks] == list(range(report.chunks))
    stored = library.store.chunks_of(report.id, library.lexical.versions[report.id])
    assert [c.text for c in chunks] == [s.chunk.text for s in stored]
    chunk, owner = library.lexical.chunk(stored[2].id)
    assert (chunk.text, owner.id) == (stored[2].chunk.text, report.id)
    assert library.lexical.chunk(f"{report.id}:0000000000:00002") is None  # not the applied version


# --- catching up ---------------------------------------------------------------------------------------
def test_a_new_note_is_applied_incrementally_and_a_second_process_follows(tmp_path):
    folder = copy_samples(tmp_path / "reports", (NOTES["guosheng"], NOTES["tianfeng"]))
    home = tmp_path / "home"
    writer = open_library(home)
    writer.index([folder], progress=False)
    other = open_library(home)  # another process on the same home (a second bot worker)
    assert len(other.reports()) == 2
    build = (home / "lexical" / "lexical" / "CURRENT").read_text()
    before = writer.lexical.generation

    write_note(folder / "new.txt", ["新研报：固态电池产业化提速", "我们看好硫化物固态电解质龙头。"])
    writer.index([folder], progress=False)
    assert writer.lexical.generation > before
    assert (home / "lexical" / "lexical" / "CURRENT").read_text() == build  # applied, not rebuilt
    assert other.refresh() is True  # picks up what the writer applied
    assert other.lexical.generation == writer.lexical.generation
    assert any("硫化物" in h.chunk.text for h in other.search("硫化物固态电解质").hits)
    assert len(other.lexical) == writer.store.count_chunks()

    (folder / "new.txt").unlink()
    writer.index([folder], progress=False, prune=True)
    assert not any("硫化物" in h.chunk.text for h in other.search("硫化物固态电解质").hits)
    assert len(other.lexical) == writer.store.count_chunks()


def test_a_replaced_store_makes_the_lexical_index_rebuild(tmp_path):
    folder = copy_samples(tmp_path / "reports", (NOTES["guosheng"],))
    home = tmp_path / "home"
    first = open_library(home)
    first.index([folder], progress=False)
    client = connect(first.settings)
    for collection in (first.store.chunks.name, first.store.catalog.name):
        client.delete_collection(collection)  # the store is wiped (or replaced by a new server)
    client.close()
    again = open_library(home)
    assert again.reports() == [] and len(again.lexical) == 0
    again.index([folder], progress=False)
    assert len(again.lexical) == again.store.count_chunks() > 0


# --- explicit filters, inside both engines -----------------------------------------------------
def test_a_weekly_is_in_a_date_range_that_overlaps_its_period_or_its_publish_date():
    weekly = Report(id="w", title="周报", date="2024-12-25", period="2024-12-16/2024-12-22")
    assert report_interval(weekly) == (20241216, 20241225)
    assert SearchFilter.of(since="2024-12-20", until="2024-12-21").matches(weekly)
    assert SearchFilter.of(since="2024-12-24").matches(weekly)
    assert not SearchFilter.of(since="2024-12-26").matches(weekly)
    assert not SearchFilter.of(until="2024-12-15").matches(weekly)
    undated = Report(id="u", title="无日期")
    assert SearchFilter().matches(undated) and not SearchFilter.of(until="2030-01-01").matches(undated)


@pytest.mark.parametrize(
    "where, expected",
    [
        (SearchFilter.of(brokers=["天风证券"]), {"天风证券"}),
        (SearchFilter.of(brokers=["天风证券", "开源证券"]), {"天风证券", "开源证券"}),
        (SearchFilter.of(kinds=["weekly"]), {"国盛证券"}),
        (SearchFilter.of(since="2025-01-04"), {"天风证券", "开源证券"}),
        (SearchFilter.of(since="2024-12-24", until="2024-12-25"), {"国盛证券"}),  # its period
        (SearchFilter.of(until="2025-01-03", brokers=["光大证券", "天风证券"]), {"光大证券"}),
        (SearchFilter.of(brokers=["中信证券"]), set()),
    ],
)
def test_a_filter_restricts_the_lexical_and_the_dense_engine_alike(library, where, expected):
    brokers = {r.id: r.broker for r in library.reports()}
    every_token = {
        t for m in library.store.chunks.get(include=["metadatas"])["metadatas"] for t in m["tokens"].split()
    }
    lexical = library.lexical.search(sorted(every_token), 500, where)
    assert {brokers[cid.split(":")[0]] for cid, _ in lexical} == expected
    # the lexical-only store holds one-dimensional placeholder vectors: every chunk is "near"
    dense = library.store.dense_query([1.0], 500, where)
    assert {brokers[cid.split(":")[0]] for cid, _ in dense} == expected
    assert len(dense) == sum(r.chunks for r in library.reports() if r.broker in expected)


def test_explicit_options_of_a_search_become_the_engines_filter(library):
    result = library.search("液冷 订单 南向资金 AI Agent", k=20, broker="天风", since="2025-01-01")
    assert result.where == SearchFilter.of(brokers=["天风证券"], since="2025-01-01")
    assert result.hits and {h.report.broker for h in result.hits} == {"天风证券"}
    unfiltered = library.search("液冷 订单 南向资金 AI Agent", k=20)
    assert len({h.report.broker for h in unfiltered.hits}) > 1


@pytest.mark.slow
def test_a_filtered_dense_search_finds_what_chromas_own_filter_finds(tmp_path):
    """Whatever route the searcher takes for a filtered dense query (the allowed chunks scored
    directly, or the unfiltered nearest kept when allowed), the chunks and their order are the
    ones Chroma's filtered query gives."""
    from tests.helpers import minilm_path

    library = open_library(tmp_path / "home", YANBAO_EMBED_MODEL=str(minilm_path()))
    library.index([copy_samples(tmp_path / "reports")], progress=False)
    vector = library.searcher.embedder.embed_query("liquid cooling orders for data centers")
    for where in (SearchFilter.of(brokers=["天风证券", "开源证券"]), SearchFilter.of(kinds=["weekly"])):
        reports = [r for r in library.reports() if where.matches(r)]
        ours = library.searcher._dense(vector, where, reports)
        chromas = library.store.dense_query(vector, 50, where)
        assert [cid for cid, _ in ours] == [cid for cid, _ in chromas]
        assert all(math.isclose(a, b, abs_tol=1e-4) for (_, a), (_, b) in zip(ours, chromas, strict=True))


def test_a_serving_replica_reads_the_change_log_at_most_every_refresh_seconds(tmp_path):
    folder = copy_samples(tmp_path / "reports", (NOTES["guosheng"],))
    home = tmp_path / "home"
    writer = open_library(home)
    writer.index([folder], progress=False)
    serving = open_library(home, YANBAO_REFRESH_SECONDS="60")
    assert serving.search("AI Agent").hits  # its first search reads the change log

    write_note(folder / "new.txt", ["新研报：固态电池产业化提速", "我们看好硫化物固态电解质龙头。"])
    writer.index([folder], progress=False)
    # within the minute, questions are answered from what it has, with no store round trip
    assert not any("硫化物" in h.chunk.text for h in serving.search("硫化物固态电解质").hits)
    serving.refresh()  # what the interval's end (or an explicit refresh) does
    assert any("硫化物" in h.chunk.text for h in serving.search("硫化物固态电解质").hits)
