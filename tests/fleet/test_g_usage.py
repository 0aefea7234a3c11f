"""Last-used times in fleet mode (issue 15: they live in PostgreSQL): a token
used through node b's nginx shows a lastAuthenticated in the token list of
node a's patd (which reads the source) within ~15 s, and pat_usage holds it.

The path: b's workers record the use in b's replica usage file (flushed
every 1 s in these nodes), b's patd pushes it to pat_usage (every 10 s),
a's patd lists the source's tokens and merges pat_usage.

What breaks it: patd not pushing (no row), the push not run in fleet mode,
the listing not reading pat_usage (no lastAuthenticated), a pusher that
pushes a time once and never again."""

import time

from conftest import api_admitted, tokens_path

BODY = {"name": "usage", "permissions": ["PROJECT_READ", "REPO_READ"]}


def listed_last_used(node, token_id):
    response = api_admitted(node, "GET", tokens_path("alice"))
    assert response.status == 200, response.body
    for token in response.json()["values"]:
        if str(token["id"]) == str(token_id):
            return token.get("lastAuthenticated")
    raise AssertionError(f"token {token_id} is not listed")


def test_a_use_on_one_node_shows_in_the_api_of_another(fleet, nodes):
    a, b = nodes[0], nodes[1]
    response = api_admitted(a, "PUT", tokens_path("alice"), body=BODY)
    assert response.status == 200, response.body
    created = response.json()
    fleet.created_tokens.append(created["token"])
    token_id = created["id"]
    assert listed_last_used(a, token_id) is None  # never used yet
    fleet.wait_all_at(fleet.head(), timeout=5)

    before_ms = int(time.time() * 1000)
    status, _ = b.probe(created["token"])
    assert status == 200
    used_at = time.monotonic()
    deadline = used_at + 25
    shown = None
    while time.monotonic() < deadline:
        shown = listed_last_used(a, token_id)
        if shown is not None:
            break
        time.sleep(0.5)
    waited = time.monotonic() - used_at
    assert shown is not None, f"no lastAuthenticated after {waited:.1f} s"
    # 1 s flush + 10 s push, plus a loaded machine's slack.
    assert waited < 16, waited
    assert before_ms - 1000 <= shown <= int(time.time() * 1000) + 1000, (before_ms, shown)
    rows = fleet.pg.query(f"SELECT last_used_ms FROM pat_usage WHERE token_id = '{token_id}'")
    assert rows and int(rows[0][0]) == shown, rows

    # A later use, on another node, moves it forward.
    time.sleep(1.1)  # a later millisecond, and a later flush
    status, _ = a.probe(created["token"])
    assert status == 200
    deadline = time.monotonic() + 25
    later = shown
    while time.monotonic() < deadline and later == shown:
        time.sleep(0.5)
        later = listed_last_used(b, token_id)
    assert later > shown, (shown, later)

    # The client address comes with the times: pat_usage.address holds
    # "MS@ADDRESS" (both nodes saw 127.0.0.1: one entry, the newest time),
    # and every node's API shows it as lastUsedIps.
    def listed_ips(node):
        response = api_admitted(node, "GET", tokens_path("alice"))
        return next(t for t in response.json()["values"] if str(t["id"]) == str(token_id)).get("lastUsedIps")

    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and listed_ips(a) != ["127.0.0.1"]:
        time.sleep(0.5)
    assert listed_ips(a) == ["127.0.0.1"] and listed_ips(b) == ["127.0.0.1"]
    rows = fleet.pg.query(f"SELECT address FROM pat_usage WHERE token_id = '{token_id}'")
    entries = rows[0][0].split(" ")
    assert len(entries) == 1 and entries[0].endswith("@127.0.0.1"), rows
