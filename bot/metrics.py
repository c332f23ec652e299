"""Prometheus metrics for yanbao, on the default registry; served at GET /metrics by bot.ops."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# the *_created series double the output and no dashboard of ours reads them
disable_created_metrics()

STAGES = (
    "parse",
    "retrieve_lexical",
    "retrieve_dense",
    "fuse",
    "rerank",
    "answer",
    "llm",
    "render",
    "total",
)
EVENT_OUTCOMES = ("answered", "duplicate", "ignored", "refused")
# from a lexical lookup (milliseconds) to an LLM answer (tens of seconds)
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

QUESTIONS = Counter("yanbao_questions", "Questions received", ["platform"])
ANSWERS = Counter(
    "yanbao_answers", "Answers given, by mode and whether the notes answered", ["mode", "found"]
)
STAGE_SECONDS = Histogram(
    "yanbao_stage_seconds", "Time spent per stage of answering", ["stage"], buckets=_STAGE_BUCKETS
)
INDEX_REPORTS = Gauge("yanbao_index_reports", "Reports in the index")
INDEX_CHUNKS = Gauge("yanbao_index_chunks", "Paragraph chunks in the index")
LLM_TOKENS = Counter("yanbao_llm_tokens", "LLM tokens used", ["kind"])
LLM_ERRORS = Counter("yanbao_llm_errors", "LLM calls that failed", ["reason"])
FEEDBACK = Counter("yanbao_feedback", "Thumbs up/down from users", ["value"])
EVENTS = Counter("yanbao_events", "Platform events by outcome", ["platform", "outcome"])
DIGEST_ROUNDS = Counter(
    "yanbao_digest_rounds",
    "Rounds of the digest worker: worked, or skipped while another replica worked",
    ["outcome"],
)
DIGESTS = Counter(
    "yanbao_digests",
    "Digests of new weekly notes by outcome (posted, held_quiet, held_cap, failed, dropped)",
    ["outcome"],
)

# known label values start at 0 so dashboards and rate() see them before the first event
for _stage in STAGES:
    STAGE_SECONDS.labels(stage=_stage)
for _kind in ("prompt", "completion"):
    LLM_TOKENS.labels(kind=_kind)
for _value in ("up", "down"):
    FEEDBACK.labels(value=_value)
for _outcome in ("worked", "busy"):
    DIGEST_ROUNDS.labels(outcome=_outcome)
for _outcome in ("posted", "held_quiet", "held_cap", "failed", "dropped"):
    DIGESTS.labels(outcome=_outcome)
for _mode in ("extractive", "llm"):
    for _found in ("true", "false"):
        ANSWERS.labels(mode=_mode, found=_found)


@contextlib.contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    """Observe the wall time of the block in yanbao_stage_seconds{stage}, even when it raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage=stage).observe(time.perf_counter() - start)


def observe_stage(stage: str, seconds: float) -> None:
    """For code that measures a stage itself (the searcher reports its own stage timings)."""
    STAGE_SECONDS.labels(stage=stage).observe(seconds)


def count_llm_usage(usage, outcome: str) -> None:
    """The LLM client's on_usage hook: tokens used, and failures by outcome."""
    LLM_TOKENS.labels(kind="prompt").inc(usage.prompt_tokens)
    LLM_TOKENS.labels(kind="completion").inc(usage.completion_tokens)
    if outcome != "ok":
        LLM_ERRORS.labels(reason=outcome).inc()


def record_answer(mode: str, found: bool) -> None:
    ANSWERS.labels(mode=mode, found="true" if found else "false").inc()


def set_index_size(reports: int, chunks: int) -> None:
    INDEX_REPORTS.set(reports)
    INDEX_CHUNKS.set(chunks)


def render_metrics() -> tuple[bytes, str]:
    """The default registry in the Prometheus text format: (body, content type)."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
