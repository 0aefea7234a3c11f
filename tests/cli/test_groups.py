"""patctl group, and grants to a group or to all users (grant/ungrant/grants
--group, --all-users) as `check` sees them: which grant decided.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import re

import pytest

from conftest import (
    ALICE_PASSWORD,
    CAROL_PASSWORD,
    assert_error,
    unchanged,
)

def token_suffix(user):
    """How a `check` line ends once the token is known."""
    return r" \(token \d{12}, user " + re.escape(user) + r"\)\n"


def allowed_via(level, via, user):
    """The whole `check` line of an allowed decision with its source."""
    return re.compile(re.escape(f"allowed: level {level} {via}") + token_suffix(user))


@pytest.fixture
def grouped(populated):
    """populated plus group "backend" (alice, carol) and an empty group "ops"."""
    populated.ok("group", "add", "backend")
    populated.ok("group", "add", "ops")
    populated.ok("group", "add-member", "backend", "alice", "carol")
    return populated


def test_group_add_list_members_and_delete(populated):
    assert populated.ok("group", "list").out == "no groups\n"
    assert populated.ok("group", "add", "Backend").out == 'added group "backend"\n'
    assert json.loads(populated.ok("group", "add", "Domain Users", "--json").out) == {"name": "domain users",
                                                                                      "members": 0}
    assert populated.ok("group", "members", "backend").out == "no members\n"

    result = populated.ok("group", "add-member", "BACKEND", "Alice", "carol")
    assert result.out == 'added alice, carol to group "backend"\n'
    result = populated.ok("group", "add-member", "domain users", "bob", "--json")
    assert json.loads(result.out) == {"group": "domain users", "added": ["bob"]}

    out = populated.ok("group", "list").out
    assert out.splitlines()[0].split() == ["NAME", "MEMBERS"]
    assert re.search(r"^backend\s+2$", out, re.M)
    assert re.search(r"^domain users\s+1$", out, re.M)
    assert json.loads(populated.ok("group", "list", "--json").out) == [{"name": "backend", "members": 2},
                                                                       {"name": "domain users", "members": 1}]
    members = populated.ok("group", "members", "Backend").out.splitlines()
    assert [line.strip() for line in members] == ["USER", "alice", "carol"]
    assert json.loads(populated.ok("group", "members", "backend", "--json").out) == {
        "group": "backend", "members": ["alice", "carol"]}

    result = populated.ok("group", "remove-member", "backend", "CAROL")
    assert result.out == 'removed carol from group "backend"\n'
    result = populated.ok("group", "remove-member", "backend", "alice", "--json")
    assert json.loads(result.out) == {"group": "backend", "removed": ["alice"]}
    assert json.loads(populated.ok("group", "members", "backend", "--json").out)["members"] == []

    assert populated.ok("group", "delete", "BackEnd").out == (
        'deleted group "backend" with its memberships and grants\n')
    assert json.loads(populated.ok("group", "delete", "domain users", "--json").out) == {"deleted": "domain users"}
    assert json.loads(populated.ok("group", "list", "--json").out) == []


def test_group_changes_are_audited(grouped):
    grouped.ok("group", "remove-member", "backend", "carol")
    grouped.ok("group", "delete", "ops")
    actions = [entry["action"] for entry in grouped.audit("--limit", "10")]
    for action in ("group-added", "member-added", "member-removed", "group-deleted"):
        assert action in actions, (action, actions)
    assert all(entry["actor"].startswith("patctl:") for entry in grouped.audit("--limit", "5"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["group", "add", "backend"], "backend"),
        (["group", "add", "BACKEND"], "backend"),
        (["group", "add", ""], "group name"),
        (["group", "add", " lead"], "group name"),
        (["group", "add", "trailing "], "group name"),
        (["group", "add", "bad/name"], "group name"),
        (["group", "add", "tab\there"], "group name"),
        (["group", "add", "x" * 129], "group name"),
        (["group", "delete", "nope"], "nope"),
        (["group", "delete", "bad/name"], "group name"),
        (["group", "members", "nope"], "nope"),
        (["group", "add-member", "nope", "alice"], "nope"),
        (["group", "add-member", "backend", "zed"], "zed"),
        (["group", "add-member", "backend", "bob", "zed"], "zed"),  # all or nothing: bob is not added
        (["group", "add-member", "backend", "bob", "bad/name"], "user name"),
        (["group", "add-member", "backend", "alice"], "alice"),  # already a member
        (["group", "add-member", "backend", "bob", "Carol"], "carol"),
        (["group", "remove-member", "backend", "bob"], "bob"),  # not a member
        (["group", "remove-member", "backend", "alice", "zed"], "zed"),
        (["group", "remove-member", "nope", "alice"], "nope"),
        (["grant", "--group", "nope", "project", "WORK", "read"], "nope"),
        (["grant", "--group", "bad/name", "project", "WORK", "read"], "group name"),
        (["grant", "--group", "backend", "project", "1WORK", "read"], "project key"),
        (["grant", "--group", "backend", "repo", "WORK/bad slug", "read"], "slug"),
        (["grant", "--all-users", "repo", "WORK/a/b", "read"], "slug"),
        (["ungrant", "--group", "backend", "project", "NEVER"], "NEVER"),
        (["ungrant", "--group", "nope", "project", "WORK"], "nope"),
        (["ungrant", "--all-users", "project", "NEVER"], "NEVER"),
        (["grants", "--group", "nope"], "nope"),
    ],
)
def test_group_refusals_exit_1_and_change_nothing(grouped, args, message):
    with unchanged(grouped):
        result = grouped.run(*args)
    assert_error(result, 1, message)


USAGE_ERRORS = [
    (["group"], "'group' needs a subcommand: add, delete, list, members, add-member, remove-member"),
    (["group", "rename", "a", "b"], "unknown command 'group rename'"),
    (["group", "add"], "'group add' needs GROUP"),
    (["group", "add", "a", "b"], "unexpected argument 'b'"),
    (["group", "list", "backend"], "unexpected argument 'backend'"),
    (["group", "add-member", "backend"], "'group add-member' needs GROUP and at least one USER"),
    (["group", "remove-member"], "'group remove-member' needs GROUP and at least one USER"),
    (["group", "add", "x", "--all-users"], "option --all-users does not apply to 'group add'"),
    (["grant", "--group", "backend", "alice", "project", "WORK", "read"],
     "'grant --group GROUP' takes no user NAME: unexpected argument 'alice'"),
    (["grant", "--all-users", "carol", "project", "WORK", "read"],
     "'grant --all-users' takes no user NAME: unexpected argument 'carol'"),
    (["grant", "--group", "backend", "--all-users", "project", "WORK", "read"],
     "--group and --all-users exclude each other"),
    (["grant", "--group", "backend", "project", "WORK"], "'grant --group GROUP' needs SCOPE, TARGET and LEVEL"),
    (["grant", "--all-users", "project"], "'grant --all-users' needs SCOPE, TARGET and LEVEL"),
    (["grant", "--group", "backend", "project", "WORK", "owner"], "invalid LEVEL 'owner'"),
    (["grant", "--group", "backend", "team", "WORK", "read"], "invalid scope 'team'"),
    (["grant", "--group", "backend", "repo", "WORK", "read"], "expected KEY/SLUG"),
    (["grant", "--group"], "option --group needs a value"),
    (["grant", "--all-users=yes", "project", "WORK", "read"], "option --all-users takes no value"),
    (["grant", "alice", "project", "WORK"], "'grant' needs NAME, SCOPE, TARGET and LEVEL"),
    (["ungrant", "--group", "backend", "alice", "project", "WORK"],
     "'ungrant --group GROUP' takes no user NAME"),
    (["ungrant", "--all-users", "project"], "'ungrant --all-users' needs SCOPE and TARGET"),
    (["ungrant", "--all-users", "--group", "backend", "project", "WORK"], "exclude each other"),
    (["ungrant", "alice", "project"], "'ungrant' needs NAME, SCOPE and TARGET"),
    (["grants", "alice", "--group", "backend"], "'grants --group GROUP' takes no user NAME"),
    (["grants", "--all-users", "alice"], "'grants --all-users' takes no user NAME"),
    (["grants", "--all-users", "--group", "backend"], "exclude each other"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_and_change_nothing(grouped, args, message):
    with unchanged(grouped):
        result = grouped.run(*args)
    assert_error(result, 2, message)


def test_group_and_all_users_grants_are_listed_and_removed(grouped):
    result = grouped.ok("grant", "--group", "Backend", "project", "work", "write")
    assert result.out == 'granted group "backend" write on project WORK\n'
    result = grouped.ok("grant", "--group", "backend", "repo", "WORK/Site", "admin", "--json")
    assert json.loads(result.out) == {"group": "backend", "scope": "repo", "project": "WORK", "repo": "site",
                                      "level": "admin"}
    assert grouped.ok("grant", "--all-users", "project", "WORK", "read").out == (
        "granted all users read on project WORK\n")
    result = grouped.ok("grant", "--all-users", "repo", "PUB/docs", "read", "--json")
    assert json.loads(result.out) == {"all_users": True, "scope": "repo", "project": "PUB", "repo": "docs",
                                      "level": "read"}

    assert {(g["scope"], g["project"], g["repo"], g["level"])
            for g in json.loads(grouped.ok("grants", "--group", "BACKEND", "--json").out)} == {
        ("project", "WORK", None, "write"), ("repo", "WORK", "site", "admin")}
    assert all(g["group"] == "backend" for g in json.loads(grouped.ok("grants", "--group", "backend", "--json").out))
    assert json.loads(grouped.ok("grants", "--all-users", "--json").out) == [
        {"all_users": True, "scope": "repo", "project": "PUB", "repo": "docs", "level": "read"},
        {"all_users": True, "scope": "project", "project": "WORK", "repo": None, "level": "read"}]
    assert grouped.ok("grants", "--group", "ops").out == "no grants\n"

    # `grants` alone lists every kind; a user's own grants stay theirs.
    out = grouped.ok("grants").out
    assert out.splitlines()[0].split() == ["GRANTEE", "SCOPE", "TARGET", "LEVEL"]
    assert re.search(r"^alice\s+project\s+PROJ\s+write$", out, re.M)
    assert re.search(r'^group "backend"\s+project\s+WORK\s+write$', out, re.M)
    assert re.search(r'^group "backend"\s+repo\s+WORK/site\s+admin$', out, re.M)
    assert re.search(r"^all users\s+project\s+WORK\s+read$", out, re.M)
    assert re.search(r"^all users\s+repo\s+PUB/docs\s+read$", out, re.M)
    assert len(json.loads(grouped.ok("grants", "--json").out)) == 6
    assert [g["project"] for g in json.loads(grouped.ok("grants", "alice", "--json").out)] == ["OTHER", "PROJ"]

    result = grouped.ok("ungrant", "--group", "backend", "repo", "work/SITE")
    assert result.out == 'removed the grant of group "backend" on repo WORK/site\n'
    result = grouped.ok("ungrant", "--all-users", "project", "WORK", "--json")
    assert json.loads(result.out) == {"all_users": True, "removed": "project WORK"}
    result = grouped.ok("ungrant", "--group", "backend", "project", "WORK", "--json")
    assert json.loads(result.out) == {"group": "backend", "removed": "project WORK"}
    assert grouped.ok("grants", "--group", "backend").out == "no grants\n"
    assert [g["project"] for g in json.loads(grouped.ok("grants", "--all-users", "--json").out)] == ["PUB"]


def test_check_names_the_group_grant_and_follows_membership(grouped):
    token = grouped.create_token("carol", CAROL_PASSWORD)["token"]  # admin/admin, carol has no grant of her own
    assert grouped.check(token, "repo-read", "WORK", "code").out.startswith("denied: user level too low")

    grouped.ok("grant", "--group", "backend", "project", "WORK", "write")
    result = grouped.check(token, "repo-write", "WORK", "code")
    assert result.rc == 0, result
    assert allowed_via("write", 'via group "backend" on project WORK', "carol").fullmatch(result.out), result
    result = grouped.check(token, "repo-write", "work", "code", json_output=True)
    checked = json.loads(result.out)
    assert checked["allowed"] is True and checked["level"] == "write"
    assert {k: checked["via"][k] for k in ("kind", "group", "project", "repo")} == {
        "kind": "group", "group": "backend", "project": "WORK", "repo": None}
    assert checked["via"]["text"] == 'via group "backend" on project WORK'

    # Leaving the group takes the level away at the next decision.
    grouped.ok("group", "remove-member", "backend", "carol")
    denied = grouped.check(token, "repo-write", "WORK", "code", user="carol")
    assert denied.rc == 1
    assert re.fullmatch(r"denied: user level too low: no grant" + token_suffix("carol"), denied.out)
    checked = json.loads(grouped.check(token, "repo-write", "WORK", "code", json_output=True).out)
    assert (checked["reason"], checked["level"], checked["via"]) == ("user level too low", "none", None)

    # Joining again gives it back; so does a higher grant to another group.
    grouped.ok("group", "add-member", "backend", "carol")
    assert grouped.check(token, "repo-write", "WORK", "code").rc == 0
    grouped.ok("group", "add-member", "ops", "carol")
    grouped.ok("grant", "--group", "ops", "repo", "WORK/code", "admin")
    result = grouped.check(token, "repo-admin", "WORK", "code")
    assert allowed_via("admin", 'via group "ops" on repository WORK/code', "carol").fullmatch(result.out), result
    # Other repositories of the project: still the project grant.
    result = grouped.check(token, "repo-write", "WORK", "other")
    assert allowed_via("write", 'via group "backend" on project WORK', "carol").fullmatch(result.out), result

    # Removing the group's grant takes effect at once as well.
    grouped.ok("ungrant", "--group", "backend", "project", "WORK")
    assert grouped.check(token, "repo-read", "WORK", "other").out.startswith("denied: user level too low")


def test_a_user_in_many_groups_gets_the_highest_level(grouped):
    token = grouped.create_token("carol", CAROL_PASSWORD)["token"]
    for i in range(50):
        grouped.ok("group", "add", f"team-{i:02d}")
        grouped.ok("group", "add-member", f"team-{i:02d}", "carol")
        grouped.ok("grant", "--group", f"team-{i:02d}", "project", "BIG", "write" if i == 37 else "read")
    result = grouped.check(token, "repo-write", "BIG", "code")
    assert allowed_via("write", 'via group "team-37" on project BIG', "carol").fullmatch(result.out), result
    assert grouped.check(token, "repo-admin", "BIG", "code").rc == 1


def test_check_names_the_users_own_grant_and_the_all_users_default(grouped):
    alice = grouped.create_token("alice", ALICE_PASSWORD)["token"]
    carol = grouped.create_token("carol", CAROL_PASSWORD)["token"]
    # alice: her own write on PROJ.
    result = grouped.check(alice, "project-write", "PROJ")
    assert allowed_via("write", "via the user's own grant on project PROJ", "alice").fullmatch(result.out), result
    # A group's admin on PROJ is higher than her own write: it decides.
    grouped.ok("grant", "--group", "backend", "project", "PROJ", "admin")
    result = grouped.check(alice, "project-admin", "PROJ")
    assert allowed_via("admin", 'via group "backend" on project PROJ', "alice").fullmatch(result.out), result

    # The all-users default reaches a user in no group with no grant.
    grouped.ok("group", "remove-member", "backend", "carol")
    assert grouped.check(carol, "repo-read", "WIKI", "pages").rc == 1
    grouped.ok("grant", "--all-users", "project", "WIKI", "read")
    result = grouped.check(carol, "repo-read", "WIKI", "pages")
    assert allowed_via("read", "via all users on project WIKI", "carol").fullmatch(result.out), result
    assert json.loads(grouped.check(carol, "repo-read", "WIKI", "pages", json_output=True).out)["via"]["kind"] == (
        "all-users")
    denied = grouped.check(carol, "repo-write", "WIKI", "pages")
    assert denied.rc == 1, denied
    assert re.fullmatch(r"denied: user level too low: level read via all users on project WIKI" + token_suffix("carol"),
                        denied.out), denied

    # A disabled user gets nothing from groups or defaults.
    grouped.ok("user", "disable", "carol")
    assert grouped.check(carol, "repo-read", "WIKI", "pages").out.startswith("denied: user disabled")


def test_check_names_the_sysadmin_flag_and_the_personal_project(grouped):
    bob = grouped.create_token("bob", "bob's secret")["token"]
    result = grouped.check(bob, "repo-admin", "ANY", "thing")
    assert allowed_via("admin", "via the sysadmin flag", "bob").fullmatch(result.out), result
    alice = grouped.create_token("alice", ALICE_PASSWORD)["token"]
    result = grouped.check(alice, "repo-admin", "~Alice", "dotfiles")
    assert allowed_via("admin", "via the personal project ~ALICE", "alice").fullmatch(result.out), result
    via = json.loads(grouped.check(alice, "repo-admin", "~alice", "dotfiles", json_output=True).out)["via"]
    assert via == {"kind": "personal-project", "group": None, "project": "~ALICE", "repo": None,
                   "text": "via the personal project ~ALICE"}


def test_check_without_a_target_has_no_level(grouped):
    token = grouped.create_token("alice", ALICE_PASSWORD)["token"]
    assert re.fullmatch(r"allowed \(token \d{12}, user alice\)\n", grouped.check(token, "authenticated").out)
    checked = json.loads(grouped.check(token, "authenticated", json_output=True).out)
    assert "level" not in checked and "via" not in checked


def test_deleting_a_user_removes_their_memberships(grouped):
    grouped.ok("grant", "--group", "backend", "project", "WORK", "write")
    grouped.ok("user", "delete", "carol")
    assert json.loads(grouped.ok("group", "members", "backend", "--json").out)["members"] == ["alice"]
    assert json.loads(grouped.ok("group", "list", "--json").out)[0] == {"name": "backend", "members": 1}
    # A new carol is a new user: no membership, no level from the group.
    grouped.add_user("carol", CAROL_PASSWORD)
    token = grouped.create_token("carol", CAROL_PASSWORD)["token"]
    assert grouped.check(token, "repo-read", "WORK", "code").out.startswith("denied: user level too low")


def test_deleting_a_group_removes_its_grants(grouped):
    token = grouped.create_token("carol", CAROL_PASSWORD)["token"]
    grouped.ok("grant", "--group", "backend", "project", "WORK", "write")
    grouped.ok("grant", "--group", "backend", "repo", "OTHER/x", "read")
    assert grouped.check(token, "repo-write", "WORK", "code").rc == 0
    grouped.ok("group", "delete", "backend")
    assert grouped.check(token, "repo-read", "WORK", "code").out.startswith("denied: user level too low")
    assert grouped.check(token, "repo-read", "OTHER", "x").out.startswith("denied: user level too low")
    assert not any("group" in g for g in json.loads(grouped.ok("grants", "--json").out))
    # A group made again under the name starts empty and without grants.
    grouped.ok("group", "add", "backend")
    assert grouped.ok("grants", "--group", "backend").out == "no grants\n"
    assert grouped.ok("group", "members", "backend").out == "no members\n"
    assert grouped.check(token, "repo-read", "WORK", "code").rc == 1


def test_group_names_with_spaces_work_everywhere(populated):
    populated.ok("group", "add", "Domain Users")
    populated.ok("group", "add-member", "domain users", "carol")
    assert populated.ok("grant", "--group", "DOMAIN USERS", "project", "WORK", "read").out == (
        'granted group "domain users" read on project WORK\n')
    token = populated.create_token("carol", CAROL_PASSWORD)["token"]
    result = populated.check(token, "repo-read", "WORK", "code")
    assert allowed_via("read", 'via group "domain users" on project WORK', "carol").fullmatch(result.out), result
    assert re.search(r'^group "domain users"\s+project\s+WORK\s+read$', populated.ok("grants").out, re.M)


def test_group_help(populated):
    result = populated.run("group", "--help", db=False)
    assert result.rc == 0 and "patctl group add-member GROUP USER..." in result.out
    result = populated.run("grant", "--help", db=False)
    assert result.rc == 0 and "--all-users" in result.out and "--group GROUP" in result.out
    assert "patctl group members GROUP" in populated.run("--help", db=False).out
