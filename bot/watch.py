"""`yanbao index --watch DIR`: index a folder, then keep indexing what is dropped into it.

The folder is looked at every `interval` seconds (polling works on every file system, network
volumes and Kubernetes volumes included, where change notifications often do not). A new or
changed file is indexed once its size and modification time held still between two looks, so a
PDF still being copied is not read half-written. With `prune`, a report whose file was deleted is
removed from the index. Each run takes the shared index lock, like `yanbao index`; the serving
replicas notice the new reports through the store and post their digests.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from index.pipeline import discover, report_id_for
from index.summary import IndexSummary

log = logging.getLogger("yanbao.watch")

Stat = tuple[int, int]  # (size, mtime in ns)


def snapshot(roots: list[Path]) -> dict[Path, Stat]:
    """The report files under `roots` with their size and modification time."""
    out: dict[Path, Stat] = {}
    for file, _root in discover(roots):
        try:
            st = os.stat(file)
        except OSError:  # deleted between the listing and now
            continue
        out[file.resolve()] = (st.st_size, st.st_mtime_ns)
    return out


class FolderWatch:
    """What changed in the folders since the last look: files ready to index (new or changed, and
    still since the look before), and files gone."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots
        self.indexed: dict[Path, Stat] = {}
        self.previous: dict[Path, Stat] = {}

    def look(self) -> tuple[list[Path], list[Path]]:
        current = snapshot(self.roots)
        ready = [p for p, st in current.items() if self.previous.get(p) == st and self.indexed.get(p) != st]
        gone = [p for p in self.indexed if p not in current]
        self.previous = current
        return sorted(ready), gone

    def done(self, files: list[Path], gone: list[Path]) -> None:
        for file in files:
            if file in self.previous:
                self.indexed[file] = self.previous[file]
        for file in gone:
            self.indexed.pop(file, None)


def watch(
    service,
    roots: list[Path],
    *,
    interval: float,
    prune: bool,
    report: Callable[[IndexSummary], None],
    stop: threading.Event | None = None,
) -> None:
    """Index `roots`, then every `interval` seconds what was added, changed or (with `prune`)
    deleted, until `stop` is set; `report` gets each run's summary."""
    stop = stop or threading.Event()
    folders = FolderWatch(roots)
    folders.look()
    with service.state.lock("index"):
        first = service.library.index(list(roots), prune=prune, progress=False)
    folders.done(list(folders.previous), [])
    report(first)
    while not stop.wait(interval):
        try:
            ready, gone = folders.look()
            if not ready and not (gone and prune):
                continue
            with service.state.lock("index"):
                summary = service.library.index(ready, progress=False) if ready else IndexSummary()
                if prune:  # the operator's own watch: no admin check, and the lock is held already
                    for file in gone:
                        if service.library.remove(report_id_for(str(file))):
                            summary.removed += 1
            folders.done(ready, gone)
            report(summary)
        except Exception:  # a bad moment (a folder unmounted) is logged; the watch goes on
            log.exception(
                "watching the report folders failed this time", extra={"roots": [str(r) for r in roots]}
            )
