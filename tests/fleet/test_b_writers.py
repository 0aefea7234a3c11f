"""Issue 15, test 7: 20 concurrent API writers spread over the three nodes'
patd (three writer processes, each with its own PostgreSQL connection) for
60 s (FLEET_WRITERS_SECONDS): the change log's seq is gapless over the
whole run, every replica is identical to the source (`patctl fleet verify`
and a record-by-record comparison of our own), and no token is lost: every
token an API call answered 200 for works on every node unless its
revocation was answered 204, and then it is refused on every node.

What breaks it: writers numbering changes without the head's lock (gaps
or duplicates under concurrency: the primary key refuses one, or a
follower applies a hole), a follower that loses a batch, an API that says
200 for a change that was rolled back."""

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import PASSWORD, api_admitted, report, tokens_path
from test_c_faults import assert_identical

WRITERS = 20
SECONDS = float(os.environ.get("FLEET_WRITERS_SECONDS", "60"))


def test_7_twenty_writers_over_three_nodes(fleet, nodes):
    users = [f"writer{i:02d}" for i in range(1, WRITERS + 1)]
    for user in users:
        fleet.patctl("user", "add", user, "--password-stdin", stdin=PASSWORD + "\n")
        fleet.patctl("grant", user, "project", "WORK", "read")
    fleet.wait_all_at(fleet.head(), timeout=10)
    first = fleet.head()
    lock = threading.Lock()
    live, revoked, errors = {}, {}, []
    stop_at = time.monotonic() + SECONDS

    def writer(index):
        user = users[index]
        node = nodes[index % len(nodes)]
        rng = random.Random(index)
        mine = []
        while time.monotonic() < stop_at:
            if mine and rng.random() < 0.3:
                victim = mine.pop(rng.randrange(len(mine)))
                r = api_admitted(node, "DELETE", f"{tokens_path(user)}/{victim['id']}", user=user)
                if r.status != 204:
                    errors.append(f"{user} on {node.name}: DELETE {r.status} {r.body[:200]}")
                    continue
                with lock:
                    revoked[victim["id"]] = (user, live.pop(victim["id"])["token"])
            else:
                body = {"name": f"w{index}-{len(mine)}", "permissions": ["PROJECT_READ"]}
                r = api_admitted(node, "PUT", tokens_path(user), user=user, body=body)
                if r.status != 200:
                    errors.append(f"{user} on {node.name}: PUT {r.status} {r.body[:200]}")
                    continue
                created = r.json()
                fleet.created_tokens.append(created["token"])
                mine.append(created)
                with lock:
                    live[created["id"]] = {"user": user, "token": created["token"]}

    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS) as ex:
        list(ex.map(writer, range(WRITERS)))
    ran = time.monotonic() - started
    last = fleet.head()
    fleet.wait_all_at(last, timeout=10)

    # seq gapless over the run: every number from first+1 to last, once.
    rows = fleet.pg.query(f"SELECT count(*), count(DISTINCT seq), min(seq), max(seq) "
                          f"FROM pat_changes WHERE seq > {first}")
    count, distinct, low, high = (int(v) for v in rows[0])
    assert (count, distinct, low, high) == (last - first, last - first, first + 1, last), \
        f"change log after {first}: {count} rows, {distinct} distinct, {low}..{high}; head {last}"

    for node in nodes:
        assert_identical(fleet, node)

    lost = []
    for token_id, t in live.items():
        for node in nodes:
            status, _ = node.probe(t["token"], user=t["user"])
            if status != 200:
                lost.append(f"live token {token_id} of {t['user']}: {status} on node {node.name}")
    for token_id, (user, text) in revoked.items():
        for node in nodes:
            status, _ = node.probe(text, user=user)
            if status != 401:
                lost.append(f"revoked token {token_id} of {user}: {status} on node {node.name}")
    report("test 7", f"{WRITERS} writers over {len(nodes)} nodes for {ran:.0f} s: "
                     f"{len(live) + len(revoked)} tokens created, {len(revoked)} revoked, "
                     f"{last - first} changes (seq {first + 1}..{last}, gapless), "
                     f"{len(errors)} API errors")
    assert not errors, "\n".join(errors[:20])
    assert not lost, "\n".join(lost[:20])
    assert len(live) + len(revoked) >= WRITERS, "the writers hardly wrote anything"
