"""patctl policy show | set, and the token policy at `token create`.

Every refusal is checked for its exit code (1 refused, 2 usage), one
"patctl: ..." line on stderr and an unchanged store; every change for its
policy-changed audit entry (old->new in the detail).
"""

import json

import pytest

from conftest import ALICE_PASSWORD, BOB_PASSWORD, assert_error, unchanged

DEFAULTS = {"requireExpiry": False, "maxExpiryDays": None, "maxTokensPerUser": None, "creationEnabled": True}


def show(patctl):
    return json.loads(patctl.ok("policy", "show", "--json").out)


def policy_entries(patctl):
    return [e for e in patctl.audit("--limit", "1000") if e["action"] == "policy-changed"]


def create(patctl, owner, password, *extra):
    return patctl.run("token", "create", owner, "--name", "t", *extra, "--password-stdin", stdin=password + "\n")


# ------------------------------------------------------------------ show


def test_show_on_a_new_store_is_no_limit(patctl):
    assert show(patctl) == DEFAULTS
    text = patctl.ok("policy", "show").out
    rows = [line.split() for line in text.splitlines()]
    assert rows == [["SETTING", "VALUE"], ["require-expiry", "no"], ["max-expiry-days", "none"],
                    ["max-tokens-per-user", "none"], ["creation", "enabled"]]


def test_show_writes_nothing(populated):
    with unchanged(populated):
        populated.ok("policy", "show")
        populated.ok("policy", "show", "--json")


# ------------------------------------------------------------------ set


def test_set_changes_only_what_is_given_and_is_audited(populated):
    result = populated.ok("policy", "set", "--require-expiry", "yes", "--max-expiry-days", "90")
    assert result.out == "token policy changed: require-expiry:no->yes, max-expiry-days:none->90\n", result
    assert result.err == ""
    assert show(populated) == {**DEFAULTS, "requireExpiry": True, "maxExpiryDays": 90}

    populated.ok("policy", "set", "--max-tokens-per-user", "5")
    populated.ok("policy", "set", "--creation", "disabled")
    assert show(populated) == {"requireExpiry": True, "maxExpiryDays": 90, "maxTokensPerUser": 5,
                               "creationEnabled": False}

    entries = policy_entries(populated)
    assert [e["detail"] for e in entries] == [
        "creation:enabled->disabled",
        "max-tokens-per-user:none->5",
        "require-expiry:no->yes, max-expiry-days:none->90",
    ]
    assert all(e["actor"].startswith("patctl:") and e["address"] == "local" for e in entries)

    # none clears a maximum; clearing both expiry settings at once is allowed.
    result = populated.ok("policy", "set", "--max-expiry-days", "none", "--require-expiry", "no",
                          "--max-tokens-per-user", "none", "--creation", "enabled")
    assert result.out == ("token policy changed: require-expiry:yes->no, max-expiry-days:90->none, "
                          "max-tokens-per-user:5->none, creation:disabled->enabled\n")
    assert show(populated) == DEFAULTS
    assert len(policy_entries(populated)) == 4


def test_setting_the_same_values_writes_nothing(populated):
    populated.ok("policy", "set", "--max-tokens-per-user", "3")
    with unchanged(populated):
        result = populated.ok("policy", "set", "--max-tokens-per-user", "3", "--creation", "enabled")
    assert result.out.startswith("the token policy is unchanged: ")
    assert len(policy_entries(populated)) == 1


def test_set_json(populated):
    result = json.loads(populated.ok("policy", "set", "--creation", "disabled", "--json").out)
    assert result == {"changed": True, "before": DEFAULTS, "policy": {**DEFAULTS, "creationEnabled": False},
                      "neverExpiring": 0, "beyondMaxExpiryDays": 0, "beyondMaxTokensPerUser": 0}


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        ([], 2, "'policy set' needs something to set"),
        (["--require-expiry", "maybe"], 2, "invalid --require-expiry 'maybe': expected yes or no"),
        (["--creation", "off"], 2, "invalid --creation 'off': expected enabled or disabled"),
        (["--max-expiry-days", "ninety"], 2, "invalid --max-expiry-days 'ninety'"),
        (["--max-tokens-per-user", "1.5"], 2, "invalid --max-tokens-per-user '1.5'"),
        (["--max-expiry-days", "30"], 1, "applies only when an expiry is required"),
        (["--require-expiry", "yes", "--max-expiry-days", "0"], 1, "1 to 3650"),
        (["--require-expiry", "yes", "--max-expiry-days", "3651"], 1, "1 to 3650"),
        (["--max-tokens-per-user", "0"], 1, "1 to 1000000"),
        (["--unknown"], 2, "--unknown"),
    ],
)
def test_set_refusals_change_nothing(populated, args, code, fragment):
    with unchanged(populated):
        assert_error(populated.run("policy", "set", *args), code, fragment)


def test_dropping_the_requirement_under_a_maximum_is_refused(populated):
    populated.ok("policy", "set", "--require-expiry", "yes", "--max-expiry-days", "30")
    with unchanged(populated):
        assert_error(populated.run("policy", "set", "--require-expiry", "no"), 1,
                     "applies only when an expiry is required")


# ------------------------------------------------------------------ token create under the policy


def test_create_without_expiry_when_one_is_required(populated):
    populated.ok("policy", "set", "--require-expiry", "yes", "--max-expiry-days", "30")
    with unchanged(populated):
        assert_error(create(populated, "alice", ALICE_PASSWORD), 1,
                     "the token policy requires an expiry: give the token an expiry of 1 to 30 days")
        assert_error(create(populated, "alice", ALICE_PASSWORD, "--expiry-days", "31"), 1,
                     "the token policy allows at most 30 days until expiry (asked: 31)")
    assert create(populated, "alice", ALICE_PASSWORD, "--expiry-days", "30").rc == 0


def test_create_when_creation_is_disabled(populated):
    populated.ok("policy", "set", "--creation", "disabled")
    with unchanged(populated):
        assert_error(create(populated, "bob", BOB_PASSWORD), 1,
                     "token creation is disabled by the administrator's token policy")
    populated.ok("policy", "set", "--creation", "enabled")
    assert create(populated, "bob", BOB_PASSWORD).rc == 0


def test_create_at_the_maximum_of_live_tokens(populated):
    populated.ok("policy", "set", "--max-tokens-per-user", "1")
    first = populated.create_token("alice", ALICE_PASSWORD)
    with unchanged(populated):
        assert_error(create(populated, "alice", ALICE_PASSWORD), 1,
                     "the token policy allows at most 1 live token per user, and this user has that many")
    assert create(populated, "bob", BOB_PASSWORD).rc == 0  # per user
    populated.ok("token", "revoke", first["id"])
    assert create(populated, "alice", ALICE_PASSWORD).rc == 0


def test_set_counts_existing_tokens_beyond_new_maxima_and_leaves_them(populated):
    for extra in ([], ["--expiry-days", "100"], ["--expiry-days", "10"]):
        populated.create_token("alice", ALICE_PASSWORD, *extra)
    populated.create_token("bob", BOB_PASSWORD)
    before = json.loads(populated.ok("token", "list", "--json").out)

    result = populated.ok("policy", "set", "--require-expiry", "yes", "--max-expiry-days", "30",
                          "--max-tokens-per-user", "2")
    assert result.out.splitlines() == [
        "token policy changed: require-expiry:no->yes, max-expiry-days:none->30, max-tokens-per-user:none->2",
        "2 existing tokens never expire (left as they are; patctl token list shows them)",
        "3 existing tokens exceed the new maximum of 30 days until expiry (left as they are; "
        "patctl token list shows them)",
        "1 existing token exceeds the new maximum of 2 live tokens per user (left as they are; "
        "their owners cannot create more until below it)",
    ], result
    assert json.loads(populated.ok("token", "list", "--json").out) == before

    # A higher maximum finds nothing beyond it and says nothing of it.
    result = populated.ok("policy", "set", "--max-tokens-per-user", "5")
    assert result.out == "token policy changed: max-tokens-per-user:2->5\n"
