"""patctl route: the need the module gives a REST request and the rule that
gave it, from the built-in table or a rules file. Needs no store."""

import json
import os
import subprocess

from conftest import PATCTL


def route(*args, env_db=False):
    env = {k: v for k, v in os.environ.items() if k != "PAT_DB"}
    result = subprocess.run([PATCTL, "route", *args], capture_output=True, text=True, env=env)
    return result.returncode, result.stdout, result.stderr


def test_built_in_row_without_a_store():
    rc, out, err = route("--method", "POST", "--path", "/bitbucket/rest/branch-utils/1.0/projects/PRJ/repos/r/branches")
    assert rc == 0, err
    assert out.splitlines()[0] == "need: repo-write on PRJ/r"
    assert "createBranch" in out and "Bitbucket states REPO_WRITE" in out


def test_json_names_the_row():
    rc, out, _ = route("--method", "GET", "--path", "/rest/api/latest/projects/PRJ/repos/r/hook-scripts", "--json")
    assert rc == 0
    answer = json.loads(out)
    assert answer["need"] == "repo-admin" and answer["source"] == "built-in"
    assert answer["template"] == "/rest/api/latest/projects/{projectKey}/repos/{repositorySlug}/hook-scripts"
    assert answer["stated"] == "REPO_ADMIN" and answer["basis"] == "stated"
    assert answer["project"] == "PRJ" and answer["repo"] == "r"


def test_rules_file_comes_first(tmp_path):
    rules = tmp_path / "rules.conf"
    rules.write_text(
        "# copied from nginx.conf\n"
        "auth_pat_rest_rule PUT \"/rest/insights/latest/projects/{projectKey}/repos/{repositorySlug}"
        "/commits/{commitId}/reports/{key}\" repo-read;\n"
        + "GET /rest/myplugin/** sysadmin\n")
    report = "/rest/insights/1.0/projects/PRJ/repos/r/commits/abc/reports/lint"
    rc, out, _ = route("--method", "PUT", "--path", report)
    assert rc == 0 and out.startswith("need: repo-write")
    rc, out, _ = route("--method", "PUT", "--path", report, "--rules", str(rules))
    assert rc == 0 and out.startswith("need: repo-read on PRJ/r")
    assert f"from: rule {rules}:2:" in out
    rc, out, _ = route("--method", "GET", "--path", "/rest/myplugin/a/b", "--rules", str(rules), "--json")
    assert json.loads(out)["need"] == "sysadmin" and json.loads(out)["rule_origin"] == f"{rules}:3"


def test_refused_and_bad_rules(tmp_path):
    rc, out, _ = route("--method", "GET", "--path", "/rest/no-such-plugin/1.0/x")
    assert rc == 1 and out.startswith("need: refused")
    rc, out, _ = route("--method", "GET", "--path", "/rest/api/latest/projects/P/repos/r/%2e%2e/x")
    assert rc == 1 and out.startswith("need: bad-request")
    bad = tmp_path / "bad.conf"
    bad.write_text("GET /rest/a/{projectKey} repo-read\n")
    rc, _, err = route("--method", "GET", "--path", "/rest/a/P", "--rules", str(bad))
    assert rc == 1 and "bad.conf:1" in err and "{repositorySlug}" in err
    rc, _, err = route("--method", "GET")
    assert rc == 2 and "--path" in err


def test_check_sysadmin_need(populated):
    from conftest import ALICE_PASSWORD, BOB_PASSWORD
    bob_admin = populated.create_token("bob", BOB_PASSWORD)["token"]
    bob_write = populated.create_token("bob", BOB_PASSWORD, "--project", "write", "--repo", "write")["token"]
    alice_admin = populated.create_token("alice", ALICE_PASSWORD)["token"]
    allowed = populated.check(bob_admin, "sysadmin")
    assert allowed.rc == 0 and allowed.out.startswith("allowed (token ")
    assert populated.check(bob_write, "sysadmin").out.startswith("denied: token level too low")
    assert populated.check(alice_admin, "sysadmin").out.startswith("denied: user level too low")
