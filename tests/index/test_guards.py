"""Files that must not hang, exhaust memory or slip in empty (issue 15, sections 3 and 5).

Each hostile input runs through the real `yanbao index` command in a subprocess, with a timeout
that only guards against a hang (the old behaviour) and is never the assertion.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.errors import ReadError
from index.files import read_report_file
from index.library import Library
from tests.helpers import json_out, make_settings, run_yanbao, write_note

HANG_GUARD = 120  # seconds; a FIFO used to block forever


def failed_reasons(result) -> dict[str, str]:
    return {Path(f["path"]).name: f["error"] for f in json_out(result)["failed"]}


def test_a_fifo_named_like_a_note_is_refused_not_waited_on(tmp_path):
    folder = tmp_path / "inbox"
    write_note(folder / "real.txt", ["光模块周报：订单饱满", "本周光模块订单饱满，我们维持行业推荐评级。"])
    os.mkfifo(folder / "pipe.txt")
    result = run_yanbao(["index", str(folder), "--json"], tmp_path / "home", timeout=HANG_GUARD)
    assert result.returncode == 1, result.stderr
    assert json_out(result)["added"] == 1  # the real note is indexed all the same
    assert failed_reasons(result) == {
        "pipe.txt": "not a regular file (a FIFO (named pipe)): only regular files are read"
    }

    # named on the command line, too
    alone = run_yanbao(["index", str(folder / "pipe.txt"), "--json"], tmp_path / "home", timeout=HANG_GUARD)
    assert alone.returncode == 1 and "FIFO" in failed_reasons(alone)["pipe.txt"]


def test_a_symlink_to_dev_zero_is_refused_not_read_until_memory_runs_out(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "zero.txt").symlink_to("/dev/zero")
    summary = Library(make_settings(tmp_path)).index([folder / "zero.txt"], progress=False)
    assert [f.error for f in summary.failed] == [
        "not a regular file (a character device): only regular files are read"
    ]


def test_a_symlink_to_a_regular_note_is_read(tmp_path):
    note = write_note(tmp_path / "elsewhere" / "weekly.txt", ["光模块周报：订单饱满", "本周光模块订单饱满。"])
    (tmp_path / "link.txt").symlink_to(note)
    assert read_report_file(tmp_path / "link.txt") == note.read_bytes()


def test_a_60_mb_note_is_refused_at_once_naming_the_setting(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    big = folder / "huge.txt"
    with big.open("wb") as out:  # sparse: 60 MB long, nothing written to disk
        out.truncate(60_000_000)
    summary = Library(make_settings(tmp_path)).index([big], progress=False)
    assert [f.error for f in summary.failed] == [
        "too large (60.0 MB; the limit is 50 MB, set YANBAO_MAX_FILE_MB to change it)"
    ]


def test_the_size_cap_is_a_setting(tmp_path):
    note = write_note(
        tmp_path / "inbox" / "long.txt", ["长篇周报", "本周光模块订单饱满，我们维持行业推荐评级。" * 4_000]
    )
    library = Library(make_settings(tmp_path, YANBAO_MAX_FILE_MB="0.1"))
    summary = library.index([note], progress=False)
    assert [f.error for f in summary.failed] == [
        "too large (0.3 MB; the limit is 0.1 MB, set YANBAO_MAX_FILE_MB to change it)"
    ]
    assert Library(make_settings(tmp_path, YANBAO_MAX_FILE_MB="1")).index([note], progress=False).added == 1


def test_a_file_longer_than_its_stated_size_is_still_capped():
    # /proc files say they are empty and then produce text: the cap holds while reading too
    with pytest.raises(ReadError, match=r"maps: too large \(more than 0.001 MB; the limit is 0.001 MB"):
        read_report_file(Path("/proc/self/maps"), limit=1000)


@pytest.mark.parametrize(
    ("lines", "shown"),
    [
        (["光模块周报"], "光模块周报"),  # one line, a title
        (["【中泰电子】周跟踪(20250106-20250112)", "一、行业动向"], "【中泰电子】周跟踪(20250106-20250112)"),
    ],
)
def test_a_note_with_only_a_heading_fails_clearly_instead_of_zero_chunks(tmp_path, lines, shown):
    note = write_note(tmp_path / "inbox" / "title-only.txt", lines)
    summary = Library(make_settings(tmp_path)).index([note], progress=False)
    assert summary.added == 0 and summary.chunks == 0
    assert [f.error for f in summary.failed] == [f"no report text, only a title or heading ({shown!r})"]


def test_a_one_sentence_note_is_indexed(tmp_path):
    note = write_note(tmp_path / "inbox" / "one-line.txt", ["本周光模块订单饱满，我们维持行业推荐评级。"])
    summary = Library(make_settings(tmp_path)).index([note], progress=False)
    assert (summary.added, summary.chunks, summary.failed) == (1, 1, [])
