"""A real schema-1 store (made by patctl 0.9.0: tests/fixtures/schema1/README.md)
under today's patctl: readers use it as it is and never write it; the first
writer upgrades it in place, once, and says so on stderr; users, grants and
tokens work as before. A store of a schema this build does not know is
refused by readers and writers alike.
"""

import hashlib
import json
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import (
    Patctl,
    assert_error,
)

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "schema1"
TOKENS = json.loads((FIXTURE / "tokens.json").read_text())
ALICE_PASSWORD = "alice schema-1 password"


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def upgrade_line(store):
    return f"patctl: upgraded the store {store.db} from schema 1 to schema 2\n"


@pytest.fixture
def old_store(tmp_path):
    """A copy of the schema-1 fixture (never opened in place)."""
    path = tmp_path / "pat.db"
    shutil.copyfile(FIXTURE / "pat.db", path)
    return Patctl(path)


def views(store):
    """What the read-only commands show, to compare across the upgrade."""
    return {
        "users": json.loads(store.ok("user", "list", "--json").out),
        "grants": json.loads(store.ok("grants", "--json").out),
        "tokens": json.loads(store.ok("token", "list", "--json").out),
    }


def check(store, token_name, need, project=None, repo=None):
    return store.check(TOKENS[token_name]["token"], need, project, repo)


def assert_the_old_contents_work(store):
    """Users, grants and tokens of the fixture, decided by today's core."""
    view = views(store)
    assert [(u["name"], u["display_name"], u["active"], u["sysadmin"]) for u in view["users"]] == [
        ("alice", "Alice Example", True, False), ("bob", "bob", True, True), ("carol", "carol", True, False),
        ("dave", "dave", False, False)]
    assert {(g["user"], g["project"], g["repo"], g["level"]) for g in view["grants"] if "user" in g} == {
        ("alice", "WORK", None, "write"), ("alice", "OTHER", "tools", "admin"), ("carol", "WORK", "site", "read"),
        ("dave", "WORK", None, "admin")}
    # `token list` leaves revoked tokens out.
    assert {t["id"] for t in view["tokens"]} == {t["id"] for name, t in TOKENS.items() if name != "carol-revoked"}

    result = check(store, "alice-admin", "repo-write", "WORK", "code")
    assert result.rc == 0 and result.out.startswith("allowed: level write via "), result
    assert result.out.endswith(f"(token {TOKENS['alice-admin']['id']}, user alice)\n")
    assert check(store, "alice-admin", "repo-admin", "OTHER", "tools").rc == 0
    assert check(store, "alice-admin", "repo-admin", "WORK", "code").out.startswith("denied: user level too low")
    assert check(store, "alice-read", "repo-read", "WORK", "code").rc == 0
    assert check(store, "alice-read", "repo-write", "WORK", "code").out.startswith("denied: token level too low")
    assert check(store, "bob-admin", "sysadmin").rc == 0
    assert check(store, "carol-revoked", "repo-read", "WORK", "site").out.startswith("denied: revoked")
    assert check(store, "dave-disabled", "repo-read", "WORK", "code").out.startswith("denied: user disabled")


def test_readers_use_a_schema1_store_without_writing_it(old_store):
    before = digest(old_store.db)
    assert_the_old_contents_work(old_store)
    audit = old_store.run("audit", "--json")
    assert audit.rc == 0 and audit.err == "", audit
    assert "store-upgraded" not in {e["action"] for e in json.loads(audit.out)}
    assert old_store.run("audit").err == ""
    assert digest(old_store.db) == before


def test_the_first_writer_upgrades_once_and_says_so(old_store):
    before = views(old_store)

    result = old_store.run("group", "add", "backend")
    assert (result.rc, result.out, result.err) == (0, 'added group "backend"\n', upgrade_line(old_store)), result
    result = old_store.run("group", "add-member", "backend", "alice")
    assert (result.rc, result.err) == (0, ""), result
    assert old_store.run("grant", "--group", "backend", "project", "OTHER", "admin").err == ""

    assert views(old_store) == {**before, "grants": before["grants"] + [
        {"group": "backend", "scope": "project", "project": "OTHER", "repo": None, "level": "admin"}]}
    assert_the_old_contents_work(old_store)
    # The new kinds of grant work on the upgraded store.
    result = check(old_store, "alice-admin", "repo-admin", "OTHER", "site")
    assert result.rc == 0 and result.out.startswith('allowed: level admin via group "backend" on project OTHER')

    upgrades = [e for e in old_store.audit("--limit", "1000") if e["action"] == "store-upgraded"]
    assert len(upgrades) == 1, upgrades
    assert "schema 1 to 2" in upgrades[0]["detail"], upgrades
    # Everything the old patctl recorded is still there.
    assert {"user-added", "grant-set", "token-created", "token-revoked", "user-disabled", "password-failed"} <= {
        e["action"] for e in old_store.audit("--limit", "1000")}


def test_a_restored_schema1_backup_is_upgraded_by_the_next_writer(patctl, tmp_path):
    backup = tmp_path / "backup.db"
    shutil.copyfile(FIXTURE / "pat.db", backup)
    assert patctl.run("restore", str(backup)).err == ""
    assert_the_old_contents_work(patctl)
    result = patctl.run("group", "add", "backend")
    assert (result.rc, result.err) == (0, upgrade_line(patctl)), result
    assert_the_old_contents_work(patctl)


def test_the_upgrade_line_stays_off_stdout(old_store):
    result = old_store.run("grant", "carol", "project", "NEW", "read", "--json")
    assert result.rc == 0 and result.err == upgrade_line(old_store), result
    assert json.loads(result.out)["project"] == "NEW"


def test_a_writer_refused_after_the_upgrade_leaves_the_store_upgraded(old_store):
    # The upgrade belongs to the open, not to the command: a refused change
    # is refused, the upgraded format stays (and is said once).
    result = old_store.run("grant", "zed", "project", "WORK", "read")
    assert result.rc == 1 and result.out == "", result
    lines = result.err.splitlines(keepends=True)
    assert len(lines) == 2 and lines[0] == upgrade_line(old_store) and lines[1].startswith("patctl: "), result
    assert old_store.run("group", "add", "backend").err == ""
    assert_the_old_contents_work(old_store)


def test_a_password_command_upgrades_and_works(old_store):
    result = old_store.run("token", "create", "alice", "--name", "after", "--password-stdin", "--json",
                           stdin=ALICE_PASSWORD + "\n")
    assert result.rc == 0 and result.err == upgrade_line(old_store), result
    created = json.loads(result.out)
    assert old_store.check(created["token"], "repo-write", "WORK", "code").rc == 0


def store_of_schema(source, target, version):
    """A copy of source whose meta says schema_version = version: dumped with
    mdb_dump (from a copy: mdb_dump leaves a lock file beside what it reads),
    the value edited, loaded with mdb_load into a new file."""
    copy = target.with_name(target.name + ".source")
    shutil.copyfile(source, copy)
    dump = subprocess.run(["mdb_dump", "-a", "-n", str(copy)], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    key = "schema_version".encode().hex()
    edited, count = re.subn(rf"^( {key}\n) [0-9a-f]+$", rf"\g<1> {str(version).encode().hex()}", dump, flags=re.M)
    assert count == 1
    subprocess.run(["mdb_load", "-n", "-f", "/dev/stdin", str(target)], input=edited.encode(),
                   capture_output=True, check=True, timeout=60)
    return Patctl(target)


@pytest.mark.parametrize(
    "args, stdin",
    [
        (["user", "list"], None),
        (["grants"], None),
        (["audit"], None),
        (["check", "--token-stdin", "--need", "repo-read", "--project", "WORK", "--repo", "code"],
         TOKENS["alice-admin"]["token"] + "\n"),
        (["check", "--anonymous", "--need", "repo-read", "--project", "WORK", "--repo", "code"], None),
        (["group", "add", "backend"], None),
        (["grant", "alice", "project", "NEW", "read"], None),
        (["user", "disable", "alice"], None),
        (["token", "create", "alice", "--name", "x", "--password-stdin"], ALICE_PASSWORD + "\n"),
    ],
)
def test_an_unknown_schema_is_refused_by_readers_and_writers(tmp_path, args, stdin):
    store = store_of_schema(FIXTURE / "pat.db", tmp_path / "future.db", 3)
    before = digest(store.db)
    result = store.run(*args, stdin=stdin)
    assert_error(result, 1, "schema", "3")
    assert "upgraded" not in result.err
    assert digest(store.db) == before


def test_the_edited_copy_is_a_working_store_at_its_own_schema(tmp_path, old_store):
    # The refusal above is about the version alone: the same dump loaded
    # back with the version unchanged is a store patctl reads.
    store = store_of_schema(FIXTURE / "pat.db", tmp_path / "same.db", 1)
    assert views(store) == views(old_store)
