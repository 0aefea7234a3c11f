"""The token-management API through the real nginx to the real patd (the
locations of nginx-conf-examples/patd.conf) and curl: every endpoint and
error status, who may do what, paging, the permission table, tokens refused
as credentials, concurrent creation, password changes, audit lines at
notice in patd's log, the body limits (nginx's cap in the example, patd's
own behind a location without it), and bodies nginx buffered in temp files
before passing them on."""

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from api_client import (API_SERVER, api, api_admitted, deployment_logs, error_message, git_refs_status,
                        notice_lines, patd_location, tokens_path)
from harness import PASSWORD, REPO_ROOT, curl

EXTRA_SERVER = (API_SERVER
                + patd_location("/small-buffer/rest/access-tokens/", "client_body_buffer_size 1k")
                + patd_location("/uncapped/rest/access-tokens/", "client_max_body_size 1m")
                + f"location /account/tokens/ {{ alias {REPO_ROOT}/web/; }}\n")

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def d(deployment):
    """The deployment plus users the API tests need; fails the module if a
    token the API created reaches nginx's or patd's logs."""
    for name in ("carol", "dave", "erin", "frank"):
        deployment.patctl.add_user(name)
    deployment.patctl.run("user", "add", "sam", "--sysadmin", "--password-stdin",
                          stdin=PASSWORD + "\n")
    deployment.created = []
    yield deployment
    logs = deployment_logs(deployment)
    for text in deployment.created:
        assert text not in logs, "a token created by the API reached nginx's or patd's logs"
    assert NEW_PASSWORD not in logs and PASSWORD not in logs


def create(d, user, body, as_user=None, **kwargs):
    response = api(d, "PUT", tokens_path(user), user=as_user or user, body=body, **kwargs)
    if response.status == 200:
        d.created.append(response.json()["token"])
    return response


def test_create_returns_the_token_once_and_it_works(d):
    response = create(d, "alice", {"name": "CI", "permissions": ["PROJECT_READ", "REPO_WRITE"],
                                   "expiryDays": 30})
    assert response.status == 200, response.body
    assert response.header_values("Content-Type") == ["application/json;charset=UTF-8"]
    assert response.header_values("Cache-Control") == ["no-store"]
    created = response.json()
    assert created["name"] == "CI"
    assert created["permissions"] == ["PROJECT_READ", "REPO_WRITE"]
    assert created["expiryDays"] == 30
    assert created["expiryDate"] - created["createdDate"] == 30 * 86_400_000
    assert created["user"]["name"] == "alice"
    assert "lastAuthenticated" not in created
    assert created["token"].startswith("npat_")
    assert git_refs_status(d, "alice", created["token"]) == 200

    # The text is shown once: neither the list nor the token itself has it.
    listed = api(d, "GET", tokens_path("alice"), user="alice")
    assert listed.status == 200
    assert created["token"] not in listed.body
    assert created["id"] in [t["id"] for t in listed.json()["values"]]
    one = api(d, "GET", tokens_path("alice") + "/" + created["id"], user="alice")
    assert one.status == 200 and "token" not in one.json()
    assert one.json()["name"] == "CI"


def test_modify_keeps_omitted_fields_and_revoke_stops_the_token(d):
    created = create(d, "alice", {"name": "to change", "permissions": ["REPO_READ"]}).json()
    path = tokens_path("alice") + "/" + created["id"]

    renamed = api(d, "POST", path, user="alice", body={"name": "changed"})
    assert renamed.status == 200
    assert renamed.json()["name"] == "changed"
    assert renamed.json()["permissions"] == ["PROJECT_READ", "REPO_READ"]
    raised = api(d, "POST", path, user="alice", body={"permissions": ["REPO_WRITE"]})
    assert raised.status == 200
    assert raised.json()["permissions"] == ["PROJECT_READ", "REPO_WRITE"]
    assert raised.json()["name"] == "changed"

    revoked = api(d, "DELETE", path, user="alice")
    assert revoked.status == 204
    assert revoked.body == ""
    assert git_refs_status(d, "alice", created["token"]) == 401
    assert api(d, "GET", path, user="alice").status == 404
    assert api(d, "DELETE", path, user="alice").status == 404


def test_latest_alias_and_context_path(d):
    for path in (tokens_path("alice", "latest"), tokens_path("alice", context="/bitbucket")):
        response = api(d, "GET", path, user="alice")
        assert response.status == 200, path
        assert "values" in response.json()
    # The challenge names patd's realm (--realm, one per patd), whatever the path.
    refused = api(d, "GET", tokens_path("alice", context="/bitbucket"))
    assert refused.header_values("WWW-Authenticate") == ['Basic realm="nginx-pat"']


def test_head_is_answered_like_get_without_a_body(d):
    response = curl(d.url(tokens_path("alice")), "-u", f"alice:{PASSWORD}", head=True)
    assert response.status == 200
    assert int(response.header_values("Content-Length")[0]) > 0
    assert response.body == ""


def test_unknown_path_and_method(d):
    missing = api(d, "GET", "/rest/access-tokens/1.0/nothing/here", user="alice")
    assert missing.status == 404
    assert missing.header_values("Cache-Control") == ["no-store"]
    assert "errors" in missing.json()
    patch = api(d, "PATCH", tokens_path("alice"), user="alice", body={})
    assert patch.status == 405
    assert patch.header_values("Allow") == ["GET, HEAD, PUT"]


@pytest.mark.parametrize("body, message_part", [
    ({"permissions": ["REPO_READ"]}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x", "permissions": ["REPO_EVERYTHING"]}, "REPO_EVERYTHING"),
    ({"name": "x", "permissions": ["PROJECT_WRITE", "REPO_READ"]}, "at least"),
    ({"name": "x", "permissions": ["REPO_READ", "REPO_WRITE"]}, ""),
    ({"name": "x", "permissions": []}, ""),
    ({"name": "x", "expiryDays": 0}, "expiryDays"),
    ({"name": "x", "expiryDays": "ten"}, "expiryDays"),
    ("{not json", ""),
    ("[1, 2]", ""),
])
def test_invalid_creations_are_400_and_create_nothing(d, body, message_part):
    before = len(api(d, "GET", tokens_path("erin") + "?limit=1000", user="erin").json()["values"])
    response = create(d, "erin", body)
    assert response.status == 400, response.body
    assert message_part in error_message(response)
    assert response.json()["errors"][0]["exceptionName"].endswith("ArgumentValidationException")
    after = len(api(d, "GET", tokens_path("erin") + "?limit=1000", user="erin").json()["values"])
    assert after == before


def test_permissions_default_to_the_users_own_level(d):
    response = create(d, "alice", {"name": "default level"})
    assert response.status == 200
    token = response.json()
    assert token["permissions"] == ["PROJECT_ADMIN", "REPO_ADMIN"]
    # Capped by alice's grants: she may read WORK, and has nothing elsewhere.
    assert git_refs_status(d, "alice", token["token"]) == 200
    assert git_refs_status(d, "alice", token["token"], project="OTHER") == 403


def alice_token_names(d):
    values = api(d, "GET", tokens_path("alice") + "?limit=1000", user="alice").json()["values"]
    return [t["name"] for t in values]


def test_body_over_64_kib_is_refused_by_nginx(d):
    # The example's client_max_body_size 64k: nginx answers 413 itself,
    # whether the length is declared or the body is chunked.
    big = json.dumps({"name": "too big", "padding": "y" * 70_000})
    assert create(d, "alice", big).status == 413
    assert create(d, "alice", big, headers=("Transfer-Encoding: chunked",)).status == 413
    assert "too big" not in alice_token_names(d)


def test_body_over_64_kib_is_refused_by_patd(d):
    # Behind a location without the cap, patd's own limit: nothing is made.
    # nginx passes the body with its length declared, and patd answers 400
    # before reading it and closes; nginx, still sending the body, may see
    # the connection reset and answer 502 instead (its error.log says so).
    # Hence the example's client_max_body_size 64k.
    big = json.dumps({"name": "too big", "padding": "y" * 70_000})
    for headers in ((), ("Transfer-Encoding: chunked",)):
        response = api(d, "PUT", tokens_path("alice", context="/uncapped"), user="alice",
                       body=big, headers=headers)
        assert response.status in (400, 502), headers
        if response.status == 400:
            assert "64 KiB" in error_message(response)
    assert "too big" not in alice_token_names(d)


def test_a_body_nginx_wrote_to_a_temp_file_reaches_patd(d):
    # client_body_buffer_size 1k: nginx keeps this 3 KiB body in a temporary
    # file and passes it on to patd from there.
    body = '{"name": "from a file"' + " " * 3000 + "}"
    response = api(d, "PUT", tokens_path("alice", context="/small-buffer"), user="alice", body=body)
    assert response.status == 200, response.body
    d.created.append(response.json()["token"])
    assert response.json()["name"] == "from a file"


def test_owner_admin_and_other_user_rules(d):
    token = create(d, "alice", {"name": "alice's", "permissions": ["REPO_READ"]}).json()
    path = tokens_path("alice") + "/" + token["id"]

    # Nobody creates tokens for someone else, not even a sysadmin.
    for creator in ("sam", "bob"):
        refused = create(d, "alice", {"name": "minted"}, as_user=creator)
        assert refused.status == 403, creator
    # Another user sees neither the list nor the token (404: no probing).
    assert api(d, "GET", tokens_path("alice"), user="bob").status == 403
    assert api(d, "GET", path, user="bob").status == 404
    assert api(d, "POST", path, user="bob", body={"name": "mine"}).status == 404
    assert api(d, "DELETE", path, user="bob").status == 404
    assert git_refs_status(d, "alice", token["token"]) == 200
    # The token must belong to the user in the path.
    assert api(d, "GET", tokens_path("bob") + "/" + token["id"], user="alice").status == 404

    # A sysadmin lists, reads, changes and revokes anyone's tokens.
    assert token["id"] in [t["id"] for t in
                           api(d, "GET", tokens_path("alice"), user="sam").json()["values"]]
    assert api(d, "GET", path, user="sam").status == 200
    assert api(d, "POST", path, user="sam", body={"name": "renamed by sam"}).status == 200
    assert api(d, "DELETE", path, user="sam").status == 204
    assert git_refs_status(d, "alice", token["token"]) == 401
    assert api(d, "GET", tokens_path("nobody"), user="sam").status == 404


def test_paging(d):
    for n in range(5):
        d.patctl.create_token("erin", f"page-{n}")
    first = api(d, "GET", tokens_path("erin") + "?limit=2", user="erin").json()
    assert first["size"] == 2 and first["limit"] == 2 and first["start"] == 0
    assert first["isLastPage"] is False and first["nextPageStart"] == 2
    everything = api(d, "GET", tokens_path("erin") + "?limit=1000", user="erin").json()
    total = len(everything["values"])
    last = api(d, "GET", tokens_path("erin") + f"?start={total - 1}&limit=2", user="erin").json()
    assert last["isLastPage"] is True and last["size"] == 1 and "nextPageStart" not in last
    assert last["values"][0]["id"] == everything["values"][-1]["id"]
    for query in ("limit=0", "start=-1", "limit=abc", "start=1&start=2"):
        assert api(d, "GET", tokens_path("erin") + "?" + query, user="erin").status == 400, query


def test_tokens_are_refused_as_credentials(d):
    before = len(api(d, "GET", tokens_path("alice") + "?limit=1000", user="alice").json()["values"])
    text = d.write_token.text
    for auth in (("-u", f"alice:{text}"), ("-H", f"Authorization: Bearer {text}")):
        response = curl(d.url(tokens_path("alice")), *auth, "-X", "PUT", "-H",
                        "Content-Type: application/json", "--data-binary", '{"name":"minted"}')
        assert response.status == 401
        assert "Personal access tokens cannot be used" in error_message(response)
        assert response.header_values("WWW-Authenticate") == ['Basic realm="nginx-pat"']
    after = len(api(d, "GET", tokens_path("alice") + "?limit=1000", user="alice").json()["values"])
    assert after == before


def test_missing_credentials_get_a_challenge(d):
    response = api(d, "GET", tokens_path("alice"))
    assert response.status == 401
    assert response.header_values("WWW-Authenticate") == ['Basic realm="nginx-pat"']
    assert response.header_values("Cache-Control") == ["no-store"]


def test_wrong_password_is_401_audited_and_logged_at_notice(d):
    response = api(d, "GET", tokens_path("dave"), user="dave", password="not the password")
    assert response.status == 401
    assert notice_lines(d, "password refused for dave from 127.0.0.1")
    audit = json.loads(d.patctl.run("audit", "dave", "--json").stdout)
    assert audit[0]["action"] == "password-failed"
    assert audit[0]["address"] == "127.0.0.1"


def test_changes_are_logged_at_notice(d):
    token = create(d, "alice", {"name": "audited"}).json()
    path = tokens_path("alice") + "/" + token["id"]
    api(d, "POST", path, user="alice", body={"name": "audited 2"})
    api(d, "DELETE", path, user="alice")
    assert notice_lines(d, f"token {token['id']} created for alice from 127.0.0.1")
    assert notice_lines(d, f"token {token['id']} of alice changed by alice")
    assert notice_lines(d, f"token {token['id']} of alice revoked by alice")
    actions = [e["action"] for e in json.loads(d.patctl.run("audit", "alice", "--json").stdout)
               if e["token_id"] == token["id"]]
    assert actions == ["token-revoked", "token-modified", "token-created"]


def test_password_change_through_both_paths(d):
    change = {"oldPassword": PASSWORD, "password": NEW_PASSWORD, "passwordConfirm": NEW_PASSWORD}
    changed = api(d, "PUT", tokens_path("carol") + "/password", user="carol", body=change)
    assert changed.status == 204
    assert api(d, "GET", tokens_path("carol"), user="carol").status == 401
    assert api(d, "GET", tokens_path("carol"), user="carol", password=NEW_PASSWORD).status == 200

    back = {"oldPassword": NEW_PASSWORD, "password": PASSWORD, "passwordConfirm": PASSWORD}
    restored = api(d, "PUT", "/rest/api/1.0/users/credentials", user="carol",
                   password=NEW_PASSWORD, body=back)
    assert restored.status == 204
    assert api(d, "GET", tokens_path("carol"), user="carol").status == 200
    # Only one's own password; an administrator uses patctl.
    assert api(d, "PUT", tokens_path("carol") + "/password", user="sam", body=change).status == 403


def test_concurrent_creates_lose_no_token(d):
    # patd runs at most 2 password checks of one user at once (and 4 in all):
    # the others are told to come back in a second (429 or 503 with
    # Retry-After: 1), and they do. Parallel correct sign-ins never block
    # the user.
    def create_one(n):
        response = api_admitted(d, "PUT", tokens_path("bob"), user="bob",
                                body={"name": f"parallel-{n}", "permissions": ["REPO_READ"]})
        if response.status == 200:
            d.created.append(response.json()["token"])
        return response

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(create_one, range(20)))
    assert [r.status for r in responses] == [200] * 20, [(r.status, r.body) for r in responses]
    assert any(r.waits for r in responses), "patd ran 20 sign-ins of one user at once"
    created = [r.json() for r in responses]
    assert len({t["id"] for t in created}) == 20
    listed = api(d, "GET", tokens_path("bob") + "?limit=1000", user="bob").json()["values"]
    names = {t["name"] for t in listed}
    assert {f"parallel-{n}" for n in range(20)} <= names
    d.patctl.grant("bob", "project", "WORK", "read")
    try:
        for token in created:
            assert git_refs_status(d, "bob", token["token"]) == 200
    finally:
        d.patctl.ungrant("bob", "project", "WORK")


def test_the_account_page_is_served_beside_the_api(d):
    page = curl(d.url("/account/tokens/"))
    assert page.status == 200
    assert page.body == (REPO_ROOT / "web" / "index.html").read_text()
    assert curl(d.url("/account/tokens/app.js")).status == 200


def test_http2_requests_with_bodies(d):
    response = curl(d.h2_base + tokens_path("alice"), "-u", f"alice:{PASSWORD}", "-X", "PUT",
                    "-H", "Content-Type: application/json", "--data-binary",
                    '{"name":"over h2","permissions":["REPO_READ"]}', http2=True)
    assert response.status == 200, response.body
    d.created.append(response.json()["token"])
    assert response.json()["name"] == "over h2"


def test_a_client_that_leaves_mid_request_does_no_harm(d):
    # curl gives up long before the password check and the write are done;
    # nginx then closes its connection to patd. patd may drop the request or
    # finish it (its text was never seen, so it is useless but harmless):
    # either way at most one token each, patd carries on serving, and a
    # sign-in whose client left is no failed guess: five of them, more than
    # a pending attempt's 10 s later, do not block the user.
    for _ in range(5):
        gone = subprocess.run(["curl", "-sS", "--max-time", "0.05", "-u", f"frank:{PASSWORD}",
                               "-X", "PUT", "-H", "Content-Type: application/json",
                               "--data-binary", '{"name":"abandoned"}',
                               d.url(tokens_path("frank"))],
                              capture_output=True, timeout=30)
        # Timed out, or (still running the last one) told to come back.
        assert gone.returncode == 28 or b"Try again in 1 seconds" in gone.stdout, gone
        time.sleep(0.3)
    time.sleep(11)
    listed = api(d, "GET", tokens_path("frank") + "?limit=1000", user="frank")
    assert listed.status == 200, listed.body
    assert [t["name"] for t in listed.json()["values"]].count("abandoned") <= 5
    assert d.patd.process.poll() is None
