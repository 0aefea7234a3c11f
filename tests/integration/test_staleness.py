"""Fleet mode's staleness bound in the module (issue 15): a store that holds
a ReplicaState (the follower's, pat/replica.hpp) is a fleet replica; when it
has not been verified against its source for longer than
auth_pat_max_staleness (30 s by default), every protected request gets 503
with Retry-After (never 401: git would erase the user's stored credentials;
never 200), the status location answers 503 with its gauges, and the 503s are
counted and logged aggregated.

The state is written by build/tests/put-replica-state (tests/tools/), which
writes it through the core exactly as the follower does (Store::
put_replica_state in one write transaction), with a chosen age or another
boot's id; the workers read it on their timer. Real nginx, git and curl."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import REPO_ROOT, curl, git, make_bare_repo, wait_for

STATUS = "/auth-pat-status"
GATED = f"""
        location = {STATUS} {{
            auth_pat_status;
        }}
        # The tightest bound of this server: the status page answers 503
        # once it passes.
        location /short/ {{
            auth_pat "Short";
            auth_pat_max_staleness 5s;
            auth_pat_require repo-read;
            auth_pat_project WORK;
            auth_pat_repo my-repo;
            try_files /ok.txt =404;
        }}
        location /unbounded/ {{
            auth_pat "Unbounded";
            auth_pat_max_staleness off;
            auth_pat_require repo-read;
            auth_pat_project WORK;
            auth_pat_repo my-repo;
            try_files /ok.txt =404;
        }}
        location /unbounded-open/ {{
            auth_pat "Unbounded";
            auth_pat_max_staleness off;
            auth_pat_require repo-read;
            auth_pat_project WORK;
            auth_pat_repo open-repo;
            try_files /ok.txt =404;
        }}
"""
EXTRA_SERVER = GATED
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")
REFS = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
# A public repository (anonymous reads allowed), made public before any
# replica state is written: patctl refuses to write a fleet replica.
OPEN_REFS = "/scm/WORK/open-repo.git/info/refs?service=git-upload-pack"
# Two ticks of the workers' timer (250 ms each) and some slack: every
# worker has read a state written before it.
TICKS = 0.7


def put_state_tool():
    return os.environ.get("PAT_PUT_REPLICA_STATE") or str(REPO_ROOT / "build" / "tests" / "put-replica-state")


def put_state(store, ago_ms, other_boot=False, position=120, source_head=123):
    args = [put_state_tool(), "--db", str(store), "--verified-ago-ms", str(ago_ms),
            "--position", str(position), "--source-head", str(source_head)]
    if other_boot:
        args.append("--other-boot")
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module", autouse=True)
def open_repo(deployment):
    d = deployment
    make_bare_repo(d.git_root, "WORK", "open-repo", d.root / "seed-open")
    d.patctl.run("public", "repo", "WORK/open-repo", "on")


@pytest.fixture(scope="module", autouse=True)
def tool_built():
    if not os.path.exists(put_state_tool()):
        pytest.exit(f"{put_state_tool()} is not built: run `make build/tests/put-replica-state`",
                    returncode=2)


def status(d):
    response = curl(d.url(STATUS))
    values = {}
    for line in response.body.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return response, values


def gauge(d, name):
    return f'{name}{{store="{d.store_path}"}}'


def stale_total(d):
    return status(d)[1]["auth_pat_requests_stale_total"]


def assert_stale_answer(response):
    assert response.status == 503, (response.status, response.body[:200])
    assert response.header_values("Retry-After") == ["5"]
    assert not response.header_values("WWW-Authenticate")


def fresh(d):
    put_state(d.store_path, 0)
    time.sleep(TICKS)


def test_a_replica_verified_a_second_ago_is_served(deployment, tmp_path):
    d = deployment
    put_state(d.store_path, 1000, position=120, source_head=123)
    written = time.monotonic()
    time.sleep(TICKS)
    token = d.read_token
    assert curl(d.url(REFS), *token.basic()).status == 200
    assert curl(d.url("/short/x"), *token.basic()).status == 200
    assert curl(d.url(REFS)).status == 401  # the challenge, as on a single-host store
    cloned = git("clone", "-q", d.repo_url(f"alice:{token.text}"), str(tmp_path / "c"), check=False)
    assert cloned.returncode == 0, cloned.stderr

    response, values = status(d)
    assert response.status == 200
    assert values[gauge(d, "auth_pat_fleet_mode")] == 1
    assert values[gauge(d, "auth_pat_replica_stale")] == 0
    assert values[gauge(d, "auth_pat_replica_position")] == 120
    assert values[gauge(d, "auth_pat_replica_source_head")] == 123
    assert values[gauge(d, "auth_pat_replica_lag")] == 3
    assert values[gauge(d, "auth_pat_replica_max_staleness_seconds")] == 5
    # The age on CLOCK_BOOTTIME: 1 s when written, and the time since.
    age = values[gauge(d, "auth_pat_replica_verified_age_seconds")]
    assert abs(age - (1 + time.monotonic() - written)) < 0.5, age


def test_a_stale_replicas_rest_503_says_it_is_not_up_to_date(deployment):
    d = deployment
    put_state(d.store_path, 40_000)
    time.sleep(TICKS)
    try:
        response = curl(d.url("/rest/api/1.0/projects/WORK/repos"), *d.read_token.bearer())
        assert_stale_answer(response)
        assert response.header_values("Content-Type") == ["application/json"]
        # Not the other 503's "The token store is being reopened" (a replaced
        # file, test_replica_replaced.py).
        assert json.loads(response.body)["errors"][0]["message"] == (
            "This node's token replica is not up to date. Try again later.")
    finally:
        fresh(d)


def test_verified_40s_ago_every_protected_request_is_503(deployment, tmp_path):
    d = deployment
    fresh(d)
    assert curl(d.url(OPEN_REFS)).status == 200  # a public read, while fresh
    put_state(d.store_path, 40_000, position=7, source_head=9)
    written = time.monotonic()
    time.sleep(TICKS)
    before = stale_total(d)
    refused_before = sum(1 for line in d.nginx.access_log.read_text().splitlines()
                         if line.split("|")[3] == "503" and not line.endswith(STATUS))

    token = d.read_token
    answers = [
        curl(d.url(REFS), *token.basic()),                # a valid token
        curl(d.url(REFS), *token.bearer()),
        curl(d.url(OPEN_REFS)),                           # a public read without credentials
        curl(d.url("/scm/WORK/my-repo.git/info/refs?service=git-receive-pack")),  # would be 401
        curl(d.url(REFS), "-u", "alice:npat_not_a_token"),  # would be 401
        curl(d.url("/rest/api/1.0/projects/WORK/repos"), *token.bearer()),
        curl(d.url("/short/x"), *token.basic()),
    ]
    for response in answers:
        assert_stale_answer(response)
    # A REST route answers in Bitbucket's JSON shape.
    assert answers[5].header_values("Content-Type") == ["application/json"]
    # auth_pat_max_staleness off: decided as usual.
    assert curl(d.url("/unbounded/x"), *token.basic()).status == 200
    assert curl(d.url("/unbounded-open/x")).status == 200  # a public read
    assert curl(d.url("/unbounded/x"), "-u", "alice:npat_not_a_token").status == 401

    # git with a credential store: the clone fails on the 503 and the
    # stored credentials are kept (a 401 would make git erase them).
    credentials = tmp_path / "credentials"
    line = f"http://alice:{token.text}@127.0.0.1:{d.port}\n"
    credentials.write_text(line)
    cloned = git("-c", f"credential.helper=store --file={credentials}", "clone", "-q",
                 d.repo_url(), str(tmp_path / "c"), env={"HOME": str(d.home)}, check=False)
    assert cloned.returncode != 0
    assert "503" in cloned.stderr, cloned.stderr
    assert credentials.read_text() == line

    # Every 503 the access log shows (the answers above and the clone's),
    # and nothing else; the status page itself is not counted.
    response, values = status(d)
    refused = [line for line in d.nginx.access_log.read_text().splitlines()
               if line.split("|")[3] == "503" and not line.endswith(STATUS)]
    assert values["auth_pat_requests_stale_total"] - before == len(refused) - refused_before
    assert len(refused) - refused_before >= len(answers) + 1
    # The status page: 503 with the same body, so a load balancer drains the node.
    assert response.status == 503
    assert response.header_values("Content-Type") == ["text/plain; version=0.0.4; charset=utf-8"]
    assert values[gauge(d, "auth_pat_fleet_mode")] == 1
    assert values[gauge(d, "auth_pat_replica_stale")] == 1
    assert values[gauge(d, "auth_pat_replica_position")] == 7
    assert values[gauge(d, "auth_pat_replica_lag")] == 2
    age = values[gauge(d, "auth_pat_replica_verified_age_seconds")]
    assert abs(age - (40 + time.monotonic() - written)) < 0.5, age
    assert "auth_pat_requests_allowed_total" in values  # the usual counters too

    # Verified again: decided again at the next tick.
    fresh(d)
    assert curl(d.url(REFS), *token.basic()).status == 200
    assert curl(d.url(OPEN_REFS)).status == 200
    assert status(d)[0].status == 200


def test_a_bound_of_5s_is_enforced_within_a_tick_of_its_end(deployment):
    d = deployment
    token = d.read_token
    put_state(d.store_path, 0)
    written = time.monotonic()
    seen = []
    while time.monotonic() - written < 8:
        response = curl(d.url("/short/x"), *token.basic())
        seen.append((time.monotonic() - written, response.status))
        time.sleep(0.05)
    first_503 = next(t for t, s in seen if s == 503)
    # 200 until the bound, 503 from at most ~1.5 s after it, never anything else.
    assert all(s == 200 for t, s in seen if t < 4.9), seen
    assert all(s == 503 for t, s in seen if t >= first_503), seen
    assert 4.9 <= first_503 <= 6.5, first_503
    # The default bound (30 s) still serves the git location, and the status
    # page drains the node as soon as any protected location refuses.
    assert curl(d.url(REFS), *token.basic()).status == 200
    response, values = status(d)
    assert response.status == 503
    assert values[gauge(d, "auth_pat_replica_stale")] == 1


def test_a_state_of_another_boot_is_stale(deployment):
    d = deployment
    put_state(d.store_path, 0, other_boot=True)
    time.sleep(TICKS)
    assert_stale_answer(curl(d.url(REFS), *d.read_token.basic()))
    assert_stale_answer(curl(d.url(REFS)))
    response, values = status(d)
    assert response.status == 503
    assert values[gauge(d, "auth_pat_replica_stale")] == 1
    # "Verified at" means nothing on another boot's clock: no age is shown.
    assert gauge(d, "auth_pat_replica_verified_age_seconds") not in values
    fresh(d)
    assert curl(d.url(REFS), *d.read_token.basic()).status == 200


def replaced_by(d, tmp_path, name, ago_ms):
    """A copy of the store with its own state, renamed over it as the
    follower's rebuild does (no writer runs meanwhile: a plain copy is
    consistent)."""
    copy = tmp_path / name
    shutil.copyfile(d.store_path, copy)
    put_state(copy, ago_ms)
    os.rename(copy, d.store_path)
    return time.monotonic()


def test_a_replaced_replica_file_is_judged_by_its_own_state(deployment, tmp_path):
    d = deployment
    token = d.read_token
    fresh(d)
    assert curl(d.url(REFS), *token.basic()).status == 200

    swapped = replaced_by(d, tmp_path, "stale.db", 60_000)

    # Retry-After 5 is the stale replica's 503; 1 is the moment a worker
    # waits to open the replaced file (test_replica_replaced.py).
    def stale_503():
        response = curl(d.url(REFS), *token.basic())
        return response.status == 503 and response.header_values("Retry-After") == ["5"]
    wait_for(stale_503, timeout=5, interval=0.05, what="503 from the replaced, stale file")
    assert time.monotonic() - swapped < 1.5
    wait_for(lambda: status(d)[0].status == 503, timeout=2, what="the status page's 503")

    swapped = replaced_by(d, tmp_path, "fresh.db", 0)
    wait_for(lambda: curl(d.url(REFS), *token.basic()).status == 200, timeout=5, interval=0.05,
             what="200 from the replaced, fresh file")
    assert time.monotonic() - swapped < 1.5
    # Both workers, once each has opened the new file (until then one may
    # answer the swap's 503): a run of answers, all 200.
    wait_for(lambda: all(curl(d.url(REFS), *token.basic()).status == 200 for _ in range(6)), timeout=3,
             interval=0.05, what="every worker on the fresh file")
    for _ in range(20):
        assert curl(d.url(REFS), *token.basic()).status == 200


def stale_report_total(d):
    total = 0
    for match in re.finditer(r"answered 503 to (\d+) protected request", d.nginx.error_log.read_text()):
        total += int(match.group(1))
    return total, len(re.findall(r"answered 503 to", d.nginx.error_log.read_text()))


def test_503s_are_logged_aggregated(deployment):
    d = deployment
    put_state(d.store_path, 45_000)
    time.sleep(TICKS)
    # Earlier tests' 503s are reported at most 5 s after they happened.
    time.sleep(5.5)
    total_before, lines_before = stale_report_total(d)
    for _ in range(40):
        assert_stale_answer(curl(d.url(REFS), *d.read_token.basic()))
    wait_for(lambda: stale_report_total(d)[0] - total_before == 40, timeout=8, interval=0.2,
             what="the aggregated 503 lines")
    total_after, lines_after = stale_report_total(d)
    # At most one line per worker (2) every 5 s, never one per request: the
    # 40 requests and the wait span at most three 5 s periods on a busy machine.
    assert lines_after - lines_before <= 6, lines_after - lines_before
    text = d.nginx.error_log.read_text()
    assert re.search(r"was last verified against its source \d+ ms ago, more than auth_pat_max_staleness \(\d+ ms\)", text)
    for secret in d.secrets():
        assert secret not in text
    fresh(d)
