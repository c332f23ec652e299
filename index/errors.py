"""The error every reader raises for a file it cannot read: one line naming the file and the reason."""

from __future__ import annotations

from pathlib import Path


class ReadError(Exception):
    """A file that cannot be read; str() is one line, e.g. 'reports/x.pdf: password-protected PDF'."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        # Reasons can carry library messages with newlines; the indexer prints one line per bad file.
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")
