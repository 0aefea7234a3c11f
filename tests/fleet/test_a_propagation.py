"""Issue 15, tests 1 and 2: a token made through the API on node A works at
once on A and within 1 s on the other nodes (200 tries, no failure); a
revocation reaches every node (204 from the API to 401 on each node) with
p99 < 100 ms and max < 1 s over 300 revocations.

What breaks them: patd answering before its own replica has the token
(A fails at once), a follower that waits for its 1 s poll instead of the
NOTIFY, or one that misses changes (B never sees the token or the
revocation), workers that do not see the replica's new transaction."""

import http.client
import time
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor

from conftest import PASSWORD, api_admitted, git, percentile, report, tokens_path

TRIES = 200
REVOCATIONS = 300
BODY = {"name": "fleet", "permissions": ["PROJECT_READ", "REPO_READ"]}


def create_via_api(fleet, node, user="alice", label="fleet"):
    response = api_admitted(node, "PUT", tokens_path(user), user=user, body={**BODY, "name": label})
    assert response.status == 200, f"{response.status}: {response.body}"
    created = response.json()
    fleet.created_tokens.append(created["token"])
    return created, response


def test_1_token_made_on_a_works_on_a_at_once_and_everywhere_within_a_second(fleet, nodes):
    a, others = nodes[0], nodes[1:]
    failures, lags, replicated = [], [], []
    fleet.live_tokens = getattr(fleet, "live_tokens", [])
    for i in range(TRIES):
        created, response = create_via_api(fleet, a, label=f"t1-{i}")
        answered = time.monotonic()
        replicated += response.header_values("X-Pat-Replicated")
        status, _ = a.probe(created["token"])
        if status != 200:
            failures.append(f"try {i}: node a answered {status} at once")
        for node in others:
            while True:
                status, _ = node.probe(created["token"])
                waited = time.monotonic() - answered
                if status == 200:
                    lags.append(waited)
                    break
                if status != 401 or waited > 1.0:
                    failures.append(f"try {i}: node {node.name}: {status} after {waited:.3f} s")
                    break
                time.sleep(0.005)
        fleet.live_tokens.append(created)
    report("test 1", f"{TRIES} tokens, {len(failures)} failures; on the other nodes after "
                     f"p50 {percentile(lags, 50) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms")
    assert not failures, "\n".join(failures[:20])
    # patd says how many live nodes have the change: N/M, here all three.
    assert len(replicated) == TRIES, "X-Pat-Replicated missing from the API's answers"
    for value in replicated:
        have, _, total = value.partition("/")
        assert have.isdigit() and total.isdigit() and 1 <= int(have) <= int(total), value
        assert int(total) == len(nodes), f"{value}: {len(nodes)} nodes are live"

    # And git itself: a clone on node C with the last token.
    last = fleet.live_tokens[-1]
    clone = fleet.root / "clone-test1"
    git("clone", "-q", nodes[2].repo_url("alice", last["token"]), str(clone))
    assert (clone / "README.md").read_text() == "version 2\n"


class ApiClient:
    """The token API on one node over one kept-alive connection: the
    moment the 204 arrives is measured without a process start in it."""

    def __init__(self, node, user="alice"):
        self.node = node
        self.auth = "Basic " + b64encode(f"{user}:{PASSWORD}".encode()).decode()
        self.user = user
        self.conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)

    def delete(self, token_id):
        for _ in range(100):
            self.conn.request("DELETE", f"{tokens_path(self.user)}/{token_id}",
                              headers={"Authorization": self.auth})
            response = self.conn.getresponse()
            body = response.read()
            if response.status == 503 and response.getheader("Retry-After"):
                time.sleep(0.2)
                continue
            return response.status, body
        raise AssertionError("patd stayed busy")


def test_2_revocation_reaches_every_node_p99_under_100ms(fleet, nodes):
    a = nodes[0]
    pool = [t for t in getattr(fleet, "live_tokens", [])]
    fleet.live_tokens = []
    missing = REVOCATIONS - len(pool)
    if missing > 0:
        with ThreadPoolExecutor(2) as ex:
            pool += [c for c, _ in ex.map(lambda i: create_via_api(fleet, a, label=f"t2-{i}"),
                                          range(missing))]
    pool = pool[:REVOCATIONS]
    client = ApiClient(a)
    latencies = {node.name: [] for node in nodes}
    failures = []

    def until_refused(node, token, start, out):
        while True:
            status, _ = node.probe(token)
            elapsed = time.monotonic() - start
            if status == 401:
                out[node.name] = elapsed
                return
            if status != 200 or elapsed > 5:
                out[node.name] = None
                failures.append(f"node {node.name}: {status} {elapsed:.3f} s after the 204")
                return

    with ThreadPoolExecutor(len(nodes)) as ex:
        for created in pool:
            # The token works everywhere before it is revoked.
            for node in nodes:
                status, _ = node.probe(created["token"])
                assert status == 200, f"node {node.name}: {status} before the revocation"
            status, body = client.delete(created["id"])
            start = time.monotonic()
            assert status == 204, f"{status}: {body[:200]!r}"
            out = {}
            list(ex.map(lambda n: until_refused(n, created["token"], start, out), nodes))
            for name, value in out.items():
                if value is not None:
                    latencies[name].append(value)
    every = [v for values in latencies.values() for v in values]
    p50, p99, worst = percentile(every, 50), percentile(every, 99), max(every)
    per_node = ", ".join(f"{name} p99 {percentile(v, 99) * 1000:.1f} ms max {max(v) * 1000:.1f} ms"
                         for name, v in latencies.items())
    report("test 2", f"{REVOCATIONS} revocations x {len(nodes)} nodes: 204 -> 401 p50 "
                     f"{p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {worst * 1000:.1f} ms "
                     f"({per_node})")
    assert not failures, "\n".join(failures[:20])
    assert len(every) == REVOCATIONS * len(nodes)
    assert p99 < 0.100, f"p99 {p99 * 1000:.1f} ms"
    assert worst < 1.0, f"max {worst * 1000:.1f} ms"
