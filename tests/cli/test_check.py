"""patctl check: the core decision as a command, and revocation seen by the
next reader.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import json
import threading
import time

import pytest

from conftest import (
    ALICE_PASSWORD,
    DAY_MS,
    assert_error,
    now_ms,
    unchanged,
)


def test_check_reasons(populated):
    token = populated.create_token("alice", ALICE_PASSWORD, "--project", "write", "--repo", "write")["token"]
    cases = [
        (dict(need="repo-write", project="proj", repo="Code"), 0, "allowed"),
        (dict(need="project-write", project="PROJ"), 0, "allowed"),
        (dict(need="authenticated"), 0, "allowed"),
        (dict(need="authenticated", user="ALICE"), 0, "allowed"),
        (dict(need="repo-admin", project="OTHER", repo="tools"), 1, "denied: token level too low"),
        (dict(need="repo-read", project="NOPE", repo="x"), 1, "denied: user level too low"),
        (dict(need="repo-fork", project="PROJ", repo="code"), 1, "denied: token level too low"),
        (dict(need="repo-read", project="PROJ", repo="code", user="bob"), 1, "denied: wrong user"),
        (dict(need="repo-read", project="bad key!", repo="code"), 1,
         "denied: invalid project or repository name"),
    ]
    for kwargs, rc, expected in cases:
        result = populated.check(token, **kwargs)
        assert result.rc == rc, (kwargs, result)
        assert result.out.startswith(expected), (kwargs, result)
        assert result.err == ""


def test_check_rejects_bad_token_text_before_lookup(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert populated.check(flipped, "authenticated").out == "denied: bad checksum\n"
    assert populated.check(token[:-1], "authenticated").out == "denied: malformed token\n"
    assert populated.check("hunter2", "authenticated").out == "denied: malformed token\n"
    result = populated.run("check", "--token", "x", "--need", "authenticated", "--json")
    assert result.rc == 1
    assert json.loads(result.out) == {"allowed": False, "reason": "malformed token",
                                      "verdict": "unauthenticated", "http_status": 401,
                                      "token_id": None, "user": None}


def test_check_token_from_argv(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    result = populated.run("check", "--token", token, "--need", "project-read", "--project", "PROJ")
    assert result.rc == 0 and result.out.startswith("allowed: level write via ")
    assert token not in result.out + result.err


def test_check_json_forbidden(populated):
    created = populated.create_token("alice", ALICE_PASSWORD, "--project", "read", "--repo", "read")
    result = populated.check(created["token"], "repo-write", "PROJ", "code", json_output=True)
    assert result.rc == 1
    assert json.loads(result.out) == {"allowed": False, "reason": "token level too low", "verdict": "forbidden",
                                      "http_status": 403, "token_id": created["id"], "user": "alice"}


def test_check_does_not_write_the_store(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    with unchanged(populated):
        assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
        assert populated.check(token, "repo-admin", "NOPE", "code").rc == 1


def test_expiry_evaluated_at_a_given_time(populated):
    before = now_ms()
    created = populated.create_token("alice", ALICE_PASSWORD, "--expiry-days", "1")
    after = now_ms()
    token = created["token"]
    assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
    still_valid = {"PAT_NOW_MS": str(before + DAY_MS - 5_000)}
    assert populated.check(token, "repo-read", "PROJ", "code", env=still_valid).rc == 0
    expired = {"PAT_NOW_MS": str(after + DAY_MS + 1_000)}
    result = populated.check(token, "repo-read", "PROJ", "code", env=expired)
    assert result.rc == 1 and result.out.startswith(f"denied: expired (token {created['id']}, user alice)")


@pytest.mark.parametrize("value", ["soon", "12.5", "-1", "99999999999999999999999"])
def test_invalid_pat_now_ms_is_a_usage_error(populated, value):
    result = populated.run("check", "--token", "npat_x", "--need", "authenticated", env={"PAT_NOW_MS": value})
    assert_error(result, 2, "PAT_NOW_MS")


def test_empty_token_on_stdin(populated):
    assert_error(populated.run("check", "--token-stdin", "--need", "authenticated", stdin="\n"), 1, "no token")


def test_revocation_is_seen_by_the_next_reader_process(populated):
    """A reader keeps running `patctl check` in its own processes while another
    process revokes: every check that starts after revoke returned is refused."""
    created = populated.create_token("alice", ALICE_PASSWORD)
    results = []  # (started, finished, rc, stdout)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            started = time.monotonic()
            result = populated.check(created["token"], "repo-read", "PROJ", "code")
            results.append((started, time.monotonic(), result.rc, result.out))

    def wait_for(predicate):
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, "the reader stopped making progress"
            time.sleep(0.01)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_for(lambda: len(results) >= 3)
        revoke_started = time.monotonic()
        populated.ok("token", "revoke", created["id"])
        revoke_returned = time.monotonic()
        wait_for(lambda: sum(1 for r in results if r[0] > revoke_returned) >= 3)
    finally:
        stop.set()
        thread.join()

    before = [r for r in results if r[1] < revoke_started]
    after = [r for r in results if r[0] > revoke_returned]
    assert before and all(r[2] == 0 and r[3].startswith("allowed") for r in before), before
    assert len(after) >= 3
    assert all(r[2] == 1 and r[3].startswith("denied: revoked (token ") for r in after), after
