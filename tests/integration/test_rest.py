"""Bitbucket REST routes: Bearer and Basic reach the same decision, errors
come in Bitbucket's JSON shape, challenges name both schemes."""

import pytest

from harness import PASSWORD, curl

COMMITS = "/rest/api/1.0/projects/WORK/repos/my-repo/commits?until=master"
AUTH_FAILED = "Authentication failed. Please check your credentials and try again."


def assert_bitbucket_error(response, status):
    assert response.status == status
    assert response.header_values("Content-Type") == ["application/json"]
    body = response.json()
    assert list(body) == ["errors"]
    [error] = body["errors"]
    assert error["context"] is None and error["exceptionName"] is None
    assert error["message"]
    return error["message"]


@pytest.mark.parametrize("prefix", ["", "/bitbucket"])
@pytest.mark.parametrize("api", ["1.0", "latest"])
def test_bearer_reads_commits(deployment, prefix, api):
    path = f"{prefix}/rest/api/{api}/projects/WORK/repos/my-repo/commits?until=master"
    response = curl(deployment.url(path), *deployment.read_token.bearer())
    assert response.status == 200
    assert response.json() == {"ok": True}


def test_no_credentials_gets_both_challenges_and_json(deployment):
    response = curl(deployment.url(COMMITS))
    assert assert_bitbucket_error(response, 401) == AUTH_FAILED
    assert response.header_values("WWW-Authenticate") == ['Basic realm="Bitbucket"',
                                                          'Bearer realm="Bitbucket"']


def test_every_rejection_looks_the_same(deployment):
    token = deployment.read_token
    revoked = deployment.patctl.create_token("alice", "gone")
    deployment.patctl.revoke(revoked.id)
    mistyped = token.text[:-1] + ("A" if token.text[-1] != "A" else "B")
    attempts = [
        ("-H", "Authorization: Bearer npat_nothing"),
        ("-H", f"Authorization: Bearer {mistyped}"),
        revoked.bearer(),
        token.basic(user="bob"),
        ("-H", "Authorization: Basic !!!"),
    ]
    bodies = set()
    for args in attempts:
        response = curl(deployment.url(COMMITS), *args)
        assert_bitbucket_error(response, 401)
        bodies.add(response.body)
    assert len(bodies) == 1


def test_bearer_and_basic_reach_the_same_decision(deployment):
    routes = [
        ("GET", "/rest/api/1.0/projects/WORK/repos/my-repo/commits"),
        ("POST", "/rest/api/1.0/projects/WORK/repos/my-repo/pull-requests"),
        ("PUT", "/rest/api/1.0/projects/WORK/repos/my-repo/settings/pull-requests"),
        ("GET", "/rest/api/1.0/projects/WORK"),
        ("GET", "/rest/api/1.0/no/such/route"),
    ]
    tokens = [deployment.read_token, deployment.write_token, deployment.bob_token]
    for method, path in routes:
        for token in tokens:
            basic = curl(deployment.url(path), *token.basic(), method=method)
            bearer = curl(deployment.url(path), *token.bearer(), method=method)
            assert basic.status == bearer.status, (method, path, token.id)
            # 405: allowed through, then the static test backend refuses the method.
            assert basic.status in (200, 403, 405)


def test_permissions_on_rest_routes(deployment):
    read, write = deployment.read_token, deployment.write_token
    # Merging needs REPO_WRITE (Bitbucket's description of the operation).
    merge = "/rest/api/1.0/projects/WORK/repos/my-repo/pull-requests/1/merge"
    assert curl(deployment.url(merge), *read.bearer(), method="POST").status == 403
    # Method-specific: the write token may merge ...
    assert curl(deployment.url(merge), *write.bearer(), method="POST").status != 403
    # ... and reading the merge status takes only REPO_READ.
    assert curl(deployment.url(merge), *read.bearer()).status != 403
    # Creating a pull request needs REPO_READ only (was refused to a read token
    # before the table followed Bitbucket's statement).
    prs = "/rest/api/1.0/projects/WORK/repos/my-repo/pull-requests"
    assert curl(deployment.url(prs), *read.bearer(), method="POST").status != 403
    # ... but repository settings need admin, which neither token nor alice has.
    message = assert_bitbucket_error(
        curl(deployment.url("/rest/api/1.0/projects/WORK/repos/my-repo/permissions/users"),
             *write.bearer(), method="PUT"), 403)
    assert "not permitted" in message
    assert curl(deployment.url("/rest/api/1.0/projects/WORK"), *read.bearer()).status == 200


def test_unknown_rest_route_is_denied(deployment):
    response = curl(deployment.url("/rest/api/1.0/whatever"), *deployment.write_token.bearer())
    assert_bitbucket_error(response, 403)


def test_git_errors_stay_plain(deployment):
    response = curl(deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"))
    assert response.status == 401
    assert response.header_values("WWW-Authenticate") == ['Basic realm="Git"']
    assert "application/json" not in response.header_values("Content-Type")


def test_head_request_gets_error_status_without_body(deployment):
    response = curl(deployment.url(COMMITS), head=True)
    assert response.status == 401
    assert response.body == ""


# A location with a sysadmin's rules in front of the built-in table (the
# templates are quoted: '{' would open a block in nginx.conf).
EXTRA_SERVER = """
        location /rules/rest/ {
            auth_pat "Bitbucket";
            auth_pat_route rest;
            auth_pat_rest_rule GET "/rest/myplugin/latest/projects/{projectKey}/status" project-read;
            auth_pat_rest_rule PUT
                "/rest/insights/latest/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/reports/{key}"
                repo-read;
            auth_pat_rest_rule * /rest/api/latest/application-properties deny;
            try_files /rest-ok.json =404;
        }
"""


def test_a_sysadmins_rules_come_before_the_table(deployment):
    read, bob = deployment.read_token, deployment.bob_token
    plugin = "/rest/myplugin/1.0/projects/WORK/status"
    # Unknown to the built-in table: refused after authentication ...
    assert curl(deployment.url(plugin), *read.bearer()).status == 403
    # ... known to the rule: alice reads WORK, bob has no grant there.
    assert curl(deployment.url("/rules" + plugin), *read.bearer()).status == 200
    assert curl(deployment.url("/rules" + plugin), *bob.bearer()).status == 403
    assert curl(deployment.url("/rules" + plugin), *read.bearer(), method="POST").status == 403
    # An unstated write the table gives repo-write; the rule lowers it to repo-read.
    report = "/rest/insights/1.0/projects/WORK/repos/my-repo/commits/abc123/reports/lint"
    assert curl(deployment.url(report), *read.bearer(), method="PUT").status == 403
    assert curl(deployment.url("/rules" + report), *read.bearer(), method="PUT").status != 403
    # deny refuses what the table allows.
    properties = "/rest/api/latest/application-properties"
    assert curl(deployment.url(properties), *read.bearer()).status == 200
    assert_bitbucket_error(curl(deployment.url("/rules" + properties), *read.bearer()), 403)
    # Still authentication first: a bad token gets 401, not the rule's 403.
    response = curl(deployment.url("/rules" + properties), "-H", "Authorization: Bearer npat_nothing")
    assert_bitbucket_error(response, 401)


def test_families_clients_use_and_global_administration(deployment):
    read, write = deployment.read_token, deployment.write_token
    # Listings every signed-in user may call; Bitbucket filters the answer.
    for path in ("/rest/api/1.0/projects", "/rest/api/1.0/users", "/rest/api/latest/repos"):
        assert curl(deployment.url(path), *read.bearer()).status == 200, path
    # CI creating a branch (REPO_WRITE) and a tag.
    branches = "/rest/branch-utils/1.0/projects/WORK/repos/my-repo/branches"
    assert curl(deployment.url(branches), *read.bearer(), method="POST").status == 403
    assert curl(deployment.url(branches), *write.bearer(), method="POST").status != 403
    # Global administration: a sysadmin with a token at its highest level only.
    banner = "/rest/api/latest/admin/banner"
    deployment.patctl.run("user", "add", "root", "--sysadmin", "--password-stdin", stdin=PASSWORD + "\n")
    root_admin = deployment.patctl.create_token("root", "admin")
    root_write = deployment.patctl.create_token("root", "write", project="write", repo="write")
    alice_admin = deployment.patctl.create_token("alice", "admin")
    assert curl(deployment.url(banner), *root_admin.bearer(), method="PUT").status != 403
    assert curl(deployment.url(banner), *root_admin.basic(), method="PUT").status != 403
    assert curl(deployment.url(banner), *root_write.bearer(), method="PUT").status == 403
    assert curl(deployment.url(banner), *alice_admin.bearer(), method="PUT").status == 403
