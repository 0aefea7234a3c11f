"""Issue 15, test 8, the ordering test: two overlapping write transactions,
the later-starting one committing first.

First a control experiment on a scratch table shows what the test catches:
numbered by a bigserial, the transaction that started first holds the
lower number, the later one commits first, a reader that has moved past
the higher number never sees the lower one (it is skipped for good).

Then the same interleaving against the fleet's source, with psql sessions
running the fleet's write protocol by hand beside the real writer (patctl
--source): the first transaction starts, the later one (a real token
creation) commits first; only then does the first take pat_head FOR UPDATE,
and its seq comes after the other's. While it holds the head, a third real
writer waits: nothing can commit a lower seq behind a reader. The first
transaction's change (it removes a token's records, a revocation by hand)
reaches every node: no follower skipped it.

What breaks it: a writer that numbers its changes without the head's lock
(a sequence, max(seq)+1, a number taken at BEGIN): the third writer does
not wait, and a follower can pass a seq that commits later."""

import subprocess
import time

from conftest import PASSWORD, patctl_path
from test_c_faults import assert_identical

TOKEN_TABLES = (3, 4, 5)  # tokens, token_ids, user_tokens (include/pat/kv.hpp)


def test_8a_control_a_bigserial_log_lets_a_reader_skip(fleet):
    pg = fleet.pg
    pg.psql("CREATE DATABASE scratch", dbname="postgres")
    pg.psql("CREATE TABLE log (id bigserial PRIMARY KEY, what text)", dbname="scratch")
    first, second, reader = (pg.session(dbname="scratch") for _ in range(3))
    try:
        first.send("BEGIN")
        assert first.send("INSERT INTO log (what) VALUES ('started first') RETURNING id") == "1"
        second.send("BEGIN")
        assert second.send("INSERT INTO log (what) VALUES ('started later') RETURNING id") == "2"
        second.send("COMMIT")
        # A follower-like reader: changes after its position, then moves on.
        seen = reader.send("SELECT id FROM log WHERE id > 0 ORDER BY id").split()
        assert seen == ["2"]
        position = int(seen[-1])
        first.send("COMMIT")
        after = reader.send(f"SELECT id FROM log WHERE id > {position} ORDER BY id").split()
        everything = reader.send("SELECT id FROM log ORDER BY id").split()
        # The hazard the fleet's protocol exists for: row 1 is in the table
        # and the reader will never read it.
        assert after == [] and everything == ["1", "2"]
    finally:
        for s in (first, second, reader):
            s.close()


def create_token(fleet, user, label):
    import json
    out = fleet.patctl("token", "create", user, "--name", label, "--json", "--project", "read",
                       "--repo", "read", "--password-stdin", stdin=PASSWORD + "\n").stdout
    created = json.loads(out)
    fleet.created_tokens.append(created["token"])
    return created


def test_8b_the_fleet_protocol_never_lets_a_follower_skip(fleet, nodes):
    pg = fleet.pg
    fleet.patctl("user", "add", "ordering", "--password-stdin", stdin=PASSWORD + "\n")
    fleet.patctl("grant", "ordering", "project", "WORK", "read")
    h0 = fleet.head()
    victim = create_token(fleet, "ordering", "victim")
    h1 = fleet.head()
    keys = pg.query(f"SELECT DISTINCT tbl, key FROM pat_changes "
                    f"WHERE seq > {h0} AND seq <= {h1} AND tbl IN {TOKEN_TABLES} "
                    f"AND value IS NOT NULL")
    assert keys, "the token's creation wrote no token records?"
    fleet.wait_all_at(h1, timeout=5)
    for node in nodes:
        assert node.probe(victim["token"], user="ordering")[0] == 200

    early = pg.session(user="pat_writer")
    try:
        # 1. The first transaction starts (it has its transaction id)...
        early.send("BEGIN ISOLATION LEVEL READ COMMITTED")
        early.send("SELECT txid_current()")
        # 2. ...a later one, the real writer, starts and commits first.
        later = create_token(fleet, "alice", "later")
        h2 = fleet.head()
        assert h2 > h1
        fleet.wait_all_at(h2, timeout=5)
        # 3. The first now takes the head: its seq comes after the later one's.
        got = int(early.send("SELECT seq FROM pat_head FOR UPDATE"))
        assert got == h2, f"FOR UPDATE read seq {got}, the committed head is {h2}"
        # The token's records, named by a subquery over the change log: the
        # statements (logged: log_statement=all) carry no digest.
        token_keys = (f"(SELECT DISTINCT tbl, key FROM pat_changes WHERE seq > {h0} "
                      f"AND seq <= {h1} AND tbl IN {TOKEN_TABLES} AND value IS NOT NULL) k")
        out = early.send(f"INSERT INTO pat_changes (seq, tbl, key, value) "
                         f"SELECT {got} + row_number() OVER (ORDER BY k.tbl, k.key), k.tbl, k.key, "
                         f"NULL FROM {token_keys}; "
                         f"DELETE FROM pat_records r USING {token_keys} "
                         f"WHERE r.tbl = k.tbl AND r.key = k.key")
        assert "ERROR" not in out, out
        seq = got + len(keys)
        out = early.send(f"UPDATE pat_head SET seq = {seq}")
        assert "ERROR" not in out, out
        # 4. A third writer, started while the head is held, must wait.
        third = subprocess.Popen([patctl_path(), "--source", str(fleet.writer_conn), "grant",
                                  "bob", "repo", "WORK/ordering", "read"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert third.poll() is None, "a writer committed while another held pat_head FOR UPDATE"
        assert fleet.head() == h2
        positions = fleet.follower_positions()
        assert all(positions.get(n.name) == h2 for n in nodes), positions
        early.send(f"NOTIFY pat_changes, '{seq}'")
        assert "ERROR" not in early.send("COMMIT")
        out, err = third.communicate(timeout=30)
        assert third.returncode == 0, err
    finally:
        early.close()
    h3 = fleet.head()
    assert h3 > seq
    fleet.wait_all_at(h3, timeout=5)
    # No follower skipped the first transaction's change.
    for node in nodes:
        assert node.probe(victim["token"], user="ordering")[0] == 401, node.name
        assert node.probe(later["token"])[0] == 200, node.name
        assert_identical(fleet, node)
    rows = pg.query(f"SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM pat_changes "
                    f"WHERE seq > {h0}")
    assert [int(v) for v in rows[0]] == [h3 - h0, h3 - h0, h0 + 1, h3]
