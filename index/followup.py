"""Follow-up questions in a conversation: "and for IDC?" after the edge-compute question keeps the
broker, the dates, the report and the kind of question (a stock list) of the turn before it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from index.query import QueryPlan

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|same for|and for|and in|what of|那|那么|还有|另外|再|同样|那.{0,6}呢)",
    re.IGNORECASE,
)
_ENDS_WITH_NE = re.compile(r"呢[?？]?\s*$")


@dataclass
class Turn:
    question: str
    broker: str | None = None
    since: str | None = None
    until: str | None = None
    kind: str | None = None
    wants_list: bool = False
    intent_terms: list[str] = field(default_factory=list)
    report_ids: list[str] = field(default_factory=list)
    found: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Turn:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def is_follow_up(question: str, plan: QueryPlan) -> bool:
    """Short questions that lean on the previous one: "and for IDC?", "那光模块呢?", "what about AEC"."""
    if _FOLLOW_UP_START.search(question) or _ENDS_WITH_NE.search(question):
        return True
    short = len(question) <= 24 if re.search(r"[\u4e00-\u9fff]", question) else len(question.split()) <= 5
    return short and plan.broker is None and not plan.companies and not plan.wants_list


def apply_history(plan: QueryPlan, previous: Turn) -> list[str]:
    """Fill what the follow-up leaves open from the previous turn; returns the previous report ids
    to search first."""
    plan.broker = plan.broker or previous.broker
    if not (plan.since or plan.until):
        plan.since, plan.until = previous.since, previous.until
    plan.kind = plan.kind or previous.kind
    plan.wants_list = plan.wants_list or previous.wants_list
    for term in previous.intent_terms:
        if term not in plan.terms:
            plan.terms.append(term)
    return list(previous.report_ids)
