"""patctl public (anonymous read of a project or repository) and
`check --anonymous`, which decides a request without credentials with
Store::decide_public, as the module does.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import re

import pytest

from conftest import (
    CAROL_PASSWORD,
    assert_error,
    unchanged,
)


def anonymous(patctl, need, project, repo=None, json_output=False):
    args = ["check", "--anonymous", "--need", need, "--project", project]
    if repo is not None:
        args += ["--repo", repo]
    if json_output:
        args.append("--json")
    return patctl.run(*args)


def assert_public(patctl, project, repo):
    result = anonymous(patctl, "repo-read", project, repo)
    assert (result.rc, result.out, result.err) == (0, "allowed: public\n", ""), result


def assert_not_public(patctl, project, repo, need="repo-read"):
    result = anonymous(patctl, need, project, repo)
    assert (result.rc, result.out, result.err) == (1, "denied: no credentials\n", ""), result


def test_a_public_project_is_readable_without_credentials(populated):
    assert_not_public(populated, "WORK", "code")
    assert populated.ok("public", "list").out == "no public projects or repositories\n"

    result = populated.ok("public", "project", "work", "on")
    assert result.out == "project WORK is public: anyone may read its repositories without credentials\n"
    assert_public(populated, "WORK", "code")
    assert_public(populated, "work", "Other")
    # Reading only: never a write, an admin need, a fork or the project itself.
    for need in ("repo-write", "repo-admin", "repo-fork"):
        assert_not_public(populated, "WORK", "code", need)
    assert_not_public(populated, "WORK", None, "project-read")
    assert_not_public(populated, "OTHER", "code")

    out = populated.ok("public", "list").out
    assert out.splitlines()[0].split() == ["SCOPE", "TARGET"]
    assert re.search(r"^project\s+WORK$", out, re.M)
    assert json.loads(populated.ok("public", "list", "--json").out) == [
        {"scope": "project", "project": "WORK", "repo": None}]

    assert populated.ok("public", "project", "WORK", "off").out == "project WORK is no longer public\n"
    assert_not_public(populated, "WORK", "code")
    assert json.loads(populated.ok("public", "list", "--json").out) == []


def test_a_public_repository_opens_only_itself(populated):
    result = populated.ok("public", "repo", "WORK/Site", "on", "--json")
    assert json.loads(result.out) == {"scope": "repo", "project": "WORK", "repo": "site", "public": True}
    assert_public(populated, "WORK", "site")
    assert_not_public(populated, "WORK", "code")
    assert_not_public(populated, "WORK", "site", "repo-write")

    # Turning the repository off leaves it readable while its project is public.
    populated.ok("public", "project", "WORK", "on")
    result = populated.ok("public", "repo", "work/site", "off")
    assert result.out == "repo WORK/site is no longer public\n"
    assert_public(populated, "WORK", "site")
    populated.ok("public", "repo", "WORK/site", "on")
    result = populated.ok("public", "project", "WORK", "off", "--json")
    assert json.loads(result.out) == {"scope": "project", "project": "WORK", "repo": None, "public": False}
    assert_public(populated, "WORK", "site")
    assert_not_public(populated, "WORK", "code")
    assert json.loads(populated.ok("public", "list", "--json").out) == [
        {"scope": "repo", "project": "WORK", "repo": "site"}]


def test_check_anonymous_json_is_what_nginx_answers(populated):
    populated.ok("public", "repo", "WORK/site", "on")
    allowed = json.loads(anonymous(populated, "repo-read", "WORK", "site", json_output=True).out)
    assert allowed == {"allowed": True, "reason": "allowed", "verdict": "allow", "http_status": None,
                       "token_id": None, "user": None}
    result = anonymous(populated, "repo-write", "WORK", "site", json_output=True)
    assert result.rc == 1
    assert json.loads(result.out) == {"allowed": False, "reason": "no credentials", "verdict": "unauthenticated",
                                      "http_status": 401, "token_id": None, "user": None}


def test_public_changes_are_audited_and_check_writes_nothing(populated):
    populated.ok("public", "project", "WORK", "on")
    populated.ok("public", "project", "WORK", "off")
    actions = [entry["action"] for entry in populated.audit("--limit", "2")]
    assert actions == ["public-removed", "public-set"]
    with unchanged(populated):
        assert_not_public(populated, "WORK", "code")


def test_a_token_user_reads_a_public_repository(populated):
    populated.ok("public", "repo", "WORK/site", "on")
    token = populated.create_token("carol", CAROL_PASSWORD)["token"]  # carol has no grant
    result = populated.check(token, "repo-read", "WORK", "site")
    assert result.rc == 0, result
    assert re.fullmatch(r"allowed: level read via public access to repository WORK/site \(token \d{12}, user carol\)\n",
                        result.out), result
    assert populated.check(token, "repo-write", "WORK", "site").out.startswith("denied: user level too low")


@pytest.mark.parametrize(
    "args, message",
    [
        (["public", "project", "1WORK", "on"], "project key"),
        (["public", "project", "bad key", "off"], "project key"),
        (["public", "repo", "WORK/bad slug", "on"], "slug"),
        (["public", "repo", "WORK/a/b", "on"], "slug"),
        (["public", "repo", "WORK/x.git", "on"], "slug"),
    ],
)
def test_public_refusals_exit_1_and_change_nothing(populated, args, message):
    with unchanged(populated):
        result = populated.run(*args)
    assert_error(result, 1, message)


USAGE_ERRORS = [
    (["public"], "'public' needs a subcommand: project, repo, list"),
    (["public", "team", "X", "on"], "unknown command 'public team'"),
    (["public", "project", "WORK"], "'public project' needs KEY and on|off"),
    (["public", "project", "WORK", "yes"], "invalid switch 'yes': expected on or off"),
    (["public", "project", "WORK", "ON"], "invalid switch 'ON'"),
    (["public", "repo", "WORK", "on"], "expected KEY/SLUG"),
    (["public", "repo", "WORK/", "on"], "expected KEY/SLUG"),
    (["public", "list", "WORK"], "unexpected argument 'WORK'"),
    (["public", "project", "WORK", "on", "extra"], "unexpected argument 'extra'"),
    (["check", "--anonymous", "--token", "npat_x", "--need", "repo-read", "--project", "P", "--repo", "r"],
     "exactly one of --token TOKEN, --token-stdin and --anonymous"),
    (["check", "--anonymous", "--token-stdin", "--need", "repo-read", "--project", "P", "--repo", "r"],
     "exactly one of"),
    (["check", "--anonymous", "--user", "alice", "--need", "repo-read", "--project", "P", "--repo", "r"],
     "--user does not apply to --anonymous"),
    (["check", "--anonymous", "--need", "repo-read", "--project", "P"], "needs --repo"),
    (["check", "--anonymous"], "needs --need"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_and_change_nothing(populated, args, message):
    with unchanged(populated):
        result = populated.run(*args)
    assert_error(result, 2, message)


def test_public_help(populated):
    result = populated.run("public", "--help", db=False)
    assert result.rc == 0 and "patctl public repo KEY/SLUG on|off" in result.out
    assert "--anonymous" in populated.run("check", "--help", db=False).out
