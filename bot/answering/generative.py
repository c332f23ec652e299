"""Answers from an OpenAI-compatible LLM over numbered context paragraphs, verified before use.

Anything that goes wrong (endpoint down, timeout, garbage, no valid citation left after
verification) returns None with a reason, and the caller falls back to the extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.answer import Answer, Citation
from bot.answering.verify import inert, renumber, verify_answer
from bot.llm import LLMClient, LLMError
from index.lexicon import Lexicon
from index.records import Hit
from prompts import render

log = logging.getLogger("yanbao.answer")

CONTEXT_PARAGRAPHS = 6
NOT_FOUND = "NOT_FOUND"


@dataclass
class Attempt:
    answer: Answer | None
    problem: str | None = None  # why the LLM answer was not usable


def quoted(text: str) -> str:
    """Note text as the LLM sees it: data, never markup. Its own "[1]" markers and anything that
    looks like a tag (</context>, <|im_start|>) lose their brackets, so the text cannot close the
    quotation, open a new role or forge a citation."""
    return inert(text).replace("<", "‹").replace(">", "›")


def numbered_context(citations: list[Citation]) -> str:
    blocks = []
    for c in citations:
        head = " · ".join(quoted(part) for part in (c.title, c.broker, c.date) if part)
        blocks.append(f'<paragraph n="{c.n}">\n[{c.n}] {head}\n{quoted(c.text)}\n</paragraph>')
    return "\n\n".join(blocks)


@dataclass
class Chosen:
    """The text an answer shows: the LLM's when a cited point of it survived verification, else
    the extractive one (`fallback` says why). `dropped`: what verification took out of the LLM's."""

    text: str
    mode: str = "extractive"
    model: str | None = None
    fallback: str | None = None
    dropped: list[str] = field(default_factory=list)


def prefer_verified(
    generated: str | None, extractive: str, citations: list[Citation], lexicon: Lexicon, llm: LLMClient | None
) -> Chosen:
    if llm is None:
        return Chosen(extractive)
    if not generated:
        return Chosen(extractive, fallback="LLM unavailable")
    verified = verify_answer(generated, citations, lexicon)
    if not verified.cited:
        return Chosen(
            extractive, fallback="the LLM's text had no supported, cited point", dropped=verified.dropped
        )
    return Chosen(verified.text, "llm", llm.model, dropped=verified.dropped)


def answer_with_llm(
    client: LLMClient,
    question: str,
    hits: list[Hit],
    lexicon: Lexicon,
    *,
    on_text: Callable[[str], None] | None = None,
) -> Attempt:
    citations = [Citation.from_hit(n, hit) for n, hit in enumerate(hits[:CONTEXT_PARAGRAPHS], start=1)]
    messages = [
        {"role": "system", "content": render("system")},
        {"role": "user", "content": render("answer", question=question, context=numbered_context(citations))},
    ]
    try:
        text = client.complete(messages, on_text)
    except LLMError as exc:
        return Attempt(None, f"LLM unavailable: {exc}")
    if not text:
        return Attempt(None, "LLM returned an empty answer")
    if text.startswith(NOT_FOUND) or text == NOT_FOUND:
        return Attempt(Answer(question, "", "llm", found=False, model=client.model))
    verified = verify_answer(text, citations, lexicon)
    if not verified.cited or not re.search(r"\w", verified.text):
        return Attempt(None, "LLM answer had no supported, cited sentence")
    final_text, used = renumber(verified.text, citations, verified.cited)
    answer = Answer(
        question, final_text, "llm", found=True, citations=used, dropped=verified.dropped, model=client.model
    )
    return Attempt(answer)


def rewrite_queries(client: LLMClient, question: str, limit: int = 3) -> list[str]:
    """Chinese search queries for a question (multi-query). Failures return [] silently: the
    offline path stands on its own."""
    try:
        result = client.chat(
            [{"role": "user", "content": render("query_rewrite", question=question)}], max_tokens=120
        )
    except LLMError as exc:
        log.info("query rewrite skipped", extra={"reason": str(exc)})
        return []
    lines = [re.sub(r"^[\s\-*\d.、)）]+", "", line).strip() for line in result.text.splitlines()]
    return [line for line in lines if line and len(line) <= 80][:limit]
