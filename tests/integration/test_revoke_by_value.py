"""Revoking leaked tokens by value through the real nginx to the real patd
(the locations of nginx-conf-examples/patd.conf, which pass
/rest/access-tokens/ to patd without auth_pat): no credentials, always 202
with one body, valid tokens refused from the next git request, each audited
with the caller's address; more than 100 entries 400; throttled per address
(429, Retry-After)."""

import json
import zlib

from api_client import API_SERVER, api, git_refs_status, notice_lines
from harness import curl

EXTRA_SERVER = API_SERVER
REVOKE = "/rest/access-tokens/1.0/revoke"
DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def with_checksum(body48):
    crc = zlib.crc32(body48.encode())
    checksum = ""
    for _ in range(6):
        checksum = DIGITS[crc % 62] + checksum
        crc //= 62
    return body48 + checksum


def revoke(deployment, tokens, source="127.0.0.1", path=REVOKE):
    """POST with curl from a loopback source address; no credentials."""
    return curl(deployment.url(path), "--interface", source, "-H", "Content-Type: application/json",
                "--data-binary", json.dumps({"tokens": tokens}), method="POST")


def test_a_valid_token_is_refused_from_the_next_request(deployment):
    leaked = deployment.patctl.create_token("alice", "leaked")
    kept = deployment.patctl.create_token("alice", "kept")
    assert git_refs_status(deployment, "alice", leaked.text) == 200
    answer = revoke(deployment, [leaked.text], source="127.0.0.2")
    assert answer.status == 202
    assert git_refs_status(deployment, "alice", leaked.text) == 401
    assert git_refs_status(deployment, "alice", kept.text) == 200
    audit = json.loads(deployment.patctl.run("audit", "--json", "--limit", "5").stdout)
    entry = next(e for e in audit if e.get("token_id") == leaked.id)
    assert (entry["action"], entry["user"], entry["actor"], entry["address"], entry["detail"]) == (
        "token-revoked", "alice", "anonymous", "127.0.0.2", "by value")
    assert notice_lines(deployment, f"revoke by value from 127.0.0.2: 1 sent, 1 revoked {leaked.id}")


def test_the_same_202_and_body_whatever_the_tokens(deployment):
    live = deployment.patctl.create_token("alice", "live")
    first = revoke(deployment, [live.text], source="127.0.0.3")
    assert first.status == 202
    bodies = {first.body}
    for tokens in ([live.text],                                   # revoked already
                   [with_checksum("npat_" + "Z" * 43)],           # well-formed, unknown
                   [live.text[:-1] + ("A" if live.text[-1] != "A" else "B")],  # bad checksum
                   ["hello"], [], [live.text] * 100):
        answer = revoke(deployment, tokens, source="127.0.0.3")
        assert answer.status == 202, (tokens, answer.body)
        assert answer.header_values("Content-Type") == first.header_values("Content-Type")
        bodies.add(answer.body)
    assert len(bodies) == 1, bodies
    assert git_refs_status(deployment, "alice", live.text) == 401


def test_credentials_are_neither_needed_nor_read(deployment):
    leaked = deployment.patctl.create_token("alice", "with-wrong-basic")
    answer = api(deployment, "POST", REVOKE, user="alice", password="wrong", body={"tokens": [leaked.text]},
                 extra=("--interface", "127.0.0.4"))
    assert answer.status == 202
    assert git_refs_status(deployment, "alice", leaked.text) == 401


def test_too_many_or_malformed_is_400(deployment):
    assert revoke(deployment, ["x"] * 101, source="127.0.0.5").status == 400
    for body in ('{"tokens": "npat_x"}', '{"tokens": [1]}', "[]", "not json"):
        answer = curl(deployment.url(REVOKE), "--interface", "127.0.0.5", "-H", "Content-Type: application/json",
                      "--data-binary", body, method="POST")
        assert answer.status == 400, (body, answer.body)
    # The cross-site rules still hold: a form's content type is refused.
    answer = curl(deployment.url(REVOKE), "--interface", "127.0.0.5", "-H", "Content-Type: text/plain",
                  "--data-binary", '{"tokens": []}', method="POST")
    assert answer.status == 415
    answer = curl(deployment.url(REVOKE), "--interface", "127.0.0.5", "-H", "Content-Type: application/json",
                  "-H", "Origin: https://elsewhere.example", "--data-binary", '{"tokens": []}', method="POST")
    assert answer.status == 403
    assert curl(deployment.url(REVOKE), "--interface", "127.0.0.5").status == 405


def test_throttled_per_address(deployment):
    statuses = [revoke(deployment, [], source="127.0.0.6").status for _ in range(21)]
    assert statuses[:20] == [202] * 20
    assert statuses[20] == 429
    throttled = revoke(deployment, [], source="127.0.0.6")
    assert throttled.status == 429
    assert int(throttled.header_values("Retry-After")[0]) >= 1
    # Another address is not held back.
    assert revoke(deployment, [], source="127.0.0.7").status == 202
