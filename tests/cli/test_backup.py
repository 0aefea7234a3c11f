"""patctl backup and patctl restore (issue 13): a consistent copy, mode 0600,
no lock file beside it, never over an existing file without --force; a
restore that checks its source (without creating anything beside it), gives
the copy the store's owner, group and mode and renames it over the store.
Every refusal is one line, exit 1, with nothing changed and no stray file."""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import threading

import pytest

from conftest import ALICE_PASSWORD, Patctl, assert_error, unchanged

AS_ROOT = os.geteuid() == 0


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def listing(directory):
    return sorted(p.name for p in pathlib.Path(directory).iterdir())


def dump_of_copy(path, tmp_path):
    """mdb_dump of a file without creating a lock file beside it: a copy is
    dumped in a directory of its own."""
    scratch = tmp_path / f"scratch-{digest(path)[:12]}"
    scratch.mkdir(exist_ok=True)
    shutil.copyfile(path, scratch / "x.db")
    return Patctl(scratch / "x.db").dump()


def test_backup_is_a_private_copy_without_a_lock_file(populated, tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    dest = backups / "pat-backup.db"
    with unchanged(populated):
        result = populated.ok("backup", str(dest))
    assert result.out == f"backed up {populated.db} to {dest}\n"
    assert listing(backups) == ["pat-backup.db"]  # no -lock, no temporary file
    assert os.stat(dest).st_mode & 0o7777 == 0o600
    assert dump_of_copy(dest, tmp_path) == populated.dump()


def test_backup_json(populated, tmp_path):
    dest = tmp_path / "b.db"
    assert json.loads(populated.ok("backup", str(dest), "--json").out) == {"store": populated.db,
                                                                          "backup": str(dest)}


def test_backup_refuses_an_existing_file_unless_forced(populated, tmp_path):
    dest = tmp_path / "b.db"
    dest.write_text("precious\n")
    assert_error(populated.run("backup", str(dest)), 1, f"backup: {dest} already exists (--force replaces it)")
    assert dest.read_text() == "precious\n"
    populated.ok("backup", str(dest), "--force")
    assert os.stat(dest).st_mode & 0o7777 == 0o600
    assert dump_of_copy(dest, tmp_path) == populated.dump()


@pytest.mark.parametrize("target", ["store", "lock", "usage", "directory"])
def test_backup_never_writes_over_the_store_or_its_files(populated, tmp_path, target):
    populated.ok("user", "list")  # the lock file exists
    path = {"store": populated.db, "lock": populated.db + "-lock", "usage": populated.db + "-usage",
            "directory": str(tmp_path)}[target]
    if not os.path.exists(path):
        pathlib.Path(path).touch()
    before = listing(tmp_path)
    with unchanged(populated):
        result = populated.run("backup", path, "--force")
    assert_error(result, 1, f"backup: {path} is")
    assert listing(tmp_path) == before


def test_backup_into_a_missing_directory(populated, tmp_path):
    assert_error(populated.run("backup", str(tmp_path / "no" / "b.db")), 1,
                 f"backup: cannot create a file in {tmp_path}/no: No such file or directory")


def test_backup_of_a_missing_store(tmp_path):
    assert_error(Patctl(tmp_path / "absent.db").run("backup", str(tmp_path / "b.db")), 1, "does not exist")
    assert listing(tmp_path) == []


def test_backups_taken_while_the_store_is_written_are_consistent(populated, tmp_path):
    """A writer commits grant after grant while backups are taken: every
    backup is a whole store (it restores) holding a prefix of the grants."""
    stop = threading.Event()
    written = []

    def writer():
        n = 0
        while not stop.is_set():
            populated.ok("grant", "carol", "project", f"P{n}", "read")
            written.append(n)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = []
        for i in range(6):
            dest = tmp_path / f"during-{i}.db"
            populated.ok("backup", str(dest))
            copies.append(dest)
    finally:
        stop.set()
        thread.join()
    assert len(written) > 1
    for i, copy in enumerate(copies):
        target = Patctl(tmp_path / f"restored-{i}" / "pat.db")
        os.mkdir(os.path.dirname(target.db))
        target.ok("restore", str(copy))
        grants = json.loads(target.ok("grants", "carol", "--json").out)
        keys = sorted(int(g["project"][1:]) for g in grants)
        assert keys == list(range(len(keys))), keys


def test_restore_brings_back_the_backed_up_state(populated, tmp_path):
    backup = tmp_path / "b.db"
    populated.ok("backup", str(backup))
    saved = populated.dump()
    backup_digest = digest(backup)
    token = populated.create_token("alice", ALICE_PASSWORD)
    populated.ok("ungrant", "alice", "project", "PROJ")
    assert populated.dump() != saved
    result = populated.ok("restore", str(backup))
    assert result.out == f"restored {populated.db} from {backup}\n" and result.err == ""
    assert populated.dump() == saved
    assert token["id"] not in populated.ok("token", "list").out
    # The source is untouched and nothing was created beside it.
    assert digest(backup) == backup_digest
    assert not os.path.exists(f"{backup}-lock")
    assert sorted(p for p in listing(tmp_path) if p.startswith(".")) == []


def test_restore_json_says_the_store_is_in_use(populated, tmp_path):
    backup = tmp_path / "b.db"
    populated.ok("backup", str(backup))
    answer = json.loads(populated.ok("restore", str(backup), "--json").out)
    assert answer == {"store": populated.db, "restored_from": str(backup), "in_use": True}


@pytest.mark.skipif(not AS_ROOT, reason="gives files to another user")
def test_restore_gives_the_copy_the_stores_owner_group_and_mode(populated, tmp_path):
    backup = tmp_path / "b.db"
    populated.ok("backup", str(backup))
    nobody = 65534
    os.chown(populated.db, nobody, nobody)
    os.chmod(populated.db, 0o640)
    populated.ok("restore", str(backup))
    st = os.stat(populated.db)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (nobody, nobody, 0o640)
    assert os.stat(backup).st_uid == 0


def test_restore_of_a_lost_store(populated, tmp_path):
    backup = tmp_path / "b.db"
    populated.ok("backup", str(backup))
    saved = populated.dump()
    for suffix in ("", "-lock"):
        os.unlink(populated.db + suffix)
    populated.ok("restore", str(backup))
    assert populated.dump() == saved
    assert os.stat(populated.db).st_mode & 0o7777 == 0o640


def unknown_schema_copy(populated, tmp_path):
    """The store with schema_version 3 (unknown to this build), made with mdb_dump and mdb_load."""
    dumped = subprocess.run(["mdb_dump", "-n", "-p", "-s", "meta", populated.db], check=True,
                            capture_output=True).stdout
    assert b" schema_version\n 2\n" in dumped
    other = tmp_path / "schema3.db"
    shutil.copyfile(populated.db, other)
    load = subprocess.run(["mdb_load", "-n", "-T", "-s", "meta", str(other)],
                          input=b"schema_version\n3\n", capture_output=True)
    assert load.returncode == 0, load.stderr
    os.unlink(f"{other}-lock")
    return other


def bad_sources(populated, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a store\n" * 1000)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(pathlib.Path(populated.db).read_bytes()[:8192])
    foreign = tmp_path / "foreign.db"  # an LMDB file, not a store
    load = subprocess.run(["mdb_load", "-n", "-T", "-s", "things", str(foreign)],
                          input=b"key\nvalue\n", capture_output=True)
    assert load.returncode == 0, load.stderr
    os.unlink(f"{foreign}-lock")
    return {
        "missing": (tmp_path / "absent.db", "restore: cannot read {src}: No such file or directory"),
        "directory": (tmp_path, "restore: {src} is not a file"),
        "text": (text, "{src} is damaged (truncated or not an LMDB file)"),
        "truncated": (truncated, "{src} is damaged (truncated or not an LMDB file)"),
        "not a store": (foreign, "{src} is not an nginx-pat store (no 'meta' table"),
        "schema 3": (unknown_schema_copy(populated, tmp_path),
                     "{src} has schema version 3; this build reads versions 1 and 2"),
        "the store": (pathlib.Path(populated.db), "restore: {src} is the store itself"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "text", "truncated", "not a store", "schema 3",
                                  "the store"])
def test_restore_refuses_bad_input_and_changes_nothing(populated, tmp_path, case):
    source, message = bad_sources(populated, tmp_path)[case]
    store_dir = pathlib.Path(populated.db).parent
    before_store = digest(populated.db)
    before_dir = listing(store_dir)
    result = populated.run("restore", str(source))
    assert_error(result, 1, message.format(src=source))
    assert digest(populated.db) == before_store
    assert listing(store_dir) == before_dir
    assert case == "the store" or not os.path.exists(f"{source}-lock")


def test_restore_needs_a_source(populated):
    assert_error(populated.run("restore"), 2, "'restore' needs SRC")
    assert_error(populated.run("backup"), 2, "'backup' needs DEST")
