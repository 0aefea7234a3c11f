"""The token API's cross-site request defence through the real nginx and
patd (issue 10, item 5): a browser on another site can post a form (text/plain,
urlencoded, multipart) to the API, and the browser adds its cached Basic
credentials. Such requests are refused before any sign-in: a body must be
`application/json` (415 otherwise) and a foreign Origin is refused (403)."""

import json

import pytest

from api_client import API_SERVER, tokens_path
from harness import PASSWORD, curl

EXTRA_SERVER = API_SERVER

BODY = json.dumps({"name": "csrf", "permissions": ["REPO_READ"]})


def put(d, *args):
    return curl(d.url(tokens_path("alice")), "-u", f"alice:{PASSWORD}", "-X", "PUT", *args)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415(deployment, content_type):
    args = ["--data-binary", BODY]
    if content_type:
        args += ["-H", f"Content-Type: {content_type}"]
    response = put(deployment, *args)
    assert response.status == 415, response.body
    assert "application/json" in response.json()["errors"][0]["message"]


def test_a_multipart_form_post_is_415(deployment):
    response = curl(deployment.url(tokens_path("alice")), "-u", f"alice:{PASSWORD}", "-X", "PUT",
                    "-F", f"name={BODY}")
    assert response.status == 415


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_a_foreign_origin_is_403(deployment, origin):
    response = put(deployment, "-H", "Content-Type: application/json", "-H", f"Origin: {origin}",
                   "--data-binary", BODY)
    assert response.status == 403
    response = curl(deployment.url(tokens_path("alice")), "-u", f"alice:{PASSWORD}",
                    "-H", f"Origin: {origin}")
    assert response.status == 403


def test_nothing_refused_was_a_sign_in_or_a_change(deployment):
    audit = deployment.patctl.run("audit", "--limit", "1000").stdout
    assert "csrf" not in audit
    listed = curl(deployment.url(tokens_path("alice")), "-u", f"alice:{PASSWORD}")
    assert listed.status == 200
    assert all(token["name"] != "csrf" for token in listed.json()["values"])


def test_the_same_origin_with_json_is_served(deployment):
    own = f"http://127.0.0.1:{deployment.port}"
    response = put(deployment, "-H", "Content-Type: application/json; charset=UTF-8",
                   "-H", f"Origin: {own}", "--data-binary", BODY)
    assert response.status == 200, response.body
    token = response.json()
    deployment.patctl.revoke(token["id"])
    assert token["token"] not in deployment.nginx.error_log.read_text()
    assert token["token"] not in deployment.patd.text()
