"""State shared by every bot process: event de-duplication, conversation history, feedback, locks,
and small durable records (subscriptions, channel scopes, the digest queue) with day counters.

SQLite under YANBAO_HOME on a single box; Redis when YANBAO_REDIS_URL is set, so several replicas
agree on which events were already answered, which digests were posted, and only one of them
indexes at a time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from index.redact import redact_url

log = logging.getLogger(__name__)

HISTORY_TTL_SECONDS = 86400
DEFAULT_CLAIM_TTL_SECONDS = 7 * 86400
REDIS_PREFIX = "yanbao:"
# how often a waiting lock retries; jittered so replicas do not retry in step
_LOCK_POLL_SECONDS = 0.05
# how often a waiter says again that it is still waiting
LOCK_NOTICE_SECONDS = 15.0


def lock_holder() -> str:
    """Who this process is, as a lock's holder is shown to those waiting for it."""
    import socket
    import sys

    command = " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:120] or "python"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    return f"pid {os.getpid()} on {socket.gethostname()} ({command}), since {since}"


class _Waiting:
    """Tells `on_wait` who holds a lock: when the wait starts, then every LOCK_NOTICE_SECONDS."""

    def __init__(self, on_wait: Callable[[str], None] | None) -> None:
        self.on_wait = on_wait
        self.next_notice = 0.0

    def busy(self, holder: Callable[[], str | None]) -> None:
        now = time.monotonic()
        if self.on_wait is not None and now >= self.next_notice:
            self.next_notice = now + LOCK_NOTICE_SECONDS
            self.on_wait(holder() or "another process")


def _now() -> float:
    """Wall-clock seconds; one seam so tests can age history without touching the time module."""
    return time.time()


class LockTimeout(TimeoutError):
    """Another process or replica held the lock for longer than the caller was willing to wait."""

    def __init__(self, name: str, timeout: float | None = None, holder: str | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.holder = holder
        waited = f" within {timeout:g}s" if timeout is not None else ""
        by = holder or "another process"
        super().__init__(f"lock {name!r} is held by {by}; not acquired{waited}")


class StateError(RuntimeError):
    """The state backend cannot be opened or reached; the message names the setting or path."""


class StateStore(Protocol):
    def claim(self, key: str, ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS) -> bool:
        """Atomically mark `key` seen; True only the first time, across processes and restarts."""
        ...

    def get_history(self, conversation: str) -> list[dict]:
        """The last turns of a conversation, oldest first."""
        ...

    def append_history(self, conversation: str, turn: dict, keep: int = 6) -> None:
        """Add a turn, keep the last `keep`; turns expire after a day."""
        ...

    def release(self, key: str) -> None:
        """Forget a claim, so `key` may be claimed again (a digest whose post failed)."""
        ...

    def add_feedback(self, record: dict) -> None: ...

    def list_feedback(self) -> list[dict]: ...

    def put_record(self, kind: str, key: str, value: dict) -> None:
        """Store a small JSON record under (kind, key), replacing any; records never expire."""
        ...

    def get_record(self, kind: str, key: str) -> dict | None: ...

    def delete_record(self, kind: str, key: str) -> bool:
        """Remove a record; True when there was one."""
        ...

    def records(self, kind: str) -> dict[str, dict]:
        """Every record of a kind, by key."""
        ...

    def count(self, key: str, add: int = 0, ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS) -> int:
        """Add `add` to a counter (created at 0, expiring `ttl_seconds` after it is created) and
        return its value; count(key) reads it."""
        ...

    def lock(
        self, name: str, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Mutual exclusion across processes and replicas; raises LockTimeout(name) after `timeout`.
        While another holds it, `on_wait(holder)` is told who ("pid 123 on host (yanbao index
        /reports), since …"), at once and then every LOCK_NOTICE_SECONDS."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def open_state(settings: Any) -> StateStore:
    """Redis when settings.redis_url is set, else SQLite at settings.state_dir/state.sqlite3."""
    if getattr(settings, "redis_url", None):
        # keys follow YANBAO_NAMESPACE, so teams sharing one Redis share no locks or event ids
        return RedisState(settings.redis_url, prefix=f"{getattr(settings, 'namespace', 'yanbao')}:")
    return SQLiteState(Path(settings.state_dir) / "state.sqlite3")


def _read_holder(path: Path) -> str | None:
    """What the holder of a file lock wrote into it (see lock_holder)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text.splitlines()[0] if text else None


def _feedback_record(record: dict) -> dict:
    if "ts" in record:
        return dict(record)
    return {"ts": _now(), **record}


# --------------------------------------------------------------------------------------- SQLite


class SQLiteState:
    """State in one SQLite file (WAL, one connection per thread) plus fcntl file locks beside it."""

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS claims_expires ON claims (expires);
        CREATE TABLE IF NOT EXISTS history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation TEXT NOT NULL,
            turn TEXT NOT NULL,
            created REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS history_conversation ON history (conversation, id);
        CREATE TABLE IF NOT EXISTS feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            record TEXT NOT NULL,
            created REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS records (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        );
        CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL);
    """
    # prune expired rows on roughly one write in this many
    _PRUNE_EVERY = 200

    def __init__(
        self, path: str | os.PathLike[str], *, lock_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.path = Path(path)
        self.lock_dir = Path(lock_dir) if lock_dir is not None else self.path.parent / "locks"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.lock_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the state folder {self.path.parent}: {exc}") from exc
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        try:
            # executescript commits on its own, so it runs outside _write()
            self._connection().executescript(self._SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot initialise the state database {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StateError(f"state store {self.path} is closed")
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StateError(f"cannot open the state database {self.path}: {exc}") from exc
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def _maybe_prune(self, db: sqlite3.Connection, now: float) -> None:
        if random.randrange(self._PRUNE_EVERY) == 0:
            db.execute("DELETE FROM claims WHERE expires <= ?", (now,))
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))
            db.execute("DELETE FROM history WHERE created <= ?", (now - HISTORY_TTL_SECONDS,))

    def claim(self, key: str, ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS) -> bool:
        now = _now()
        with self._write() as db:
            # an expired claim is as good as none: the key may be claimed again
            db.execute("DELETE FROM claims WHERE key = ? AND expires <= ?", (key, now))
            cursor = db.execute(
                "INSERT OR IGNORE INTO claims (key, expires) VALUES (?, ?)", (key, now + ttl_seconds)
            )
            self._maybe_prune(db, now)
            return cursor.rowcount == 1

    def release(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM claims WHERE key = ?", (key,))

    def put_record(self, kind: str, key: str, value: dict) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO records (kind, key, value) VALUES (?, ?, ?)",
                (kind, key, json.dumps(value, ensure_ascii=False)),
            )

    def get_record(self, kind: str, key: str) -> dict | None:
        row = (
            self._connection()
            .execute("SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def delete_record(self, kind: str, key: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key)).rowcount == 1

    def records(self, kind: str) -> dict[str, dict]:
        rows = (
            self._connection()
            .execute("SELECT key, value FROM records WHERE kind = ? ORDER BY key", (kind,))
            .fetchall()
        )
        return {key: json.loads(value) for key, value in rows}

    def count(self, key: str, add: int = 0, ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS) -> int:
        now = _now()
        with self._write() as db:
            db.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
            if add:
                db.execute(
                    "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                    (key, add, now + ttl_seconds),
                )
            row = db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
            return int(row[0]) if row else 0

    def get_history(self, conversation: str) -> list[dict]:
        cutoff = _now() - HISTORY_TTL_SECONDS
        rows = (
            self._connection()
            .execute(
                "SELECT turn FROM history WHERE conversation = ? AND created > ? ORDER BY id",
                (conversation, cutoff),
            )
            .fetchall()
        )
        return [json.loads(row[0]) for row in rows]

    def append_history(self, conversation: str, turn: dict, keep: int = 6) -> None:
        now = _now()
        with self._write() as db:
            db.execute(
                "INSERT INTO history (conversation, turn, created) VALUES (?, ?, ?)",
                (conversation, json.dumps(turn, ensure_ascii=False), now),
            )
            db.execute(
                "DELETE FROM history WHERE conversation = ? AND id NOT IN "
                "(SELECT id FROM history WHERE conversation = ? ORDER BY id DESC LIMIT ?)",
                (conversation, conversation, max(keep, 0)),
            )
            self._maybe_prune(db, now)

    def add_feedback(self, record: dict) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO feedback (record, created) VALUES (?, ?)",
                (json.dumps(_feedback_record(record), ensure_ascii=False), _now()),
            )

    def list_feedback(self) -> list[dict]:
        rows = self._connection().execute("SELECT record FROM feedback ORDER BY id").fetchall()
        return [json.loads(row[0]) for row in rows]

    def _lock_path(self, name: str) -> Path:
        # names are free text ("index", "index:/reports"); the file name must not be
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]
        return self.lock_dir / f"{safe}-{digest}.lock"

    @contextlib.contextmanager
    def lock(
        self, name: str, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        path = self._lock_path(name)
        # a separate open file per acquisition: flock excludes other descriptions, even in-process
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + max(timeout, 0.0)
            waiting = _Waiting(on_wait)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(name, timeout, _read_holder(path)) from None
                    waiting.busy(lambda: _read_holder(path))
                    time.sleep(_LOCK_POLL_SECONDS * (0.5 + random.random()))
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{lock_holder()}\n".encode())
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def ping(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
            return True
        except (sqlite3.Error, StateError):
            return False

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for db in connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def __repr__(self) -> str:
        return f"SQLiteState({str(self.path)!r})"


# ---------------------------------------------------------------------------------------- Redis

# delete / extend the lock only while it still holds our token: never release another owner's lock
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisState:
    """State in Redis under the `yanbao:` prefix; safe for any number of replicas."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = REDIS_PREFIX,
        lock_lease_seconds: float = 60.0,
        socket_timeout: float = 5.0,
    ) -> None:
        import redis  # imported here so SQLite-only installs never need a Redis server

        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.url_for_display = redact_url(url)
        self.prefix = prefix
        self.lock_lease_seconds = lock_lease_seconds
        try:
            self._client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise StateError(f"YANBAO_REDIS_URL={self.url_for_display!r}: {exc}") from exc
        self._release = self._client.register_script(_RELEASE_SCRIPT)
        self._renew = self._client.register_script(_RENEW_SCRIPT)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def claim(self, key: str, ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS) -> bool:
        return bool(self._client.set(self._key("claim", key), "1", nx=True, ex=max(int(ttl_seconds), 1)))

    def release(self, key: str) -> None:
        self._client.delete(self._key("claim", key))

    def put_record(self, kind: str, key: str, value: dict) -> None:
        self._client.hset(self._key("records", kind), key, json.dumps(value, ensure_ascii=False))

    def get_record(self, kind: str, key: str) -> dict | None:
        raw = self._client.hget(self._key("records", kind), key)
        return json.loads(raw) if raw else None

    def delete_record(self, kind: str, key: str) -> bool:
        return bool(self._client.hdel(self._key("records", kind), key))

    def records(self, kind: str) -> dict[str, dict]:
        raw = self._client.hgetall(self._key("records", kind))
        return {str(key): json.loads(raw[key]) for key in sorted(raw)}

    def count(self, key: str, add: int = 0, ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS) -> int:
        name = self._key("count", key)
        if not add:
            return int(self._client.get(name) or 0)
        pipe = self._client.pipeline(transaction=True)
        pipe.set(name, 0, nx=True, ex=max(int(ttl_seconds), 1))  # the first add sets the lifetime
        pipe.incrby(name, add)
        _, value = pipe.execute()
        return int(value)

    def get_history(self, conversation: str) -> list[dict]:
        cutoff = _now() - HISTORY_TTL_SECONDS
        turns = []
        for raw in self._client.lrange(self._key("history", conversation), 0, -1):
            item = json.loads(raw)
            if item.get("created", 0) > cutoff:
                turns.append(item["turn"])
        return turns

    def append_history(self, conversation: str, turn: dict, keep: int = 6) -> None:
        key = self._key("history", conversation)
        item = json.dumps({"created": _now(), "turn": turn}, ensure_ascii=False)
        pipe = self._client.pipeline(transaction=True)
        pipe.rpush(key, item)
        if keep > 0:
            pipe.ltrim(key, -keep, -1)
        else:
            pipe.delete(key)
        pipe.expire(key, HISTORY_TTL_SECONDS)
        pipe.execute()

    def add_feedback(self, record: dict) -> None:
        self._client.rpush(self._key("feedback"), json.dumps(_feedback_record(record), ensure_ascii=False))

    def list_feedback(self) -> list[dict]:
        return [json.loads(raw) for raw in self._client.lrange(self._key("feedback"), 0, -1)]

    @contextlib.contextmanager
    def lock(
        self, name: str, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        key = self._key("lock", name)
        # the value is unique to this holder and says who it is, for those who wait
        token = f"{uuid.uuid4().hex} {lock_holder()}"
        lease_ms = int(self.lock_lease_seconds * 1000)
        deadline = time.monotonic() + max(timeout, 0.0)
        waiting = _Waiting(on_wait)

        def holder() -> str | None:
            try:
                value = self._client.get(key)
            except self._redis_errors:
                return None
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            return value.split(" ", 1)[1] if value and " " in value else None

        while not self._client.set(key, token, nx=True, px=lease_ms):
            if time.monotonic() >= deadline:
                raise LockTimeout(name, timeout, holder())
            waiting.busy(holder)
            time.sleep(_LOCK_POLL_SECONDS * (0.5 + random.random()))

        # a short lease renewed while we work: a crashed holder frees the lock within one lease
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lock_lease_seconds / 3):
                try:
                    if not self._renew(keys=[key], args=[token, lease_ms]):
                        log.warning("lock %r was lost before its holder finished", name)
                        return
                except self._redis_errors as exc:
                    log.warning("could not renew lock %r: %s", name, exc)

        renewer = threading.Thread(target=renew, name=f"yanbao-lock-{name}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)
            try:
                self._release(keys=[key], args=[token])
            except self._redis_errors as exc:
                # the lease runs out on its own; say so rather than hide it
                log.warning(
                    "could not release lock %r (it expires within %ss): %s",
                    name,
                    self.lock_lease_seconds,
                    exc,
                )

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except self._redis_errors:
            return False

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisState({self.url_for_display!r})"
