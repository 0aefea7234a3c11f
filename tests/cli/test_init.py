"""patctl init and opening a store: the schema, --max-size, and refusing what
is not a store.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import os
import subprocess

from conftest import (
    Patctl,
    assert_error,
    unchanged,
)


def test_init_creates_an_empty_store_of_the_current_schema(tmp_path):
    tool = Patctl(tmp_path / "new.db")
    result = tool.run("init", "--json")
    assert result.rc == 0, result
    assert json.loads(result.out) == {"path": tool.db, "schema_version": 1}
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
