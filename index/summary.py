"""What an indexing run did, as counts a person or a script can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from index.records import Report


@dataclass
class Failure:
    path: str
    error: str


@dataclass
class IndexSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks written by this run
    pages: int = 0  # pages of the paged reports (PDF) written by this run
    failed: list[Failure] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)  # reports added or updated by this run
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def files(self) -> int:
        """Files this run looked at: indexed, skipped as unchanged, or failed."""
        return self.added + self.updated + self.unchanged + len(self.failed)

    def rate(self, count: int) -> float | None:
        return count / self.seconds if self.seconds > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "chunks": self.chunks,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
        }
