"""patctl user: add, list, passwd, disable/enable, delete.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import re

import pytest

from conftest import (
    ALICE_PASSWORD,
    BOB_PASSWORD,
    assert_error,
    assert_password_failure_audited,
    unchanged,
)


def test_user_add_and_list(populated):
    out = populated.ok("user", "list").out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DISPLAY", "NAME", "ACTIVE", "SYSADMIN", "SOURCE"]
    assert re.search(r"^alice\s+Alice Example\s+yes\s+no\s+local$", out, re.M)
    assert re.search(r"^bob\s+bob\s+yes\s+yes\s+local$", out, re.M)
    users = json.loads(populated.ok("user", "list", "--json").out)
    assert users[0] == {"name": "alice", "display_name": "Alice Example", "active": True, "sysadmin": False,
                        "source": "local"}
    assert users[1]["sysadmin"] is True


def test_user_add_stores_the_canonical_name_and_reports_it(patctl):
    result = patctl.ok("user", "add", "Dave.Smith", "--password-stdin", stdin="pw\n")
    assert result.out == "added user dave.smith\n"
    result = patctl.ok("user", "add", "Erin", "--password-stdin", "--json", stdin="pw\n")
    assert json.loads(result.out)["name"] == "erin"


@pytest.mark.parametrize(
    "name, stdin, message",
    [
        ("alice", "pw\n", "exists"),
        ("ALICE", "pw\n", "exists"),
        ("-", "pw\n", "user name"),
        ("bad/name", "pw\n", "user name"),
        ("x" * 65, "pw\n", "user name"),
        ("npat_" + "a" * 49, "pw\n", "must not look like an access token"),
        ("dave", "", "no password on standard input"),
        ("dave", "\n", "no password on standard input"),
        ("dave", "p" * 1025 + "\n", "longer than 1024 bytes"),
    ],
)
def test_user_add_refusals_exit_1_and_change_nothing(populated, name, stdin, message):
    with unchanged(populated):
        result = populated.run("user", "add", name, "--password-stdin", stdin=stdin)
    assert_error(result, 1, message)


def test_display_name_with_a_control_character_is_refused(populated):
    with unchanged(populated):
        result = populated.run("user", "add", "dave", "--display-name", "x\x1b[31m", "--password-stdin",
                               stdin="pw\n")
    assert_error(result, 1, "control character")


def test_a_value_starting_with_dashes_uses_the_equals_form(populated):
    result = populated.run("token", "create", "alice", "--name=--odder", "--password-stdin", "--json",
                           stdin=ALICE_PASSWORD + "\n")
    assert result.rc == 0 and json.loads(result.out)["name"] == "--odder"


def test_password_line_end_is_stripped(patctl):
    patctl.ok("user", "add", "dave", "--password-stdin", stdin="crlf pass\r\n")
    patctl.create_token("dave", "crlf pass")
    patctl.ok("user", "add", "erin", "--password-stdin", stdin="no newline")
    patctl.create_token("erin", "no newline")
    # Only the first line is the password.
    patctl.ok("user", "add", "frank", "--password-stdin", stdin="first\nsecond\n")
    patctl.create_token("frank", "first")


def test_user_passwd_replaces_the_password(populated):
    assert populated.ok("user", "passwd", "alice", "--password-stdin", stdin="new one\n").out == (
        "changed the password of user alice\n")
    with unchanged(populated, except_audit=True):
        refused = populated.run("token", "create", "alice", "--name", "x", "--password-stdin",
                                stdin=ALICE_PASSWORD + "\n")
    assert_error(refused, 1, "wrong user name or password")
    assert_password_failure_audited(populated, "alice")
    populated.create_token("alice", "new one")


def test_user_commands_on_an_unknown_user_exit_1(populated):
    for args in (["user", "passwd", "zed", "--password-stdin"], ["user", "disable", "zed"],
                 ["user", "enable", "zed"], ["user", "delete", "zed"]):
        with unchanged(populated):
            result = populated.run(*args, stdin="pw\n")
        assert_error(result, 1)


def test_listing_an_unknown_users_tokens_or_grants_is_an_error(populated):
    for args in (["token", "list", "zed"], ["grants", "zed"], ["token", "list", "zed", "--json"]):
        result = populated.run(*args)
        assert_error(result, 1, "no user 'zed'")
    assert populated.run("token", "list", "alice").rc == 0


def test_disable_and_enable_a_user(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    assert populated.check(token, "repo-read", "PROJ", "repo").rc == 0

    assert populated.ok("user", "disable", "alice").out == "disabled user alice\n"
    assert json.loads(populated.ok("user", "list", "--json").out)[0]["active"] is False
    assert "no (disabled)" in populated.ok("user", "list").out
    denied = populated.check(token, "repo-read", "PROJ", "repo")
    assert denied.rc == 1 and denied.out.startswith("denied: user disabled (token ")
    # A disabled user cannot create tokens either, with the same message as a wrong password.
    with unchanged(populated, except_audit=True):
        result = populated.run("token", "create", "alice", "--name", "x", "--password-stdin",
                               stdin=ALICE_PASSWORD + "\n")
    assert_error(result, 1, "wrong user name or password")
    assert_password_failure_audited(populated, "alice")

    assert json.loads(populated.ok("user", "enable", "alice", "--json").out)["active"] is True
    assert populated.check(token, "repo-read", "PROJ", "repo").rc == 0


def test_delete_user_removes_grants_and_tokens(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    populated.create_token("bob", BOB_PASSWORD)
    assert populated.ok("user", "delete", "alice").out == "deleted user alice with their grants, group memberships and tokens\n"
    assert [u["name"] for u in json.loads(populated.ok("user", "list", "--json").out)] == ["bob", "carol"]
    assert json.loads(populated.ok("grants", "--json").out) == []
    assert [t["owner"] for t in json.loads(populated.ok("token", "list", "--json").out)] == ["bob"]
    denied = populated.check(token, "repo-read", "PROJ", "repo")
    assert denied.rc == 1 and denied.out == "denied: unknown token\n"
    # A new alice does not inherit anything.
    populated.add_user("alice", "another")
    assert json.loads(populated.ok("grants", "alice", "--json").out) == []
    assert populated.check(token, "authenticated").rc == 1
