"""One LMDB environment per store file per worker, shared by the access
phase, the token API and the last-use flush.

LMDB forbids opening one file twice in a process: closing either
environment drops the process's fcntl locks on PATH-lock, so another
process's reader check frees the live readers' slots and a writer may
overwrite pages they read. So each worker must map the data file once and
hold one descriptor of the lock file, whatever mix of requests it served;
the reader table must hold no stale slot; an idle worker must not keep a
read snapshot (it stops writers reusing freed pages); and decisions must
follow revocations made through the API and through patctl while requests
run."""

import base64
import http.client
import os
import re
import subprocess
import threading
import time

from api_client import API_SERVER, api, tokens_path
from harness import curl, wait_for

EXTRA_HTTP = "auth_pat_last_used_flush 1s;"
EXTRA_SERVER = API_SERVER
# A REST route served from a static file: cheap, so the client's requests
# interleave densely with the API's work.
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


def assert_one_environment_per_worker(deployment):
    store = deployment.store_path
    lock = store.parent / (store.name + "-lock")
    workers = deployment.nginx.worker_pids()
    assert len(workers) == 2
    for pid in workers:
        assert len(data_file_mappings(pid, store)) == 1, f"worker {pid} maps {store} more than once"
        assert len(descriptors_of(pid, lock)) == 1, f"worker {pid} opened {lock} more than once"


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


def create_via_api(deployment, name):
    created = api(deployment, "PUT", tokens_path("alice"), user="alice",
                  body={"name": name, "permissions": ["REPO_READ"]})
    assert created.status == 200, created.body
    body = created.json()
    return body["id"], body["token"]


def test_revocations_during_traffic_with_one_environment_per_worker(deployment):
    by_api_id, by_api = create_via_api(deployment, "revoked-by-api")
    by_patctl_id, by_patctl = create_via_api(deployment, "revoked-by-patctl")
    kept_id, kept = create_via_api(deployment, "kept")

    with Hammer(deployment, "alice", by_api) as hammer_api, \
            Hammer(deployment, "alice", by_patctl) as hammer_patctl, \
            Hammer(deployment, "alice", kept) as hammer_kept:
        time.sleep(0.5)
        # Token lists read the store on the thread pool while the access
        # phase decides on the event loop and the flush writes.
        for _ in range(3):
            assert api(deployment, "GET", tokens_path("alice"), user="alice").status == 200

        assert api(deployment, "DELETE", tokens_path("alice") + f"/{by_api_id}",
                   user="alice").status == 204
        revoked_by_api = time.monotonic()
        time.sleep(0.5)
        deployment.patctl.revoke(by_patctl_id)
        revoked_by_patctl = time.monotonic()
        time.sleep(0.5)

    # Every request sent after a revocation returned was refused, in both
    # workers; the untouched token was allowed throughout.
    assert statuses_after(hammer_api.results, revoked_by_api) == {401}
    assert statuses_after(hammer_patctl.results, revoked_by_patctl) == {401}
    assert {status for _, status in hammer_kept.results} == {200}
    assert len(hammer_kept.results) >= 20
    assert {s for t, s in hammer_patctl.results if t < revoked_by_api} == {200}

    assert_one_environment_per_worker(deployment)

    # No slot of a live worker looks dead to another process's reader check
    # (it would clear it), and no other process left one behind.
    slots, cleared = reader_table(deployment.store_path, check=True)
    assert cleared == 0
    workers = deployment.nginx.worker_pids()
    assert {pid for pid, _ in slots} <= workers, slots
    # The flush ran (it opens no second environment either).
    wait_for(lambda: "lastAuthenticated" in next(
        t for t in api(deployment, "GET", tokens_path("alice") + "?limit=1000",
                       user="alice").json()["values"] if t["id"] == kept_id),
        timeout=5, interval=0.3, what="the flush")
    assert_one_environment_per_worker(deployment)


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
    # One slot per worker that decided; none for an API thread between calls.
    assert len(slots) <= 2, slots
    assert_one_environment_per_worker(deployment)
