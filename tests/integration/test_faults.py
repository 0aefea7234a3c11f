"""Fault injection against the real nginx, patctl and LMDB files (issue 6):
a store the workers cannot open (mode 000, lock file not writable), a
truncated file, random bytes, a corrupted record, the map grown by another
writer, a full store (patctl; the token API's side of it is patd's, see
tests/patd), writers killed with SIGKILL, a worker killed with SIGKILL, and
a full reader table.

Each case checks the same things: protected requests fail closed (500,
logged at crit, never 200 or a misleading 401), unrelated locations keep
working, no worker dies or restarts in a loop, the store keeps its last
committed state, and service comes back by itself once the fault is gone.
(test_store_faults.py covers a missing store, a directory in its place, a
text file and a restore by rename.)

Tests run as root here, and root reads a mode-000 file anyway: so this
module's workers run as `nobody`, its directory is world-traversable and its
stores belong to nobody, as they would in a real deployment."""

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Deployment
from harness import PASSWORD, Patctl, curl, patctl_path, wait_for

HERE = Path(__file__).resolve().parent
FAULTS = ("unreadable", "lockfile", "random", "truncated", "corrupt", "grown", "full", "readers",
          "import", "killed")
EXTRA_SERVER = "".join(f"""
        location /f/{name}/ {{
            auth_pat "Faults";
            auth_pat_db @ROOT@/faults/{name}.db;
            try_files /ok.txt =404;
        }}""" for name in FAULTS) + """
        location = /open.txt { try_files /ok.txt =404; }
"""
AS_ROOT = os.geteuid() == 0


# ---------------------------------------------------------------- helpers --

def give_to_workers(*paths):
    """Files the workers (nobody) must read, the lock file they write, and
    the usage file their last-use flush writes."""
    if not AS_ROOT:
        return
    for path in paths:
        for p in (Path(path), Path(f"{path}-lock"), Path(f"{path}-usage")):
            if p.exists():
                shutil.chown(p, "nobody", "nogroup")


def make_store(path, tokens=1, max_size_mib=None):
    """A store with user erin and TOKENS tokens, built beside PATH and moved
    into place in one rename (the way an operator restores a backup)."""
    path = Path(path)
    staging = path.parent / "staging" / path.name
    staging.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (staging, Path(f"{staging}-lock")):
        leftover.unlink(missing_ok=True)
    patctl = Patctl(staging)
    patctl.run("init", *(["--max-size", str(max_size_mib)] if max_size_mib else []))
    patctl.add_user("erin")
    created = [patctl.create_token("erin", f"faults-{n}") for n in range(tokens)]
    os.replace(staging, path)
    Path(f"{staging}-lock").unlink(missing_ok=True)
    # The lock file exists from now on and is the workers': a tool run as
    # root later must not create it root-owned.
    Patctl(path).run("user", "list")
    give_to_workers(path)
    os.chmod(path, 0o640)
    return created


def statuses(deployment, path, token, count=6):
    return [curl(deployment.url(path), *token.bearer()).status for _ in range(count)]


def crit_lines(deployment, text):
    return [line for line in deployment.nginx.error_log.read_text(errors="replace").splitlines()
            if "[crit]" in line and text in line]


def unrelated_still_work(deployment):
    """Another store's location and an unprotected one are untouched."""
    assert curl(deployment.url("/rest/api/1.0/projects/WORK/repos"),
                *deployment.read_token.bearer()).status == 200
    assert curl(deployment.url("/open.txt")).status == 200


def table_entries(store, table):
    out = subprocess.run(["mdb_stat", "-n", "-s", table, str(store)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return int(re.search(r"Entries: (\d+)", out.stdout).group(1))


def last_txn_id(store):
    """LMDB's last committed transaction id, from the real mdb_stat."""
    out = subprocess.run(["mdb_stat", "-n", "-e", str(store)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return int(re.search(r"Last transaction ID: (\d+)", out).group(1))


def readers(store):
    """The pids in LMDB's reader table (mdb_stat -r)."""
    out = subprocess.run(["mdb_stat", "-n", "-r", str(store)], capture_output=True, text=True,
                         timeout=30).stdout
    return {int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+[0-9a-f]+\s+(\d+|-)\s*$", out, re.M)}


def build_deployment(root):
    root = Path(root)
    deployment = Deployment(root, extra_server=EXTRA_SERVER.replace("@ROOT@", str(root)))
    (root / "faults").mkdir()
    if AS_ROOT:
        text = deployment.nginx.conf.read_text().replace("user root root;", "user nobody nogroup;")
        deployment.nginx.conf.write_text(text)
        for d in (root / "store", root / "faults"):
            shutil.chown(d, "nobody", "nogroup")
        give_to_workers(deployment.store_path)
    return deployment


@contextlib.contextmanager
def running_deployment():
    # Not under pytest's 0700 tmp directory: the workers (nobody) must get in.
    root = Path(tempfile.mkdtemp(prefix="pat-faults-"))
    os.chmod(root, 0o755)
    deployment = build_deployment(root)
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()
        if not os.environ.get("PAT_KEEP_FAULTS"):  # keep it to read its logs
            shutil.rmtree(root, ignore_errors=True)


def steady_workers(deployment, seconds=2.0):
    """The worker pids, checked unchanged over SECONDS (no crash loop)."""
    before = deployment.nginx.worker_pids()
    time.sleep(seconds)
    after = deployment.nginx.worker_pids()
    assert before == after and len(after) == 2, f"workers changed: {before} -> {after}"
    return after


@pytest.fixture(scope="module")
def faults():
    """One deployment for the module, checked like conftest's: no alert, no
    sanitizer report, no token text in the logs."""
    with running_deployment() as deployment:
        deployment.created = []
        yield deployment
        problems = deployment.nginx.log_problems()
        assert not problems, "error.log has alerts:\n" + "\n".join(problems)
        logs = deployment.nginx.error_log.read_text(errors="replace")
        logs += deployment.nginx.access_log.read_text(errors="replace")
        for secret in deployment.secrets() + deployment.created:
            assert secret not in logs, "a token reached nginx's logs"
    assert deployment.nginx.process.returncode == 0


@pytest.fixture(scope="module")
def tool(tmp_path_factory):
    """lmdb_fault_tool.c, built with the system's gcc and liblmdb."""
    binary = tmp_path_factory.mktemp("tool") / "lmdb_fault_tool"
    subprocess.run(["gcc", "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(binary),
                    str(HERE / "lmdb_fault_tool.c"), "-llmdb"], check=True, timeout=120)

    def run(*args):
        out = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        give_to_workers(args[1])
        return out

    run.binary = binary
    return run


def faulty(faults, name):
    return faults.root / "faults" / f"{name}.db"


def fails_closed(faults, name, token, reason_text):
    """Every protected request 500, the fault at crit naming the store, the
    rest of the server unaffected, the same workers throughout."""
    workers = faults.nginx.worker_pids()
    # A worker notices a file replaced under it within a second.
    wait_for(lambda: statuses(faults, f"/f/{name}/x", token, count=1) == [500], timeout=4,
             interval=0.2, what=f"the fault in {name}.db to be seen")
    assert set(statuses(faults, f"/f/{name}/x", token)) == {500}
    assert crit_lines(faults, f"{name}.db"), "the fault was not logged at crit"
    if reason_text:
        assert any(reason_text in line for line in crit_lines(faults, f"{name}.db"))
    # Without credentials nothing is read: the challenge, not an error.
    assert curl(faults.url(f"/f/{name}/x")).status == 401
    unrelated_still_work(faults)
    assert faults.nginx.worker_pids() == workers


def recovers(faults, name, token):
    wait_for(lambda: set(statuses(faults, f"/f/{name}/x", token, count=4)) == {200},
             timeout=6, interval=0.3, what=f"recovery of {name}.db")


# ------------------------------------------------------------------ tests --

@pytest.mark.skipif(not AS_ROOT, reason="needs root to run the workers as nobody")
def test_unreadable_store_mode_000(faults):
    store = faulty(faults, "unreadable")
    [token] = make_store(store)
    os.chmod(store, 0)
    faults.nginx.reload()  # new workers: they open the store afresh
    fails_closed(faults, "unreadable", token, "permission denied")
    steady_workers(faults)
    os.chmod(store, 0o640)
    recovers(faults, "unreadable", token)


@pytest.mark.skipif(not AS_ROOT, reason="needs root to run the workers as nobody")
def test_lock_file_not_writable(faults):
    store = faulty(faults, "lockfile")
    [token] = make_store(store)
    lock = Path(f"{store}-lock")
    Patctl(store).run("user", "list")  # make sure the lock file exists
    shutil.chown(lock, "root", "root")
    os.chmod(lock, 0o644)
    faults.nginx.reload()
    fails_closed(faults, "lockfile", token, "permission denied")
    give_to_workers(store)
    recovers(faults, "lockfile", token)


def test_random_bytes(faults):
    store = faulty(faults, "random")
    [token] = make_store(store)
    assert set(statuses(faults, "/f/random/x", token)) == {200}
    staging = store.parent / "staging" / "random.db"
    staging.write_bytes(os.urandom(256 * 1024))
    os.replace(staging, store)
    give_to_workers(store)
    fails_closed(faults, "random", token, "")
    [fresh] = make_store(store)
    recovers(faults, "random", fresh)
    assert set(statuses(faults, "/f/random/x", token)) == {401}


def test_truncated_store():
    # Store::open checks LMDB's meta pages against the file's length before
    # LMDB maps it: a truncated copy is refused (500), the worker lives.
    with running_deployment() as deployment:
        store = faulty(deployment, "truncated")
        token, *_ = make_store(store, tokens=3)
        staging = store.parent / "staging" / "truncated.db"
        shutil.copyfile(store, staging)
        with open(staging, "r+b") as f:
            f.truncate(os.path.getsize(staging) // 2)
        os.replace(staging, store)
        give_to_workers(store)
        try:
            codes = statuses(deployment, "/f/truncated/x", token)
        finally:
            problems = deployment.nginx.log_problems()
        assert not problems, "\n".join(problems)
        assert set(codes) == {500}


def test_corrupted_record(faults, tool):
    store = faulty(faults, "corrupt")
    broken, intact = make_store(store, tokens=2)
    backup = store.parent / "staging" / "corrupt-backup.db"
    backup.unlink(missing_ok=True)
    subprocess.run(["mdb_copy", "-n", str(store), str(backup)], check=True, timeout=30)
    give_to_workers(store, backup)
    tool("corrupt", store, broken.id)
    fails_closed(faults, "corrupt", broken, "")
    # The other token's record is intact and decides again once the worker
    # has reopened the file (it does after a failed decision, at most once
    # a second; until then the whole file answers 500).
    wait_for(lambda: statuses(faults, "/f/corrupt/x", intact, count=1) == [200], timeout=4,
             interval=0.3, what="the intact token after the reopen")
    assert statuses(faults, "/f/corrupt/x", broken, count=1) == [500]
    # patctl reports the broken record instead of crashing or skipping it.
    listed = Patctl(store).run("token", "list", check=False)
    assert listed.returncode != 0 or broken.id in listed.stdout
    os.replace(backup, store)
    give_to_workers(store)
    recovers(faults, "corrupt", broken)


def test_map_grown_by_another_writer(faults, tool):
    store = faulty(faults, "grown")
    [token] = make_store(store, max_size_mib=1)
    assert set(statuses(faults, "/f/grown/x", token)) == {200}  # workers map 1 MiB
    # Another LMDB writer reopens with a 64 MiB map and writes past 1 MiB:
    # the workers' next read transaction gets MDB_MAP_RESIZED.
    written = int(tool("grow", store, 64, 3 << 20))
    assert written >= 3 << 20 and os.path.getsize(store) > 1 << 20
    give_to_workers(store)
    seen = []
    wait_for(lambda: seen.extend(statuses(faults, "/f/grown/x", token, count=4)) or
             seen[-4:] == [200] * 4, timeout=6, interval=0.3, what="reads of the grown map")
    # A valid token may meet a 500 while a worker reopens, never a refusal.
    assert set(seen) <= {200, 500}, seen
    # Writers go on too, and what they write is seen.
    Patctl(store).add_user("grace")
    later = Patctl(store).create_token("grace", "after-growth")
    assert set(statuses(faults, "/f/grown/x", later)) == {200}
    unrelated_still_work(faults)


def test_full_store_refuses_changes_and_keeps_serving(faults, tool):
    store = faulty(faults, "full")
    [token] = make_store(store, max_size_mib=1)
    patctl = Patctl(store)
    assert int(tool("fill", store)) > 800_000
    give_to_workers(store)
    before_txn = last_txn_id(store)
    before_tokens = patctl.run("token", "list", "--json").stdout

    refused = patctl.run("grant", "erin", "project", "FULL", "read", check=False)
    assert refused.returncode != 0 and "full" in refused.stderr
    refused = patctl.run("user", "add", "frank", "--password-stdin", stdin=PASSWORD + "\n",
                         check=False)
    assert refused.returncode != 0 and "full" in refused.stderr

    # Nothing changed, and reading goes on.
    assert last_txn_id(store) == before_txn
    assert patctl.run("token", "list", "--json").stdout == before_tokens
    assert set(statuses(faults, "/f/full/x", token)) == {200}
    unrelated_still_work(faults)

    # The fault removed (space freed), writes work again.
    # Freed pages are reused once no reader's snapshot predates the free:
    # the workers let go of theirs within a second when idle.
    tool("drop", store)
    wait_for(lambda: patctl.run("grant", "erin", "project", "FULL", "read",
                                check=False).returncode == 0,
             timeout=5, interval=0.5, what="space to write again")
    later = patctl.create_token("erin", "after-space-freed")
    assert set(statuses(faults, "/f/full/x", later)) == {200}


def test_readers_table_full(faults, tool):
    # 130 workers would need 130 slots of LMDB's default 126; a process
    # holding every free slot is the same fault, cheaply, on a 2-core box.
    store = faulty(faults, "readers")
    [token] = make_store(store)
    holder = subprocess.Popen([str(tool.binary), "hold-readers", str(store)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        held = int(holder.stdout.readline())
        assert held > 100
        fails_closed(faults, "readers", token, "")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    recovers(faults, "readers", token)


def test_patctl_killed_at_random_points(faults):
    store = faulty(faults, "killed")
    [first] = make_store(store)
    rng = random.Random(6)
    finished, killed = 0, 0
    for n in range(12):
        process = subprocess.Popen([patctl_path(), "--db", str(store), "token", "create", "erin",
                                    "--name", f"k{n}", "--json", "--password-stdin"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        process.stdin.write(PASSWORD + "\n")
        process.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.25))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=30)
        if process.returncode == 0:
            finished += 1
            faults.created.append(json.loads(out)["token"])
        else:
            killed += 1
        # The store opens after every kill, its tables agree.
        listed = json.loads(Patctl(store).run("token", "list", "--json").stdout)
        assert table_entries(store, "tokens") == table_entries(store, "token_ids") == len(listed)
    assert killed > 0
    assert finished + 1 <= len(listed) <= finished + killed + 1
    assert set(statuses(faults, "/f/killed/x", first)) == {200}


def test_bulk_import_killed_keeps_last_commit(faults):
    seeder = Path(patctl_path()).parent / "bench" / "bench-seed"
    if not seeder.exists():
        pytest.skip(f"{seeder} is not built (make build/bench/bench-seed)")
    store = faulty(faults, "import")
    process = subprocess.Popen([str(seeder), "--db", str(store), "--credentials",
                                str(store.parent / "import-credentials.txt"),
                                "--tokens", "400000", "--batch", "2000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: store.exists() and table_entries(store, "tokens") >= 4000, timeout=60,
                 interval=0.05, what="some committed batches")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    committed = table_entries(store, "tokens")
    assert 0 < committed < 400000
    assert table_entries(store, "token_ids") == table_entries(store, "user_tokens") == committed
    # It opens for patctl and for the workers, and takes new changes.
    Patctl(store).add_user("ivan")
    token = Patctl(store).create_token("ivan", "after-kill")
    give_to_workers(store)
    assert set(statuses(faults, "/f/import/x", token)) == {200}
    assert table_entries(store, "tokens") == committed + 1


def test_worker_killed_reader_slot_reclaimed():
    # Its own nginx: the master reports a killed worker at [alert], which
    # would fail the shared deployment's log check.
    with running_deployment() as deployment:
        token = deployment.read_token
        url = deployment.url("/rest/api/1.0/projects/WORK/repos")
        wait_for(lambda: [curl(url, *token.bearer(), "-H", "Connection: close").status
                          for _ in range(4)] and
                 deployment.nginx.worker_pids() <= readers(deployment.store_path),
                 timeout=10, interval=0.1, what="both workers in the reader table")
        victim = sorted(deployment.nginx.worker_pids())[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(deployment.nginx.worker_pids() - {victim}) == 2, timeout=10,
                 what="a replacement worker")
        # A writer opening the store clears the dead reader's slot.
        deployment.patctl.grant("bob", "project", "WORK", "read")
        assert victim not in readers(deployment.store_path)
        assert {curl(url, *token.bearer()).status for _ in range(6)} == {200}
        steady_workers(deployment)
        alerts = deployment.nginx.log_problems()
        assert len(alerts) == 1 and f"{victim} exited on signal 9" in alerts[0], alerts
