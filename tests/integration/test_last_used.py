""""Last authenticated" without a write on the request path and never a
write to the store: workers note uses in memory and flush them on a timer
(auth_pat_last_used_flush), on a thread pool, into the store's usage file
(STORE-usage, a flat file of fixed slots, pat/usage.hpp); patctl (and patd)
merge it when they list tokens. Git traffic leaves the store's data file
untouched: its last transaction id, read by the real mdb_stat, does not
move."""

import calendar
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Deployment
from harness import PASSWORD, git, wait_for

FLUSH_SECONDS = 2
EXTRA_HTTP = f"auth_pat_last_used_flush {FLUSH_SECONDS}s;"
WORKERS = 2  # worker_processes in conftest's configuration


def last_txn_id(path):
    """LMDB's last committed transaction id of a file, from the real mdb_stat."""
    out = subprocess.run(["mdb_stat", "-n", "-e", str(path)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return int(re.search(r"Last transaction ID: (\d+)", out).group(1))


def usage_path(deployment):
    return Path(f"{deployment.store_path}-usage")


# The usage file's layout (include/pat/usage.hpp).
USAGE_HEADER = 64
USAGE_SLOT = 24
USAGE_SIZE = USAGE_HEADER + USAGE_SLOT * (1 << 19)
# The addresses' region after the slots, grown by the first flush with an address.
USAGE_ADDRESS_SLOT = 16 + 5 * 24
USAGE_SIZE_WITH_ADDRESSES = USAGE_SIZE + USAGE_ADDRESS_SLOT * (1 << 19)


def usage_times(path, token_id):
    """The times of every slot holding token_id, read from the file's bytes."""
    data = Path(path).read_bytes()
    times, at = [], data.find(token_id.encode())
    while 0 <= at < USAGE_SIZE:
        if at >= USAGE_HEADER and (at - USAGE_HEADER) % USAGE_SLOT == 0:
            times.append(int.from_bytes(data[at + 16:at + 24], "little"))
        at = data.find(token_id.encode(), at + 1)
    return times


class WriteWatch:
    """Counts the changes of a file's mtime, polled every 10 ms: a flush
    writes its slots within microseconds, so each flush shows as one change
    (two flushes within one clock tick as one)."""

    def __init__(self, path):
        self.path = path
        self.changes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        last = self.path.stat().st_mtime_ns
        while not self.stop.wait(0.01):
            current = self.path.stat().st_mtime_ns
            if current != last:
                self.changes += 1
                last = current

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def settle(path):
    """Waits until no flush has written the file for a full interval."""
    previous = path.stat().st_mtime_ns
    while True:
        time.sleep(FLUSH_SECONDS + 0.5)
        current = path.stat().st_mtime_ns
        if current == previous:
            return
        previous = current


def burst(deployment, token, count):
    """count token-authenticated git requests in one curl process."""
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    outputs = [arg for _ in range(count) for arg in ("-o", "/dev/null", url)]
    result = subprocess.run(["curl", "-sS", "-w", "%{http_code}\n", "-u", f"alice:{token}",
                             *outputs],
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def listed(deployment, token_id):
    """The token as `patctl token list --json` shows it (merged with the usage file)."""
    tokens = json.loads(deployment.patctl.run("token", "list", "alice", "--json").stdout)
    return next(t for t in tokens if t["id"] == token_id)


def listed_ms(deployment, token_id):
    """last_authenticated in ms (patctl prints ISO 8601 seconds), or None."""
    text = listed(deployment, token_id)["last_authenticated"]
    if text is None:
        return None
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


def test_git_traffic_never_writes_the_store(deployment):
    token = deployment.read_token
    store = deployment.store_path
    usage = usage_path(deployment)
    assert listed(deployment, token.id)["last_authenticated"] is None

    settle(usage)
    before_store = last_txn_id(store)
    before_stat = store.stat()
    with WriteWatch(usage) as writes:
        started_ms = time.time() * 1000
        assert burst(deployment, token.text, 40) == ["200"] * 40
        git("clone", "-q", deployment.repo_url(f"alice:{token.text}"),
            str(deployment.root / "clone-last-used"))
        finished_ms = time.time() * 1000

        # Within the flush interval (plus slack), the listing shows the use ...
        wait_for(lambda: listed(deployment, token.id)["last_authenticated"] is not None,
                 timeout=FLUSH_SECONDS + 3, interval=0.2, what="last_authenticated")
        last = listed_ms(deployment, token.id)
        assert started_ms - 2000 <= last <= finished_ms + 1000
        settle(usage)
    # ... written to the token's one slot in the usage file by a few flushes
    # for all the uses (at most two per worker: a flush may fall inside the
    # burst) ...
    times = usage_times(usage, token.id)
    assert len(times) == 1 and started_ms - 2000 <= times[0] <= finished_ms + 1000, times
    assert times[0] // 1000 * 1000 == listed_ms(deployment, token.id)
    assert 1 <= writes.changes <= 2 * WORKERS, writes.changes
    # ... and never to the store: not a transaction, not a byte.
    assert last_txn_id(store) == before_store
    after_stat = store.stat()
    assert (after_stat.st_mtime_ns, after_stat.st_size) == \
           (before_stat.st_mtime_ns, before_stat.st_size)


def test_last_authenticated_moves_with_later_uses(deployment):
    token = deployment.write_token
    store_txn = last_txn_id(deployment.store_path)
    burst(deployment, token.text, 1)
    wait_for(lambda: listed(deployment, token.id)["last_authenticated"] is not None,
             timeout=FLUSH_SECONDS + 3, interval=0.2, what="first use recorded")
    first = listed_ms(deployment, token.id)
    time.sleep(1.1)
    burst(deployment, token.text, 1)
    wait_for(lambda: listed_ms(deployment, token.id) > first,
             timeout=FLUSH_SECONDS + 3, interval=0.2, what="later use recorded")
    assert last_txn_id(deployment.store_path) == store_txn


def test_revoking_drops_the_usage_entry(deployment):
    token = deployment.patctl.create_token("alice", "doomed")
    assert burst(deployment, token.text, 1) == ["200"]
    wait_for(lambda: usage_times(usage_path(deployment), token.id), timeout=FLUSH_SECONDS + 3,
             interval=0.2, what="the use in the usage file")
    deployment.patctl.revoke(token.id)
    # A tombstone in its slot: the id is nowhere in the file.
    assert token.id.encode() not in usage_path(deployment).read_bytes()


def use_from(deployment, token, source):
    """One token-authenticated git request from a loopback source address."""
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    result = subprocess.run(["curl", "-sS", "--interface", source, "-o", "/dev/null", "-w", "%{http_code}",
                             "-u", f"alice:{token.text}", url],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == "200", result


def test_last_used_addresses_five_distinct_most_recent_first(deployment):
    """The client addresses of the last uses arrive with the times, in the
    same flushes: within one interval, with no transaction in the store."""
    token = deployment.patctl.create_token("alice", "from-many-places")
    store_txn = last_txn_id(deployment.store_path)
    assert listed(deployment, token.id)["last_used_ips"] == []
    for n in range(2, 9):  # 7 distinct addresses, one after the other
        use_from(deployment, token, f"127.0.0.{n}")
        time.sleep(0.005)  # distinct milliseconds
    expected = [f"127.0.0.{n}" for n in range(8, 3, -1)]
    wait_for(lambda: listed(deployment, token.id)["last_used_ips"] == expected,
             timeout=FLUSH_SECONDS + 3, interval=0.2,
             what=f"the last 5 addresses ({listed(deployment, token.id)['last_used_ips']})")
    # A known address used again moves to the front; nothing is duplicated.
    use_from(deployment, token, "127.0.0.5")
    expected = ["127.0.0.5", "127.0.0.8", "127.0.0.7", "127.0.0.6", "127.0.0.4"]
    wait_for(lambda: listed(deployment, token.id)["last_used_ips"] == expected,
             timeout=FLUSH_SECONDS + 3, interval=0.2, what="127.0.0.5 first again")
    # The table shows the most recent.
    table = deployment.patctl.run("token", "list", "alice").stdout.splitlines()
    assert table[0].split()[-2:] == ["LAST", "ADDRESS"]
    assert next(line for line in table if line.startswith(token.id)).split()[-1] == "127.0.0.5"
    assert last_txn_id(deployment.store_path) == store_txn


def patd_binary():
    return os.environ.get("PATD") or str(Path(__file__).resolve().parents[2] / "build" / "patd")


def test_patd_lists_the_usage_file_too(deployment):
    """The token API (patd, over the same core) merges what the workers
    wrote: lastAuthenticated appears there within the flush interval."""
    if not os.access(patd_binary(), os.X_OK):
        pytest.skip(f"patd is not built ({patd_binary()})")
    token = deployment.patctl.create_token("alice", "seen-by-patd")
    socket_path = deployment.root / "last-used-patd.sock"
    patd = subprocess.Popen([patd_binary(), "--db", str(deployment.store_path),
                             "--listen", f"unix:{socket_path}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket_path.exists() or patd.poll() is not None, what="patd's socket")

        def last_authenticated():
            out = subprocess.run(["curl", "-sS", "--unix-socket", str(socket_path),
                                  "-u", f"alice:{PASSWORD}",
                                  "http://localhost/rest/access-tokens/1.0/users/alice?limit=1000"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
            return next(t for t in json.loads(out)["values"]
                        if t["id"] == token.id).get("lastAuthenticated")

        assert last_authenticated() is None
        started_ms = time.time() * 1000
        assert burst(deployment, token.text, 1) == ["200"]
        wait_for(lambda: last_authenticated() is not None, timeout=FLUSH_SECONDS + 3,
                 interval=0.3, what="lastAuthenticated through patd")
        assert last_authenticated() >= started_ms - 1000
        # The addresses too, as lastUsedIps.
        out = subprocess.run(["curl", "-sS", "--unix-socket", str(socket_path), "-u", f"alice:{PASSWORD}",
                              f"http://localhost/rest/access-tokens/1.0/users/alice/{token.id}"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert json.loads(out)["lastUsedIps"] == ["127.0.0.1"]
    finally:
        patd.terminate()
        patd.wait(timeout=15)


def test_workers_create_a_missing_usage_file(tmp_path):
    fresh = Deployment(tmp_path / "create", extra_http=EXTRA_HTTP)
    usage = usage_path(fresh)
    usage.unlink()
    fresh.start()
    try:
        assert burst(fresh, fresh.read_token.text, 2) == ["200"] * 2
        wait_for(lambda: listed(fresh, fresh.read_token.id)["last_authenticated"] is not None,
                 timeout=FLUSH_SECONDS + 3, interval=0.2, what="the use in a new usage file")
    finally:
        fresh.stop()
    assert os.stat(usage).st_mode & 0o777 == 0o660
    # The uses came with an address (127.0.0.1): the region for them was added.
    assert usage.stat().st_size == USAGE_SIZE_WITH_ADDRESSES
    assert not Path(f"{usage}-lock").exists()
    assert not fresh.nginx.log_problems()


def test_uses_are_written_at_worker_exit(tmp_path):
    """With the default 60 s interval no timer flush happens during the
    test: only the exit of the workers can have written the use."""
    exiting = Deployment(tmp_path / "exit")
    exiting.start()
    try:
        assert burst(exiting, exiting.read_token.text, 3) == ["200"] * 3
        time.sleep(0.3)
        assert listed(exiting, exiting.read_token.id)["last_authenticated"] is None
    finally:
        exiting.stop()
    assert exiting.nginx.process.returncode == 0
    assert listed(exiting, exiting.read_token.id)["last_authenticated"] is not None
    assert not exiting.nginx.log_problems()


def test_flush_can_be_turned_off(tmp_path):
    quiet = Deployment(tmp_path / "off", extra_http="auth_pat_last_used_flush off;")
    usage = usage_path(quiet)
    before = (usage.stat().st_mtime_ns, hashlib.sha256(usage.read_bytes()).hexdigest())
    quiet.start()
    try:
        assert burst(quiet, quiet.read_token.text, 2) == ["200"] * 2
    finally:
        quiet.stop()
    assert listed(quiet, quiet.read_token.id)["last_authenticated"] is None
    assert (usage.stat().st_mtime_ns, hashlib.sha256(usage.read_bytes()).hexdigest()) == before
