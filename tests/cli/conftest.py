"""Fixtures for the patctl tests: the real binary, a fresh store per test,
and helpers that check exit codes, one-line errors and an unchanged store.

The binary is $PATCTL, or build/patctl of this checkout (`make build/patctl`).
"""

import contextlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PATCTL = os.environ.get("PATCTL") or str((HERE / "../../build/patctl").resolve())

# Passwords used by the fixtures.
ALICE_PASSWORD = "alice's secret"
BOB_PASSWORD = "bob's secret"
CAROL_PASSWORD = "carol's secret"

DAY_MS = 86_400_000
TOKEN_RE = re.compile(r"^npat_[A-Za-z0-9]{49}$")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err

    def __repr__(self):
        return f"Result(rc={self.rc}, out={self.out!r}, err={self.err!r})"


def now_ms():
    return int(time.time() * 1000)


class Patctl:
    """Runs the real patctl against one store."""

    def __init__(self, db):
        self.db = str(db)

    def run(self, *args, stdin=None, env=None, db=True):
        argv = [PATCTL, *args]
        if db:
            argv += ["--db", self.db]
        full_env = {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG", "PAT_NOW_MS")}
        full_env.update(env or {})
        if isinstance(stdin, str):
            stdin = stdin.encode()
        completed = subprocess.run(
            argv, input=stdin if stdin is not None else b"", capture_output=True, env=full_env, timeout=60
        )
        return Result(completed.returncode, completed.stdout.decode("utf-8", "replace"),
                      completed.stderr.decode("utf-8", "replace"))

    def ok(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        assert result.rc == 0, result
        return result

    def dump(self, printable=False):
        """Every sub-database of the store, as mdb_dump prints it: keys and
        values in hex, or with -p as text where they are printable."""
        argv = ["mdb_dump", "-a", "-n", *(["-p"] if printable else []), self.db]
        return subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout

    def audit(self, *args):
        return json.loads(self.ok("audit", "--json", *args).out)

    def add_user(self, name, password, *extra):
        return self.ok("user", "add", name, *extra, "--password-stdin", stdin=password + "\n")

    def create_token(self, owner, password, *extra, name="test token"):
        result = self.ok("token", "create", owner, "--name", name, *extra, "--password-stdin", "--json",
                         stdin=password + "\n")
        return json.loads(result.out)

    def check(self, token, need, project=None, repo=None, user=None, env=None, json_output=False):
        args = ["check", "--token-stdin", "--need", need]
        if project is not None:
            args += ["--project", project]
        if repo is not None:
            args += ["--repo", repo]
        if user is not None:
            args += ["--user", user]
        if json_output:
            args.append("--json")
        return self.run(*args, stdin=token + "\n", env=env)


def assert_error(result, exit_code, *fragments):
    """A failed command: the exit code, nothing on stdout, and exactly one
    line on stderr that starts with "patctl: " and names the problem."""
    assert result.rc == exit_code, result
    assert result.out == "", result
    assert result.err.startswith("patctl: "), result
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result
    for fragment in fragments:
        assert fragment in result.err, (fragment, result)


def assert_password_failure_audited(patctl, user):
    newest = patctl.audit("--limit", "1")[0]
    assert (newest["action"], newest["user"], newest["address"]) == ("password-failed", user, "local")
    assert newest["actor"].startswith("patctl:")


def dump_by_database(dump):
    """{database name: its mdb_dump block} from `mdb_dump -a` output."""
    blocks = {}
    for block in dump.split(b"VERSION=")[1:]:
        name = re.search(rb"^database=(.*)$", block, re.M).group(1).decode()
        blocks[name] = block
    return blocks


@contextlib.contextmanager
def unchanged(patctl, except_audit=False):
    """Asserts that the store's content is byte-for-byte the same afterwards.
    except_audit: a refused password is counted in the failed sign-ins (in a
    transaction of its own), so compare everything but the audit tables."""
    before = dump_by_database(patctl.dump())
    yield
    after = dump_by_database(patctl.dump())
    if except_audit:
        for table in ("audit", "sign_in_failures"):
            before.pop(table, None)
            after.pop(table, None)
    assert after == before


@pytest.fixture(scope="session", autouse=True)
def patctl_binary():
    assert os.access(PATCTL, os.X_OK), f"patctl not built at {PATCTL}: run `make build/patctl` or set PATCTL"
    return PATCTL


@pytest.fixture
def patctl(tmp_path):
    """A new, empty store."""
    tool = Patctl(tmp_path / "pat.db")
    tool.ok("init")
    return tool


@pytest.fixture(scope="session")
def populated_template(tmp_path_factory):
    """Built once: password hashing (scrypt) is deliberately slow."""
    tool = Patctl(tmp_path_factory.mktemp("template") / "pat.db")
    tool.ok("init")
    tool.add_user("alice", ALICE_PASSWORD, "--display-name", "Alice Example")
    tool.add_user("bob", BOB_PASSWORD, "--sysadmin")
    tool.add_user("carol", CAROL_PASSWORD)
    tool.ok("grant", "alice", "project", "PROJ", "write")
    tool.ok("grant", "alice", "repo", "OTHER/tools", "admin")
    return tool


@pytest.fixture
def populated(populated_template, tmp_path):
    """A copy of the template store: alice (write on project PROJ, admin on
    repo OTHER/tools), bob (sysadmin, no grants), carol (no grants). No
    process holds the template open, so copying the file is a consistent copy."""
    path = tmp_path / "pat.db"
    shutil.copyfile(populated_template.db, path)
    return Patctl(path)
