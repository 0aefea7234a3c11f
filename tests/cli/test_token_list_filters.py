"""patctl token list's filters (--expiring-within, --expired, --unused-since,
--user) and token revoke --unused-since [--dry-run]: the inventory half of
docs/token-lifecycle.md. Old tokens are made by running patctl in the past
(libfaketime); uses are written into the usage file as nginx's workers do."""

import json

import pytest

from conftest import ALICE_PASSWORD, BOB_PASSWORD, DAY_MS, assert_error, now_ms, unchanged
from timeshift import record_use, requires_faketime, shifted

pytestmark = requires_faketime


def listed(patctl, *args, env=None):
    return sorted(t["id"] for t in json.loads(patctl.ok("token", "list", "--json", *args, env=env).out))


@pytest.fixture
def inventory(populated):
    """alice: `soon` (expires in 5 days), `later` (in 10), `forever` (none),
    `expired` (made 3 days ago for 1 day), `stale` (made 40 days ago, never
    used), `busy` (made 40 days ago, used yesterday); bob: `old` (made 100
    days ago, never used)."""
    t = {}
    alice = lambda name, *extra, env=None: populated.ok(  # noqa: E731
        "token", "create", "alice", "--name", name, *extra, "--password-stdin", "--json",
        stdin=ALICE_PASSWORD + "\n", env=env)
    t["soon"] = json.loads(alice("soon", "--expiry-days", "5").out)
    t["later"] = json.loads(alice("later", "--expiry-days", "10").out)
    t["forever"] = json.loads(alice("forever").out)
    t["expired"] = json.loads(alice("expired", "--expiry-days", "1", env=shifted("-3d")).out)
    t["stale"] = json.loads(alice("stale", env=shifted("-40d")).out)
    t["busy"] = json.loads(alice("busy", env=shifted("-40d")).out)
    t["old"] = json.loads(populated.ok("token", "create", "bob", "--name", "old", "--password-stdin", "--json",
                                       stdin=BOB_PASSWORD + "\n", env=shifted("-100d")).out)
    record_use(populated.db, t["busy"]["id"], now_ms() - DAY_MS)
    populated.tokens = {name: created["id"] for name, created in t.items()}
    populated.texts = {name: created["token"] for name, created in t.items()}
    return populated


def ids(inventory, *names):
    return sorted(inventory.tokens[name] for name in names)


def test_list_without_filters_is_unchanged(inventory):
    assert listed(inventory) == ids(inventory, *inventory.tokens)
    assert listed(inventory, "bob") == ids(inventory, "old")
    # The table is the one token list always printed.
    header = inventory.ok("token", "list", "--expired").out.splitlines()[0]
    assert header.split() == ["ID", "OWNER", "NAME", "PROJECT", "REPO", "CREATED", "EXPIRES", "LAST",
                              "AUTHENTICATED", "LAST", "ADDRESS"]


def test_expiring_within_and_expired(inventory):
    assert listed(inventory, "--expiring-within", "7") == ids(inventory, "soon")
    assert listed(inventory, "--expiring-within", "10") == ids(inventory, "soon", "later")
    assert listed(inventory, "--expiring-within", "0") == []
    assert listed(inventory, "--expired") == ids(inventory, "expired")
    # Seen from six days on, soon has expired too.
    assert listed(inventory, "--expired", env=shifted("+6d")) == ids(inventory, "soon", "expired")
    assert listed(inventory, "--expiring-within", "7", env=shifted("+6d")) == ids(inventory, "later")


def test_unused_since_counts_creation_for_tokens_never_used(inventory):
    assert listed(inventory, "--unused-since", "30") == ids(inventory, "stale", "old")
    assert listed(inventory, "--unused-since", "50") == ids(inventory, "old")
    assert listed(inventory, "--unused-since", "0") == ids(inventory, *inventory.tokens)
    # The usage file's last use is what counts: busy was used yesterday.
    listing = json.loads(inventory.ok("token", "list", "--json").out)
    busy = next(t for t in listing if t["id"] == inventory.tokens["busy"])
    assert busy["last_authenticated"] is not None


def test_user_and_filters_combine(inventory):
    assert listed(inventory, "--user", "alice", "--unused-since", "30") == ids(inventory, "stale")
    assert listed(inventory, "alice", "--unused-since", "30") == ids(inventory, "stale")
    assert listed(inventory, "--user", "bob") == ids(inventory, "old")
    assert listed(inventory, "--user", "alice", "--expiring-within", "30", "--unused-since", "1") == []
    table = inventory.ok("token", "list", "--user", "carol").out
    assert table == "no tokens\n"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--expiring-within", "x"], 2, "invalid --expiring-within 'x'"),
        (["--unused-since", "-1"], 2, "invalid --unused-since '-1'"),
        (["--unused-since", "36501"], 2, "0 to 36500"),
        (["--expired", "--expiring-within", "3"], 2, "both expired and expiring"),
        (["alice", "--user", "bob"], 2, "two users"),
        (["--user", "zed"], 1, "no user 'zed'"),
    ],
)
def test_list_filter_errors(inventory, args, code, message):
    with unchanged(inventory):
        assert_error(inventory.run("token", "list", *args), code, message)


def test_revoke_unused_dry_run_changes_nothing(inventory):
    with unchanged(inventory):
        result = inventory.ok("token", "revoke", "--unused-since", "30", "--dry-run")
    lines = result.out.splitlines()
    assert sorted(line.split()[3] for line in lines) == ids(inventory, "stale", "old")
    assert all(line.startswith("would revoke token ") for line in lines)
    assert "would revoke 2 tokens (dry run: nothing changed)" in result.err
    with unchanged(inventory):
        dry = json.loads(inventory.ok("token", "revoke", "--unused-since", "30", "--dry-run", "--json").out)
    assert dry["dry_run"] is True
    assert sorted(t["id"] for t in dry["would_revoke"]) == ids(inventory, "stale", "old")


def test_revoke_unused_revokes_each_with_an_audit_entry(inventory):
    before = inventory.audit("--limit", "1000")
    result = inventory.ok("token", "revoke", "--unused-since", "30", "--json")
    revoked = json.loads(result.out)
    assert revoked["dry_run"] is False
    assert sorted(t["id"] for t in revoked["revoked"]) == ids(inventory, "stale", "old")
    after = inventory.audit("--limit", "1000")
    new = after[:len(after) - len(before)]
    assert sorted(e["token_id"] for e in new) == ids(inventory, "stale", "old")
    assert {(e["action"], e["detail"]) for e in new} == {("token-revoked", "unused-since:30d")}
    assert all(e["actor"].startswith("patctl:") for e in new)
    assert {e["user"] for e in new} == {"alice", "bob"}
    # Refused from now on; the rest still works.
    for name in ("stale", "old"):
        assert json.loads(inventory.check(inventory.texts[name], "authenticated", json_output=True).out)["reason"] \
            == "revoked"
    assert inventory.check(inventory.texts["busy"], "authenticated").rc == 0
    assert listed(inventory) == ids(inventory, "soon", "later", "forever", "expired", "busy")
    # Nothing left: nothing written.
    with unchanged(inventory):
        again = inventory.ok("token", "revoke", "--unused-since", "30")
    assert again.out == ""
    assert "revoked 0 tokens" in again.err


def test_revoke_unused_of_one_user(inventory):
    result = inventory.ok("token", "revoke", "--unused-since", "30", "--user", "bob")
    assert result.out.startswith(f"revoked token {inventory.tokens['old']} (old, owner bob, last used never")
    assert listed(inventory, "--unused-since", "30") == ids(inventory, "stale")


@pytest.mark.parametrize(
    "args, message",
    [
        (["token", "revoke"], "'token revoke' needs ID"),
        (["token", "revoke", "123456789012", "--unused-since", "3"], "not both"),
        (["token", "revoke", "--unused-since", "soon"], "invalid --unused-since 'soon'"),
        (["token", "revoke", "--user", "alice"], "'token revoke' needs ID, --token-stdin or --unused-since DAYS"),
        (["token", "revoke", "123456789012", "--dry-run"], "apply to --unused-since only"),
    ],
)
def test_revoke_unused_usage_errors(inventory, args, message):
    with unchanged(inventory):
        assert_error(inventory.run(*args), 2, message)
