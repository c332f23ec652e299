"""Libraries the index tests open on homes of their own, closed after each test (tests/index/
conftest.py): one pytest process runs every test, and each embedded store holds files open."""

from __future__ import annotations

from pathlib import Path

from index.library import Library
from tests.helpers import make_settings

_opened: list[Library] = []


def open_library(home: Path, **env: str) -> Library:
    """A Library on `home` (settings as make_settings reads them, `env` added)."""
    library = Library(make_settings(home.parent, YANBAO_HOME=str(home), **env))
    _opened.append(library)
    return library


def close_opened() -> None:
    while _opened:
        _opened.pop().close()
