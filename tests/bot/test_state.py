"""The shared state behaves the same on SQLite and on a real Redis, across instances and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from bot.state import LockTimeout, RedisState, SQLiteState, open_state, redact_url
from index.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# runs in a separate interpreter: opens its own store and acts on it
CHILD = r"""
import json, sys, time
from bot.state import LockTimeout, RedisState, SQLiteState
spec = json.loads(sys.argv[1])
store = RedisState(spec["url"], prefix=spec["prefix"]) if spec["backend"] == "redis" else SQLiteState(spec["path"])
if spec["action"] == "claim":
    print(json.dumps(store.claim(spec["key"])))
elif spec["action"] == "try_lock":
    try:
        with store.lock(spec["name"], timeout=spec["timeout"]):
            print("acquired")
    except LockTimeout:
        print("timeout")
elif spec["action"] == "hold_lock":
    with store.lock(spec["name"], timeout=30):
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
store.close()
"""


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict:
    """How to open one shared store, as a dict a child process can receive too."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        # a fresh prefix per test keeps tests apart on the shared session server
        return {"backend": "redis", "url": server.url, "prefix": f"yanbao-test-{uuid.uuid4().hex[:8]}:"}
    return {"backend": "sqlite", "path": str(tmp_path / "state" / "state.sqlite3")}


def open_backend(spec: dict):
    if spec["backend"] == "redis":
        return RedisState(spec["url"], prefix=spec["prefix"])
    return SQLiteState(spec["path"])


@pytest.fixture
def store(backend: dict):
    opened = open_backend(backend)
    yield opened
    opened.close()


def run_child(spec: dict, **action: object) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({**spec, **action})],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_claim_is_true_only_the_first_time(store) -> None:
    assert store.claim("slack:Ev123") is True
    assert store.claim("slack:Ev123") is False
    assert store.claim("slack:Ev124") is True


def test_claim_holds_for_a_second_instance_as_after_a_restart(store, backend: dict) -> None:
    assert store.claim("feishu:evt-1") is True
    replica = open_backend(backend)
    try:
        assert replica.claim("feishu:evt-1") is False
        assert replica.claim("feishu:evt-2") is True
    finally:
        replica.close()
    assert store.claim("feishu:evt-2") is False


def test_claim_holds_across_processes(store, backend: dict) -> None:
    assert store.claim("slack:retry") is True
    assert run_child(backend, action="claim", key="slack:retry") == "false"
    assert run_child(backend, action="claim", key="slack:fresh") == "true"
    assert store.claim("slack:fresh") is False


def test_claim_can_be_taken_again_after_its_ttl(store) -> None:
    assert store.claim("short", ttl_seconds=1) is True
    assert store.claim("short", ttl_seconds=1) is False
    time.sleep(2.1)
    assert store.claim("short", ttl_seconds=1) is True


def test_concurrent_claims_let_exactly_one_thread_win(store) -> None:
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def contend() -> None:
        barrier.wait()
        wins.append(store.claim("race"))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_history_keeps_the_last_turns_oldest_first(store, backend: dict) -> None:
    for i in range(10):
        store.append_history("slack:C1:1700.1", {"role": "user", "text": f"问题 {i}"}, keep=4)
    store.append_history("slack:C2:1700.2", {"role": "user", "text": "other"})
    assert [t["text"] for t in store.get_history("slack:C1:1700.1")] == [
        "问题 6",
        "问题 7",
        "问题 8",
        "问题 9",
    ]
    assert store.get_history("slack:C2:1700.2") == [{"role": "user", "text": "other"}]
    assert store.get_history("nobody") == []
    replica = open_backend(backend)
    try:
        assert len(replica.get_history("slack:C1:1700.1")) == 4
    finally:
        replica.close()


def test_history_turns_expire_after_a_day(store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.state._now", lambda: time.time() - 86400 - 60)
    store.append_history("conv", {"text": "yesterday"})
    monkeypatch.undo()
    store.append_history("conv", {"text": "today"})
    assert store.get_history("conv") == [{"text": "today"}]


def test_feedback_round_trip(store, backend: dict) -> None:
    up = {
        "platform": "slack",
        "user": "U1",
        "value": "up",
        "question": "中信证券本周怎么看?",
        "answer": "看好 [1]",
        "citations": [{"n": 1, "report_id": "r1", "paragraph": 3}],
    }
    down = {**up, "platform": "feishu", "user": "ou_2", "value": "down"}
    store.add_feedback(up)
    store.add_feedback(down)
    replica = open_backend(backend)
    try:
        listed = replica.list_feedback()
    finally:
        replica.close()
    assert [{k: v for k, v in r.items() if k != "ts"} for r in listed] == [up, down]
    assert all(isinstance(r["ts"], float) for r in listed)


def test_lock_excludes_a_second_process(store, backend: dict) -> None:
    with store.lock("index", timeout=5):
        assert run_child(backend, action="try_lock", name="index", timeout=0.3) == "timeout"
        assert run_child(backend, action="try_lock", name="other", timeout=0.3) == "acquired"
    assert run_child(backend, action="try_lock", name="index", timeout=5) == "acquired"


def test_waiting_for_a_lock_held_by_another_process(store, backend: dict) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps({**backend, "action": "hold_lock", "name": "index"})],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        with pytest.raises(LockTimeout) as raised:
            with store.lock("index", timeout=0.3):
                pass
        assert raised.value.name == "index"
        holder.stdin.write("\n")
        holder.stdin.flush()
        with store.lock("index", timeout=10):
            assert holder.stdout.readline().strip() == "released"
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_released_when_the_block_raises(store) -> None:
    with pytest.raises(RuntimeError):
        with store.lock("index", timeout=1):
            raise RuntimeError("indexing failed")
    with store.lock("index", timeout=1):
        pass


def test_lock_excludes_threads_of_one_process(store) -> None:
    inside = 0
    overlaps = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, overlaps
        with store.lock("index", timeout=30):
            with guard:
                inside += 1
                overlaps += inside > 1
            time.sleep(0.02)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0


def test_ping(store) -> None:
    assert store.ping() is True


def test_redis_lock_renews_its_lease_while_held(redis_server) -> None:
    store = RedisState(redis_server.url, prefix=f"t-{uuid.uuid4().hex[:6]}:", lock_lease_seconds=0.6)
    other = RedisState(redis_server.url, prefix=store.prefix)
    try:
        with store.lock("index", timeout=1):
            time.sleep(1.5)  # past two leases: only renewal keeps it
            with pytest.raises(LockTimeout):
                with other.lock("index", timeout=0.2):
                    pass
        with other.lock("index", timeout=1):
            pass
    finally:
        store.close()
        other.close()


def test_redis_lock_release_never_frees_another_owners_lock(redis_server) -> None:
    import redis

    prefix = f"t-{uuid.uuid4().hex[:6]}:"
    store = RedisState(redis_server.url, prefix=prefix, lock_lease_seconds=30)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        with store.lock("index", timeout=1):
            # the lease ran out and someone else took the lock meanwhile
            client.set(f"{prefix}lock:index", "someone-else")
        assert client.get(f"{prefix}lock:index") == "someone-else"
    finally:
        client.close()
        store.close()


def test_unreachable_redis_pings_false_and_hides_its_password() -> None:
    store = RedisState("redis://:hunter2secret@127.0.0.1:1/0", socket_timeout=0.5)
    try:
        assert store.ping() is False
        assert "hunter2secret" not in repr(store)
    finally:
        store.close()
    assert redact_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"


def test_open_state_follows_the_settings(tmp_path: Path, redis_server) -> None:
    sqlite_store = open_state(Settings(home=tmp_path))
    try:
        assert isinstance(sqlite_store, SQLiteState)
        assert sqlite_store.path == tmp_path / "state" / "state.sqlite3"
        assert sqlite_store.claim("k") is True
    finally:
        sqlite_store.close()
    redis_store = open_state(Settings(home=tmp_path, redis_url=redis_server.url))
    try:
        assert isinstance(redis_store, RedisState)
        assert redis_store.ping() is True
    finally:
        redis_store.close()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = SQLiteState(tmp_path / "s.sqlite3")
    try:
        assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


# --- records and counters (subscriptions, scopes, the digest queue) ---------------------------------


def test_records_are_shared_replaced_and_deleted(store, backend: dict) -> None:
    store.put_record("subscription", "slack:C1|weekly", {"broker": "山西证券", "sector": None})
    store.put_record("subscription", "feishu:oc_2|weekly", {"broker": None, "sector": "通信"})
    store.put_record("scope", "slack:C1", {"brokers": ["山西证券"]})
    other = open_backend(backend)  # another replica, or the same one after a restart
    try:
        assert other.records("subscription") == {
            "feishu:oc_2|weekly": {"broker": None, "sector": "通信"},
            "slack:C1|weekly": {"broker": "山西证券", "sector": None},
        }
        other.put_record("subscription", "slack:C1|weekly", {"broker": "国盛证券", "sector": None})
        assert store.get_record("subscription", "slack:C1|weekly") == {"broker": "国盛证券", "sector": None}
        assert store.get_record("scope", "slack:C1") == {"brokers": ["山西证券"]}
        assert other.delete_record("subscription", "slack:C1|weekly") is True
        assert store.delete_record("subscription", "slack:C1|weekly") is False
        assert store.get_record("subscription", "slack:C1|weekly") is None
        assert list(store.records("subscription")) == ["feishu:oc_2|weekly"]
        assert store.records("nothing") == {}
    finally:
        other.close()


def test_counters_add_up_across_instances_and_expire(store, backend: dict) -> None:
    assert store.count("digests:slack:C1:2025-01-13") == 0
    assert store.count("digests:slack:C1:2025-01-13", 1) == 1
    other = open_backend(backend)
    try:
        assert other.count("digests:slack:C1:2025-01-13", 1) == 2
        assert store.count("digests:slack:C1:2025-01-13") == 2
        assert store.count("digests:slack:C2:2025-01-13") == 0
    finally:
        other.close()
    assert store.count("short-lived", 1, ttl_seconds=1) == 1
    time.sleep(2.1)
    assert store.count("short-lived") == 0


def test_a_released_claim_can_be_claimed_again(store) -> None:
    assert store.claim("digest:slack:C1:r1")
    assert not store.claim("digest:slack:C1:r1")
    store.release("digest:slack:C1:r1")
    assert store.claim("digest:slack:C1:r1")
    store.release("never-claimed")  # nothing to forget is no error
