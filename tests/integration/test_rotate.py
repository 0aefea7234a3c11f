"""Rotation with reuse detection through the real nginx, patd, git and curl
(docs/token-lifecycle.md#rotation): clone with a token, rotate it through
the API, the old token is refused on the very next request and the new one
clones; rotating the old one again revokes the family (400) and the new
token is refused too."""

import json

import pytest

from api_client import (API_SERVER, api, deployment_logs, error_message, git_refs_status, notice_lines, tokens_path)
from harness import PASSWORD, git

EXTRA_SERVER = API_SERVER


@pytest.fixture(scope="module")
def d(deployment):
    deployment.patctl.run("user", "add", "sam", "--sysadmin", "--password-stdin", stdin=PASSWORD + "\n")
    deployment.created = []
    yield deployment
    logs = deployment_logs(deployment)
    for text in deployment.created:
        assert text not in logs, "a token made by the API reached nginx's or patd's logs"


def create(d, name, permissions, expiry_days=None):
    body = {"name": name, "permissions": permissions}
    if expiry_days:
        body["expiryDays"] = expiry_days
    response = api(d, "PUT", tokens_path("alice"), user="alice", body=body)
    assert response.status == 200, response.body
    d.created.append(response.json()["token"])
    return response.json()


def rotate(d, token_id, user="alice", slug="alice", body=None):
    response = api(d, "POST", f"{tokens_path(slug)}/{token_id}/rotate", user=user, body=body)
    if response.status == 200:
        d.created.append(response.json()["token"])
    return response


def clone(d, token, dest):
    return git("clone", "-q", d.repo_url(f"alice:{token}"), str(dest), env={"HOME": str(d.home)}, check=False)


def test_rotate_through_nginx_then_reuse_revokes_the_family(d, tmp_path):
    first = create(d, "ci", ["PROJECT_READ", "REPO_WRITE"], expiry_days=30)
    assert clone(d, first["token"], tmp_path / "one").returncode == 0

    response = rotate(d, first["id"])
    assert response.status == 200, response.body
    assert response.header_values("Cache-Control") == ["no-store"]
    second = response.json()
    assert second["id"] != first["id"] and second["token"] != first["token"]
    assert (second["name"], second["permissions"]) == ("ci", ["PROJECT_READ", "REPO_WRITE"])
    assert second["expiryDate"] - second["createdDate"] == 30 * 86_400_000

    # The very next request with the old token is refused, with the same
    # 401 as any refusal; error.log says why.
    assert git_refs_status(d, "alice", first["token"]) == 401
    failed = clone(d, first["token"], tmp_path / "old")
    assert failed.returncode != 0
    assert f"credentials rejected: rotated (Basic user \"alice\", token {first['id']})" in \
        d.nginx.error_log.read_text(errors="replace")
    # ... and the new token clones.
    assert clone(d, second["token"], tmp_path / "two").returncode == 0
    assert (tmp_path / "two" / "README.md").read_text() == "version 2\n"
    listed = [t["id"] for t in api(d, "GET", tokens_path("alice"), user="alice").json()["values"]]
    assert first["id"] not in listed and second["id"] in listed
    assert notice_lines(d, f"token {first['id']} of alice rotated to {second['id']}")

    # A plain request with the old token detected nothing: the new one still works.
    assert git_refs_status(d, "alice", second["token"]) == 200

    # Rotating the old token again: reuse. 400, and the whole family is revoked.
    again = rotate(d, first["id"])
    assert again.status == 400, again.body
    message = error_message(again)
    assert f"token {first['id']} was already rotated" in message and second["id"] in message
    assert git_refs_status(d, "alice", second["token"]) == 401
    assert clone(d, second["token"], tmp_path / "three").returncode != 0
    listed = [t["id"] for t in api(d, "GET", tokens_path("alice"), user="alice").json()["values"]]
    assert second["id"] not in listed
    # The deployment's own tokens of alice are not of that family.
    assert git_refs_status(d, "alice", d.read_token.text) == 200

    audit = json.loads(d.patctl.run("audit", "alice", "--limit", "20", "--json").stdout)
    family = [e for e in audit if e["action"] == "token-family-revoked"]
    assert [e["token_id"] for e in family] == [second["id"]]
    assert (family[0]["actor"], family[0]["address"]) == ("alice", "127.0.0.1")


def test_only_the_owner_rotates(d):
    token = create(d, "laptop", ["REPO_READ"])
    # A sysadmin: 403 after their password, as when creating for someone else.
    response = rotate(d, token["id"], user="sam", slug="alice")
    assert response.status == 403, response.body
    assert "an administrator cannot create tokens for another user" in error_message(response)
    # Any other user naming alice: 403 as well.
    assert rotate(d, token["id"], user="bob", slug="alice").status == 403
    # bob naming his own slug: alice's token is not his, 404.
    response = rotate(d, token["id"], user="bob", slug="bob")
    assert response.status == 404, response.body
    assert api(d, "POST", f"{tokens_path('alice')}/{token['id']}/rotate", user="alice",
               password="wrong").status == 401
    assert git_refs_status(d, "alice", token["token"]) == 200


def test_rotate_errors(d):
    token = create(d, "errors", ["REPO_READ"])
    assert rotate(d, "000000000000").status == 404
    assert rotate(d, token["id"], body={"name": "other"}).status == 400
    assert api(d, "GET", f"{tokens_path('alice')}/{token['id']}/rotate", user="alice").status == 405
    assert api(d, "POST", f"{tokens_path('alice')}/{token['id']}/rotate/x", user="alice").status == 404
    assert git_refs_status(d, "alice", token["token"]) == 200
    response = rotate(d, token["id"], body={})
    assert response.status == 200, response.body
    assert git_refs_status(d, "alice", token["token"]) == 401
    api(d, "DELETE", f"{tokens_path('alice')}/{response.json()['id']}", user="alice")
    # A revoked token is not rotated, and that is no reuse.
    assert rotate(d, response.json()["id"]).status == 404
