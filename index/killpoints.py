"""Named steps where a crash test can kill the process for real (YANBAO_KILL_AT).

The crash tests run `yanbao` with YANBAO_KILL_AT=<step> (or <step>:<n>, the n-th time the step is
reached) and the process sends itself SIGKILL there: nothing is caught, nothing is flushed, exactly
as if the machine went down. The code under test is the product's, unchanged; unset, a kill point
is one comparison.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_target: tuple[str, int] | None = None
_reached: Counter[str] = Counter()


def arm(spec: str | None) -> None:
    """Kill the process at the step `spec` names ("store.committed" or "store.committed:2")."""
    global _target
    _reached.clear()
    if not spec:
        _target = None
        return
    name, _, nth = spec.partition(":")
    _target = (name.strip(), int(nth) if nth.strip() else 1)


def kill_point(name: str) -> None:
    if _target is None or _target[0] != name:
        return
    _reached[name] += 1
    if _reached[name] >= _target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
