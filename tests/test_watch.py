"""`yanbao index --watch DIR`: indexes the folder, then what is dropped into it, and (with --prune)
removes what is deleted. The rule that a file still being written waits is checked on FolderWatch
itself, look by look, without sleeping."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bot.watch import FolderWatch
from index.pipeline import report_id_for
from tests.fakes.processes import YanbaoProcess, logs_on_failure, start_yanbao
from tests.helpers import FIXTURES, json_out, run_yanbao

WEEK1 = FIXTURES / "shanxi_telecom_weekly_20250113.txt"
WEEK2 = FIXTURES / "shanxi_telecom_weekly_20250120.txt"


def summaries(watcher: YanbaoProcess) -> list[dict]:
    """The --json summary lines the watcher printed so far."""
    return [json.loads(line) for line in watcher.log_text().splitlines() if line.startswith('{"added"')]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g}s: {what}")
        time.sleep(0.1)
    return value


def test_a_file_is_ready_once_it_held_still_between_two_looks(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    watch = FolderWatch([folder])
    assert watch.look() == ([], [])
    note = folder / "weekly.txt"
    note.write_bytes(WEEK1.read_bytes()[:200])  # a copy under way
    assert watch.look() == ([], [])  # just appeared: maybe still being written
    with note.open("ab") as grows:
        grows.write(WEEK1.read_bytes()[200:])
    assert watch.look() == ([], [])  # it changed since the last look: still being written
    ready, gone = watch.look()
    assert ready == [note.resolve()] and gone == []
    watch.done(ready, gone)
    assert watch.look() == ([], [])  # indexed: nothing to do until it changes again
    note.unlink()
    assert watch.look() == ([], [note.resolve()])


def test_index_watch_indexes_what_arrives_and_prunes_what_is_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / WEEK1.name).write_bytes(WEEK1.read_bytes())
    home = tmp_path / "home"
    watcher = start_yanbao(
        "watcher",
        ["index", "--watch", str(folder), "--interval", "0.3", "--prune", "--json"],
        home,
        tmp_path / "watcher.log",
    )
    try:
        with logs_on_failure(watcher):
            first = wait_for(lambda: summaries(watcher), 120, "the first index run")
            assert first[0]["added"] == 1
            arrived = folder / WEEK2.name
            arrived.write_bytes(WEEK2.read_bytes())
            wait_for(lambda: len(summaries(watcher)) >= 2, 60, "the new note indexed")
            assert summaries(watcher)[1]["added"] == 1
            (folder / WEEK1.name).unlink()
            wait_for(lambda: len(summaries(watcher)) >= 3, 60, "the deleted note removed")
            assert summaries(watcher)[2]["removed"] == 1
            watcher.process.terminate()
            assert watcher.wait(30) == 0
    finally:
        watcher.stop()
    listed = json_out(run_yanbao(["reports", "--json"], home))
    assert [r["id"] for r in listed] == [report_id_for(str(arrived.resolve()))]
