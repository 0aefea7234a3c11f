"""A schema-1 store under a running nginx (issue 14): the workers read it as
it is and its tokens work; a writing patctl command upgrades the file in
place while nginx runs, and every worker reopens it by itself within about
a second, so that a group grant made after the upgrade takes effect in each
of them without a reload. patd logs its own upgrade once. A store of a
schema the module does not know is refused: 500 and a clear error.log line.

The schema-1 store is tests/fixtures/schema1/pat.db, made by the patctl of
0.9.0 (its README says how); every test works on a copy."""

import base64
import http.client
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Deployment
from harness import REPO_ROOT, Patctl, Patd, curl, free_port, git, wait_for

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "schema1"
WATCH_PORT = free_port()
# A server whose listening socket is one per worker (reuseport) and whose
# answers name the worker, to ask each worker in turn; and a location on a
# store of an unknown schema.
EXTRA_HTTP = f"""
server {{
    listen 127.0.0.1:{WATCH_PORT} reuseport;
    root @PREFIX@/html;
    auth_pat_db @ROOT@/store/pat.db;
    add_header X-Worker $pid always;
    location /scm/ {{
        auth_pat "Git";
        auth_pat_route git;
        try_files /ok.txt =404;
    }}
}}
"""
EXTRA_SERVER = """
        location /three/ {
            auth_pat "Three";
            auth_pat_db @ROOT@/three/pat.db;
            auth_pat_route git;
            try_files /ok.txt =404;
        }
"""
PUSH = "/info/refs?service=git-receive-pack"
READ = "/info/refs?service=git-upload-pack"
# Generous: the machine running the tests may be busy. What was measured
# is printed.
DEADLINE_S = 5.0


def fixture_tokens():
    return json.loads((FIXTURE / "tokens.json").read_text())


def schema_of(path):
    """The store's meta schema_version, read with LMDB's own mdb_dump."""
    dumped = subprocess.run(["mdb_dump", "-n", "-s", "meta", "-p", str(path)], capture_output=True,
                            text=True, check=True, timeout=30).stdout.splitlines()
    return dumped[dumped.index(" schema_version") + 1].strip()


def with_schema(source, dest, version):
    """A copy of the store at source whose schema_version says version,
    made with mdb_dump and mdb_load (a file no product code would write)."""
    dumped = subprocess.run(["mdb_dump", "-n", "-a", "-p", str(source)], capture_output=True, text=True,
                            check=True, timeout=30).stdout
    meta = dumped.index("database=meta\n")
    found = re.compile(r"^ schema_version\n \d+\n", re.M).search(dumped, meta)
    assert found, "no schema_version in the meta table"
    text = dumped[:found.start()] + f" schema_version\n {version}\n" + dumped[found.end():]
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mdb_load", "-n", str(dest)], input=text, text=True, check=True, capture_output=True,
                   timeout=30)
    Path(f"{dest}-lock").unlink(missing_ok=True)


def basic(user, text):
    return "Basic " + base64.b64encode(f"{user}:{text}".encode()).decode()


def ask_every_worker(workers, path, authorization):
    """{worker pid: status} of one request answered by each worker (new
    connections through the reuseport server until each has answered)."""
    answers = {}
    for _ in range(400):
        connection = http.client.HTTPConnection("127.0.0.1", WATCH_PORT, timeout=30)
        try:
            headers = {"Authorization": authorization} if authorization else {}
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        answers.setdefault(int(response.getheader("X-Worker")), response.status)
        if set(answers) >= workers:
            return answers
    raise AssertionError(f"not every worker answered: {answers}")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """nginx (two workers) on a copy of the schema-1 fixture."""
    assert (FIXTURE / "pat.db").exists(), f"{FIXTURE}/pat.db is missing"
    root = tmp_path_factory.mktemp("schema-upgrade-live")
    deployment = Deployment(root, extra_http=EXTRA_HTTP, extra_server=EXTRA_SERVER)
    # The Deployment made a store of today's schema: the fixture takes its place.
    for leftover in deployment.store_path.parent.iterdir():
        leftover.unlink()
    shutil.copyfile(FIXTURE / "pat.db", deployment.store_path)
    # From the copy: LMDB's tools would leave a lock file beside the fixture.
    assert schema_of(deployment.store_path) == "1"
    with_schema(deployment.store_path, root / "three" / "pat.db", 3)
    deployment.store_path.with_name("pat.db-lock").unlink(missing_ok=True)
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()
    assert deployment.nginx.process.returncode == 0
    problems = deployment.nginx.log_problems()
    assert not problems, "error.log has alerts:\n" + "\n".join(problems)
    logs = deployment.nginx.error_log.read_text(errors="replace")
    logs += deployment.nginx.access_log.read_text(errors="replace")
    for token in fixture_tokens().values():
        assert token["token"] not in logs, "a token reached nginx's logs"


def test_a_schema_1_store_then_upgraded_while_nginx_runs(live, tmp_path):
    tokens = fixture_tokens()
    alice_admin, alice_read = tokens["alice-admin"], tokens["alice-read"]
    workers = live.nginx.worker_pids()
    assert len(workers) == 2

    # Schema 1, read as it is, by every worker: the tokens of 0.9.0 work.
    assert set(ask_every_worker(workers, f"/scm/WORK/my-repo.git{PUSH}",
                                basic("alice", alice_admin["token"])).values()) == {200}
    assert set(ask_every_worker(workers, f"/scm/WORK/my-repo.git{PUSH}",
                                basic("alice", alice_read["token"])).values()) == {403}
    for name in ("carol-revoked", "dave-disabled"):
        token = tokens[name]
        assert set(ask_every_worker(workers, f"/scm/WORK/site.git{READ}",
                                    basic(token["owner"], token["token"])).values()) == {401}
    cloned = git("clone", "-q", live.repo_url(f"alice:{alice_read['token']}"), str(tmp_path / "c"),
                 env={"HOME": str(live.home)}, check=False)
    assert cloned.returncode == 0, cloned.stderr
    # alice has no grant on NEW: refused everywhere.
    new_push = f"/scm/NEW/thing.git{PUSH}"
    assert set(ask_every_worker(workers, new_push, basic("alice", alice_admin["token"])).values()) == {403}
    # The workers never write the schema, and the start-up notice says which it is.
    assert schema_of(live.store_path) == "1"
    assert f"store {live.store_path} schema 1" in live.nginx.error_log.read_text(errors="replace")
    log_before = len(live.nginx.error_log.read_bytes())

    # A writer upgrades the file in place, with nginx running.
    patctl = Patctl(live.store_path)
    patctl.run("group", "add", "backend")
    upgraded_at = time.monotonic()
    assert schema_of(live.store_path) == "2"
    patctl.run("group", "add-member", "backend", "alice")
    patctl.run("grant", "--group", "backend", "project", "NEW", "write")
    granted_at = time.monotonic()

    # Each worker reopens the store by itself (its timer) and then decides
    # with the group grant.
    allowed_at = {}
    while set(allowed_at) != workers:
        now = time.monotonic()
        assert now - granted_at < DEADLINE_S, (
            f"after {now - granted_at:.1f} s only workers {sorted(allowed_at)} of {sorted(workers)} "
            "decide with the group grant")
        for pid, status in ask_every_worker(workers, new_push, basic("alice", alice_admin["token"])).items():
            assert status in (200, 403), status
            if status == 200:
                allowed_at.setdefault(pid, now - granted_at)
            else:
                assert pid not in allowed_at, f"worker {pid} refused again after it allowed"
        time.sleep(0.02)
    log = live.nginx.error_log.read_bytes()[log_before:].decode(errors="replace")
    for pid in workers:
        reopened = re.findall(rf"\[info\] {pid}#\d+: auth_pat: the store \"{re.escape(str(live.store_path))}\" "
                              r"was upgraded to schema 2: reopening it", log)
        assert len(reopened) == 1, f"worker {pid} logged {len(reopened)} reopen lines:\n{log}"
    print(f"\nupgraded {granted_at - upgraded_at:.2f} s before the grant; the group grant allowed by "
          + ", ".join(f"worker {pid} {t:.2f} s" for pid, t in sorted(allowed_at.items()))
          + " after it was made")

    # The old tokens still do what they did, under schema 2.
    assert set(ask_every_worker(workers, f"/scm/WORK/my-repo.git{PUSH}",
                                basic("alice", alice_admin["token"])).values()) == {200}
    for name in ("carol-revoked", "dave-disabled"):
        token = tokens[name]
        assert set(ask_every_worker(workers, f"/scm/WORK/site.git{READ}",
                                    basic(token["owner"], token["token"])).values()) == {401}
    # A membership change after the upgrade: the next request, in every worker.
    patctl.run("group", "remove-member", "backend", "alice")
    assert set(ask_every_worker(workers, new_push, basic("alice", alice_admin["token"])).values()) == {403}
    # Reopened once: a store already at schema 2 is not reopened again.
    time.sleep(0.6)
    log = live.nginx.error_log.read_bytes()[log_before:].decode(errors="replace")
    assert log.count("was upgraded to schema 2: reopening it") == len(workers)
    # The same workers throughout.
    assert live.nginx.worker_pids() == workers


def test_a_store_of_an_unknown_schema_is_refused(live):
    three = live.root / "three" / "pat.db"
    assert schema_of(three) == "3"
    token = fixture_tokens()["alice-admin"]
    path = live.url(f"/three/scm/WORK/my-repo.git{READ}")
    for _ in range(3):
        assert curl(path, "-u", f"alice:{token['token']}").status == 500
    # Without credentials a repository read must ask the store too (is it
    # public?): 500 as well. A push without credentials needs no store: 401.
    assert curl(path).status == 500
    assert curl(live.url(f"/three/scm/WORK/my-repo.git{PUSH}")).status == 401
    crit = [line for line in live.nginx.error_log.read_text(errors="replace").splitlines()
            if "[crit]" in line and f'cannot open the store "{three}"' in line]
    assert crit, "no crit line names the store"
    assert "schema" in crit[-1] and "3" in crit[-1].split(f'"{three}"', 1)[1], crit[-1]
    print(f"\n{crit[-1]}")
    # Nothing wrote it: still schema 3.
    assert schema_of(three) == "3"


def test_patd_logs_its_upgrade_once(tmp_path):
    store = tmp_path / "store" / "pat.db"
    store.parent.mkdir()
    shutil.copyfile(FIXTURE / "pat.db", store)
    line = f"patd: notice: upgraded the store {store} from schema 1 to schema 2"
    for run in (1, 2):
        patd = Patd(store, tmp_path / "patd.sock", tmp_path / "patd.log")
        patd.start()
        try:
            wait_for(lambda: schema_of(store) == "2", timeout=10, what="the upgrade")
        finally:
            assert patd.stop() == 0
        assert not patd.log_problems(), patd.text()
        # One line for the upgrade, at the first start only.
        assert len(patd.lines(line)) == 1, patd.text()
