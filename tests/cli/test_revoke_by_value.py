"""patctl token revoke --token-stdin: revoking a leaked token by its text."""

import json
import zlib

from conftest import ALICE_PASSWORD, BOB_PASSWORD, assert_error, unchanged

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def with_checksum(body48):
    """A token-shaped text with a correct checksum (docs/token-lifecycle.md)."""
    crc = zlib.crc32(body48.encode())
    checksum = ""
    for _ in range(6):
        checksum = DIGITS[crc % 62] + checksum
        crc //= 62
    return body48 + checksum


def test_revoke_by_value_prints_id_and_owner_and_audits(populated):
    a = populated.create_token("alice", ALICE_PASSWORD, name="leaked")
    kept = populated.create_token("alice", ALICE_PASSWORD, name="kept")
    result = populated.ok("token", "revoke", "--token-stdin", stdin=a["token"] + "\n")
    assert result.out == f"revoked token {a['id']} of user alice\n"
    assert a["token"] not in result.out + result.err
    assert populated.check(a["token"], "authenticated").rc == 1
    assert populated.check(kept["token"], "authenticated").rc == 0
    newest = populated.audit("--limit", "1")[0]
    assert (newest["action"], newest["user"], newest["token_id"], newest["detail"]) == (
        "token-revoked", "alice", a["id"], "by value")
    assert a["token"] not in json.dumps(populated.audit())
    listed = json.loads(populated.ok("token", "list", "alice", "--json").out)
    assert [t["id"] for t in listed] == [kept["id"]]


def test_revoke_by_value_json(populated):
    b = populated.create_token("bob", BOB_PASSWORD)
    result = populated.ok("token", "revoke", "--token-stdin", "--json", stdin=b["token"])
    assert json.loads(result.out) == {"revoked": b["id"], "owner": "bob"}


def test_unknown_invalid_or_revoked_is_one_line_exit_1_and_nothing_changes(populated):
    a = populated.create_token("alice", ALICE_PASSWORD)
    unknown = with_checksum("npat_" + "Q" * 43)
    bad_checksum = a["token"][:-1] + ("A" if a["token"][-1] != "A" else "B")
    with unchanged(populated):
        assert_error(populated.run("token", "revoke", "--token-stdin", stdin=unknown + "\n"), 1, "no live token")
        assert_error(populated.run("token", "revoke", "--token-stdin", stdin=bad_checksum + "\n"), 1, "checksum")
        assert_error(populated.run("token", "revoke", "--token-stdin", stdin="hello\n"), 1, "not an nginx-pat token")
    for bad in (unknown, bad_checksum):
        assert bad not in populated.run("token", "revoke", "--token-stdin", stdin=bad + "\n").err
    assert populated.check(a["token"], "authenticated").rc == 0
    populated.ok("token", "revoke", "--token-stdin", stdin=a["token"] + "\n")
    with unchanged(populated):
        assert_error(populated.run("token", "revoke", "--token-stdin", stdin=a["token"] + "\n"), 1, "no live token")


def test_revoke_needs_an_id_or_token_stdin_not_both(populated):
    a = populated.create_token("alice", ALICE_PASSWORD)
    with unchanged(populated):
        assert_error(populated.run("token", "revoke"), 2, "--token-stdin")
        assert_error(populated.run("token", "revoke", a["id"], "--token-stdin", stdin=a["token"] + "\n"), 2,
                     "not both")
        for selection in (["--unused-since", "3"], ["--user", "alice"], ["--dry-run"]):
            assert_error(populated.run("token", "revoke", "--token-stdin", *selection, stdin=a["token"] + "\n"), 2,
                         "do not apply")
    # Revoking by id still works as before.
    assert populated.ok("token", "revoke", a["id"]).out == f"revoked token {a['id']}\n"
