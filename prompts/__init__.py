"""Prompt templates, versioned with the code. `render("answer", question=..., context=...)`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

_DIR = Path(__file__).parent


@cache
def template(name: str) -> Template:
    path = _DIR / f"{name}.txt"
    if not path.is_file():
        raise KeyError(f"no prompt template {path}")
    return Template(path.read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    """Fill ${placeholders}; a missing value is an error, never an empty string."""
    return template(name).substitute({k: str(v) for k, v in values.items()})
