"""patctl fleet init|import|prune|status|verify and patctl follow, end to
end on one machine: a real PostgreSQL, real LMDB stores, the real binary."""

import json
import signal
import time

from conftest import PASSWORD


def make_single_host_store(fleet, path):
    assert fleet.patctl("init", "--db", str(path), "--max-size", "64").rc == 0
    r = fleet.patctl("user", "add", "alice", "--password-stdin", "--db", str(path), stdin="alice pw\n")
    assert r.rc == 0, r
    r = fleet.patctl("grant", "alice", "project", "WORK", "write", "--db", str(path))
    assert r.rc == 0, r
    r = fleet.patctl("token", "create", "alice", "--name", "laptop", "--password-stdin", "--db", str(path),
                     "--directory", "none", "--json", stdin="alice pw\n")
    assert r.rc == 0, r
    return json.loads(r.out)["token"]


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    return predicate()


def test_connfile_and_options_are_checked(fleet):
    r = fleet.patctl("fleet", "init")
    assert r.rc == 2 and "--source CONNFILE is required" in r.err
    fleet.connfile.chmod(0o644)
    r = fleet.patctl("fleet", "init", "--source", str(fleet.connfile))
    assert r.rc == 1 and "readable by every user" in r.err, r
    fleet.connfile.chmod(0o600)
    r = fleet.patctl("fleet", "prune", "--source", str(fleet.connfile), "--keep", "7x")
    assert r.rc == 2 and "invalid --keep" in r.err
    # Nothing was created by the refused commands.
    assert fleet.sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'pat_%'").stdout.strip() == "0"


def test_init_roles_and_idempotence(fleet):
    r = fleet.patctl("fleet", "init", "--source", str(fleet.connfile), "--follower-role", "pat_follower",
                     "--writer-role", "pat_writer")
    assert r.rc == 0, r
    assert r.out.startswith("initialised the fleet source host=127.0.0.1")
    head = int(fleet.sql("SELECT seq FROM pat_head").stdout)
    assert head > 0
    # The follower role may read and nothing else.
    assert fleet.sql("SELECT count(*) FROM pat_records", user="pat_follower").stdout.strip() == str(head)
    denied = fleet.sql("INSERT INTO pat_changes (seq, tbl, key) VALUES (999, 1, 'x')", user="pat_follower",
                       check=False)
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    assert fleet.sql("SELECT pg_has_role('pat_writer', 'pg_read_all_stats', 'MEMBER')").stdout.strip() == "t"

    again = fleet.patctl("fleet", "init", "--source", str(fleet.connfile), "--json")
    assert again.rc == 0, again
    doc = json.loads(again.out)
    assert doc["created"] is False and doc["head"] == head


def test_import_follow_verify_status_prune(fleet, tmp_path):
    single = tmp_path / "single.db"
    token = make_single_host_store(fleet, single)
    src = str(fleet.connfile)
    assert fleet.patctl("fleet", "init", "--source", src).rc == 0
    r = fleet.patctl("fleet", "import", "--source", src, "--db", str(single))
    assert r.rc == 0, r
    assert r.out.startswith("imported ")

    # Importing again is refused: the source is not empty any more.
    again = fleet.patctl("fleet", "import", "--source", src, "--db", str(single))
    assert again.rc == 1 and "not empty" in again.err, again

    replica = tmp_path / "replica.db"
    follower = fleet.follow(replica, "node-a")
    try:
        verified = wait_until(lambda: (lambda r: r if r.rc == 0 else None)(
            fleet.patctl("fleet", "verify", "--source", src, "--db", str(replica))), 10)
        assert verified and verified.rc == 0, verified
        assert verified.out.strip().endswith("identical")
        # The token made on the single host works unchanged on the replica.
        check = fleet.patctl("check", "--token-stdin", "--need", "project-write", "--project", "WORK",
                             "--db", str(replica), stdin=token + "\n")
        assert check.rc == 0, check

        status = wait_until(lambda: (lambda d: d if d["nodes"] and d["nodes"][0]["lag"] == 0 else None)(
            json.loads(fleet.patctl("fleet", "status", "--source", src, "--json").out)), 5)
        assert status, "node-a never showed lag 0"
        assert status["nodes"][0]["node"] == "node-a"
        assert status["nodes"][0]["position"] == status["head"]
        human = fleet.patctl("fleet", "status", "--source", src)
        assert "node-a" in human.out and "head: " in human.out

        pruned = fleet.patctl("fleet", "prune", "--source", src, "--keep", "0s", "--json")
        assert pruned.rc == 0, pruned
        assert json.loads(pruned.out)["pruned"] > 0
        assert fleet.sql("SELECT count(*) FROM pat_changes").stdout.strip() == "1"

        # A tampered source record (bypassing the log): verify says so.
        fleet.sql("UPDATE pat_records SET value = value || '\\x00'::bytea WHERE tbl = 1")
        differ = fleet.patctl("fleet", "verify", "--source", src, "--db", str(replica))
        assert differ.rc == 1 and "DIFFERENT" in differ.out, differ
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=5)
    err = err.decode()
    assert follower.returncode == 0, err
    assert "rebuilding the replica from a snapshot" in err
    assert "stopped at seq" in err
    assert PASSWORD not in err
    # No token text in anything PostgreSQL logged (log_statement=all).
    assert token not in fleet.pg.log_text()
    assert PASSWORD not in fleet.pg.log_text()


def test_follower_refuses_a_single_host_store(fleet, tmp_path):
    single = tmp_path / "single.db"
    make_single_host_store(fleet, single)
    assert fleet.patctl("fleet", "init", "--source", str(fleet.connfile)).rc == 0
    before = single.read_bytes()
    follower = fleet.follow(single, "node-b")
    time.sleep(1.5)
    follower.send_signal(signal.SIGTERM)
    _, err = follower.communicate(timeout=5)
    assert "is a single-host store, not a fleet replica" in err.decode()
    assert single.read_bytes() == before


def test_refusals_change_nothing(fleet, tmp_path):
    src = str(fleet.connfile)
    single = tmp_path / "single.db"
    make_single_host_store(fleet, single)
    # import before init: refused, nothing created
    r = fleet.patctl("fleet", "import", "--source", src, "--db", str(single))
    assert r.rc == 1 and "run patctl fleet init first" in r.err, r
    assert fleet.sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'pat_%'").stdout.strip() == "0"
    assert fleet.patctl("fleet", "init", "--source", src).rc == 0
    # verify of a single-host store: not a replica
    r = fleet.patctl("fleet", "verify", "--source", src, "--db", str(single))
    assert r.rc == 1 and "not a fleet replica" in r.err, r
    # a bad node name, a bad role name
    r = fleet.patctl("follow", "--source", src, "--db", str(tmp_path / "r.db"), "--node", "a b")
    assert r.rc == 2 and "invalid --node" in r.err, r
    r = fleet.patctl("fleet", "init", "--source", src, "--follower-role", "x; DROP TABLE pat_head")
    assert r.rc == 1 and "role name" in r.err, r
    assert fleet.sql("SELECT count(*) FROM pat_head").stdout.strip() == "1"
    # status without nodes
    r = fleet.patctl("fleet", "status", "--source", src)
    assert r.rc == 0 and "nodes: none connected" in r.out, r
    # an unreachable source: one line, exit 1, within the connect timeout
    bad = tmp_path / "bad.conn"
    bad.write_text(f"host=127.0.0.1 port=1 dbname=x user=y password={PASSWORD}\n")
    bad.chmod(0o600)
    start = time.monotonic()
    r = fleet.patctl("fleet", "status", "--source", str(bad))
    assert r.rc == 1 and "cannot connect to the fleet source (host=127.0.0.1 port=1 dbname=x user=y)" in r.err, r
    assert len(r.err.strip().splitlines()) == 1
    assert time.monotonic() - start < 5
