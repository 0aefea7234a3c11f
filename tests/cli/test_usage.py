"""patctl's command line: help, usage errors (exit 2, one line, store unchanged),
where the store path comes from, and option order.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json

import pytest

from conftest import (
    Patctl,
    assert_error,
    unchanged,
)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--help"], "patctl token create NAME"),
        (["-h"], "Exit status"),
        (["user", "--help"], "patctl user passwd NAME"),
        (["user", "add", "--help"], "--password-stdin"),
        (["check", "-h"], "PAT_NOW_MS"),
        (["token", "create", "NAME", "--help"], "--expiry-days"),
    ],
)
def test_help_goes_to_stdout_with_exit_0(tmp_path, args, expected):
    result = Patctl(tmp_path / "none.db").run(*args, db=False)
    assert result.rc == 0, result
    assert expected in result.out
    assert result.err == ""


USAGE_ERRORS = [
    ([], "no command given"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["user"], "'user' needs a subcommand"),
    (["user", "rename", "alice"], "unknown command 'user rename'"),
    (["user", "list", "--bogus"], "unknown option --bogus"),
    (["user", "list", "-x"], "unknown option -x"),
    (["user", "list", "--sysadmin"], "option --sysadmin does not apply to 'user list'"),
    (["user", "list", "extra"], "unexpected argument 'extra'"),
    (["user", "disable"], "'user disable' needs NAME"),
    (["user", "add", "dave"], "--password-stdin"),
    (["user", "passwd", "alice"], "--password-stdin"),
    (["user", "add", "dave", "--password-stdin", "--display-name"], "option --display-name needs a value"),
    (["user", "add", "dave", "--password-stdin", "--display-name="], "needs a non-empty value"),
    (["user", "list", "--json", "--json"], "option --json given twice"),
    (["user", "list", "--json=yes"], "option --json takes no value"),
    (["token", "create", "alice", "--name", "--password-stdin"], "option --name needs a value"),
    (["grant", "alice", "project", "PROJ"], "'grant' needs"),
    (["grant", "alice", "project", "PROJ", "owner"], "invalid LEVEL 'owner'"),
    (["grant", "alice", "team", "PROJ", "read"], "invalid scope 'team'"),
    (["grant", "alice", "repo", "PROJ", "read"], "expected KEY/SLUG"),
    (["grant", "alice", "repo", "PROJ/", "read"], "expected KEY/SLUG"),
    (["ungrant", "alice", "repo", "/slug"], "expected KEY/SLUG"),
    (["grants", "alice", "bob"], "unexpected argument 'bob'"),
    (["token", "create", "alice", "--password-stdin"], "needs --name"),
    (["token", "create", "alice", "--name", "x"], "--password-stdin"),
    (["token", "create", "alice", "--owner", "bob"], "unknown option --owner"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--project", "all"], "invalid --project 'all'"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--repo", "none"], "invalid --repo 'none'"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--expiry-days", "7d"], "invalid --expiry-days"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--expiry-days", "1.5"], "invalid --expiry-days"),
    (["token", "modify", "123456789012"], "needs something to change"),
    (["token", "modify", "123456789012", "--project", "root"], "invalid --project 'root'"),
    (["token", "revoke"], "'token revoke' needs ID"),
    (["check", "--need", "repo-read", "--project", "P", "--repo", "r"], "exactly one of --token"),
    (["check", "--token", "npat_x", "--token-stdin", "--need", "authenticated"], "exactly one of --token"),
    (["check", "--token", "npat_x"], "needs --need"),
    (["check", "--token", "npat_x", "--need", "repo-delete"], "invalid --need 'repo-delete'"),
    (["check", "--token", "npat_x", "--need", "unrecognised-route"], "invalid --need"),
    (["check", "--token", "npat_x", "--need", "repo-read", "--project", "P"], "needs --repo"),
    (["check", "--token", "npat_x", "--need", "repo-fork", "--project", "P"], "needs --repo"),
    (["check", "--token", "npat_x", "--need", "project-read"], "needs --project"),
    (["check", "--token", "npat_x", "--need", "project-read", "--project", "P", "--repo", "r"],
     "--repo does not apply"),
    (["init", "now"], "unexpected argument 'now'"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS, ids=[" ".join(a) or "empty" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line_and_store_unchanged(populated, args, message):
    with unchanged(populated):
        result = populated.run(*args, stdin="some password\n")
    assert_error(result, 2, message)


def test_control_characters_in_a_bad_argument_do_not_break_the_error_line(populated):
    result = populated.run("grant", "alice", "project", "PROJ", "re\nad\x1b[2J")
    assert_error(result, 2, "invalid LEVEL 're\\x0aad\\x1b[2J'")


def test_store_path_from_pat_db(populated):
    result = populated.run("user", "list", "--json", db=False, env={"PAT_DB": populated.db})
    assert result.rc == 0, result
    assert [u["name"] for u in json.loads(result.out)] == ["alice", "bob", "carol"]


def test_db_option_wins_over_pat_db(populated, tmp_path):
    result = populated.run("user", "list", "--json", env={"PAT_DB": str(tmp_path / "elsewhere.db")})
    assert result.rc == 0, result
    assert len(json.loads(result.out)) == 3


def test_options_may_appear_anywhere(populated):
    result = populated.run("--json", "grant", "alice", "--db", populated.db, "project", "NEW", "read", db=False)
    assert result.rc == 0, result
    assert json.loads(result.out)["project"] == "NEW"
    result = populated.run("token", "--json", "list", "alice")
    assert result.rc == 0 and json.loads(result.out) == []
    result = populated.run("--db=" + populated.db, "grants", "alice", "--json", db=False)
    assert result.rc == 0 and len(json.loads(result.out)) == 3
