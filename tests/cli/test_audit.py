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
