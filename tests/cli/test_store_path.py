"""Where patctl finds the store (issue 13): --db, else $PAT_DB, else `db = PATH`
in the configuration file ($PAT_CONFIG or /etc/nginx-pat/nginx-pat.conf), else
/var/lib/nginx-pat/pat.db. A malformed configuration file is one line naming
FILE:LINE. And `patctl --version`, which needs no store.

The default configuration file and the default store of this machine are never
touched: every test names its own configuration file with PAT_CONFIG."""

import json
import os
import re
import subprocess

import pytest

from conftest import PATCTL, Patctl, assert_error, unchanged

DEFAULT_STORE = "/var/lib/nginx-pat/pat.db"


def names(result):
    assert result.rc == 0, result
    return [user["name"] for user in json.loads(result.out)]


def write_config(tmp_path, text, name="nginx-pat.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_configuration_file_names_the_store(populated, tmp_path):
    config = write_config(tmp_path, f"# where the store is\n\ndb = {populated.db}\n")
    result = populated.run("user", "list", "--json", db=False, env={"PAT_CONFIG": config})
    assert names(result) == ["alice", "bob", "carol"]


def test_precedence_db_then_pat_db_then_the_file(populated, tmp_path):
    other = Patctl(tmp_path / "other.db")
    other.ok("init")
    other.add_user("zed", "zed's secret")
    empty = Patctl(tmp_path / "empty.db")
    empty.ok("init")
    config = write_config(tmp_path, f"db = {empty.db}\n")
    # --db beats PAT_DB and the file.
    assert names(populated.run("user", "list", "--json",
                               env={"PAT_DB": other.db, "PAT_CONFIG": config})) == ["alice", "bob", "carol"]
    # PAT_DB beats the file.
    assert names(populated.run("user", "list", "--json", db=False,
                               env={"PAT_DB": other.db, "PAT_CONFIG": config})) == ["zed"]
    # An empty PAT_DB is unset: the file decides.
    assert names(populated.run("user", "list", "--json", db=False,
                               env={"PAT_DB": "", "PAT_CONFIG": config})) == []


def test_without_any_the_built_in_default_is_used(tmp_path):
    config = write_config(tmp_path, "# nothing set here\n")
    result = Patctl(tmp_path / "unused.db").run("user", "list", db=False, env={"PAT_CONFIG": config})
    if os.path.exists(DEFAULT_STORE):
        pytest.skip(f"this machine has a store at {DEFAULT_STORE}")
    # Not a usage error any more: the default path, and why it cannot be used.
    assert_error(result, 1, DEFAULT_STORE)
    assert "no store given" not in result.err


BAD_CONFIGS = [
    ("db = /a\nlisten = /b\n", ":2: unknown key 'listen' (known: db)"),
    ("db /a\n", ":1: expected 'key = value' or a '#' comment"),
    ("db = relative.db\n", ":1: db must be an absolute path"),
    ("db = /a\ndb = /b\n", ":2: db given twice (first on line 1)"),
    ("db =\n", ":1: db needs a path"),
]


@pytest.mark.parametrize("text, message", BAD_CONFIGS, ids=[m for _, m in BAD_CONFIGS])
def test_a_malformed_configuration_file_is_one_line_naming_file_and_line(populated, tmp_path, text, message):
    config = write_config(tmp_path, text)
    with unchanged(populated):
        result = populated.run("user", "disable", "alice", db=False, env={"PAT_CONFIG": config})
    assert_error(result, 1, config + message)


def test_a_configuration_file_named_but_missing_is_an_error(populated, tmp_path):
    missing = str(tmp_path / "absent.conf")
    result = populated.run("user", "list", db=False, env={"PAT_CONFIG": missing})
    assert_error(result, 1, f"cannot read the configuration file {missing}: No such file or directory")


def test_db_and_pat_db_do_not_read_the_configuration_file(populated, tmp_path):
    broken = write_config(tmp_path, "nonsense\n")
    assert names(populated.run("user", "list", "--json", env={"PAT_CONFIG": broken})) == ["alice", "bob", "carol"]
    assert names(populated.run("user", "list", "--json", db=False,
                               env={"PAT_DB": populated.db, "PAT_CONFIG": broken})) == ["alice", "bob", "carol"]


def test_route_needs_neither_store_nor_configuration(tmp_path):
    broken = write_config(tmp_path, "nonsense\n")
    result = Patctl(tmp_path / "x.db").run("route", "--method", "GET", "--path", "/rest/api/latest/projects",
                                           db=False, env={"PAT_CONFIG": broken})
    assert result.rc == 0, result


def test_version_needs_no_store(tmp_path):
    broken = write_config(tmp_path, "nonsense\n")
    result = subprocess.run([PATCTL, "--version"], capture_output=True, text=True,
                            env={**os.environ, "PAT_CONFIG": broken, "PAT_DB": str(tmp_path / "absent.db")})
    assert result.returncode == 0, result
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    version = re.search(r'kVersion = "([^"]+)"',
                        open(os.path.join(os.path.dirname(__file__), "../../include/pat/version.hpp")).read())
    assert lines[0] == f"patctl {version.group(1)}"
    lmdb = subprocess.run(["mdb_stat", "-V"], capture_output=True, text=True).stdout
    assert re.fullmatch(r"store schema 2, LMDB \d+\.\d+\.\d+", lines[1]), lines
    assert lines[1].split("LMDB ")[1] in lmdb, (lines, lmdb)
    assert len(lines) == 2
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("args", [["--version", "user", "list"], ["--version", "--json"]])
def test_version_takes_nothing_else(tmp_path, args):
    result = Patctl(tmp_path / "x.db").run(*args, db=False)
    assert_error(result, 2, "--version takes no command and no other option")
