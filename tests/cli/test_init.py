"""patctl init and opening a store: the schema, --max-size, and refusing what
is not a store.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import concurrent.futures
import json
import os
import subprocess

from conftest import (
    ALICE_PASSWORD,
    BOB_PASSWORD,
    Patctl,
    assert_error,
    unchanged,
)


def test_init_creates_an_empty_store_of_the_current_schema(tmp_path):
    tool = Patctl(tmp_path / "new.db")
    result = tool.run("init", "--json")
    assert result.rc == 0, result
    assert json.loads(result.out) == {"path": tool.db, "schema_version": 2}
    assert b"schema_version" in tool.dump(printable=True)
    assert b"schema_version".hex().encode() in tool.dump()
    assert tool.ok("user", "list").out == "no users\n"
    assert tool.ok("token", "list").out == "no tokens\n"
    assert tool.ok("grants").out == "no grants\n"


def test_init_max_size_bounds_the_store(tmp_path):
    for bad in ("0", "-1", "x", "1048577", "1.5"):
        tool = Patctl(tmp_path / f"bad-{bad}.db")
        assert_error(tool.run("init", "--max-size", bad), 2, "--max-size")
        assert not (tmp_path / f"bad-{bad}.db").exists()
    tool = Patctl(tmp_path / "small.db")
    tool.ok("init", "--max-size", "1")
    # LMDB records the map size in the file: every later process honours it.
    info = subprocess.run(["mdb_stat", "-e", "-n", str(tool.db)], capture_output=True, text=True, check=True).stdout
    assert "Map size: 1048576" in info, info
    assert tool.ok("user", "list").out == "no users\n"


def fill_with_grants(tool, user):
    """Ordinary changes (repository grants with long names, each audited),
    four processes at a time, then one at a time, until the store refuses
    them as full. The last part is one at a time because a concurrent
    writer may be refused early: another process's read snapshot keeps
    the pages freed after it from being reused (lmdb.cpp, free_pages),
    so "full" seen beside readers is not yet full for the next writer
    alone."""
    key = "K" * 128

    def grant(i):
        return tool.run("grant", user, "repo", f"{key}/{'s' * 100}{i}", "read")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for start in range(0, 100_000, 32):
            results = list(pool.map(grant, range(start, start + 32)))
            refused = [r for r in results if r.rc != 0]
            if refused:
                assert_error(refused[0], 1, "store: full", "revoking tokens, disabling users, removing grants")
                break
        else:
            raise AssertionError("the store never filled")
    for i in range(start + 32, start + 32 + 10_000):
        result = grant(i)
        if result.rc != 0:
            assert_error(result, 1, "store: full", "revoking tokens, disabling users, removing grants")
            return i
    raise AssertionError("the store never filled for a single writer")


def test_a_full_store_still_revokes_disables_and_ungrants(tmp_path):
    tool = Patctl(tmp_path / "small.db")
    tool.ok("init", "--max-size", "1")
    tool.add_user("alice", ALICE_PASSWORD)
    tool.add_user("bob", BOB_PASSWORD)
    tool.ok("grant", "alice", "project", "PROJ", "write")
    created = tool.create_token("alice", ALICE_PASSWORD)
    assert fill_with_grants(tool, "bob") > 100
    # Full for every ordinary change, and nothing of a refused one is written.
    with unchanged(tool):
        assert_error(tool.run("grant", "alice", "project", "MORE", "read"), 1, "store: full")
        assert_error(tool.run("user", "add", "carol", "--password-stdin", stdin="carol's secret\n"), 1,
                     "store: full")
    assert tool.check(created["token"], "repo-write", "PROJ", "code").rc == 0

    # Taking access away always works, each one audited.
    tool.ok("ungrant", "alice", "project", "PROJ")
    assert tool.check(created["token"], "repo-read", "PROJ", "code").out.startswith("denied: user level too low")
    tool.ok("user", "disable", "alice")
    assert tool.check(created["token"], "authenticated").out.startswith("denied: user disabled")
    tool.ok("token", "revoke", created["id"])
    assert tool.check(created["token"], "authenticated").out.startswith("denied: revoked")
    for i in range(10):
        tool.ok("ungrant", "bob", "repo", f"{'K' * 128}/{'s' * 100}{i}")
    assert [e["action"] for e in tool.audit("alice", "--limit", "3")] == [
        "token-revoked", "user-disabled", "grant-removed"]
    # Giving access back is an ordinary change: refused until there is room.
    assert_error(tool.run("user", "enable", "alice"), 1, "store: full")

    # Pruning the audit trail works on the full store and makes room.
    assert tool.ok("audit", "prune", "--older-than", "0").out.startswith("pruned ")
    tool.ok("grant", "alice", "project", "MORE", "read")


def test_init_refuses_an_existing_store(populated):
    with unchanged(populated):
        assert_error(populated.run("init"), 1, "exists")


def test_init_refuses_an_existing_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"keep me\n")
    assert_error(Patctl(path).run("init"), 1)
    assert path.read_bytes() == b"keep me\n"


def test_a_missing_store_is_refused_and_not_created(tmp_path):
    path = tmp_path / "missing.db"
    for args in (["user", "list"], ["user", "disable", "alice"], ["check", "--token", "npat_x", "--need", "authenticated"]):
        assert_error(Patctl(path).run(*args), 1)
        assert not path.exists()


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(16384))
    before = path.read_bytes()
    assert_error(Patctl(path).run("user", "list"), 1)
    assert_error(Patctl(path).run("user", "add", "x", "--password-stdin", stdin="pw\n"), 1)
    assert path.read_bytes() == before


def test_init_in_a_missing_directory_names_it(tmp_path):
    store = tmp_path / "no" / "such" / "pat.db"
    assert_error(Patctl(store).run("init"), 1,
                 f"store: cannot create {store}: the directory {tmp_path}/no/such does not exist")
    assert not (tmp_path / "no").exists()
