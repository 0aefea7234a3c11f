"""The core's lists for a `directory sync` (DirectoryClient::list_users,
list_groups_with_members) against a real slapd, through the test helper
build/directory_lists (tests/directory/lists.cpp)."""

import os
import subprocess
from pathlib import Path

import pytest

import slapd as harness

LISTS = os.environ.get("DIRECTORY_LISTS", str(Path(__file__).resolve().parents[2] / "build" / "directory_lists"))


def lists(config):
    if not os.access(LISTS, os.X_OK):
        pytest.fail(f"not built: {LISTS} (make build/directory_lists, or set DIRECTORY_LISTS)")
    result = subprocess.run([LISTS, str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_users_are_listed_canonical_and_invalid_names_are_skipped_with_a_reason(directory):
    lines = lists(directory.config())
    users = [line for line in lines if line.startswith("user ")]
    assert users == [
        f"user alice\tAlice Liddell\t{harness.user_dn('alice')}",
        f"user bob\tBob Builder\t{harness.user_dn('bob')}",
        f"user carol\tCarol Danvers\t{harness.user_dn('carol')}",
    ]
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert len(skipped) == 1
    assert skipped[0].startswith(
        f"skipped the entry uid=john smith,ou=people,{harness.SUFFIX}: uid john smith is not a valid user name here")


def test_groups_list_their_members_resolved_to_users(directory):
    lines = lists(directory.config())
    groups = [line for line in lines if line.startswith("group ")]
    base = f"ou=groups,{harness.SUFFIX}"
    assert groups == [
        f"group developers\tcn=developers,{base}\talice,bob",
        # A member DN in another case is the same user; a group and a ghost are not users.
        f"group leads\tcn=leads,{base}\talice",
        # memberUid: ghost has no entry.
        f"group ops\tcn=ops,{base}\talice,carol",
        f"group staff\tcn=staff,{base}\talice",
    ]


def test_the_user_filter_decides_who_is_a_user(directory):
    config = directory.config(extra="")
    config.write_text(config.read_text().replace("user_base = ", "user_filter = (&(objectClass=inetOrgPerson)(!(uid=bob)))\nuser_base = "))
    lines = lists(config)
    assert not any(line.startswith("user bob") for line in lines)
    assert f"group developers\tcn=developers,ou=groups,{harness.SUFFIX}\talice" in lines
