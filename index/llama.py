"""yanbao's search as a llama-index retriever, for teams that build their own query engines.

Composed rather than re-implemented: llama-index's default BM25/vector retrievers tokenize on
whitespace and know nothing of brokers, dates or traditional/simplified Chinese, so this wraps
yanbao's Searcher and hands back llama-index nodes with the report metadata attached.
"""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from index.library import Library
from index.records import Hit


def hit_to_node(hit: Hit) -> NodeWithScore:
    report = hit.report
    node = TextNode(
        id_=f"{report.id}:{hit.chunk.paragraph}",
        text=hit.chunk.text,
        metadata={
            "report_id": report.id,
            "title": report.title,
            "broker": report.broker,
            "date": report.date,
            "source": report.source,
            "paragraph": hit.chunk.paragraph,
            "section": hit.chunk.section,
            **{f"score_{k}": v for k, v in hit.scores.items()},
        },
    )
    return NodeWithScore(node=node, score=hit.score)


class YanbaoRetriever(BaseRetriever):
    def __init__(self, library: Library, k: int = 5, **search_options: object) -> None:
        super().__init__()
        self._library = library
        self._k = k
        self._options = search_options

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._library.search(query_bundle.query_str, k=self._k, **self._options)
        return [hit_to_node(hit) for hit in result.hits]
