"""Brute-force protection of the API's password checks, in patd
(docs/sign-in-limits.md), through the real nginx: 5 guesses per existing
user in any 5 minutes whatever the addresses they come from, 20 failed
attempts per client address (IPv6 per /64), 429 with Retry-After, parallel
correct sign-ins never blocking, at most 2 password checks of one user at
once and at most --max-sign-ins in all (503 with Retry-After: 1 at once).
The user's tokens keep working for git and REST meanwhile.

nginx passes the client's address to patd in X-Real-IP ($remote_addr). To
come from many addresses, this server takes $remote_addr from a test header
(nginx's realip module, trusting only 127.0.0.1, where curl runs): what a
real deployment sees from many clients, through the same nginx -> patd path."""

import json
import threading
import time

import pytest

from api_client import API_SERVER, api, api_admitted, error_message, notice_lines, tokens_path
from harness import PASSWORD, curl, git

MAX_SIGN_INS = 3
PATD_OPTIONS = ("--max-sign-ins", MAX_SIGN_INS)
EXTRA_SERVER = API_SERVER + """
set_real_ip_from 127.0.0.1;
real_ip_header X-Test-Client;
"""


def from_address(address):
    return (f"X-Test-Client: {address}",)


@pytest.fixture(scope="module")
def d(deployment):
    deployment.patctl.add_user("victim")
    deployment.patctl.grant("victim", "project", "WORK", "read")
    deployment.victim_token = deployment.patctl.create_token("victim", "git")
    for name in ("bystander", "roamer", "parallel", "busy"):
        deployment.patctl.add_user(name)
    return deployment


def password_failures(d, user):
    return sum(e["count"] for e in json.loads(d.patctl.run("audit", user, "--json").stdout)
               if e["action"] == "password-failed")


def test_failures_block_the_user_with_429_and_retry_after(d):
    for attempt in range(5):
        response = api(d, "GET", tokens_path("victim"), user="victim", password=f"guess {attempt}")
        assert response.status == 401, attempt
    blocked = api(d, "GET", tokens_path("victim"), user="victim", password="guess 5")
    assert blocked.status == 429
    retry_after = int(blocked.header_values("Retry-After")[0])
    assert 1 < retry_after <= 300  # a block for the window, not a short wait
    assert "Too many failed sign-ins" in error_message(blocked)
    assert blocked.header_values("Cache-Control") == ["no-store"]
    # Not even the right password gets through while blocked.
    assert api(d, "GET", tokens_path("victim"), user="victim").status == 429
    assert notice_lines(d, "sign-in as victim from 127.0.0.1 throttled")
    # Another user from the same address is not blocked (that takes 20).
    assert api(d, "GET", tokens_path("bystander"), user="bystander").status == 200


def test_a_fresh_address_does_not_lift_a_users_block(d):
    # The limit is the user's, whatever the address: 5 per 5 minutes.
    response = api(d, "GET", tokens_path("victim"), user="victim",
                   headers=from_address("198.51.100.200"))
    assert response.status == 429
    assert notice_lines(d, "sign-in as victim from 198.51.100.200 throttled")


def test_guesses_from_many_addresses_count_for_the_user(d):
    # Five wrong guesses from five addresses (no address near its own
    # limit), then the sixth from a sixth: refused, right password or not.
    for n in range(5):
        response = api(d, "GET", tokens_path("roamer"), user="roamer", password=f"guess {n}",
                       headers=from_address(f"198.51.100.{n + 1}"))
        assert response.status == 401, n
    for password in ("guess 5", PASSWORD):
        blocked = api(d, "GET", tokens_path("roamer"), user="roamer", password=password,
                      headers=from_address("198.51.100.6"))
        assert blocked.status == 429
        assert 1 < int(blocked.header_values("Retry-After")[0]) <= 300
    assert notice_lines(d, "password refused for roamer from 198.51.100.3")
    assert password_failures(d, "roamer") == 5


def test_an_address_is_limited_to_20_failures_whatever_the_names(d):
    address = "203.0.113.9"
    for n in range(20):
        response = api(d, "GET", tokens_path(f"nobody{n}"), user=f"nobody{n}", password="guess",
                       headers=from_address(address))
        assert response.status == 401, n
    blocked = api(d, "GET", tokens_path("bystander"), user="bystander",
                  headers=from_address(address))
    assert blocked.status == 429
    assert 1 < int(blocked.header_values("Retry-After")[0]) <= 300
    # The user was not the target: from another address they get in.
    assert api(d, "GET", tokens_path("bystander"), user="bystander",
               headers=from_address("203.0.113.10")).status == 200


def test_ipv6_addresses_count_per_64(d):
    for n in range(20):
        response = api(d, "GET", tokens_path(f"v6nobody{n}"), user=f"v6nobody{n}", password="guess",
                       headers=from_address(f"2001:db8:5:6::{n + 1:x}"))
        assert response.status == 401, n
    # Another address of the same /64: the same budget, spent.
    same = api(d, "GET", tokens_path("bystander"), user="bystander",
               headers=from_address("2001:db8:5:6:ffff::1"))
    assert same.status == 429
    assert notice_lines(d, "sign-in as bystander from 2001:db8:5:6:ffff::1 throttled")
    # The next /64 is someone else.
    assert api(d, "GET", tokens_path("bystander"), user="bystander",
               headers=from_address("2001:db8:5:7::1")).status == 200


def test_parallel_correct_sign_ins_never_block_the_user(d):
    # 12 at once, three rounds: more than the user's budget of 5. The ones
    # over the fair share are told to come back in a second (429 or 503
    # with Retry-After: 1), never blocked for the window.
    seen = []

    def one():
        response = api_admitted(d, "GET", tokens_path("parallel"), user="parallel", timeout=90)
        seen.append((response.status, response.waits))

    for _ in range(3):
        threads = [threading.Thread(target=one) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert [status for status, _ in seen] == [200] * 36, seen
    assert any(waits for _, waits in seen), "patd ran 12 sign-ins of one user at once"
    assert password_failures(d, "parallel") == 0
    assert api(d, "GET", tokens_path("parallel"), user="parallel").status == 200


def test_one_user_gets_at_most_two_checks_at_once(d):
    # Three at once for one user: the third is answered at once, 429 with a
    # 1 s wait (its fair share), and does not count as a guess. (A client
    # thread that starts late may find the others done: up to five rounds.)
    def round_of_three():
        results = []
        barrier = threading.Barrier(3)

        def one():
            barrier.wait()
            results.append(api(d, "GET", tokens_path("busy"), user="busy"))

        threads = [threading.Thread(target=one) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return results

    for _ in range(5):
        results = round_of_three()
        statuses = sorted(r.status for r in results)
        assert statuses in ([200, 200, 200], [200, 200, 429]), statuses
        if 429 in statuses:
            break
        time.sleep(1)
    assert statuses == [200, 200, 429], "three password checks of one user ran at once"
    (refused,) = [r for r in results if r.status == 429]
    assert refused.header_values("Retry-After") == ["1"]
    assert password_failures(d, "busy") == 0


def test_more_sign_ins_than_patd_checks_at_once_get_503_at_once(d):
    # Many users at once (no fair share in the way): past --max-sign-ins,
    # 503 with Retry-After: 1, at once, never queued.
    users = [f"many{n}" for n in range(12)]
    for user in users:
        d.patctl.add_user(user)
    results = []
    barrier = threading.Barrier(len(users))

    def one(user):
        barrier.wait()
        start = time.monotonic()
        response = api(d, "GET", tokens_path(user), user=user)
        results.append((response, time.monotonic() - start))

    threads = [threading.Thread(target=one, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = [r.status for r, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses
    busy = [(r, t) for r, t in results if r.status == 503]
    assert busy, f"{len(users)} sign-ins at once, none over {MAX_SIGN_INS} refused"
    for response, elapsed in busy:
        assert response.header_values("Retry-After") == ["1"]
        assert elapsed < 5, "a refused sign-in waited"
    assert d.patd.lines("sign-in refused with 503, too many at once (client 127.0.0.1)")


def test_tokens_of_a_throttled_user_keep_working(d, tmp_path):
    assert api(d, "GET", tokens_path("victim"), user="victim").status == 429
    token = d.victim_token.text
    rest = curl(d.url("/rest/api/1.0/projects/WORK/repos/my-repo"), "-H",
                f"Authorization: Bearer {token}")
    assert rest.status == 200
    clone = tmp_path / "clone"
    git("clone", "-q", d.repo_url(f"victim:{token}"), str(clone))
    assert (clone / "README.md").exists()


def test_the_block_survives_an_nginx_reload(d):
    # The limiter lives in patd, not in nginx's workers.
    d.nginx.reload()
    assert api(d, "GET", tokens_path("victim"), user="victim").status == 429


def test_a_throttled_request_checks_no_password(d):
    # The audit trail counts one password failure per refused guess, none
    # for the 429s.
    assert password_failures(d, "victim") == 5
    start = time.monotonic()
    assert api(d, "GET", tokens_path("victim"), user="victim", password="fast").status == 429
    assert time.monotonic() - start < 2
    assert password_failures(d, "victim") == 5
