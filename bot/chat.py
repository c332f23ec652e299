"""What every chat adapter shares: quoting the clause a citation supports, checking and naming
uploaded files, and showing a streamed answer at a pace the platform's rate limits allow."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from index.normalize import search_form
from index.readers import SUPPORTED_SUFFIXES
from index.text import sentences

QUOTE_CHARS = 280
ACK_PRIORITY_SECONDS = 1.0  # the longest answer work waits for acknowledgements in progress
ACK_QUIET_SECONDS = 0.05  # how long without an acknowledgement ends a burst
STREAM_UPDATE_SECONDS = 1.0  # Slack's chat.update and Feishu's message patch are both rate limited
INDEXABLE_EXTENSIONS = SUPPORTED_SUFFIXES

_MARKER = re.compile(r"\[(\d+)\]")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cited_clauses(answer_text: str, n: int) -> str:
    """The sentences of the answer that carry the marker [n], markers removed."""
    marker = f"[{n}]"
    picked = [s for s in sentences(answer_text) if marker in s]
    return _MARKER.sub("", " ".join(picked)).strip()


def _bigrams(text: str) -> set[str]:
    folded = re.sub(r"\s+", "", search_form(text))
    return {folded[i : i + 2] for i in range(len(folded) - 1)}


def quote_around(paragraph: str, clause: str, limit: int = QUOTE_CHARS) -> str:
    """The part of `paragraph` around the sentence that best matches `clause`, at most `limit`
    characters, with … where it was cut. Without a clause, the paragraph's beginning."""
    paragraph = re.sub(r"[ \t]+", " ", paragraph.strip())
    if len(paragraph) <= limit:
        return paragraph
    units = sentences(paragraph)
    if not units:
        return clip(paragraph, limit)
    wanted = _bigrams(clause) if clause else set()
    best = 0
    if wanted:
        scores = [len(wanted & _bigrams(s)) / (1 + len(_bigrams(s)) ** 0.5) for s in units]
        best = max(range(len(units)), key=lambda i: scores[i])
    first = last = best
    length = len(units[best])
    if length > limit:  # one long sentence: keep its part that overlaps the clause most
        return _window_in_sentence(units[best], wanted, limit, at_start=best == 0)
    grew = True
    while grew:
        grew = False
        if last + 1 < len(units) and length + len(units[last + 1]) <= limit:
            last += 1
            length += len(units[last])
            grew = True
        if first > 0 and length + len(units[first - 1]) <= limit:
            first -= 1
            length += len(units[first])
            grew = True
    text = "".join(units[first : last + 1]).strip()
    if first > 0:
        text = "…" + text
    if last < len(units) - 1:
        text += "…"
    return text


def _window_in_sentence(sentence: str, wanted: set[str], limit: int, *, at_start: bool) -> str:
    width = limit - 2
    best_start, best_score = 0, -1
    step = max(1, width // 4)
    for start in range(0, max(1, len(sentence) - width + 1), step):
        score = len(wanted & _bigrams(sentence[start : start + width]))
        if score > best_score:
            best_start, best_score = start, score
    text = sentence[best_start : best_start + width].strip()
    if best_start > 0 or not at_start:
        text = "…" + text
    if best_start + width < len(sentence):
        text += "…"
    return text


def describe_size(size: float) -> str:
    mb = size / 1_000_000
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{size / 1000:.0f} kB"


def safe_file_name(name: str) -> str:
    """A file name that stays inside the uploads folder and keeps CJK characters."""
    stem = re.sub(r"[^\w.\-\u3400-\u9fff]+", "_", Path(name).name).strip("._") or "upload"
    return stem[:120]


class StreamIntoMessage:
    """The on_text callback: shows the growing answer, at most once per STREAM_UPDATE_SECONDS."""

    def __init__(self, show: Callable[[str], Any], interval: float = STREAM_UPDATE_SECONDS) -> None:
        self._show = show
        self._interval = interval
        self._last = time.monotonic()  # the "searching…" message was just posted
        self._closed = False
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        with self._lock:
            now = time.monotonic()
            if self._closed or now - self._last < self._interval or not text.strip():
                return
            self._last = now
            self._show(text)

    def close(self) -> None:
        with self._lock:
            self._closed = True


class AckGate:
    """Acknowledgements first: a server holds the gate while it acknowledges a request, and answer
    work waits (at most `max_wait`) until no acknowledgement is in flight and none ended in the last
    `quiet` seconds, i.e. until a burst is over. Answers started during a burst would take the
    interpreter from the acknowledgements the platform is waiting for (Slack and Feishu both want
    one within 3 s; a burst's acknowledgements are handled one after another, so "none in flight"
    alone is true between every two of them)."""

    def __init__(self, max_wait: float = ACK_PRIORITY_SECONDS, quiet: float = ACK_QUIET_SECONDS) -> None:
        self.max_wait = max_wait
        self.quiet = quiet
        self._in_flight = 0
        self._last_ack = 0.0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._in_flight += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._in_flight -= 1
            self._last_ack = time.monotonic()
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_until_idle(self) -> None:
        deadline = time.monotonic() + self.max_wait
        with self._idle:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return
                quiet_for = now - self._last_ack
                if self._in_flight == 0 and quiet_for >= self.quiet:
                    return
                wait = self.quiet - quiet_for if self._in_flight == 0 else deadline - now
                self._idle.wait(min(wait, deadline - now))


def worker_pool(threads: int, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads all exist before the first event: ThreadPoolExecutor starts a
    thread inside submit(), on the acknowledgement path, and under a burst on a busy machine that
    cost every acknowledgement of the burst tens of milliseconds."""
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
    everyone = threading.Barrier(threads + 1)
    for _ in range(threads):
        pool.submit(everyone.wait, 10)
    everyone.wait(10)
    return pool
