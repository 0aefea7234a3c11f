""""Last authenticated" without a write on the request path: workers note
uses in memory and flush them on a timer (auth_pat_last_used_flush), on a
thread pool; a burst of authenticated requests commits no LMDB transaction
until the flush, and the flush writes at most one per worker."""

import json
import subprocess
import time

import pytest

from api_client import API_SERVER, api, last_txn_id, tokens_path
from conftest import Deployment
from harness import PASSWORD, wait_for

FLUSH_SECONDS = 2
EXTRA_HTTP = f"auth_pat_last_used_flush {FLUSH_SECONDS}s;"
EXTRA_SERVER = API_SERVER
WORKERS = 2  # worker_processes in conftest's configuration


def burst(deployment, token, count):
    """count token-authenticated requests in one curl process."""
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    outputs = [arg for _ in range(count) for arg in ("-o", "/dev/null", url)]
    result = subprocess.run(["curl", "-sS", "-w", "%{http_code}\n", "-u", f"alice:{token}",
                             *outputs],
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def settled_txn_id(store_path):
    """The last transaction id once no flush has written for a full interval."""
    previous = last_txn_id(store_path)
    while True:
        time.sleep(FLUSH_SECONDS + 0.5)
        current = last_txn_id(store_path)
        if current == previous:
            return current
        previous = current


def listed_token(deployment, token_id):
    tokens = api(deployment, "GET", tokens_path("alice") + "?limit=1000", user="alice").json()
    return next(t for t in tokens["values"] if t["id"] == token_id)


def test_a_burst_writes_nothing_until_the_flush(deployment):
    token = deployment.read_token
    store = deployment.store_path
    assert "lastAuthenticated" not in listed_token(deployment, token.id)

    before_id = settled_txn_id(store)
    before_stat = store.stat()
    started_ms = time.time() * 1000
    statuses = burst(deployment, token.text, 40)
    finished_ms = time.time() * 1000
    assert statuses == ["200"] * 40
    right_after = last_txn_id(store)
    # 40 allowed requests: no transaction each. A flush may have fallen
    # inside the burst (at most one per worker), never one per request.
    assert right_after - before_id <= WORKERS
    if right_after == before_id:
        after_stat = store.stat()
        assert (after_stat.st_mtime_ns, after_stat.st_size) == \
               (before_stat.st_mtime_ns, before_stat.st_size)

    # Within the flush interval (plus slack), lastAuthenticated shows the use.
    def recorded():
        return "lastAuthenticated" in listed_token(deployment, token.id)
    wait_for(recorded, timeout=FLUSH_SECONDS + 3, interval=0.2, what="lastAuthenticated")
    last = listed_token(deployment, token.id)["lastAuthenticated"]
    assert started_ms - 1000 <= last <= finished_ms + 1000
    # ... written by at most one transaction per worker for all 40 uses.
    assert settled_txn_id(store) - before_id <= WORKERS


def test_last_authenticated_moves_with_later_uses(deployment):
    token = deployment.write_token
    burst(deployment, token.text, 1)
    wait_for(lambda: "lastAuthenticated" in listed_token(deployment, token.id),
             timeout=FLUSH_SECONDS + 3, interval=0.2, what="first use recorded")
    first = listed_token(deployment, token.id)["lastAuthenticated"]
    time.sleep(1.1)
    burst(deployment, token.text, 1)
    wait_for(lambda: listed_token(deployment, token.id)["lastAuthenticated"] > first,
             timeout=FLUSH_SECONDS + 3, interval=0.2, what="later use recorded")
    # patctl shows it too.
    listed = json.loads(deployment.patctl.run("token", "list", "alice", "--json").stdout)
    assert next(t for t in listed if t["id"] == token.id)["last_authenticated"] is not None


def test_uses_are_written_at_worker_exit(tmp_path):
    """With the default 60 s interval no timer flush happens during the
    test: only the exit of the workers can have written the use."""
    exiting = Deployment(tmp_path / "exit")
    exiting.start()
    try:
        assert burst(exiting, exiting.read_token.text, 3) == ["200"] * 3
        time.sleep(0.3)
        listed = json.loads(exiting.patctl.run("token", "list", "alice", "--json").stdout)
        assert next(t for t in listed if t["id"] == exiting.read_token.id)[
            "last_authenticated"] is None
    finally:
        exiting.stop()
    assert exiting.nginx.process.returncode == 0
    listed = json.loads(exiting.patctl.run("token", "list", "alice", "--json").stdout)
    assert next(t for t in listed if t["id"] == exiting.read_token.id)[
        "last_authenticated"] is not None
    assert not exiting.nginx.log_problems()


def test_flush_can_be_turned_off(tmp_path):
    quiet = Deployment(tmp_path / "off", extra_http="auth_pat_last_used_flush off;")
    quiet.start()
    try:
        assert burst(quiet, quiet.read_token.text, 2) == ["200"] * 2
    finally:
        quiet.stop()
    listed = json.loads(quiet.patctl.run("token", "list", "alice", "--json").stdout)
    assert next(t for t in listed if t["id"] == quiet.read_token.id)["last_authenticated"] is None
