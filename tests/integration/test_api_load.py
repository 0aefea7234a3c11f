"""Token-authenticated requests are not stalled by concurrent API work: the
API's writes (fsync) and password checks (scrypt) run in patd, behind
nginx, and token authentication in nginx's workers never waits for them.

Measures the latency of token-authenticated requests alone and while 10
token creations run through nginx to patd, and prints both (pytest -s shows
them). The assertion is deliberately robust for a shared 2-core machine: no
token request takes 200 ms or more while the creations run (run in the
workers' event loop, each creation would block its worker for its KDF and
fsync, and 10 of them queue up to far more than that). patd runs at most 2
password checks of one user at once: the other creations are told to come
back in a second, and do."""

import http.client
import statistics
import threading
import time
from base64 import b64encode

from api_client import API_SERVER, api_admitted, tokens_path
from harness import PASSWORD

EXTRA_SERVER = API_SERVER
CREATES = 10


def timed_requests(deployment, token, stop, latencies):
    """Sequential token-authenticated requests on one keep-alive connection
    until stop is set."""
    auth = "Basic " + b64encode(f"alice:{token}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", deployment.port, timeout=10)
    try:
        while not stop.is_set():
            start = time.perf_counter()
            connection.request("GET", "/rest/api/1.0/projects/WORK/repos/my-repo",
                               headers={"Authorization": auth})
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
            assert response.status == 200
    finally:
        connection.close()


def summary(latencies):
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"n": len(ordered), "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": p99 * 1000, "max_ms": ordered[-1] * 1000}


def measure(deployment, token, seconds=None, during=None):
    """Latencies from two client connections (likely both workers), for a
    fixed time or while during() runs."""
    stop = threading.Event()
    latencies = [[], []]
    clients = [threading.Thread(target=timed_requests, args=(deployment, token, stop, out))
               for out in latencies]
    for client in clients:
        client.start()
    if during is not None:
        during()
    else:
        time.sleep(seconds)
    stop.set()
    for client in clients:
        client.join(timeout=30)
    return latencies[0] + latencies[1]


def test_token_requests_are_not_stalled_by_concurrent_creates(deployment):
    token = deployment.read_token.text
    baseline = summary(measure(deployment, token, seconds=2))

    statuses = []
    window = {}

    def run_creates():
        def create(n):
            statuses.append(api_admitted(deployment, "PUT", tokens_path("alice"),
                                         user="alice", body={"name": f"load-{n}",
                                                             "permissions": ["REPO_READ"]}).status)
        threads = [threading.Thread(target=create, args=(n,)) for n in range(CREATES)]
        window["start"] = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        window["end"] = time.perf_counter()

    loaded_latencies = measure(deployment, token, during=run_creates)
    loaded = summary(loaded_latencies)
    creates_took_ms = (window["end"] - window["start"]) * 1000
    print(f"\ntoken requests alone:              {baseline}")
    print(f"token requests during {CREATES} creates: {loaded}")
    print(f"the {CREATES} creates took {creates_took_ms:.0f} ms; "
          f"p99 added latency {loaded['p99_ms'] - baseline['p99_ms']:.2f} ms")

    assert statuses == [200] * CREATES
    # The measurement really overlapped the creations.
    assert loaded["n"] >= 20
    assert loaded["max_ms"] < 200, loaded
