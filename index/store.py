"""The Chroma store: chunk vectors and texts, and a catalog of reports with a generation counter.

We talk to chromadb directly rather than through llama-index's ChromaVectorStore: that store keeps
each node's whole JSON in metadata (doubling the stored text) and has no place for our catalog,
versions and generation counter, which crash-safety and replicas depend on.

Writing one report is all-or-nothing for readers:
  1. the catalog marks the report `pending` with its new version;
  2. the new version's chunks are added (ids carry the version, so old chunks are untouched);
  3. the catalog commits the new version: from here on searches use it;
  4. chunks of other versions are deleted and `pending` is cleared.
A crash anywhere leaves either the old version or the new one visible (searches keep only chunks of
the committed version), and the next run finishes step 4 for any report still marked pending.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb

from index.normalize import search_form
from index.records import Chunk, Report
from index.settings import Settings

GENERATION_ID = "__generation__"
_PLACEHOLDER = [1.0]  # the catalog and lexical-only spaces hold no meaningful vectors
_BATCH = 2000


class StoreError(RuntimeError):
    """The store cannot be reached or used; the message names the setting to check."""


@dataclass
class StoredChunk:
    id: str  # "<report_id>:<version10>:<paragraph>"
    chunk: Chunk
    tokens: list[str]


def connect(settings: Settings) -> chromadb.api.ClientAPI:
    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url} (YANBAO_CHROMA_URL): {exc}"
            ) from exc
        return client
    path = settings.home / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _date_int(value: str | None) -> int:
    return int(value.replace("-", "")) if value else 0


class Store:
    def __init__(self, client: chromadb.api.ClientAPI, space: str, namespace: str = "yanbao") -> None:
        self.space = space
        self._client = client
        self.chunks = client.get_or_create_collection(
            f"{namespace}-{space}-chunks", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self.catalog = client.get_or_create_collection(
            f"{namespace}-{space}-reports", embedding_function=None
        )

    @classmethod
    def open(cls, settings: Settings, space: str) -> Store:
        return cls(connect(settings), space, settings.namespace)

    # ---- catalog -------------------------------------------------------------------------
    def _records(self, **where: Any) -> Iterator[tuple[str, str, dict]]:
        offset = 0
        while True:
            got = self.catalog.get(
                where=where.get("where"), include=["documents", "metadatas"], limit=_BATCH, offset=offset
            )
            for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if rid != GENERATION_ID:
                    yield rid, doc or "", meta or {}
            if len(got["ids"]) < _BATCH:
                return
            offset += _BATCH

    def record(self, report_id: str) -> tuple[Report | None, dict]:
        got = self.catalog.get(ids=[report_id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None, {}
        meta = got["metadatas"][0] or {}
        report = Report.from_json(json.loads(got["documents"][0])) if meta.get("version") else None
        return report, meta

    def reports(self) -> list[Report]:
        """Committed, not removed reports, newest first."""
        out = [
            Report.from_json(json.loads(doc))
            for _, doc, meta in self._records()
            if meta.get("version") and not meta.get("removed")
        ]
        out.sort(key=lambda r: (r.date or "", r.title), reverse=True)
        return out

    def committed_versions(self) -> dict[str, str]:
        return {
            rid: meta["version"]
            for rid, _, meta in self._records()
            if meta.get("version") and not meta.get("removed")
        }

    def changed_since(self, generation: int) -> list[tuple[str, Report | None, str | None]]:
        """(report_id, report or None if removed, committed version) for records changed after `generation`."""
        out = []
        for rid, doc, meta in self._records(where={"generation": {"$gt": generation}}):
            if meta.get("removed") or not meta.get("version"):
                out.append((rid, None, None))
            else:
                out.append((rid, Report.from_json(json.loads(doc)), meta["version"]))
        return out

    def pending_reports(self) -> list[str]:
        return [rid for rid, _, meta in self._records(where={"pending": {"$ne": ""}})]

    def _upsert_record(self, report_id: str, document: str, meta: dict) -> None:
        self.catalog.upsert(
            ids=[report_id], embeddings=[_PLACEHOLDER], documents=[document], metadatas=[meta]
        )

    # ---- generation: bumped by every index run that changed something --------------------------
    def generation(self) -> int:
        got = self.catalog.get(ids=[GENERATION_ID], include=["metadatas"])
        return int(got["metadatas"][0]["generation"]) if got["ids"] else 0

    def bump_generation(self) -> int:
        new = self.generation() + 1
        self.catalog.upsert(
            ids=[GENERATION_ID],
            embeddings=[_PLACEHOLDER],
            documents=[""],
            metadatas=[{"generation": new, "pending": "", "updated": time.time()}],
        )
        return new

    # ---- writing a report (see the module docstring for the protocol) ---------------------------
    def write_report(
        self,
        report: Report,
        version: str,
        chunks: list[Chunk],
        tokens: list[list[str]],
        embeddings: list[list[float]] | None,
        generation: int,
    ) -> None:
        old, old_meta = self.record(report.id)
        keep_doc = json.dumps(old.to_json(), ensure_ascii=False) if old else ""
        self._upsert_record(
            report.id, keep_doc, {**self._base_meta(old_meta), "pending": version, "generation": generation}
        )
        ids = [self.chunk_id(report.id, version, c.paragraph) for c in chunks]
        for start in range(0, len(chunks), _BATCH):
            part = slice(start, start + _BATCH)
            self.chunks.upsert(
                ids=ids[part],
                embeddings=embeddings[part] if embeddings is not None else [_PLACEHOLDER] * len(ids[part]),
                documents=[c.text for c in chunks[part]],
                metadatas=[
                    self._chunk_meta(report, version, c, t)
                    for c, t in zip(chunks[part], tokens[part], strict=True)
                ],
            )
        # A report the catalog has never seen has no other version to delete: commit it finished.
        first_time = not old_meta
        document = json.dumps(report.to_json(), ensure_ascii=False)
        meta = {
            "version": version,
            "pending": "" if first_time else version,
            "generation": generation,
            "removed": False,
            "source": report.source,
            "date": _date_int(report.date),
            "kind": report.kind,
            "broker": report.broker or "",
        }
        self._upsert_record(report.id, document, meta)  # the commit point
        if not first_time:
            self.finish_pending(report.id)

    def finish_pending(self, report_id: str) -> None:
        """Delete every chunk of `report_id` that is not its committed version; clear `pending`."""
        _, meta = self.record(report_id)
        committed = meta.get("version") if not meta.get("removed") else None
        where: dict[str, Any] = {"report_id": report_id}
        if committed:
            where = {"$and": [{"report_id": report_id}, {"version": {"$ne": committed}}]}
        self.chunks.delete(where=where)
        got = self.catalog.get(ids=[report_id], include=["documents", "metadatas"])
        if got["ids"]:
            self._upsert_record(
                report_id, got["documents"][0] or "", {**(got["metadatas"][0] or {}), "pending": ""}
            )

    def remove_report(self, report_id: str, generation: int) -> bool:
        report, meta = self.record(report_id)
        if report is None:
            return False
        # a tombstone, so replicas refreshing their lexical index learn of the removal
        self._upsert_record(
            report_id,
            "",
            {
                **self._base_meta(meta),
                "removed": True,
                "version": "",
                "pending": "x",
                "generation": generation,
            },
        )
        self.finish_pending(report_id)
        return True

    @staticmethod
    def _base_meta(meta: dict) -> dict:
        base = {
            "version": "",
            "pending": "",
            "generation": 0,
            "removed": False,
            "source": "",
            "date": 0,
            "kind": "",
            "broker": "",
        }
        base.update({k: v for k, v in meta.items() if v is not None})
        return base

    @staticmethod
    def chunk_id(report_id: str, version: str, paragraph: int) -> str:
        return f"{report_id}:{version[:10]}:{paragraph:05d}"

    @staticmethod
    def _chunk_meta(report: Report, version: str, chunk: Chunk, tokens: list[str]) -> dict:
        return {
            "report_id": report.id,
            "version": version,
            "paragraph": chunk.paragraph,
            "section": chunk.section or "",
            "page": chunk.page or 0,
            "broker": report.broker or "",
            "date": _date_int(report.date),
            "kind": report.kind,
            "tokens": " ".join(tokens),
        }

    # ---- reading chunks ----------------------------------------------------------------------
    def chunks_of(self, report_id: str, version: str) -> list[StoredChunk]:
        out: list[StoredChunk] = []
        offset = 0
        where = {"$and": [{"report_id": report_id}, {"version": version}]}
        while True:
            got = self.chunks.get(
                where=where, include=["documents", "metadatas"], limit=_BATCH, offset=offset
            )
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out.append(_stored(cid, doc, meta))
            if len(got["ids"]) < _BATCH:
                break
            offset += _BATCH
        out.sort(key=lambda s: s.chunk.paragraph)
        return out

    def dense_query(
        self, vector: list[float], n: int, report_ids: list[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the nearest chunks, optionally within some reports."""
        total = self.chunks.count()
        if total == 0:
            return []
        where = {"report_id": {"$in": report_ids}} if report_ids is not None else None
        if report_ids is not None and not report_ids:
            return []
        got = self.chunks.query(
            query_embeddings=[vector], n_results=min(n, total), where=where, include=["distances"]
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def count_chunks(self) -> int:
        return self.chunks.count()

    def ping(self) -> bool:
        try:
            self._client.heartbeat()
            return True
        except Exception:
            return False


def _stored(cid: str, doc: str, meta: dict) -> StoredChunk:
    chunk = Chunk(
        report_id=meta["report_id"],
        paragraph=int(meta["paragraph"]),
        text=doc,
        search_text=search_form(f"{meta.get('section') or ''}\n{doc}"),
        section=meta.get("section") or None,
        page=meta.get("page") or None,
    )
    return StoredChunk(id=cid, chunk=chunk, tokens=(meta.get("tokens") or "").split())
