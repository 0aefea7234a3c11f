"""Brute-force protection of the API's password checks: a shared-memory
failure counter answers 429 with Retry-After, across workers and reloads,
while tokens of the same user keep working for git and REST."""

import time

import pytest

from api_client import API_SERVER, api, error_message, notice_lines, tokens_path
from harness import PASSWORD, curl, git

EXTRA_SERVER = API_SERVER


@pytest.fixture(scope="module")
def d(deployment):
    deployment.patctl.add_user("victim")
    deployment.patctl.grant("victim", "project", "WORK", "read")
    deployment.victim_token = deployment.patctl.create_token("victim", "git")
    deployment.patctl.add_user("bystander")
    return deployment


def test_failures_block_the_user_with_429_and_retry_after(d):
    # 5 failures for one user name within 5 minutes block it. The requests
    # go over separate connections, so both workers count into the zone.
    for attempt in range(5):
        response = api(d, "GET", tokens_path("victim"), user="victim", password=f"guess {attempt}")
        assert response.status == 401, attempt
    blocked = api(d, "GET", tokens_path("victim"), user="victim", password="guess 5")
    assert blocked.status == 429
    retry_after = int(blocked.header_values("Retry-After")[0])
    assert 0 < retry_after <= 300
    assert "Too many failed sign-ins" in error_message(blocked)
    assert blocked.header_values("Cache-Control") == ["no-store"]
    # Not even the right password gets through while blocked.
    assert api(d, "GET", tokens_path("victim"), user="victim").status == 429
    assert notice_lines(d, "sign-in as victim from 127.0.0.1 throttled")
    # Another user from the same address is not blocked (that takes 20).
    assert api(d, "GET", tokens_path("bystander"), user="bystander").status == 200


def test_tokens_of_a_throttled_user_keep_working(d, tmp_path):
    assert api(d, "GET", tokens_path("victim"), user="victim").status == 429
    token = d.victim_token.text
    rest = curl(d.url("/rest/api/1.0/projects/WORK/repos/my-repo"), "-H",
                f"Authorization: Bearer {token}")
    assert rest.status == 200
    clone = tmp_path / "clone"
    git("clone", "-q", d.repo_url(f"victim:{token}"), str(clone))
    assert (clone / "README.md").exists()


def test_the_block_survives_a_reload(d):
    d.nginx.reload()
    assert api(d, "GET", tokens_path("victim"), user="victim").status == 429


def test_a_throttled_request_checks_no_password(d):
    # The audit trail counts one password failure per refused guess, none
    # for the 429s.
    import json
    failures = [e for e in json.loads(d.patctl.run("audit", "victim", "--json").stdout)
                if e["action"] == "password-failed"]
    assert sum(e["count"] for e in failures) == 5
    start = time.monotonic()
    assert api(d, "GET", tokens_path("victim"), user="victim", password="fast").status == 429
    assert time.monotonic() - start < 2
