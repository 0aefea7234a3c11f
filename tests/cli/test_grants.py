"""patctl grant, grants and ungrant.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import re

import pytest

from conftest import (
    ALICE_PASSWORD,
    assert_error,
    unchanged,
)


def test_grant_list_and_ungrant(populated):
    out = populated.ok("grants").out
    assert re.search(r"^alice\s+project\s+PROJ\s+write$", out, re.M)
    assert re.search(r"^alice\s+repo\s+OTHER/tools\s+admin$", out, re.M)

    result = populated.ok("grant", "carol", "repo", "proj/My-Repo", "read", "--json")
    assert json.loads(result.out) == {"user": "carol", "scope": "repo", "project": "PROJ", "repo": "my-repo",
                                      "level": "read"}
    assert populated.ok("grant", "Carol", "project", "~alice", "admin").out == (
        "granted carol admin on project ~ALICE\n")
    carol = json.loads(populated.ok("grants", "carol", "--json").out)
    assert {(g["project"], g["repo"], g["level"]) for g in carol} == {("PROJ", "my-repo", "read"),
                                                                        ("~ALICE", None, "admin")}

    assert populated.ok("ungrant", "carol", "repo", "PROJ/my-repo").out == (
        "removed the grant of carol on repo PROJ/my-repo\n")
    assert [g["project"] for g in json.loads(populated.ok("grants", "carol", "--json").out)] == ["~ALICE"]


def test_grant_replaces_the_level(populated):
    populated.ok("grant", "alice", "project", "PROJ", "read")
    grants = json.loads(populated.ok("grants", "alice", "--json").out)
    assert [g["level"] for g in grants if g["project"] == "PROJ"] == ["read"]


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "zed", "project", "PROJ", "read"],
        ["grant", "alice", "project", "1PROJ", "read"],
        ["grant", "alice", "repo", "PROJ/bad slug", "read"],
        ["grant", "alice", "repo", "PROJ/a/b", "read"],
        ["ungrant", "alice", "project", "NOPE"],
        ["ungrant", "alice", "repo", "PROJ/never-granted"],
        ["ungrant", "zed", "project", "PROJ"],
    ],
)
def test_grant_refusals_exit_1_and_change_nothing(populated, args):
    with unchanged(populated):
        result = populated.run(*args)
    assert_error(result, 1)


def test_lowering_a_grant_caps_every_token_at_once(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]  # admin/admin
    assert populated.check(token, "repo-write", "PROJ", "code").out.startswith("allowed: level write via ")
    populated.ok("grant", "alice", "project", "PROJ", "read")
    denied = populated.check(token, "repo-write", "PROJ", "code", user="alice")
    assert denied.rc == 1
    assert re.fullmatch(r"denied: user level too low: level read via .* \(token \d{12}, user alice\)\n", denied.out)
    assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
    populated.ok("ungrant", "alice", "project", "PROJ")
    assert populated.check(token, "repo-read", "PROJ", "code").out.startswith("denied: user level too low")
