"""The token policy through the real nginx to the real patd, set with the
real patctl: GET /rest/access-tokens/1.0/policy (any signed-in user), and
token creation refused with 400 (expiry missing or too long, the user at the
maximum of live tokens) and 403 (creation disabled), in Bitbucket's error
shape, with nothing created."""

import json

import pytest

from api_client import API_SERVER, api, error_message, tokens_path

EXTRA_SERVER = API_SERVER
POLICY = "/rest/access-tokens/1.0/policy"
VALIDATION = "com.atlassian.bitbucket.validation.ArgumentValidationException"
AUTHORISATION = "com.atlassian.bitbucket.AuthorisationException"


@pytest.fixture
def d(deployment):
    """The deployment with the policy cleared again after each test."""
    yield deployment
    deployment.patctl.run("policy", "set", "--require-expiry", "no", "--max-expiry-days", "none",
                          "--max-tokens-per-user", "none", "--creation", "enabled")


def policy_set(d, *args):
    return d.patctl.run("policy", "set", *args)


def token_ids(d, user):
    return {t["id"] for t in json.loads(d.patctl.run("token", "list", user, "--json").stdout)}


def create(d, user, **body):
    return api(d, "PUT", tokens_path(user), user=user, body={"name": "policy test", **body})


def exception_name(response):
    return response.json()["errors"][0]["exceptionName"]


def test_the_policy_endpoint(d):
    answer = api(d, "GET", POLICY, user="alice")
    assert answer.status == 200, answer.body
    assert answer.json() == {"requireExpiry": False, "maxExpiryDays": None, "maxTokensPerUser": None,
                             "creationEnabled": True}
    policy_set(d, "--require-expiry", "yes", "--max-expiry-days", "30", "--max-tokens-per-user", "4",
               "--creation", "disabled")
    answer = api(d, "GET", "/rest/access-tokens/latest/policy", user="bob")  # any user, either version
    assert answer.status == 200, answer.body
    assert answer.json() == {"requireExpiry": True, "maxExpiryDays": 30, "maxTokensPerUser": 4,
                             "creationEnabled": False}
    # Under the context path too.
    assert api(d, "GET", "/bitbucket" + POLICY, user="alice").json()["maxExpiryDays"] == 30


def test_the_policy_endpoint_needs_a_signed_in_user_and_is_read_only(d):
    assert api(d, "GET", POLICY).status == 401
    assert api(d, "GET", POLICY, user="alice", password="wrong").status == 401
    token = d.read_token.text
    assert api(d, "GET", POLICY, user="alice", password=token).status == 401  # tokens never manage
    for method in ("PUT", "POST", "DELETE"):
        refused = api(d, method, POLICY, user="alice", body={"creationEnabled": False})
        assert refused.status == 405 and refused.header_values("Allow") == ["GET, HEAD"], refused.body
    assert d.patctl.run("policy", "show", "--json").stdout.strip() == json.dumps(
        {"requireExpiry": False, "maxExpiryDays": None, "maxTokensPerUser": None, "creationEnabled": True},
        separators=(",", ":"))


def test_expiry_required_and_maximum_are_400(d):
    policy_set(d, "--require-expiry", "yes", "--max-expiry-days", "30")
    before = token_ids(d, "alice")
    never = create(d, "alice")
    assert never.status == 400, never.body
    assert error_message(never) == \
        "the token policy requires an expiry: give the token an expiry of 1 to 30 days"
    assert exception_name(never) == VALIDATION
    too_long = create(d, "alice", expiryDays=31)
    assert too_long.status == 400, too_long.body
    assert error_message(too_long) == "the token policy allows at most 30 days until expiry (asked: 31)"
    assert token_ids(d, "alice") == before
    within = create(d, "alice", expiryDays=30)
    assert within.status == 200, within.body
    api(d, "DELETE", tokens_path("alice") + "/" + within.json()["id"], user="alice")


def test_creation_disabled_is_403(d):
    policy_set(d, "--creation", "disabled")
    before = token_ids(d, "bob")
    refused = create(d, "bob")
    assert refused.status == 403, refused.body
    assert error_message(refused) == "token creation is disabled by the administrator's token policy"
    assert exception_name(refused) == AUTHORISATION
    assert token_ids(d, "bob") == before
    # A wrong password is still answered 401, before anything about the policy.
    assert api(d, "PUT", tokens_path("bob"), user="bob", password="wrong", body={"name": "x"}).status == 401
    # Existing tokens keep working.
    assert api(d, "GET", tokens_path("bob"), user="bob").status == 200


def test_the_maximum_of_live_tokens_is_400(d):
    live = len(token_ids(d, "bob"))
    policy_set(d, "--max-tokens-per-user", str(live + 1))
    created = create(d, "bob")
    assert created.status == 200, created.body
    refused = create(d, "bob")
    assert refused.status == 400, refused.body
    assert error_message(refused).startswith(f"the token policy allows at most {live + 1} live tokens per user")
    assert len(token_ids(d, "bob")) == live + 1
    assert api(d, "DELETE", tokens_path("bob") + "/" + created.json()["id"], user="bob").status == 204
    again = create(d, "bob")
    assert again.status == 200, again.body
    api(d, "DELETE", tokens_path("bob") + "/" + again.json()["id"], user="bob")
