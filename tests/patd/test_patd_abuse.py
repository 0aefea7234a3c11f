"""Issue 12's abuse test: a sign-in flood against patd (200 connections with
wrong passwords and 200 with right ones at a time, for 20 s, straight to its
socket with the client addresses nginx would pass) while token-authenticated
requests go through nginx, and slowloris connections sit on the socket.

patd runs as shipped (a thread per connection, --nice 10); the flood runs
niced as its own process, so that its CPU does not stand in for patd's.

Held: patd's peak RSS stays under its bound (--max-sign-ins x 32 MiB for the
password checks + BASE_MIB); every sign-in is answered (or refused) within
SIGN_IN_BOUND_S; the idle connections are cut after the idle timeout; token
requests all succeed and their p99 stays within a generous bound of the idle
run's. The p99 figures themselves (the issue's goal: within 2 ms) are printed
for the report, not asserted: this machine's two cores are shared."""

import base64
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness import PASSWORD
from test_patd import Patd

MAX_SIGN_INS = 4
BASE_MIB = 48  # the program, libmicrohttpd's connection buffers, LMDB's pages
SCRYPT_MIB = 32
FLOOD_SECONDS = 20
CONCURRENCY = 400  # half wrong, half right
SIGN_IN_BOUND_S = 10
IDLE_TIMEOUT = 3
SLOWLORIS = 50


def token_latencies(url_path, user, token, seconds, port):
    """Sequential token-authenticated GETs through nginx on one keep-alive
    connection; the latencies in seconds, and the statuses seen."""
    auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, statuses = [], {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.monotonic()
        conn.request("GET", url_path, headers={"Authorization": auth})
        response = conn.getresponse()
        response.read()
        latencies.append(time.monotonic() - start)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        time.sleep(0.01)
    conn.close()
    return latencies, statuses


def p99(values):
    values = sorted(values)
    return values[int(len(values) * 0.99)]


def rss_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def test_sign_in_flood_is_bounded(deployment, tmp_path):
    d = deployment
    users = [f"load{n}" for n in range(8)]
    for user in users:
        d.patctl.add_user(user)
    token_text = d.read_token.text  # alice's, read on WORK
    sock = tmp_path / "abuse.sock"
    patd = Patd(d.store_path, f"unix:{sock}", tmp_path / "abuse.log", "--max-sign-ins",
                str(MAX_SIGN_INS), "--idle-timeout", str(IDLE_TIMEOUT))
    rest = "/rest/api/1.0/projects/WORK/repos/my-repo"
    git_refs = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
    try:
        idle_rest, _ = token_latencies(rest, "alice", token_text, 4, d.port)
        idle_git, _ = token_latencies(git_refs, "alice", token_text, 3, d.port)

        flood = subprocess.Popen(
            ["nice", "-n", "10", sys.executable, str(Path(__file__).with_name("sign_in_flood.py")),
             str(sock), str(FLOOD_SECONDS), str(CONCURRENCY), PASSWORD, *users],
            stdout=subprocess.PIPE, text=True)
        peak = [0]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.1):
                peak[0] = max(peak[0], rss_kib(patd.process.pid, "VmRSS"))

        sampler = threading.Thread(target=sample)
        sampler.start()
        time.sleep(2)  # the flood is on
        # Slowloris: half a request line each, then silence.
        idle = []
        for _ in range(SLOWLORIS):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(sock))
            s.sendall(b"GET /rest/access-tokens/1.0/users/alice HTTP/1.1\r\nHost: x\r\n")
            s.settimeout(IDLE_TIMEOUT + 15)
            idle.append(s)
        cut_after = []

        def wait_cut():
            start = time.monotonic()
            for s in idle:
                data = s.recv(4096)
                cut_after.append((time.monotonic() - start, data))
                s.close()

        cutter = threading.Thread(target=wait_cut)
        cutter.start()
        load_rest, rest_statuses = token_latencies(rest, "alice", token_text, 8, d.port)
        load_git, git_statuses = token_latencies(git_refs, "alice", token_text, 6, d.port)
        out, _ = flood.communicate(timeout=FLOOD_SECONDS + 90)
        cutter.join(timeout=30)
        sampling.set()
        sampler.join()
        hwm = rss_kib(patd.process.pid, "VmHWM")
    finally:
        patd.stop()
    stats = json.loads(out)
    bound_mib = MAX_SIGN_INS * SCRYPT_MIB + BASE_MIB
    log = patd.text()
    counters = [x for x in log.splitlines() if "password checks run:" in x][-1].split("; ", 1)[-1]
    print(f"\nsign-in flood ({CONCURRENCY} at a time, {FLOOD_SECONDS} s): {stats}"
          f"\npatd {counters}"
          f"\npatd RSS: peak sampled {peak[0] / 1024:.1f} MiB, VmHWM {hwm / 1024:.1f} MiB "
          f"(bound {bound_mib} MiB)"
          f"\ntoken REST p99: idle {p99(idle_rest) * 1000:.2f} ms, under the flood "
          f"{p99(load_rest) * 1000:.2f} ms ({len(load_rest)} requests, {rest_statuses})"
          f"\ntoken git info/refs p99: idle {p99(idle_git) * 1000:.2f} ms, under the flood "
          f"{p99(load_git) * 1000:.2f} ms ({len(load_git)} requests, {git_statuses})"
          f"\nslowloris: {len(cut_after)} cut after "
          f"{max(t for t, _ in cut_after) if cut_after else float('nan'):.1f} s at most")

    assert hwm / 1024 < bound_mib, (hwm, bound_mib)
    assert stats["requests"] > CONCURRENCY
    assert stats["max_s"] < SIGN_IN_BOUND_S, stats
    # Over the connection limit or the listen backlog a connection is refused
    # or closed at once (an error here, never a wait): none timed out.
    assert not [k for k in stats["statuses"] if k.endswith("TimeoutError")], stats
    assert any(k.startswith("right 200") for k in stats["statuses"]), stats
    assert set(rest_statuses) == {200} and set(git_statuses) == {200}
    # Generous: the goal (within 2 ms of idle) is reported above.
    assert p99(load_rest) < p99(idle_rest) + 0.25
    assert len(cut_after) == SLOWLORIS
    assert all(data == b"" for _, data in cut_after)
    assert max(t for t, _ in cut_after) < IDLE_TIMEOUT + 8
    assert "SIGSEGV" not in log and "crit" not in log, log[-2000:]
