"""Fleet mode's writers (issue 15): `patctl --source CONNFILE` and
`patd --source CONNFILE --db REPLICA` against a real PostgreSQL 15 (initdb
as the `postgres` user into a temporary directory, a private Unix socket),
the real `patctl fleet init`, and the real follower (`patctl follow`)
keeping this node's LMDB replica.

What breaks these tests: a store command that still writes the file
(token list from the source misses the token), patd answering before its
replica has the change (the token is refused on this node right after the
200), a missing or wrong X-Pat-Replicated, patd's reads going to the replica
instead of the source (a token made while the follower is stopped is not
listed), a per-node throttle (five wrong passwords spread over two patd do
not lock the user out), and a CONNFILE others may read being accepted.
"""

import base64
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import PASSWORD, free_port, patctl_path, patd_path, wait_for  # noqa: E402

PG_BIN = Path(os.environ.get("PAT_PG_BIN", "/usr/lib/postgresql/15/bin"))
ADMIN = "pat_admin"
WRITER = "pat_writer"
FOLLOWER = "pat_follower"
TOKEN_BODY = {"name": "fleet", "permissions": ["PROJECT_READ", "REPO_READ"]}

def run(*command, stdin=None, env=None, check=True, timeout=60):
    result = subprocess.run([str(c) for c in command], input=stdin, capture_output=True, text=True,
                            env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(str(c) for c in command)} -> {result.returncode}\n"
                             f"{result.stdout}{result.stderr}")
    return result


class Postgres:
    """A PostgreSQL 15 cluster of its own: the `postgres` user's when run as
    root (initdb refuses root), listening on a Unix socket in its own
    directory only, every role trusted there (the socket's directory is the
    boundary; no password to keep)."""

    def __init__(self, root):
        self.root = Path(root)
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _as_owner(self, *command):
        full = ["runuser", "-u", "postgres", "--", *command] if self.as_root else list(command)
        return run(*full, timeout=120)

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        for d in (self.data, self.sock):
            d.mkdir(mode=0o700)
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            for d in (self.root, self.data, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        self._as_owner(PG_BIN / "initdb", "-D", self.data, "-U", ADMIN, "--auth=trust", "-E", "UTF8",
                       "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = ''\nunix_socket_directories = '{self.sock}'\n"
                       "fsync = off\nmax_connections = 100\n")
        self._as_owner(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "postgresql.log", "-w", "start")
        self.psql("CREATE DATABASE pat", dbname="postgres")
        return self

    def stop(self):
        self._as_owner(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def conninfo(self, role):
        return f"host={self.sock} port={self.port} dbname=pat user={role} connect_timeout=3"

    def psql(self, sql, dbname="pat"):
        return run(PG_BIN / "psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p", self.port, "-U", ADMIN,
                   "-d", dbname, "-Atc", sql).stdout.strip()


def connfile(path, text, mode=0o600):
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


class Fleet:
    def __init__(self, root):
        self.root = root
        self.pg = Postgres(root / "pg")
        self.replica = root / "replica.db"
        self.followers = {}
        self.patds = []

    def patctl(self, *args, stdin=None, check=True, env=None):
        if env is None:
            env = {k: v for k, v in os.environ.items() if k not in ("PAT_SOURCE", "PAT_DB")}
        environment = env
        return run(patctl_path(), *args, stdin=stdin, env=environment, check=check)

    def source(self, *args, stdin=None, check=True):
        return self.patctl("--source", self.writer_conf, *args, stdin=stdin, check=check)

    def start_follower(self, node="a"):
        log = open(self.root / f"follow-{node}.log", "ab")
        self.followers[node] = (subprocess.Popen(
            [patctl_path(), "follow", "--source", str(self.follower_conf), "--db", str(self.replica),
             "--node", node], stdout=log, stderr=log), log)

    def stop_follower(self, node="a"):
        process, log = self.followers.pop(node)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        log.close()

    def replica_position(self):
        """The replica's position as the follower reports it in the source."""
        rows = self.pg.psql("SELECT application_name FROM pg_stat_activity "
                            "WHERE application_name LIKE 'nginx-pat-follower %'")
        return [int(line.split()[2]) for line in rows.splitlines() if line]

    def head(self):
        return int(self.pg.psql("SELECT seq FROM pat_head"))

    def wait_caught_up(self):
        head = self.head()
        wait_for(lambda: self.replica.exists() and self.replica_position() and
                 min(self.replica_position()) >= head, timeout=15, what="the follower to catch up")


class PatdProcess:
    def __init__(self, fleet, name, *extra):
        self.port = free_port()
        self.log_path = fleet.root / f"patd-{name}.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [patd_path(), "--source", str(fleet.writer_conf), "--db", str(fleet.replica),
             "--listen", f"127.0.0.1:{self.port}", "--directory", "none", *extra],
            stdout=self.log, stderr=self.log)
        wait_for(lambda: self._connects() or self.process.poll() is not None, what="patd's port")
        assert self.process.poll() is None, self.text()

    def _connects(self):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def request(self, method, path, user="alice", password=PASSWORD, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        elapsed = time.monotonic() - started
        connection.close()
        return response.status, dict(response.getheaders()), text, elapsed

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.log.close()
        return self.process.returncode


def tokens_path(user):
    return f"/rest/access-tokens/1.0/users/{user}"


def decides(fleet, token):
    """What nginx decides on this node: patctl check over the replica, the
    module's own decision function (Store::decide)."""
    result = fleet.patctl("check", "--db", fleet.replica, "--token-stdin", "--need", "authenticated",
                          stdin=token + "\n", check=False)
    return result.returncode


@pytest.fixture(scope="module")
def fleet():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 is not installed ({PG_BIN}); make deps installs it")
    root = Path(tempfile.mkdtemp(prefix="pat-patd-fleet-"))
    os.chmod(root, 0o755)  # the cluster's owner (postgres) passes through to its own directory
    f = Fleet(root)
    f.pg.start()
    try:
        f.admin_conf = connfile(root / "admin.conf", f.pg.conninfo(ADMIN))
        f.writer_conf = connfile(root / "writer.conf", f.pg.conninfo(WRITER))
        f.follower_conf = connfile(root / "follower.conf", f.pg.conninfo(FOLLOWER))
        f.patctl("fleet", "init", "--source", f.admin_conf, "--writer-role", WRITER, "--follower-role", FOLLOWER)
        f.start_follower("a")
        for user in ("alice", "bob", "target"):
            f.source("user", "add", user, "--password-stdin", stdin=PASSWORD + "\n")
        f.source("grant", "alice", "project", "PRJ", "write")
        f.wait_caught_up()
        f.patd = PatdProcess(f, "a")
        yield f
    finally:
        for p in getattr(f, "patds", []):
            p.stop()
        if hasattr(f, "patd"):
            assert f.patd.stop() == 0, f.patd.text()
            log = f.patd.text()
            assert PASSWORD not in log and "npat_" not in log, "a secret reached patd's log"
        for node in list(f.followers):
            f.stop_follower(node)
        f.pg.stop()
        if not os.environ.get("PAT_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def test_patctl_source_writes_and_reads_the_source(fleet):
    token = fleet.source("token", "create", "alice", "--name", "cli", "--password-stdin",
                         stdin=PASSWORD + "\n").stdout.strip()
    assert len(token) > 20 and "\n" not in token, token
    assert "cli" in fleet.source("token", "list", "alice").stdout
    assert "alice" in fleet.source("grants", "alice").stdout
    # The change is in the source's change log, and the follower brings it
    # to the replica, where nginx decides.
    fleet.wait_caught_up()
    assert decides(fleet, token) == 0
    # The replica lists what the source does.
    assert "cli" in fleet.patctl("token", "list", "alice", "--db", fleet.replica).stdout
    # $PAT_SOURCE stands in for --source.
    env = {**os.environ, "PAT_SOURCE": str(fleet.writer_conf)}
    env.pop("PAT_DB", None)
    assert "alice" in fleet.patctl("user", "list", env=env).stdout
    audit = fleet.source("audit", "alice").stdout
    assert "token-created" in audit


def test_patctl_source_refusals(fleet):
    for args in (["backup", fleet.root / "copy.db"], ["restore", fleet.root / "copy.db"], ["init"],
                 ["check", "--token-stdin", "--need", "authenticated"]):
        result = fleet.source(*args, check=False)
        assert result.returncode == 2, result
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "--source does not apply" in result.stderr, result.stderr
    both = fleet.patctl("--source", fleet.writer_conf, "--db", fleet.replica, "user", "list", check=False)
    assert both.returncode == 2 and "give one of them" in both.stderr
    # The replica has one writer, its follower.
    refused = fleet.patctl("--db", fleet.replica, "user", "add", "eve", "--password-stdin",
                           stdin=PASSWORD + "\n", check=False)
    assert refused.returncode == 1 and "fleet replica" in refused.stderr, refused
    assert "eve" not in fleet.source("user", "list").stdout
    # A CONNFILE others may read is refused, and nothing is written.
    loose = connfile(fleet.root / "loose.conf", fleet.pg.conninfo(WRITER), mode=0o644)
    result = fleet.patctl("--source", loose, "user", "add", "eve", "--password-stdin", stdin=PASSWORD + "\n",
                          check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result
    assert "eve" not in fleet.source("user", "list").stdout


def test_patd_startup_checks(fleet):
    listen = ["--listen", f"127.0.0.1:{free_port()}", "--directory", "none"]
    checked = run(patd_path(), "--check-config", "--source", fleet.writer_conf, "--db", fleet.replica, *listen,
                  timeout=20)
    assert "fleet source" in checked.stdout and "opens read-only" in checked.stdout, checked.stdout
    # --db must be a replica in fleet mode, and a replica is not written without --source.
    single = fleet.root / "single.db"
    fleet.patctl("--db", single, "init", "--max-size", "16")
    result = run(patd_path(), "--source", fleet.writer_conf, "--db", single, *listen, check=False, timeout=20)
    assert result.returncode == 1 and "is not a fleet replica" in result.stderr, result.stderr
    result = run(patd_path(), "--db", fleet.replica, *listen, check=False, timeout=20)
    assert result.returncode == 1 and "is a fleet replica" in result.stderr, result.stderr


def test_patd_refuses_a_bad_connfile(fleet):
    loose = connfile(fleet.root / "loose-patd.conf", fleet.pg.conninfo(WRITER), mode=0o644)
    missing = fleet.root / "missing.conf"
    for conf in (loose, missing):
        result = run(patd_path(), "--source", conf, "--db", fleet.replica, "--listen", f"127.0.0.1:{free_port()}",
                     "--directory", "none", check=False, timeout=20)
        assert result.returncode == 1, result
        assert f"--source {conf}:" in result.stderr, result.stderr
        assert fleet.pg.conninfo(WRITER) not in result.stderr  # never the connection string itself


def test_patd_create_waits_for_the_replica_and_says_how_many_nodes_have_it(fleet):
    status, headers, body, _ = fleet.patd.request("PUT", tokens_path("alice"), body=TOKEN_BODY)
    assert status == 200, body
    assert headers.get("X-Pat-Replicated") == "1/1", headers
    token = json.loads(body)["token"]
    # Usable at once on this node: no wait, no retry.
    assert decides(fleet, token) == 0
    token_id = json.loads(body)["id"]
    status, headers, body, _ = fleet.patd.request("DELETE", f"{tokens_path('alice')}/{token_id}")
    assert status == 204, body
    assert headers.get("X-Pat-Replicated") == "1/1", headers
    assert decides(fleet, token) != 0  # refused at once on this node
    # Reads have no header.
    status, headers, _, _ = fleet.patd.request("GET", tokens_path("alice"))
    assert status == 200 and "X-Pat-Replicated" not in headers


def test_patd_reads_the_source_and_says_when_no_node_has_the_change(fleet):
    fleet.stop_follower("a")
    try:
        # Made while the replica cannot have it: the API lists the source's.
        fleet.source("token", "create", "bob", "--name", "made-meanwhile", "--password-stdin",
                     stdin=PASSWORD + "\n")
        status, headers, body, _ = fleet.patd.request("GET", tokens_path("bob"), user="bob")
        assert status == 200 and "made-meanwhile" in body, body
        # A change now: committed (200), after patd's 2 s wait, no live node.
        status, headers, body, elapsed = fleet.patd.request("PUT", tokens_path("bob"), user="bob", body=TOKEN_BODY)
        assert status == 200, body
        assert headers.get("X-Pat-Replicated") == "0/0", headers
        assert 1.9 <= elapsed < 15, elapsed  # the 2 s wait, plus a password check on a busy machine
        token = json.loads(body)["token"]
        assert decides(fleet, token) != 0  # not on this node yet
        assert "was not in this node's replica within 2 s" in fleet.patd.text()
    finally:
        fleet.start_follower("a")
    fleet.wait_caught_up()
    assert decides(fleet, token) == 0


def test_password_change_is_replicated(fleet):
    status, headers, body, _ = fleet.patd.request("PUT", f"{tokens_path('bob')}/password", user="bob",
                                                   body={"oldPassword": PASSWORD, "password": PASSWORD + " 2"})
    assert status == 204, body
    assert headers.get("X-Pat-Replicated") == "1/1", headers
    status, _, body, _ = fleet.patd.request("PUT", f"{tokens_path('bob')}/password", user="bob",
                                            password=PASSWORD + " 2",
                                            body={"oldPassword": PASSWORD + " 2", "password": PASSWORD})
    assert status == 204, body


def test_the_throttle_counts_across_two_patd_on_one_source(fleet):
    second = PatdProcess(fleet, "b")
    fleet.patds.append(second)
    nodes = [fleet.patd, second]
    # Five wrong passwords, spread over the two: each patd alone saw fewer
    # than its limit of 5, so a per-node throttle would let the next through.
    for i in range(5):
        status, _, body, _ = nodes[i % 2].request("GET", tokens_path("target"), user="target", password="wrong")
        assert status == 401, (i, status, body)
    for node in nodes:
        status, headers, body, _ = node.request("GET", tokens_path("target"), user="target")
        assert status == 429, (status, body)
        assert int(headers["Retry-After"]) > 1
    counted = fleet.pg.psql("SELECT count(*) FROM pat_sign_in_attempts WHERE key = 'utarget'::bytea AND NOT pending")
    assert counted == "5"
    # Another user is not affected.
    status, _, body, _ = second.request("GET", tokens_path("alice"))
    assert status == 200, body
    assert second.stop() == 0
    log = second.text()
    assert PASSWORD not in log and "wrong" not in log.replace("wrong user name", "")


def test_concurrent_guesses_on_two_patd_get_five_checks_in_all(fleet):
    """Guesses sent to both patd at the same moment, round after round: the
    source admits five password checks for the user in all (a per-node
    throttle would admit five on each: ten)."""
    from concurrent.futures import ThreadPoolExecutor
    fleet.source("user", "add", "target2", "--password-stdin", stdin=PASSWORD + "\n")
    second = PatdProcess(fleet, "c")
    fleet.patds.append(second)
    nodes = [fleet.patd, second]
    statuses = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(8):
            futures = [pool.submit(node.request, "GET", tokens_path("target2"), "target2", "wrong")
                       for node in nodes for _ in range(2)]
            statuses += [f.result()[0] for f in futures]
            time.sleep(0.05)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) == 5, statuses
    counted = fleet.pg.psql("SELECT count(*) FROM pat_sign_in_attempts WHERE key = 'utarget2'::bytea")
    assert counted == "5"
    assert second.stop() == 0


def test_revoke_by_value_over_the_source(fleet):
    """POST .../revoke (no credentials needed; Basic sent along is ignored)
    revokes in the source and waits for the replica like any change: the
    token is refused on this node right after the 202; an unknown token gets
    the same 202 and body. patctl --source revokes by value too."""
    bodies = []
    for _ in range(2):
        status, _, body, _ = fleet.patd.request("PUT", tokens_path("alice"), body=TOKEN_BODY)
        assert status == 200, body
        bodies.append(json.loads(body))
    leaked, other = bodies
    fleet.wait_caught_up()
    assert decides(fleet, leaked["token"]) == 0
    status, _, answer, _ = fleet.patd.request("POST", "/rest/access-tokens/1.0/revoke", password="wrong",
                                              body={"tokens": [leaked["token"]]})
    assert status == 202, answer
    assert decides(fleet, leaked["token"]) != 0  # refused at once on this node
    status, _, again, _ = fleet.patd.request("POST", "/rest/access-tokens/1.0/revoke",
                                             body={"tokens": [leaked["token"], "npat_unknown"]})
    assert (status, again) == (202, answer)
    audit = json.loads(fleet.source("audit", "--json", "--limit", "20").stdout)
    entry = next(e for e in audit if e.get("token_id") == leaked["id"])
    assert (entry["action"], entry["actor"], entry["detail"]) == ("token-revoked", "anonymous", "by value")

    result = fleet.source("token", "revoke", "--token-stdin", stdin=other["token"] + "\n")
    assert result.stdout == f"revoked token {other['id']} of user alice\n"
    fleet.wait_caught_up()
    assert decides(fleet, other["token"]) != 0
