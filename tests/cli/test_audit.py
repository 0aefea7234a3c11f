"""patctl audit: the trail of every change.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import re

import pytest

from conftest import (
    ALICE_PASSWORD,
    ISO_RE,
    assert_error,
    dump_by_database,
    unchanged,
)


def test_audit_records_each_change_with_patctl_as_the_actor(populated):
    created = populated.create_token("alice", ALICE_PASSWORD)
    populated.ok("token", "modify", created["id"], "--name", "renamed")
    populated.ok("token", "revoke", created["id"])
    populated.ok("ungrant", "alice", "project", "PROJ")
    populated.ok("user", "disable", "carol")
    entries = populated.audit()
    assert [e["action"] for e in entries[:5]] == ["user-disabled", "grant-removed", "token-revoked",
                                                  "token-modified", "token-created"]
    actor = entries[0]["actor"]
    assert re.fullmatch(r"patctl:\S+( \(sudo from .+\))?", actor)
    assert all(e["actor"] == actor and e["address"] == "local" for e in entries[:5])
    assert entries[2]["token_id"] == created["id"] and entries[0]["token_id"] is None
    assert all(ISO_RE.match(e["time"]) for e in entries)
    assert created["token"][5:] not in json.dumps(entries)

    only_carol = populated.audit("carol")
    assert only_carol and all(e["user"] == "carol" for e in only_carol)
    assert len(populated.audit("--limit", "2")) == 2

    table = populated.ok("audit", "--limit", "3").out.splitlines()
    assert table[0].split() == ["TIME", "ACTION", "ACTOR", "ADDRESS", "USER", "TOKEN", "DETAIL"]
    assert re.match(r"\S+Z\s+user-disabled\s+patctl:", table[1])
    assert len(table) == 4


def test_audit_sudo_caller_is_named(populated):
    populated.ok("user", "enable", "carol", env={"SUDO_USER": "admin1"})
    assert populated.audit("--limit", "1")[0]["actor"].endswith(" (sudo from admin1)")


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_audit_limit_must_be_positive(populated, limit):
    assert_error(populated.run("audit", "--limit", limit), 2, "invalid --limit")


def test_audit_of_a_new_store_is_empty(patctl):
    assert patctl.ok("audit").out == "no audit entries\n"


def test_a_stray_token_argument_is_not_echoed_in_errors(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    result = populated.run("check", "--token-stdin", "--need", "authenticated", token, stdin=token + "\n")
    assert_error(result, 2, "unexpected argument 'npat_... (a token, not shown)'")
    assert token[5:] not in result.err
    assert_error(populated.run(token), 2, "unknown command 'npat_...")


# ---------------------------------------------------------------- failed passwords, prune


def test_failed_passwords_are_counted_per_user_and_hour_not_appended(populated):
    changes_before = populated.dump()
    for _ in range(4):
        populated.run("token", "create", "alice", "--name", "x", "--password-stdin", stdin="wrong\n")
    newest = populated.audit("--limit", "1")[0]
    assert (newest["action"], newest["user"], newest["count"]) == ("password-failed", "alice", 4)
    assert newest["detail"].startswith("4 failures since ")
    # One row in the bounded table; the trail of changes did not grow.
    after = dump_by_database(populated.dump())
    assert dump_by_database(changes_before)["audit"] == after["audit"]
    rows = [line for line in after["sign_in_failures"].split(b"HEADER=END\n")[1].splitlines()
            if line.strip() and line != b"DATA=END"]
    assert len(rows) == 2  # one key line, one value line


def test_audit_prune_deletes_what_is_older_and_records_the_prune(populated):
    populated.run("token", "create", "alice", "--name", "x", "--password-stdin", stdin="wrong\n")
    before = populated.audit()
    assert len(before) == 6  # 3 users, 2 grants, 1 failure row
    # Nothing is a day old yet.
    assert populated.ok("audit", "prune", "--older-than", "1").out.startswith("pruned 0 audit entries from before ")
    assert [e["action"] for e in populated.audit()][:2] == ["audit-pruned", "password-failed"]
    result = json.loads(populated.ok("audit", "prune", "--older-than", "0", "--json").out)
    assert result["pruned"] == 7 and ISO_RE.match(result["before"])  # the first prune's record too
    entries = populated.audit()
    assert [e["action"] for e in entries] == ["audit-pruned"]
    assert entries[0]["detail"] == "7 entries before " + result["before"]
    assert entries[0]["actor"].startswith("patctl:") and entries[0]["user"] == ""
    # The store itself is untouched.
    assert "alice" in populated.ok("user", "list").out
    assert "PROJ" in populated.ok("grants", "alice").out


@pytest.mark.parametrize("args, message", [
    ([], "'audit prune' needs --older-than DAYS"),
    (["--older-than", "-1"], "invalid --older-than '-1'"),
    (["--older-than", "ten"], "invalid --older-than 'ten'"),
    (["--older-than", "1.5"], "invalid --older-than '1.5'"),
    (["--older-than", "36501"], "invalid --older-than '36501'"),
    (["--older-than", "1", "extra"], "unexpected argument 'extra'"),
    (["--limit", "3"], "option --limit does not apply to 'audit prune'"),
])
def test_audit_prune_refusals_exit_2_and_change_nothing(populated, args, message):
    with unchanged(populated):
        assert_error(populated.run("audit", "prune", *args), 2, message)
