"""patctl token: create, list, modify and revoke.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import re
import subprocess
import time

import pytest

from conftest import (
    ALICE_PASSWORD,
    BOB_PASSWORD,
    ISO_RE,
    PATCTL,
    TOKEN_RE,
    assert_error,
    assert_password_failure_audited,
    now_ms,
    unchanged,
)


# ---------------------------------------------------------------- token create


def test_token_create_prints_the_token_once_and_stores_only_its_digest(populated):
    result = populated.ok("token", "create", "alice", "--name", "ci", "--project", "read", "--repo", "write",
                          "--password-stdin", stdin=ALICE_PASSWORD + "\n")
    token = result.out.rstrip("\n")
    assert result.out == token + "\n" and TOKEN_RE.match(token)
    match = re.fullmatch(r"patctl: created token (\d{12}) for alice \(project read, repo write, expires never\); "
                         r"it is shown only this once and cannot be recovered\n", result.err)
    assert match, result.err
    token_id = match.group(1)

    listing = populated.ok("token", "list").out + populated.ok("token", "list", "--json").out
    assert token_id in listing and token not in listing
    secret = token[len("npat_"):]
    assert secret.encode() not in populated.dump(printable=True)
    assert secret.encode().hex().encode() not in populated.dump()
    with open(populated.db, "rb") as f:
        raw = f.read()
    assert token.encode() not in raw and secret[:20].encode() not in raw


def test_token_create_json(populated):
    before = now_ms()
    created = populated.create_token("alice", ALICE_PASSWORD, "--expiry-days", "30", name='say "hi" \\ ü')
    after = now_ms()
    assert set(created) == {"id", "token", "owner", "name", "project", "repo", "created", "expires"}
    assert TOKEN_RE.match(created["token"]) and re.fullmatch(r"\d{12}", created["id"])
    assert created["owner"] == "alice" and created["name"] == 'say "hi" \\ ü'
    assert (created["project"], created["repo"]) == ("admin", "admin")
    assert ISO_RE.match(created["created"]) and ISO_RE.match(created["expires"])
    listed = json.loads(populated.ok("token", "list", "alice", "--json").out)
    assert listed == [{k: v for k, v in created.items() if k != "token"} | {"last_authenticated": None, "last_used_ips": []}]
    assert before // 1000 - 1 <= iso_seconds(created["created"]) <= after // 1000 + 1


def iso_seconds(text):
    return int(time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


@pytest.mark.parametrize(
    "options, expected",
    [
        ([], ("admin", "admin")),
        (["--project", "read", "--repo", "read"], ("read", "read")),
        (["--project", "READ"], ("read", "admin")),
        (["--project", "write"], ("write", "admin")),
        (["--repo", "admin"], ("admin", "admin")),
        (["--project", "write", "--repo", "write"], ("write", "write")),
    ],
)
def test_token_permission_defaults(populated, options, expected):
    created = populated.create_token("alice", ALICE_PASSWORD, *options)
    assert (created["project"], created["repo"]) == expected


@pytest.mark.parametrize(
    "options, message",
    [
        (["--repo", "read"], "repository permission must be at least its project permission"),
        (["--project", "admin", "--repo", "write"], "at least its project"),
        (["--expiry-days", "0"], "expiry"),
        (["--expiry-days", "3651"], "expiry"),
        (["--expiry-days", "-1"], "expiry"),
    ],
)
def test_token_create_refusals_exit_1_and_change_nothing(populated, options, message):
    with unchanged(populated):
        result = populated.run("token", "create", "alice", "--name", "x", *options, "--password-stdin",
                               stdin=ALICE_PASSWORD + "\n")
    assert_error(result, 1, message)


@pytest.mark.parametrize(
    "owner, password",
    [
        ("alice", "wrong password"),
        ("alice", BOB_PASSWORD),  # the sysadmin's password does not create for alice
        ("zed", "zed guesses"),  # an unknown user looks like a wrong password
    ],
)
def test_token_create_with_a_wrong_password_only_adds_an_audit_entry(populated, owner, password):
    with unchanged(populated, except_audit=True):
        result = populated.run("token", "create", owner, "--name", "x", "--password-stdin",
                               stdin=password + "\n")
    assert_error(result, 1, "wrong user name or password")
    assert password not in json.dumps(populated.audit())
    if owner != "zed":
        assert_password_failure_audited(populated, owner)
    assert json.loads(populated.ok("token", "list", "--json").out) == []


def test_token_names_are_escaped_in_json_and_safe_in_tables(populated):
    tricky = b"quote\" backslash\\ tab\xe2\x80\x8b bad\xff utf8"
    created = populated.run("token", "create", "alice", "--name", tricky, "--password-stdin", "--json",
                            stdin=ALICE_PASSWORD + "\n")
    assert created.rc == 0, created
    parsed = json.loads(created.out)
    assert parsed["name"] == "quote\" backslash\\ tab\u200b bad\ufffd utf8"
    raw = subprocess.run([PATCTL, "token", "list", "--json", "--db", populated.db], capture_output=True).stdout
    raw.decode("utf-8")  # valid UTF-8 even though the stored name is not
    assert json.loads(raw)[0]["name"] == parsed["name"]


# ---------------------------------------------------------------- token list, modify, revoke


def test_token_list_table(populated):
    a = populated.create_token("alice", ALICE_PASSWORD, "--project", "read", "--repo", "write",
                               "--expiry-days", "7", name="build bot")
    b = populated.create_token("bob", BOB_PASSWORD, name="bob's")
    lines = populated.ok("token", "list").out.splitlines()
    assert lines[0].split() == ["ID", "OWNER", "NAME", "PROJECT", "REPO", "CREATED", "EXPIRES", "LAST",
                                "AUTHENTICATED", "LAST", "ADDRESS"]
    row_a = next(line for line in lines if a["id"] in line)
    assert re.fullmatch(rf"{a['id']}\s+alice\s+build bot\s+read\s+write\s+\S+Z\s+\S+Z\s+never\s+-", row_a)
    row_b = next(line for line in lines if b["id"] in line)
    assert re.fullmatch(rf"{b['id']}\s+bob\s+bob's\s+admin\s+admin\s+\S+Z\s+never\s+never\s+-", row_b)
    only_bob = json.loads(populated.ok("token", "list", "bob", "--json").out)
    assert [t["id"] for t in only_bob] == [b["id"]]


def test_token_modify(populated):
    created = populated.create_token("alice", ALICE_PASSWORD)
    token, token_id = created["token"], created["id"]
    result = populated.ok("token", "modify", token_id, "--project", "read", "--repo", "read", "--name", "ro")
    assert result.out.startswith(f"modified token {token_id} (ro, owner alice): project read, repo read")
    assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
    denied = populated.check(token, "repo-write", "PROJ", "code")
    assert denied.out.startswith("denied: token level too low (token ")

    modified = json.loads(populated.ok("token", "modify", token_id, "--repo", "write", "--json").out)
    assert (modified["project"], modified["repo"], modified["name"]) == ("read", "write", "ro")
    assert populated.check(token, "repo-write", "PROJ", "code").rc == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["token", "modify", "000000000000", "--name", "x"], ""),
        (["token", "modify", "not-an-id", "--name", "x"], ""),
        (["token", "revoke", "000000000000"], ""),
        (["token", "modify", "{id}", "--repo", "read"], "at least its project"),
        (["token", "modify", "{id}", "--project", "admin", "--repo", "read"], "at least its project"),
        (["token", "modify", "{id}", "--name", "tab\there"], "control character"),
    ],
)
def test_token_modify_and_revoke_refusals(populated, args, message):
    token_id = populated.create_token("alice", ALICE_PASSWORD)["id"]
    args = [a.replace("{id}", token_id) for a in args]
    with unchanged(populated):
        result = populated.run(*args)
    assert_error(result, 1, message)


def test_token_revoke(populated):
    created = populated.create_token("alice", ALICE_PASSWORD)
    assert populated.ok("token", "revoke", created["id"]).out == f"revoked token {created['id']}\n"
    denied = populated.check(created["token"], "repo-read", "PROJ", "code", json_output=True)
    assert denied.rc == 1
    assert json.loads(denied.out) == {"allowed": False, "reason": "revoked", "verdict": "unauthenticated",
                                      "http_status": 401, "token_id": created["id"], "user": "alice"}
    with unchanged(populated):
        assert_error(populated.run("token", "revoke", created["id"]), 1)
