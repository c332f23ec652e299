"""Reading a report file from disk: regular files only, never more than a size cap.

A FIFO named `weekly.txt` would block `open()` forever (holding the index lock), and a symlink to
/dev/zero would read until memory runs out; a huge file would hold the lock for a very long time.
Each is refused with one line that names the file, and for size, the setting that changes the cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from index.errors import ReadError

MAX_FILE_SETTING = "YANBAO_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB = 50.0
_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def max_bytes(max_file_mb: float) -> int:
    return int(max_file_mb * 1_000_000)


def read_report_file(path: Path, limit: int = max_bytes(DEFAULT_MAX_FILE_MB)) -> bytes:
    """The bytes of `path`, a regular file (a symlink to one is fine) of at most `limit` bytes."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ReadError(path, f"cannot open ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise ReadError(path, f"not a regular file ({kind}): only regular files are read")
        if info.st_size > limit:
            raise ReadError(path, _too_large(info.st_size, limit))
        parts: list[bytes] = []
        size = 0
        while True:  # read to the end, but never past the cap (the file may be growing)
            part = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
            if size > limit:
                raise ReadError(path, _too_large(size, limit, growing=True))
        return b"".join(parts)
    except OSError as exc:
        raise ReadError(path, f"cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _too_large(size: int, limit: int, growing: bool = False) -> str:
    shown = f"more than {limit / 1e6:g} MB" if growing else f"{size / 1e6:.1f} MB"
    return f"too large ({shown}; the limit is {limit / 1e6:g} MB, set {MAX_FILE_SETTING} to change it)"
