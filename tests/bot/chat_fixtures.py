"""What the chat tests index and ask, from notes the project owns (samples/: invented notes in the
shapes of real ones), so they run on a plain clone without ../shared."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOTES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".txt", ".html"))
WEEKLY_TITLE = "【国盛计算机】周报(20241223-20241229)：AI Agent元年将至，国产算力与端侧AI共振"
# asked, and what the answer must name (the weekly's recommendation paragraph lists them)
QUESTION = "国盛计算机推荐哪些AI Agent标的？"
ANSWER_NAMES = ("金山办公", "科大讯飞")
# an LLM that streams a supported sentence, then one naming a stock no cited paragraph contains
LLM_PIECES = [
    "国盛证券建议关注AI Agent：",
    "金山办公、",
    "科大讯飞、",
    "万兴科技 [1]。",
    "另外首推贵州茅台 [1]。",
]
UNSUPPORTED_NAME = "贵州茅台"


def copy_notes(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(note, folder / note.name)) for note in NOTES]


def cites_paragraph_with(request: dict, words: str) -> str:
    """The marker ("[2]") of the context paragraph containing `words` in an LLM request, as a model
    that read its context would cite it (the order of the paragraphs is the search's business).
    Each paragraph starts with its marker on a line of its own ("[2] title · broker · date")."""
    context = request["messages"][-1]["content"]
    marker = "[1]"
    for line in context.splitlines():
        found = re.match(r"^\[(\d+)\] ", line)
        if found:
            marker = f"[{found.group(1)}]"
        elif words in line:
            return marker
    return "[1]"


def streaming_llm(pieces: list[str], delay: float = 0.3):
    """A responder for FakeOpenAIServer: streams `pieces` (their [1] pointing at the recommendation
    paragraph) for answers, and answers query rewrites with the question itself."""
    from tests.fakes.openai_server import Stream

    def respond(request: dict):
        if not request.get("stream"):
            return QUESTION
        marker = cites_paragraph_with(request, ANSWER_NAMES[0])
        return Stream([p.replace("[1]", marker) for p in pieces], delay=delay)

    return respond
