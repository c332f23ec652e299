"""The Chroma store: chunk vectors and texts, and a catalog of reports with a generation counter.

We talk to chromadb directly rather than through llama-index's ChromaVectorStore: that store keeps
each node's whole JSON in metadata (doubling the stored text) and has no place for our catalog,
versions and generation counter, which crash-safety and replicas depend on.

Writing one report is all-or-nothing for readers:
  1. the catalog marks the report `pending` with its new version (its generation unchanged);
  2. the new version's chunks are added (ids carry the version, so old chunks are untouched);
  3. the catalog commits the new version with a fresh generation: from here on searches use it;
  4. chunks of other versions are deleted and `pending` is cleared.
A crash anywhere leaves either the old version or the new one visible (searches keep only chunks of
the committed version), and the next run finishes step 4 for any report still marked pending.

The change log is the catalog itself: every commit and every removal (a tombstone) carries a
generation higher than any before it, so a replica catches up by reading the records above the
highest generation it has applied. The `__generation__` record is only the allocator's high-water
mark; a kill before it is updated loses nothing, because the next writer allocates above the
highest generation any record holds (`latest_generation`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np

from index.filters import SearchFilter, chunk_filter_fields
from index.killpoints import kill_point
from index.normalize import search_form
from index.records import Chunk, Report
from index.settings import Settings

log = logging.getLogger("yanbao.store")

GENERATION_ID = "__generation__"
# 2: every chunk carries the filter fields of index/filters.py (date_start, date_end); 3: folders, sectors
CHUNK_SCHEMA = 3
_PLACEHOLDER = [1.0]  # the catalog and lexical-only spaces hold no meaningful vectors
_BATCH = 2000
_REPORTS_PER_READ = 100  # reports whose chunks one `get` reads when copying the whole store


class StoreError(RuntimeError):
    """The store cannot be reached or used; the message names the setting to check."""


@dataclass
class StoredChunk:
    id: str  # "<report_id>:<version10>:<paragraph>"
    chunk: Chunk
    tokens: list[str]


@dataclass
class Change:
    """One entry of the change log: a report committed (with its version) or removed (None)."""

    report_id: str
    report: Report | None
    version: str | None
    generation: int


@dataclass
class CatalogEntry:
    version: str | None  # None: removed, or never committed
    generation: int
    report: Report | None = None  # read only when asked for


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
        # Chroma's typed results make every field optional; this module asks for what it reads
        # (include=[...]) and checks records where it reads them, so its collections are Any.
        self._client: Any = client
        self.chunks: Any = client.get_or_create_collection(
            f"{namespace}-{space}-chunks", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self.catalog: Any = client.get_or_create_collection(
            f"{namespace}-{space}-reports", embedding_function=None
        )

    @classmethod
    def open(cls, settings: Settings, space: str) -> Store:
        return cls(connect(settings), space, settings.namespace)

    def identity(self) -> str:
        """Changes when the store is reset (its catalog collection recreated)."""
        return str(self.catalog.id)

    # ---- catalog -------------------------------------------------------------------------
    def _records(self, where: dict | None = None, documents: bool = True) -> Iterator[tuple[str, str, dict]]:
        include: list[Any] = ["documents", "metadatas"] if documents else ["metadatas"]
        offset = 0
        while True:
            got = self.catalog.get(where=where, include=include, limit=_BATCH, offset=offset)
            docs = got["documents"] if documents else [""] * len(got["ids"])
            for rid, doc, meta in zip(got["ids"], docs, got["metadatas"], strict=True):
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
        report = Report.from_json(json.loads(got["documents"][0])) if _committed(meta) else None
        return report, meta

    def reports(self) -> list[Report]:
        """Committed, not removed reports, newest first."""
        out = [Report.from_json(json.loads(doc)) for _, doc, meta in self._records() if _committed(meta)]
        out.sort(key=lambda r: (r.date or "", r.title), reverse=True)
        return out

    def committed_versions(self) -> dict[str, str]:
        return {rid: meta["version"] for rid, _, meta in self._records(documents=False) if _committed(meta)}

    def catalog_entries(self, *, with_reports: bool = False) -> dict[str, CatalogEntry]:
        """Every catalog record (tombstones too): its committed version and generation."""
        out = {}
        for rid, doc, meta in self._records(documents=with_reports):
            version = meta["version"] if _committed(meta) else None
            report = Report.from_json(json.loads(doc)) if with_reports and version else None
            out[rid] = CatalogEntry(version, int(meta.get("generation") or 0), report)
        return out

    def changes_after(self, generation: int) -> list[Change]:
        """The change log: records committed or removed after `generation`, oldest first."""
        changes = [
            _change(rid, doc, meta)
            for rid, doc, meta in self._records(where={"generation": {"$gt": generation}})
        ]
        return sorted(changes, key=lambda c: c.generation)

    def changes_for(self, report_ids: list[str]) -> list[Change]:
        """The current state of these reports, as changes (absent ones as removals)."""
        out = []
        for start in range(0, len(report_ids), _BATCH):
            part = report_ids[start : start + _BATCH]
            got = self.catalog.get(ids=part, include=["documents", "metadatas"])
            found = {
                rid: (doc, meta or {})
                for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            }
            for rid in part:
                doc, meta = found.get(rid, ("", {}))
                out.append(_change(rid, doc or "", meta))
        return sorted(out, key=lambda c: c.generation)

    def pending_reports(self) -> list[str]:
        return [rid for rid, _, meta in self._records(where={"pending": {"$ne": ""}}, documents=False)]

    def _upsert_record(self, report_id: str, document: str, meta: dict) -> None:
        self.catalog.upsert(
            ids=[report_id], embeddings=[_PLACEHOLDER], documents=[document], metadatas=[meta]
        )

    # ---- generations ------------------------------------------------------------------------
    def _generation_meta(self) -> dict:
        got = self.catalog.get(ids=[GENERATION_ID], include=["metadatas"])
        return (got["metadatas"][0] or {}) if got["ids"] else {}

    def generation(self) -> int:
        """The allocator's high-water mark (records may hold higher ones after a kill)."""
        return int(self._generation_meta().get("generation", 0))

    def latest_generation(self) -> int:
        """The highest generation the counter or any record holds: a writer allocates above it."""
        counter = self.generation()
        above = self._records(where={"generation": {"$gt": counter}}, documents=False)
        return max([counter, *(int(meta["generation"]) for _, _, meta in above)])

    def bump_generation(self, to: int | None = None) -> int:
        """Record that generations up to `to` (default: one above the latest) are in use."""
        meta = self._generation_meta()
        new = max(to if to is not None else self.latest_generation() + 1, int(meta.get("generation", 0)))
        self.catalog.upsert(
            ids=[GENERATION_ID],
            embeddings=[_PLACEHOLDER],
            documents=[""],
            metadatas=[
                {
                    "generation": new,
                    "pending": "",
                    "updated": time.time(),
                    "schema": int(meta.get("schema", CHUNK_SCHEMA if not meta else 1)),
                }
            ],
        )
        return new

    def upgrade(self) -> int:
        """Bring chunks written by older versions up to CHUNK_SCHEMA (metadata only: no vector is
        recomputed). Returns the number of chunks updated; cheap when there is nothing to do."""
        meta = self._generation_meta()
        if not meta or int(meta.get("schema", 1)) >= CHUNK_SCHEMA:
            return 0
        updated = 0
        for rid, entry in self.catalog_entries(with_reports=True).items():
            if entry.report is None:
                continue
            ids = self.chunks.get(where={"report_id": rid}, include=[])["ids"]
            fields = chunk_filter_fields(entry.report)
            for start in range(0, len(ids), _BATCH):
                part = ids[start : start + _BATCH]
                self.chunks.update(ids=part, metadatas=[fields] * len(part))
            updated += len(ids)
        self.catalog.upsert(
            ids=[GENERATION_ID],
            embeddings=[_PLACEHOLDER],
            documents=[""],
            metadatas=[{**meta, "schema": CHUNK_SCHEMA}],
        )
        log.info("store upgraded", extra={"chunks": updated, "schema": CHUNK_SCHEMA})
        return updated

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
        """Write one report all-or-nothing; `generation` must be above every generation in use."""
        old, old_meta = self.record(report.id)
        keep_doc = json.dumps(old.to_json(), ensure_ascii=False) if old else ""
        # marking `pending` changes nothing searches see: the record keeps its generation
        self._upsert_record(report.id, keep_doc, {**self._base_meta(old_meta), "pending": version})
        kill_point("store.marked")
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
        kill_point("store.chunks_written")
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
        kill_point("store.committed")
        if not first_time:
            self.finish_pending(report.id)
            kill_point("store.finished")

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
        """Tombstone a committed report (with a fresh `generation`) and delete its chunks.
        False when there is no such committed report."""
        report, meta = self.record(report_id)
        if report is None:
            if meta.get("pending"):  # a removal a kill interrupted: finish deleting its chunks
                self.finish_pending(report_id)
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
        kill_point("store.tombstoned")
        self.finish_pending(report_id)
        kill_point("store.removed")
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
            **chunk_filter_fields(report),
            "version": version,
            "paragraph": chunk.paragraph,
            "section": chunk.section or "",
            "page": chunk.page or 0,
            "date": _date_int(report.date),
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

    def iter_chunks(self, versions: dict[str, str]) -> Iterator[StoredChunk]:
        """Every chunk of the given report versions, a hundred reports per read (never the whole
        store in memory; no offset paging, whose cost grows with the offset). The next read is
        under way while the caller works on this one."""
        ids = sorted(versions)
        parts = [ids[start : start + _REPORTS_PER_READ] for start in range(0, len(ids), _REPORTS_PER_READ)]
        with ThreadPoolExecutor(1, thread_name_prefix="yanbao-read") as reader:
            ahead = [reader.submit(self._read_reports, part) for part in parts[:1]]
            for number in range(len(parts)):
                got = ahead.pop().result()
                if number + 1 < len(parts):
                    ahead.append(reader.submit(self._read_reports, parts[number + 1]))
                for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                    if versions.get(meta["report_id"]) == meta["version"]:
                        yield _stored(cid, doc, meta)

    def _read_reports(self, report_ids: list[str]) -> Any:
        where = {"report_id": report_ids[0]} if len(report_ids) == 1 else {"report_id": {"$in": report_ids}}
        return self.chunks.get(where=where, include=["documents", "metadatas"])

    def dense_query(
        self, vector: list[float], n: int, where: SearchFilter | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the nearest chunks, within `where` (on chunk metadata)."""
        if where is not None and where.matches_nothing:
            return []
        got = self.chunks.query(
            query_embeddings=[vector],
            n_results=n,
            where=where.chroma_where() if where else None,
            include=["distances"],
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def dense_among(self, vector: list[float], ids: list[str], n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the `n` chunks among `ids` nearest to `vector`, exactly."""
        if not ids:
            return []
        got = self.chunks.get(ids=ids, include=["embeddings"])
        if not got["ids"]:
            return []
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = matrix @ query / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-scores)[:n]
        return [(got["ids"][i], float(scores[i])) for i in order]

    def count_chunks(self) -> int:
        return self.chunks.count()

    def close(self) -> None:
        """Let go of the Chroma client (an embedded store's files are closed with its last client)."""
        self._client.close()

    def ping(self) -> bool:
        try:
            self._client.heartbeat()
            return True
        except Exception:
            return False


def _committed(meta: dict) -> bool:
    return bool(meta.get("version")) and not meta.get("removed")


def _change(report_id: str, document: str, meta: dict) -> Change:
    generation = int(meta.get("generation") or 0)
    if not _committed(meta):
        return Change(report_id, None, None, generation)
    return Change(report_id, Report.from_json(json.loads(document)), meta["version"], generation)


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
