"""One LMDB environment per store file per worker, read-only, used by the
access phase; and one descriptor of the usage file (a flat file, not
mapped), used by the last-use flush.

LMDB forbids opening one file twice in a process: closing either
environment drops the process's fcntl locks on PATH-lock, so another
process's reader check frees the live readers' slots and a writer may
overwrite pages they read. So each worker must map the data file once and
hold one descriptor of the lock file, whatever mix of requests it served
(and one descriptor of the usage file once the flush has run); the reader table
must hold no stale slot; an idle worker must not keep a read snapshot (it
stops writers reusing freed pages); and decisions must follow revocations
made by patctl while requests run."""

import base64
import http.client
import json
import os
import re
import subprocess
import threading
import time

from harness import curl, wait_for

EXTRA_HTTP = "auth_pat_last_used_flush 1s;"
# A REST route served from a static file: cheap, so the client's requests
# interleave densely with patctl's writes and the flush.
REPO = "/rest/api/1.0/projects/WORK/repos/my-repo"


def data_file_mappings(pid, path):
    """The worker's mappings of the data file from offset 0: one per LMDB
    environment (each maps the whole file once)."""
    with open(f"/proc/{pid}/maps") as maps:
        return [line for line in maps
                if line.rstrip("\n").endswith(" " + str(path)) and line.split()[2] == "00000000"]


def descriptors_of(pid, path):
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:
            pass  # closed meanwhile
    return found


def reader_table(store_path, check=False):
    """(pid, txnid) of every slot in LMDB's reader table, from the real
    mdb_stat; with check, mdb_stat first clears the slots of processes whose
    lock is gone, and the count it cleared is returned too."""
    args = ["mdb_stat", "-rr" if check else "-r", "-n", str(store_path)]
    # mdb_stat exits with 1 after printing the reader table: judge the output.
    out = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    assert "Reader Table Status" in out, out
    cleared = None
    match = re.search(r"(\d+) stale readers cleared", out)
    if match:
        cleared = int(match.group(1))
        out = out[match.end():]  # the table after the check
    slots = [(int(m.group(1)), m.group(2))
             for m in re.finditer(r"^\s*(\d+)\s+[0-9a-f]+\s+(\S+)\s*$", out, re.MULTILINE)]
    return slots, cleared


def assert_one_environment_per_worker(deployment, usage=False):
    """One mapping of the data file and one descriptor of its lock file per
    worker; with usage, one descriptor of the usage file, never mapped, and
    no lock file of it (after a flush)."""
    store = deployment.store_path
    usage_file = store.parent / (store.name + "-usage")
    workers = deployment.nginx.worker_pids()
    assert len(workers) == 2
    for pid in workers:
        lock = store.parent / (store.name + "-lock")
        assert len(data_file_mappings(pid, store)) == 1, f"worker {pid} maps {store} more than once"
        assert len(descriptors_of(pid, lock)) == 1, f"worker {pid} opened {lock} more than once"
        if usage:
            assert not data_file_mappings(pid, usage_file), f"worker {pid} maps {usage_file}"
            assert len(descriptors_of(pid, usage_file)) == 1, f"worker {pid} opened {usage_file} more than once"
    if usage:
        assert not usage_file.parent.joinpath(usage_file.name + "-lock").exists()


def opened_read_only(pid, path):
    """Every descriptor the worker holds of the data file was opened O_RDONLY
    (LMDB opens it read-write, plus a write-only one for syncs, unless the
    environment is MDB_RDONLY; its map is read-only either way)."""
    fds = descriptors_of(pid, path)
    assert fds, f"worker {pid} holds no descriptor of {path}"
    for fd in fds:
        with open(f"/proc/{pid}/fdinfo/{fd}") as info:
            flags = int(next(line for line in info if line.startswith("flags:")).split()[1], 8)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            return False
    return True


class Hammer:
    """Token requests on keep-alive connections until stopped, each with
    the time it was sent and its status."""

    def __init__(self, deployment, user, token_text, connections=2):
        self.deployment = deployment
        self.auth = "Basic " + base64.b64encode(f"{user}:{token_text}".encode()).decode()
        self.results = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(connections)]

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.deployment.port, timeout=10)
        try:
            while not self.stop.is_set():
                sent = time.monotonic()
                connection.request("GET", REPO, headers={"Authorization": self.auth})
                response = connection.getresponse()
                response.read()
                self.results.append((sent, response.status))
                time.sleep(0.005)
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.deployment.port,
                                                            timeout=10)
        finally:
            connection.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def statuses_after(results, moment):
    return {status for sent, status in results if sent >= moment}


def listed_last_use(deployment, token_id):
    tokens = json.loads(deployment.patctl.run("token", "list", "alice", "--json").stdout)
    return next(t for t in tokens if t["id"] == token_id)["last_authenticated"]


def test_revocations_during_traffic_with_one_environment_per_worker(deployment):
    first = deployment.patctl.create_token("alice", "revoked-first")
    second = deployment.patctl.create_token("alice", "revoked-second")
    kept = deployment.patctl.create_token("alice", "kept")

    with Hammer(deployment, "alice", first.text) as hammer_first, \
            Hammer(deployment, "alice", second.text) as hammer_second, \
            Hammer(deployment, "alice", kept.text) as hammer_kept:
        time.sleep(0.5)
        # Token lists read the store (and the usage file) from another
        # process while the access phase decides and the flush writes.
        for _ in range(3):
            listed_last_use(deployment, kept.id)
        deployment.patctl.revoke(first.id)
        revoked_first = time.monotonic()
        time.sleep(0.5)
        deployment.patctl.revoke(second.id)
        revoked_second = time.monotonic()
        time.sleep(1.5)  # past a flush

    # Every request sent after a revocation returned was refused, in both
    # workers; the untouched token was allowed throughout.
    assert statuses_after(hammer_first.results, revoked_first) == {401}
    assert statuses_after(hammer_second.results, revoked_second) == {401}
    assert {status for _, status in hammer_kept.results} == {200}
    assert len(hammer_kept.results) >= 20
    assert {s for t, s in hammer_second.results if t < revoked_first} == {200}

    # No slot of a live worker looks dead to another process's reader check
    # (it would clear it), and no other process left one behind.
    slots, cleared = reader_table(deployment.store_path, check=True)
    assert cleared == 0
    workers = deployment.nginx.worker_pids()
    assert {pid for pid, _ in slots} <= workers, slots
    # The flush ran, into the usage file (one descriptor of it per worker
    # that flushed; both served the hammers).
    wait_for(lambda: listed_last_use(deployment, kept.id) is not None, timeout=5, interval=0.3,
             what="the flush")
    assert_one_environment_per_worker(deployment, usage=True)
    for pid in workers:
        assert opened_read_only(pid, deployment.store_path), f"worker {pid} opened the store writable"


def test_an_idle_worker_holds_no_read_snapshot(deployment):
    token = deployment.read_token.text
    for _ in range(10):
        assert curl(deployment.url(REPO), "-u", f"alice:{token}").status == 200
    # The worker's timer ends a snapshot unused for a second (the next
    # decision renews it): every slot is then idle ("-", no transaction).
    def idle():
        slots, _ = reader_table(deployment.store_path)
        return slots and all(txn == "-" for _, txn in slots)
    wait_for(idle, timeout=5, interval=0.25, what="idle reader slots")
    slots, _ = reader_table(deployment.store_path)
    # One slot per worker that decided.
    assert len(slots) <= 2, slots
    assert_one_environment_per_worker(deployment)
