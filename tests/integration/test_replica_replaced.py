"""A store file replaced by rename while requests keep coming, and while
another process still holds the old file, so that every nginx worker waits
for LMDB's lock region (Store::check_lock_region) before it can open the new
one: the window the follower's rebuild opens on a fleet node.

- A single-host store (no replica state; `patctl restore` and an operator's
  `mv`): the requests in the window get 500, as before.
- A fleet replica (the follower's ReplicaState in the file, written by
  build/tests/put-replica-state as the follower does): a planned, momentary
  gap, so the requests in the window get 503 with `Retry-After: 1` (never
  500, never 401: git would erase the user's stored credentials), and on a
  REST route the "being reopened" body; 200 again once the new file opens.

The old file is held by a small LMDB program (built here with the system's
gcc and liblmdb) for as long as the test wants the window to last; the load
is a few keep-alive clients asking a protected static location. Real nginx,
LMDB, mdb_copy and curl."""

import http.client
import json
import os
import subprocess
import threading
import time

import pytest

from harness import REPO_ROOT, Patctl, curl, wait_for

EXTRA_SERVER = """
        location /plain/ {
            auth_pat "Plain";
            try_files /ok.txt =404;
        }
"""
CLIENTS = 3
TICKS = 0.7  # two ticks of the workers' timer and some slack
HOLD_S = 1.5  # how long the window lasts once it is seen
REST = "/rest/api/1.0/projects/WORK/repos"

HOLDER_C = r"""
#include <lmdb.h>
#include <stdio.h>
/* Opens PATH read-only with a read transaction, prints "held", and keeps it
   until stdin closes: PATH-lock goes on describing this file meanwhile. */
int main(int argc, char **argv) {
    MDB_env *env;
    MDB_txn *txn;
    if (argc != 2) return 2;
    int rc = mdb_env_create(&env);
    if (!rc) rc = mdb_env_set_maxdbs(env, 32);
    if (!rc) rc = mdb_env_open(env, argv[1], MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS, 0640);
    if (!rc) rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        fprintf(stderr, "holder: %s\n", mdb_strerror(rc));
        return 1;
    }
    puts("held");
    fflush(stdout);
    while (getchar() != EOF) {
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
"""


def put_state_tool():
    return os.environ.get("PAT_PUT_REPLICA_STATE") or str(REPO_ROOT / "build" / "tests" / "put-replica-state")


def put_state(store, ago_ms, position):
    subprocess.run([put_state_tool(), "--db", str(store), "--verified-ago-ms", str(ago_ms),
                    "--position", str(position), "--source-head", str(position)],
                   check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def holder_binary(tmp_path_factory):
    if not os.path.exists(put_state_tool()):
        pytest.exit(f"{put_state_tool()} is not built: run `make build/tests/put-replica-state`",
                    returncode=2)
    directory = tmp_path_factory.mktemp("holder")
    source = directory / "holder.c"
    source.write_text(HOLDER_C)
    binary = directory / "holder"
    subprocess.run(["gcc", "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(source), "-llmdb"],
                   check=True, timeout=120)
    return binary


class Load:
    """CLIENTS threads asking /plain/x with a valid token over keep-alive
    connections (a new one after nginx closes it), until stopped. Every
    answer is kept: (time, status, Retry-After)."""

    def __init__(self, port, token):
        self.port = port
        self.token = token
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []
        self.errors = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(CLIENTS)]

    def run(self):
        connection = None
        while not self.stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("GET", "/plain/x", headers={"Authorization": f"Bearer {self.token.text}"})
                response = connection.getresponse()
                response.read()
                with self.lock:
                    self.answers.append((time.monotonic(), response.status, response.getheader("Retry-After")))
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append(repr(e))
                connection = None
            time.sleep(0.01)
        if connection is not None:
            connection.close()

    def seen(self, status, since=0.0):
        with self.lock:
            return any(s == status and t >= since for t, s, _ in self.answers)

    def last(self, n):
        with self.lock:
            return [s for _, s, _ in self.answers[-n:]]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def replace_while_held(deployment, holder_binary, make_copy, window_status):
    """Replaces the store by a copy (make_copy(copy) changes it) while a
    holder keeps the old file open, under load: the window's answers are
    seen (window_status), the holder lets go, and the workers serve the new
    file. Returns the load's answers after the rename and a REST answer
    from inside the window."""
    d = deployment
    token = d.read_token
    assert curl(d.url("/plain/x"), *token.bearer()).status == 200
    staging = d.root / f"staging-{window_status}"
    staging.mkdir()
    copy = staging / "pat.db"
    subprocess.run(["mdb_copy", "-n", str(d.store_path), str(copy)], check=True, timeout=30)
    make_copy(copy)
    if os.path.exists(f"{copy}-lock"):
        os.unlink(f"{copy}-lock")

    holder = subprocess.Popen([str(holder_binary), str(d.store_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with Load(d.port, token) as load:
            wait_for(lambda: load.seen(200), timeout=30, interval=0.05, what="the load under way")
            os.replace(copy, d.store_path)
            replaced_at = time.monotonic()
            wait_for(lambda: load.seen(window_status, replaced_at), timeout=10, interval=0.02,
                     what=f"a {window_status} while the old file is held")
            time.sleep(TICKS)  # every worker has noticed the rename by now
            rest = curl(d.url(REST), *token.bearer())
            time.sleep(HOLD_S)
            holder.stdin.close()
            holder.wait(timeout=10)
            # The workers open the new file within a tick or two of the
            # holder letting go: the load is served again.
            wait_for(lambda: load.last(3 * CLIENTS) == [200] * (3 * CLIENTS), timeout=10, interval=0.1,
                     what="200s from the new file")
        assert not load.errors, load.errors[:5]
        after = [(s, retry) for t, s, retry in load.answers if t >= replaced_at]
    finally:
        if holder.poll() is None:
            holder.stdin.close()
            holder.wait(timeout=10)
    return after, rest


def test_single_host_store_replaced_while_held_answers_500_in_the_window(deployment, holder_binary):
    d = deployment
    doomed = d.patctl.create_token("alice", "doomed", project="read", repo="read")
    after, rest = replace_while_held(d, holder_binary, lambda copy: Patctl(copy).revoke(doomed.id), 500)
    statuses = {s for s, _ in after}
    print(f"\nsingle host, answers after the rename: "
          f"{ {s: sum(1 for x, _ in after if x == s) for s in sorted(statuses)} }")
    assert statuses == {200, 500}, statuses
    assert rest.status == 500, (rest.status, rest.body)


def test_fleet_replica_replaced_while_held_answers_503_never_500(deployment, holder_binary):
    d = deployment
    put_state(d.store_path, 0, position=10)
    time.sleep(TICKS)
    assert curl(d.url("/plain/x"), *d.read_token.bearer()).status == 200  # a fresh replica serves

    # The follower's rebuild: the same records and a newer state.
    after, rest = replace_while_held(d, holder_binary, lambda copy: put_state(copy, 0, position=20), 503)
    statuses = {s for s, _ in after}
    print(f"\nfleet replica, answers after the rename: "
          f"{ {s: sum(1 for x, _ in after if x == s) for s in sorted(statuses)} }")
    assert statuses == {200, 503}, statuses  # never 500, never 401
    assert {retry for s, retry in after if s == 503} == {"1"}
    assert {retry for s, retry in after if s == 200} == {None}
    # A REST route in the window: Bitbucket's JSON shape, saying the store
    # is being reopened.
    assert rest.status == 503, (rest.status, rest.body)
    assert rest.header_values("Retry-After") == ["1"]
    assert not rest.header_values("WWW-Authenticate")
    assert json.loads(rest.body)["errors"][0]["message"] == (
        "The token store is being reopened. Try again in a second.")
    # The new file's state is read: position 20.
    time.sleep(TICKS)
    assert curl(d.url("/plain/x"), *d.read_token.bearer()).status == 200
