"""patctl run by a user who may not write the store (issues 12 and 13): in a
packaged install the store belongs to nginx-pat, and the web server's user may
only read it. Reading commands work with read access (and the lock file, where
LMDB readers register); any command refused for want of a permission fails
with one line that names the file (a directory on the way, the data file, the
lock file), the permission missing, whose file it is and who may, and changes
nothing. A directory the user may not enter is never "does not exist".

The other user is `nobody` through runuser, so most of this needs root."""

import contextlib
import grp
import hashlib
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import pytest

from conftest import ALICE_PASSWORD, PATCTL, Patctl, Result, assert_error, unchanged

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT or shutil.which("runuser") is None,
                                reason="runs patctl as another user (runuser -u nobody)")


class AsNobody(Patctl):
    """The real patctl, run as nobody."""

    def run(self, *args, stdin=None, env=None, db=True):
        argv = ["runuser", "-u", "nobody", "--", PATCTL, *args]
        if db:
            argv += ["--db", self.db]
        full_env = {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG", "PAT_NOW_MS")}
        full_env.update(env or {})
        completed = subprocess.run(argv, input=(stdin or "").encode(), capture_output=True,
                                   env=full_env, timeout=60)
        return Result(completed.returncode, completed.stdout.decode("utf-8", "replace"),
                      completed.stderr.decode("utf-8", "replace"))


@contextlib.contextmanager
def root_owned_store():
    """A store of root's with one user, one grant and one token, under a
    directory nobody can enter (pytest's own temporary root is 0700)."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="pat-cli-perm-", dir="/tmp"))
    try:
        root.chmod(0o755)
        admin = Patctl(root / "pat.db")
        admin.ok("init")
        admin.add_user("alice", ALICE_PASSWORD)
        admin.ok("grant", "alice", "project", "PROJ", "read")
        token = admin.create_token("alice", ALICE_PASSWORD)
        yield root, admin, token
    finally:
        shutil.rmtree(root, ignore_errors=True)


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def set_modes(root, data, lock, usage=0o666):
    os.chmod(root / "pat.db", data)
    os.chmod(root / "pat.db-lock", lock)
    os.chmod(root / "pat.db-usage", usage)


WRITES = [
    ("user", "add", "mallory", "--password-stdin"),
    ("user", "add", "mallory", "--sysadmin", "--password-stdin"),
    ("user", "disable", "alice"),
    ("user", "passwd", "alice", "--password-stdin"),
    ("grant", "alice", "project", "PROJ", "admin"),
    ("ungrant", "alice", "project", "PROJ"),
    ("token", "create", "alice", "--name", "x", "--password-stdin"),
    ("token", "revoke", "TOKEN"),
    ("audit", "prune", "--older-than", "1"),
]


@needs_root
@pytest.mark.parametrize("command", WRITES, ids=lambda c: " ".join(c[:2]))
def test_a_change_by_a_user_who_may_only_read_fails_with_one_clear_line(command):
    with root_owned_store() as (root, admin, token):
        set_modes(root, data=0o644, lock=0o666)
        store = root / "pat.db"
        before = digest(store)
        args = [token["id"] if word == "TOKEN" else word for word in command]
        with unchanged(admin):
            result = AsNobody(store).run(*args, stdin=ALICE_PASSWORD + "\n")
        assert_error(result, 1, f"store: cannot open {store} for writing (permission denied): "
                     "it is root:root, mode 0644; run as root")
        assert digest(store) == before


@needs_root
def test_reading_needs_only_read_access_and_the_lock_file():
    with root_owned_store() as (root, admin, token):
        set_modes(root, data=0o644, lock=0o666)
        store = root / "pat.db"
        before = digest(store)
        reader = AsNobody(store)
        assert "alice" in reader.ok("user", "list").out
        assert token["id"] in reader.ok("token", "list").out
        assert "PROJ" in reader.ok("grants", "alice").out
        assert reader.ok("audit", "--limit", "3").out
        checked = reader.check(token["token"], "repo-read", project="PROJ", repo="r")
        assert checked.rc == 0, checked
        assert digest(store) == before


@needs_root
def test_reading_without_the_lock_file_names_it():
    with root_owned_store() as (root, admin, token):
        set_modes(root, data=0o644, lock=0o644)
        store = root / "pat.db"
        for args in (("user", "list"), ("token", "list"), ("audit",), ("grants",)):
            assert_error(AsNobody(store).run(*args), 1,
                         f"store: cannot open {store}-lock for writing (permission denied): "
                         "LMDB readers register there, so reading needs it too; it is root:root, mode 0644; run as root")
        os.chown(root / "pat.db-lock", 0, grp.getgrnam("daemon").gr_gid)
        os.chmod(root / "pat.db-lock", 0o660)
        assert_error(AsNobody(store).run("user", "list"), 1, f"{store}-lock for writing (permission denied)",
                     "it is root:daemon, mode 0660; run as a member of group daemon or root")
        # A change: the data file is the first thing it may not write.
        assert_error(AsNobody(store).run("user", "disable", "alice"), 1,
                     f"store: cannot open {store} for writing (permission denied)")


@needs_root
def test_a_missing_lock_file_in_a_closed_directory_names_the_directory():
    with root_owned_store() as (root, admin, token):
        set_modes(root, data=0o644, lock=0o666)
        (root / "pat.db-lock").unlink()
        store = root / "pat.db"
        before = digest(store)
        assert_error(AsNobody(store).run("user", "list"), 1,
                     f"store: cannot create {store}-lock in the directory {root} (permission denied): "
                     "LMDB readers register there", "it is root:root, mode 0755; run as root")
        assert digest(store) == before and not (root / "pat.db-lock").exists()


@needs_root
def test_a_data_file_nobody_may_read_names_its_owner():
    with root_owned_store() as (root, admin, token):
        set_modes(root, data=0o640, lock=0o666)
        store = root / "pat.db"
        for args in (("token", "list"), ("user", "disable", "alice")):
            assert_error(AsNobody(store).run(*args), 1,
                         f"store: cannot open {store} for reading (permission denied): "
                         "it is root:root, mode 0640; run as a member of group root or root")


@needs_root
def test_a_closed_directory_is_not_reported_as_missing():
    with root_owned_store() as (root, admin, token):
        set_modes(root, data=0o644, lock=0o666)
        root.chmod(0o700)
        store = root / "pat.db"
        for args in (("user", "list"), ("user", "disable", "alice"), ("check", "--token-stdin", "--need",
                                                                      "authenticated")):
            result = AsNobody(store).run(*args, stdin=token["token"] + "\n")
            assert_error(result, 1, f"store: cannot reach {store}: cannot enter the directory {root} "
                         "(permission denied): it is root:root, mode 0700; run as root")
            assert "does not exist" not in result.err


@needs_root
def test_init_in_a_directory_one_may_not_write_names_it():
    with root_owned_store() as (root, admin, token):
        store = root / "new.db"
        assert_error(AsNobody(store).run("init"), 1,
                     f"store: cannot create {store}: cannot create files in the directory {root} "
                     "(permission denied): it is root:root, mode 0755; run as root")
        assert not store.exists() and not pathlib.Path(f"{store}-lock").exists()


@needs_root
def test_a_missing_store_is_missing_for_another_user_too():
    with root_owned_store() as (root, admin, token):
        assert_error(AsNobody(root / "absent.db").run("user", "list"), 1,
                     f"store: {root}/absent.db does not exist (create it with 'patctl init')")


@pytest.mark.skipif(AS_ROOT, reason="root may write any file")
def test_a_read_only_file_of_ones_own(patctl):
    # Without a second user: the caller's own store, made read-only.
    os.chmod(patctl.db, 0o444)
    me = pwd.getpwuid(os.geteuid()).pw_name
    with unchanged(patctl):
        assert_error(patctl.run("user", "disable", "alice"), 1,
                     f"store: cannot open {patctl.db} for writing (permission denied): it is {me}:")
    assert patctl.ok("user", "list")


def test_a_missing_store_is_still_missing(tmp_path):
    result = Patctl(tmp_path / "absent.db").run("user", "list")
    assert_error(result, 1, "does not exist", "patctl init")
