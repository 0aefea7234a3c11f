"""Issue 15, tests 9 and 10.

9. Security: the follower role may only read (its INSERT, UPDATE and DELETE
   are refused and change nothing); under sslmode=verify-full a server
   certificate from another CA is refused, and the right CA connects with
   TLS; on a node run as packaged, nginx's workers (www-data) cannot write
   the replica the follower (nginx-pat) keeps, yet read it; no secret
   (token text, token digest, password) reaches PostgreSQL's log although
   it logs every statement, and NOTIFY carries only the seq.
10. During a token load on every node, PostgreSQL sees only the followers'
   and the API's connections: none from an nginx process (pg_stat_activity,
   each connection traced to the process that owns its socket, and the
   workers' own sockets).

What breaks them: grants too wide in fleet init; a client that does not
verify the server (sslmode forced down, the CA not checked); a follower
that makes the replica writable by the workers' group; statements with
secrets inlined or logged parameters; a module that opens a database
connection."""

import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import (PASSWORD, FOLLOWER_ROLE, TABLE_NAMES, api_admitted, patctl_path, report, run,
                      tokens_path, wait_for)
import pg as pgmod

OWNER = "nginx-pat"
WORKERS = "www-data"


def test_9a_the_follower_role_only_reads(fleet):
    pg = fleet.pg
    before = pg.scalar("SELECT count(*) FROM pat_records")
    head = fleet.head()
    assert int(pg.scalar("SELECT count(*) FROM pat_records", user=FOLLOWER_ROLE)) == int(before)
    for sql in ("INSERT INTO pat_records (tbl, key, value) VALUES (1, '\\x6d616c6c6f7279', '\\x00')",
                "INSERT INTO pat_changes (seq, tbl, key, value) "
                f"VALUES ({head + 1}, 1, '\\x6d616c6c6f7279', '\\x00')",
                "UPDATE pat_head SET seq = seq + 1",
                "DELETE FROM pat_records",
                "DELETE FROM pat_changes",
                "CREATE TABLE pat_mine (x int)"):
        result = pg.psql(sql, user=FOLLOWER_ROLE, check=False)
        assert result.returncode != 0, sql
        assert "permission denied" in result.stderr, result.stderr
    assert pg.scalar("SELECT count(*) FROM pat_records") == before
    assert fleet.head() == head


def test_9b_verify_full_refuses_a_server_of_another_ca(fleet, tmp_path):
    pg = fleet.pg
    wrong_ca_dir = tmp_path / "wrong-ca"
    wrong_ca_dir.mkdir()
    pgmod.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-days", "2", "-subj", "/CN=someone else's CA",
                   "-keyout", str(wrong_ca_dir / "ca.key"), "-out", str(wrong_ca_dir / "ca.crt")])
    right = pg.write_connfile("tls-right.conn", FOLLOWER_ROLE, host="localhost",
                              sslmode="verify-full", sslrootcert=str(fleet.ca))
    wrong = pg.write_connfile("tls-wrong.conn", FOLLOWER_ROLE, host="localhost",
                              sslmode="verify-full", sslrootcert=str(wrong_ca_dir / "ca.crt"))
    ok = run([patctl_path(), "fleet", "status", "--source", right], check=False)
    assert ok.returncode == 0, ok.stderr
    refused = run([patctl_path(), "fleet", "status", "--source", wrong], check=False)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "certificate" in lines[0].lower(), refused.stderr
    for secret in pg.credentials.secrets():
        assert secret not in refused.stderr

    # A follower over TLS: it syncs, and the server says its connection is TLS.
    replica_dir = tmp_path / "tls-node"
    replica_dir.mkdir()
    follower = subprocess.Popen([patctl_path(), "follow", "--source", str(right), "--db",
                                 str(replica_dir / "pat.db"), "--node", "tls"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    wrong_follower = subprocess.Popen([patctl_path(), "follow", "--source", str(wrong), "--db",
                                       str(replica_dir / "wrong.db"), "--node", "tls-wrong"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True)
    try:
        head = fleet.head()
        wait_for(lambda: fleet.follower_positions().get("tls", -1) >= head, timeout=20,
                 what="the TLS follower synced")
        ssl = pg.query("SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a "
                       "USING (pid) WHERE a.application_name LIKE 'nginx-pat-follower tls %'")
        assert ssl and ssl[0][0] == "t", ssl
        time.sleep(2)
        assert "tls-wrong" not in fleet.follower_positions()
    finally:
        for p in (follower, wrong_follower):
            if p.poll() is None:
                os.killpg(p.pid, 15)
            p.wait(timeout=15)
    assert "certificate" in wrong_follower.stderr.read().lower()


def ensure_users():
    for name in (WORKERS,):
        try:
            pwd.getpwnam(name)
        except KeyError:
            pytest.skip(f"no {name} user on this machine")
    try:
        pwd.getpwnam(OWNER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", OWNER], check=True)


def as_user(user, *command):
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True,
                          text=True, timeout=60)


def uid_of(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(pid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_9c_workers_cannot_write_the_replica(fleet):
    ensure_users()
    owner, workers = pwd.getpwnam(OWNER), pwd.getpwnam(WORKERS)
    base = Path(tempfile.mkdtemp(prefix="pat-fleet-priv-", dir="/tmp"))
    os.chmod(base, 0o755)
    node = None
    try:
        # The follower's CONNFILE and passfile: its user's only.
        secrets = base / "secrets"
        secrets.mkdir(mode=0o700)
        passfile = secrets / "pgpass"
        shutil.copy(fleet.pg.credentials.path, passfile)
        connfile = secrets / "follower.conn"
        connfile.write_text(fleet.pg.conninfo(FOLLOWER_ROLE, passfile=str(passfile)) + "\n")
        for f in (secrets, passfile, connfile):
            os.chown(f, owner.pw_uid, owner.pw_gid)
        for f in (passfile, connfile):
            os.chmod(f, 0o600)
        state = base / "var-lib-nginx-pat"
        subprocess.run(["install", "-d", "-o", OWNER, "-g", WORKERS, "-m", "2750", str(state)],
                       check=True)
        node = fleet.add_node("priv", start=False, base_dir=base / "node", worker_user=WORKERS,
                              follower_user=OWNER, state_dir=state, follower_conn=connfile)
        for sub in ("tmp", "html"):
            subprocess.run(["chown", "-R", f"{WORKERS}:{WORKERS}", str(node.prefix / sub)],
                           check=True)
        node.start()
        token = fleet.create_token(label="t9-priv", project="read", repo="read")
        fleet.wait_all_at(fleet.head(), timeout=5, nodes=[node])
        # The workers read it...
        assert node.probe(token["token"])[0] == 200
        workers_pids = node.worker_pids()
        assert workers_pids and all(uid_of(p) == workers.pw_uid for p in workers_pids)
        # ...and cannot write it, nor put a file of their own in its place.
        st = node.replica.stat()
        assert st.st_uid == owner.pw_uid, "the replica does not belong to the follower's user"
        assert stat.S_IMODE(st.st_mode) & 0o022 == 0, oct(st.st_mode)
        for path in (node.replica, state / "pat.db.new"):
            result = as_user(WORKERS, "python3", "-c",
                             f"import os; os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)")
            assert result.returncode != 0 and "Permission denied" in result.stderr, result
        renamed = as_user(WORKERS, "python3", "-c",
                          f"import os; os.rename({str(node.replica)!r}, {str(node.replica)!r} + '.x')")
        assert renamed.returncode != 0 and "Permission denied" in renamed.stderr
        # The follower's CONNFILE is not readable by the workers.
        result = as_user(WORKERS, "cat", str(connfile))
        assert result.returncode != 0
        # A revocation still reaches the node (the follower keeps writing as its user).
        fleet.patctl("token", "revoke", token["id"])
        wait_for(lambda: node.probe(token["token"])[0] == 401, timeout=2,
                 what="the revocation on the packaged node")
        assert node.replica.stat().st_uid == owner.pw_uid
        problems = node.log_problems()
        assert not problems, problems
    finally:
        if node:
            node.stop()
            fleet.nodes.pop("priv", None)
        shutil.rmtree(base, ignore_errors=True)


def test_9d_notify_carries_only_the_seq(fleet):
    listener = fleet.pg.session(user=FOLLOWER_ROLE)
    try:
        listener.send("LISTEN pat_changes")
        fleet.create_token(label="t9-notify", project="read", repo="read")
        head = fleet.head()
        deadline = time.monotonic() + 5
        payloads = []
        while time.monotonic() < deadline and str(head) not in payloads:
            out = listener.send("SELECT 1")
            payloads += re.findall(r'Asynchronous notification "pat_changes" with payload "([^"]*)"',
                                   out)
            time.sleep(0.1)
        assert payloads, "no NOTIFY on pat_changes after a write"
        assert all(re.fullmatch(r"\d+", p) for p in payloads), payloads
        assert str(head) in payloads
    finally:
        listener.close()


def test_9e_no_secret_in_postgresqls_log(fleet, nodes):
    """Run late: the log then holds every test's statements (log_statement=all).
    A token made and revoked through the API here too, so that the test
    alone covers the API's statements."""
    created = api_admitted(nodes[0], "PUT", tokens_path("alice"),
                           body={"name": "t9e", "permissions": ["PROJECT_READ"]})
    assert created.status == 200, created.body
    fleet.created_tokens.append(created.json()["token"])
    revoked = api_admitted(nodes[0], "DELETE", f"{tokens_path('alice')}/{created.json()['id']}")
    assert revoked.status == 204
    log = fleet.pg.log_text()
    assert "statement:" in log or "execute" in log, "PostgreSQL logged no statement at all"
    found = []
    for text in fleet.created_tokens:
        if text in log or text.lower() in log.lower():
            found.append("a token's text")
        for digest in (hashlib.sha256(text.encode()).hexdigest(),):
            if digest in log.lower():
                found.append("a token's SHA-256")
    # Whatever the store keys tokens by (their digest), it is not in the log.
    tokens_table = TABLE_NAMES.index("tokens")
    for (key,) in fleet.pg.query(f"SELECT encode(key, 'hex') FROM pat_records "
                                 f"WHERE tbl = {tokens_table}"):
        if len(key) >= 32 and key in log.lower():
            found.append("a key of the tokens table (a digest)")
    # Nor a password's scrypt hash: alice's user record (she has a password).
    users_table = TABLE_NAMES.index("users")
    for key, value in fleet.pg.query(f"SELECT encode(key, 'hex'), encode(value, 'hex') "
                                     f"FROM pat_records WHERE tbl = {users_table}"):
        if key.endswith(b"alice".hex()) and value in log.lower():
            found.append("alice's user record (her password's hash)")
    for secret in [PASSWORD, *fleet.pg.credentials.secrets()]:
        if secret in log:
            found.append("a password")
    assert fleet.created_tokens
    assert not found, f"{len(found)} secrets in PostgreSQL's log: {sorted(set(found))}"


def owners_of_tcp_connections(port):
    """{local port of a client socket connected to 127.0.0.1:PORT: pid}, from
    /proc/net/tcp and every process's file descriptors."""
    inodes = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
            if int(remote.split(":")[1], 16) == port and state == "01":
                inodes[inode] = int(local.split(":")[1], 16)
    owners = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    owners[inodes[target[8:-1]]] = int(pid)
        except OSError:
            continue
    return owners


def test_10_no_nginx_process_connects_to_postgres(fleet, nodes):
    tokens = [fleet.create_token(label=f"t10-{i}", project="read", repo="read") for i in range(3)]
    fleet.wait_all_at(fleet.head(), timeout=5)
    nginx_pids = set()
    for node in nodes:
        nginx_pids |= node.worker_pids() | {node.nginx.process.pid}
    allowed = set()
    for node in nodes:
        allowed |= node.follower.pids()
        if node.patd:
            allowed.add(node.patd.process.pid)
    stop = threading.Event()
    answered = []

    def load(node, token):
        while not stop.is_set():
            answered.append(node.probe(token["token"])[0])

    threads = [threading.Thread(target=load, args=(n, t)) for n in nodes for t in tokens]
    for t in threads:
        t.start()
    seen, strangers, apps = 0, [], set()
    try:
        # Token traffic, and an API write in the middle of it.
        api = threading.Thread(target=lambda: api_admitted(
            nodes[0], "PUT", tokens_path("alice"), body={"name": "t10-api",
                                                          "permissions": ["PROJECT_READ"]}))
        api.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            rows = fleet.pg.query("SELECT pid, application_name, client_port FROM pg_stat_activity "
                                  "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
            owners = owners_of_tcp_connections(fleet.pg.port)
            for pid, app, client_port in rows:
                seen += 1
                apps.add(re.sub(r" \d+$", " SEQ", app))
                owner = owners.get(int(client_port)) if client_port.isdigit() else None
                if owner in nginx_pids:
                    strangers.append(f"backend {pid} ({app}) belongs to nginx process {owner}")
                elif owner is not None and owner not in allowed and not _is_test_client(owner):
                    strangers.append(f"backend {pid} ({app}) belongs to process {owner} "
                                     f"({_comm(owner)})")
            # And from the other side: no nginx process has a socket to the port.
            for pid in nginx_pids:
                if pid in owners.values():
                    strangers.append(f"nginx process {pid} holds a connection to PostgreSQL")
            time.sleep(0.1)
        api.join(timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join()
    report("test 10", f"{len(answered)} token requests answered during the sampling; "
                      f"PostgreSQL's client sessions: {sorted(apps)}")
    assert answered.count(200) > 100, "the load did not run"
    assert seen, "pg_stat_activity showed no session at all"
    assert not strangers, "\n".join(sorted(set(strangers))[:20])


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _is_test_client(pid):
    """psql run by the tests themselves, and patctl commands they run."""
    return _comm(pid) in ("psql", "patctl", "patd")
