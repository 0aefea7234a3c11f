"""patd, the token API daemon: the real patd on a Unix socket and on TCP
ports, the real nginx proxying the API to it (proxy_pass to the socket, as
nginx-conf-examples/patd.conf shows) while the module's access phase reads
the same store for git. Covers create -> clone -> revoke -> 401, the error
statuses, which peers may name the client's address (X-Real-IP), the body
limit, the idle-connection cut, the sign-in cap (503 + Retry-After), an
empty password (no check, counted), abandoned sign-ins (dropped before their
check), one user's fair share under a flood, a replaced store, SIGHUP with a
log file, SIGTERM within its bound and SIGKILL in the middle of creations."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api_client import api as via_nginx  # the integration tests' API client, through nginx
from api_client import tokens_path
from harness import PASSWORD, REPO_ROOT, Patctl, curl, free_port, git, wait_for

# The API locations of nginx-conf-examples/patd.conf, as they are there,
# pointed at this test's socket.
EXAMPLE = (REPO_ROOT / "nginx-conf-examples" / "patd.conf").read_text()
EXTRA_SERVER = (EXAMPLE[EXAMPLE.index("    location /rest/access-tokens/"):
                        EXAMPLE.index("    # The account page")]
                .replace("http://patd;", "http://unix:@ROOT@/patd.sock;"))
assert EXTRA_SERVER.count("@ROOT@/patd.sock") == 2 and "X-Real-IP $remote_addr" in EXTRA_SERVER


IDLE_TIMEOUT = 2
SHUTDOWN_GRACE = 2
MAX_SIGN_INS = 2


def patd_path():
    return os.environ.get("PATD", str(REPO_ROOT / "build" / "patd"))


class Patd:
    """One real patd process; stop() sends SIGTERM and waits."""

    def __init__(self, db, listen, log_path, *extra):
        self.listen = listen
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([patd_path(), "--db", str(db), "--listen", listen,
                                         "--idle-timeout", str(IDLE_TIMEOUT),
                                         "--shutdown-grace", str(SHUTDOWN_GRACE),
                                         "--max-sign-ins", str(MAX_SIGN_INS), *extra],
                                        stdout=self.log, stderr=self.log)
        try:
            if listen.startswith("unix:"):
                path = listen[5:]
                wait_for(lambda: self._connects_unix(path) or self.process.poll() is not None,
                         what="patd's socket")
            else:
                host, _, port = listen.rpartition(":")
                wait_for(lambda: self._connects_tcp(host, int(port)) or self.process.poll() is not None,
                         what="patd's port")
        except BaseException:
            self.process.kill()  # never left running by a failed start
            self.process.wait()
            self.log.close()
            raise
        assert self.process.poll() is None, self.text()

    @staticmethod
    def _connects_unix(path):
        with socket.socket(socket.AF_UNIX) as s:
            return s.connect_ex(path) == 0

    @staticmethod
    def _connects_tcp(host, port):
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        host = {"::": "::1", "0.0.0.0": "127.0.0.1"}.get(host, host)
        with socket.socket(family) as s:
            return s.connect_ex((host, port)) == 0

    def text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SHUTDOWN_GRACE + 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def d(deployment):
    deployment.patctl.add_user("carol")
    deployment.patctl.add_user("victim")
    deployment.socket = deployment.root / "patd.sock"
    deployment.patd = Patd(deployment.store_path, f"unix:{deployment.socket}",
                           deployment.root / "patd.log")
    try:
        yield deployment
    finally:
        assert deployment.patd.stop() == 0, deployment.patd.text()
    assert not deployment.socket.exists(), "patd left its socket file behind"
    log = deployment.patd.text()
    assert PASSWORD not in log and "npat_" not in log, "a secret reached patd's log"


def direct(target, method, path, user=None, password=PASSWORD, body=None, headers=(),
           body_file=None):
    """A request straight to patd: target is unix:PATH or http://ADDR:PORT."""
    args = []
    if target.startswith("unix:"):
        args += ["--unix-socket", target[5:]]
        url = "http://localhost" + path
    else:
        url = target + path
    if user is not None:
        args += ["-u", f"{user}:{password}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", body]
    if body_file is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", f"@{body_file}"]
    for header in headers:
        args += ["-H", header]
    return curl(url, *args, method=None if method == "GET" else method)


def clone_status(d, user, token_text):
    return curl(d.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                "-u", f"{user}:{token_text}").status


def test_version_and_help():
    out = subprocess.run([patd_path(), "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("patd ")
    bad = subprocess.run([patd_path(), "--nice", "zero"], capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2 and "--nice" in bad.stderr


def test_check_config_opens_the_store_and_the_address(tmp_path):
    db = tmp_path / "pat.db"
    Patctl(db).init()
    sock = tmp_path / "check.sock"
    ok = subprocess.run([patd_path(), "--check-config", "--db", str(db), "--listen", f"unix:{sock}"],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert "configuration ok" in ok.stdout
    assert not sock.exists()
    missing = subprocess.run([patd_path(), "--check-config", "--db", str(tmp_path / "none.db"),
                              "--listen", f"unix:{sock}"], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "cannot open the store" in missing.stderr
    bad_listen = subprocess.run([patd_path(), "--check-config", "--db", str(db), "--listen", "nowhere"],
                                capture_output=True, text=True, timeout=30)
    assert bad_listen.returncode == 1 and "cannot listen" in bad_listen.stderr


def test_the_socket_is_mode_0660(d):
    assert (d.socket.stat().st_mode & 0o777) == 0o660


def test_create_clone_revoke_through_nginx(d, tmp_path):
    created = via_nginx(d, "PUT", tokens_path("alice"), user="alice",
                        body={"name": "via patd", "permissions": ["REPO_READ"]})
    assert created.status == 200, created.body
    assert created.header_values("Cache-Control") == ["no-store"]
    token = created.json()
    # The module's access phase reads the same store: the new token clones.
    url = f"http://alice:{token['token']}@127.0.0.1:{d.port}/scm/WORK/my-repo.git"
    git("clone", "-q", url, str(tmp_path / "clone"))
    assert (tmp_path / "clone" / ".git").is_dir()
    assert "token " + token["id"] + " created for alice from 127.0.0.1" in d.patd.text()
    assert token["token"] not in d.patd.text(), "a token reached patd's log"

    revoked = via_nginx(d, "DELETE", tokens_path("alice") + "/" + token["id"], user="alice")
    assert revoked.status == 204
    assert clone_status(d, "alice", token["token"]) == 401
    failed = git("clone", "-q", url, str(tmp_path / "again"), check=False)
    assert failed.returncode != 0


def test_error_statuses(d):
    assert via_nginx(d, "GET", tokens_path("alice")).status == 401
    wrong = via_nginx(d, "GET", tokens_path("alice"), user="alice", password="wrong")
    assert wrong.status == 401 and wrong.header_values("WWW-Authenticate")
    assert via_nginx(d, "GET", tokens_path("alice"), user="bob").status == 403
    assert via_nginx(d, "GET", tokens_path("alice") + "/nosuchtoken", user="alice").status == 404
    form = curl(d.url(tokens_path("alice")), "-u", f"alice:{PASSWORD}", "-X", "PUT",
                "-H", "Content-Type: text/plain", "--data-binary", '{"name":"x"}')
    assert form.status == 415
    for _ in range(5):
        assert via_nginx(d, "GET", tokens_path("victim"), user="victim", password="bad").status == 401
    blocked = via_nginx(d, "GET", tokens_path("victim"), user="victim")
    assert blocked.status == 429
    assert int(blocked.header_values("Retry-After")[0]) > 0
    assert "sign-in as victim from 127.0.0.1 throttled" in d.patd.text()


def test_password_change_on_bitbucket_path(d):
    change = {"password": "a new passphrase here", "passwordConfirm": "a new passphrase here",
              "oldPassword": PASSWORD}
    changed = via_nginx(d, "PUT", "/rest/api/1.0/users/credentials", user="carol", body=change)
    assert changed.status == 204, changed.body
    assert via_nginx(d, "GET", tokens_path("carol"), user="carol",
                     password="a new passphrase here").status == 200


def test_client_address_header_trusted_from_the_socket(d):
    response = direct(f"unix:{d.socket}", "GET", tokens_path("bob"), user="bob", password="nope",
                      headers=["X-Real-IP: 198.51.100.23"])
    assert response.status == 401
    assert "password refused for bob from 198.51.100.23" in d.patd.text()


def test_client_address_header_trusted_only_from_loopback(d):
    port = free_port()
    patd = Patd(d.store_path, f"0.0.0.0:{port}", d.root / "patd-tcp.log")
    try:
        loopback = direct(f"http://127.0.0.1:{port}", "GET", tokens_path("bob"), user="bob",
                          password="nope", headers=["X-Real-IP: 198.51.100.77"])
        assert loopback.status == 401
        assert "password refused for bob from 198.51.100.77" in patd.text()
        outside = [a for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True)
                   .stdout.split() if "." in a and not a.startswith("127.")]
        if not outside:
            pytest.skip("no non-loopback IPv4 address to connect from")
        remote = direct(f"http://{outside[0]}:{port}", "GET", tokens_path("bob"), user="bob",
                        password="nope", headers=["X-Real-IP: 198.51.100.99"])
        assert remote.status == 401
        text = patd.text()
        assert "198.51.100.99" not in text
        assert f"password refused for bob from {outside[0]}" in text
    finally:
        assert patd.stop() == 0


def test_client_address_header_over_ipv6(d):
    port = free_port()
    patd = Patd(d.store_path, f"[::]:{port}", d.root / "patd-v6.log")
    try:
        loopback = direct(f"http://[::1]:{port}", "GET", tokens_path("bob"), user="bob",
                          password="nope", headers=["X-Real-IP: 2001:db8::5"])
        assert loopback.status == 401
        assert "password refused for bob from 2001:db8::5" in patd.text()
        # IPv4 on the dual-stack socket: the peer is ::ffff:127.0.0.1, loopback too.
        mapped = direct(f"http://127.0.0.1:{port}", "GET", tokens_path("bob"), user="bob",
                        password="nope", headers=["X-Real-IP: 2001:db8::7"])
        assert mapped.status == 401
        assert "password refused for bob from 2001:db8::7" in patd.text()
        outside = [a for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True)
                   .stdout.split() if ":" in a and not a.startswith("fe80")]
        if not outside:
            pytest.skip("no non-loopback IPv6 address to connect from")
        remote = direct(f"http://[{outside[0]}]:{port}", "GET", tokens_path("bob"), user="bob",
                        password="nope", headers=["X-Real-IP: 2001:db8::6"])
        assert remote.status == 401
        text = patd.text()
        assert "2001:db8::6" not in text
        assert f"password refused for bob from {outside[0]}" in text
    finally:
        assert patd.stop() == 0


def test_body_too_large_is_400(d, tmp_path):
    big = tmp_path / "big.json"
    big.write_text('{"name": "' + "x" * (70 * 1024) + '"}')
    # Declared with Content-Length: answered before the body is sent at all.
    # (A raw socket: curl, still sending, may stop at the closed connection.)
    credentials = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(d.socket))
        s.sendall((f"PUT {tokens_path('alice')} HTTP/1.1\r\nHost: localhost\r\n"
                   f"Authorization: Basic {credentials}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {big.stat().st_size}\r\n\r\n").encode())
        s.settimeout(10)
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["errors"]
    # Chunked (no length known in advance): read up to the limit, then 400.
    chunked = direct(f"unix:{d.socket}", "PUT", tokens_path("alice"), user="alice", body_file=big,
                     headers=["Transfer-Encoding: chunked"])
    assert chunked.status == 400
    # Far past it: the connection is closed rather than read forever.
    huge = tmp_path / "huge.json"
    huge.write_bytes(b"x" * (4 * 1024 * 1024))
    cut = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                          str(d.socket), "-u", f"alice:{PASSWORD}", "-X", "PUT",
                          "-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked",
                          "--data-binary", f"@{huge}", "http://localhost" + tokens_path("alice")],
                         capture_output=True, text=True, timeout=60)
    assert cut.returncode != 0 or cut.stdout == "400", (cut.returncode, cut.stdout)
    # Headers past the per-connection buffer: 431.
    assert direct(f"unix:{d.socket}", "GET", tokens_path("alice"), user="alice",
                  headers=["X-Big: " + "a" * 40000]).status == 431
    assert direct(f"unix:{d.socket}", "GET", tokens_path("alice"), user="alice").status == 200


def test_idle_connection_is_cut(d):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(d.socket))
        s.sendall(b"GET /rest/access-tokens/1.0/users/alice HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(IDLE_TIMEOUT + 8)
        start = time.monotonic()
        data = s.recv(4096)
        elapsed = time.monotonic() - start
    # Closed without an answer, after the idle timeout and not long after.
    assert data == b""
    assert IDLE_TIMEOUT - 0.5 < elapsed < IDLE_TIMEOUT + 6


def test_sign_ins_over_the_cap_get_503_at_once(d):
    # Six users at once, each within the fair share (one check per user with
    # --max-sign-ins 2): more checks than places, so the gate refuses some.
    users = [f"cap{n}" for n in range(6)]
    for user in users:
        d.patctl.add_user(user)

    def one(n):
        start = time.monotonic()
        response = direct(f"unix:{d.socket}", "GET", tokens_path(users[n % 6]), user=users[n % 6],
                          headers=[f"X-Real-IP: 192.0.2.{n % 6 + 10}"])
        return response, time.monotonic() - start

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(one, range(36)))
    statuses = [r.status for r, _ in results]
    assert set(statuses) <= {200, 429, 503}, statuses
    busy = [(r, t) for r, t in results if r.status == 503]
    assert busy, f"no sign-in over the cap was refused: {statuses}"
    assert 200 in statuses
    for response, elapsed in busy:
        assert response.header_values("Retry-After") == ["1"]
        assert elapsed < 5, "a refused sign-in waited"
    assert "sign-in refused with 503, too many at once (client 192.0.2." in d.patd.text()


def stop_counters(patd):
    """The counters of patd's stop line: password checks run, dropped, busy."""
    assert patd.stop() == 0, patd.text()
    line = [x for x in patd.text().splitlines() if "password checks run:" in x][-1]
    numbers = [int(part.split(":")[-1]) for part in line.split(";")[-1].split(",")]
    return dict(zip(("checks", "dropped", "busy"), numbers))


def raw_request(user, password, path, address=None):
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    extra = f"X-Real-IP: {address}\r\n" if address else ""
    return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {credentials}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode()


def test_an_empty_password_is_refused_before_any_check_and_counted(d, tmp_path):
    sock = tmp_path / "empty.sock"
    patd = Patd(d.store_path, f"unix:{sock}", tmp_path / "empty.log")
    address = "198.51.100.60"
    start = time.monotonic()
    statuses = [direct(f"unix:{sock}", "GET", tokens_path("alice" if n % 2 else "nobody"), user="alice"
                       if n % 2 else "nobody", password="", headers=[f"X-Real-IP: {address}"]).status
                for n in range(20)]
    elapsed = time.monotonic() - start
    assert statuses == [401] * 20
    # The 21st from that address is over its limit (20), for any name and
    # with the right password too; alice from elsewhere is not.
    over = direct(f"unix:{sock}", "GET", tokens_path("alice"), user="alice", password="",
                  headers=[f"X-Real-IP: {address}"])
    assert over.status == 429 and int(over.header_values("Retry-After")[0]) > 0
    assert direct(f"unix:{sock}", "GET", tokens_path("alice"), user="alice",
                  headers=[f"X-Real-IP: {address}"]).status == 429
    assert direct(f"unix:{sock}", "GET", tokens_path("alice"), user="alice",
                  headers=["X-Real-IP: 198.51.100.61"]).status == 200
    assert "empty password refused for alice from 198.51.100.60" in patd.text()
    counters = stop_counters(patd)
    # One password check in all: the right password from the other address.
    assert counters["checks"] == 1, counters
    print(f"\n20 empty-password requests answered in {elapsed:.2f} s, no password check run")


def test_abandoned_requests_are_dropped_before_their_check(d, tmp_path):
    """A client that has gone gets no scrypt. Abandoned requests never queue:
    each is read by its own thread at once, and while its client is still
    there it may take one of the --max-sign-ins places or is answered 503 at
    once; one whose client is gone when it is read is dropped unread by
    libmicrohttpd. A request already read when its client goes (the second
    of two pipelined ones) reaches patd's own check just before the check."""
    port = free_port()
    target = f"127.0.0.1:{port}"
    patd = Patd(d.store_path, target, tmp_path / "gone.log", "--max-sign-ins", "4")
    n = 40
    try:
        first = socket.create_connection(("127.0.0.1", port))
        first.sendall(raw_request("alice", PASSWORD, tokens_path("alice")))
        start = time.monotonic()
        for i in range(n):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(raw_request("alice", PASSWORD, tokens_path("alice"), f"192.0.2.{i + 1}"))
        first.settimeout(30)
        assert first.recv(65536).startswith(b"HTTP/1.1 200 ")
        first.close()
        # The next request is answered after the first check, not after n more.
        assert direct(f"http://{target}", "GET", tokens_path("alice"), user="alice").status == 200
        elapsed = time.monotonic() - start
        # Two pipelined requests, then gone while the first one's check runs.
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(raw_request("alice", PASSWORD, tokens_path("alice"), "192.0.2.99").replace(
                b"Connection: close", b"Connection: keep-alive") * 2)
            time.sleep(0.01)
        wait_for(lambda: "dropped before its password check" in patd.text(), what="the drop line")
    finally:
        counters = stop_counters(patd)
    print(f"\n{n} abandoned sign-ins + 2 pipelined: {counters}; "
          f"the next request answered after {elapsed:.2f} s")
    # Checks: the first, the next, the first pipelined one, and the few
    # abandoned ones read before their client closed (never n).
    assert counters["checks"] <= 3 + 8, counters
    assert counters["dropped"] >= 1, counters


def test_fair_share_under_one_users_flood(d):
    """One signed-in user on 400 connections through nginx (the test's nginx
    has 256 worker_connections, so some of the flood fails there); another
    user's API call through nginx still gets through within about a second.
    The flood runs niced, as its own process: on a real server the attacker's
    client does not share patd's cores."""
    d.patctl.add_user("flooder")
    idle = []
    for _ in range(3):
        begin = time.monotonic()
        assert via_nginx(d, "GET", tokens_path("alice"), user="alice").status == 200
        idle.append(time.monotonic() - begin)
    flood = subprocess.Popen(
        ["nice", "-n", "15", sys.executable, str(Path(__file__).with_name("sign_in_flood.py")),
         f"tcp:127.0.0.1:{d.port}", "10", "400", PASSWORD, "flooder"],
        stdout=subprocess.PIPE, text=True)
    latencies = []
    try:
        time.sleep(2)  # the flood is on
        for _ in range(6):
            begin = time.monotonic()
            response = via_nginx(d, "GET", tokens_path("alice"), user="alice")
            latencies.append(time.monotonic() - begin)
            assert response.status == 200, (response.status, response.body)
            time.sleep(0.5)
    finally:
        out, _ = flood.communicate(timeout=120)
    stats = json.loads(out)
    print(f"\nflood of 400 connections for one user: {stats}; another user's calls took "
          + ", ".join(f"{t * 1000:.0f} ms" for t in latencies) + " (idle: "
          + ", ".join(f"{t * 1000:.0f} ms" for t in idle) + ")")
    assert stats["statuses"].get("right 200", 0) > 0 and stats["statuses"].get("right 429", 0) > 0, stats
    # Every call got through (200, never 503 or 429): the flooder holds at
    # most its share of the places. The goal is 1 s (issue 12); an idle call
    # takes 0.25-0.5 s on this shared two-core machine, so the bound here is
    # looser, and the figures are printed for the report.
    assert sorted(latencies)[len(latencies) // 2] <= 1.5, latencies
    assert max(latencies) <= 3.0, latencies


def test_sigterm_stops_within_the_bound(d, tmp_path):
    sock = tmp_path / "term.sock"
    patd = Patd(d.store_path, f"unix:{sock}", tmp_path / "term.log")
    # An idle keep-alive connection does not hold the shutdown past the grace.
    held = socket.socket(socket.AF_UNIX)
    held.connect(str(sock))
    try:
        start = time.monotonic()
        patd.process.send_signal(signal.SIGTERM)
        patd.process.wait(timeout=SHUTDOWN_GRACE + 5)
        assert time.monotonic() - start < SHUTDOWN_GRACE + 3
        assert patd.process.returncode == 0
        assert not sock.exists()
        assert "stopped" in patd.text()
    finally:
        held.close()
        patd.stop()


def test_sigterm_lets_a_request_in_flight_finish(d, tmp_path):
    sock = tmp_path / "flight.sock"
    patd = Patd(d.store_path, f"unix:{sock}", tmp_path / "flight.log")
    body = json.dumps({"name": "in flight", "permissions": ["REPO_READ"]}).encode()
    credentials = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    head = (f"PUT {tokens_path('alice')} HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Basic {credentials}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            s.sendall(head + body[:5])  # the request has begun, its body is not all in
            time.sleep(0.3)
            patd.process.send_signal(signal.SIGTERM)
            wait_for(lambda: "shutting down" in patd.text(), what="the shutdown line")
            # New connections are refused now; the one in flight still gets its answer.
            with socket.socket(socket.AF_UNIX) as late:
                assert late.connect_ex(str(sock)) != 0
            s.sendall(body[5:])
            s.settimeout(10)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        token = json.loads(answer.partition(b"\r\n\r\n")[2])
        patd.process.wait(timeout=SHUTDOWN_GRACE + 5)
        assert patd.process.returncode == 0
        assert token["id"] in d.patctl.run("token", "list", "alice").stdout
    finally:
        patd.stop()


def test_sighup_on_stderr_is_logged_and_ignored(d, tmp_path):
    sock = tmp_path / "hup.sock"
    patd = Patd(d.store_path, f"unix:{sock}", tmp_path / "hup.log")
    try:
        patd.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP" in patd.text(), what="the SIGHUP line")
        assert direct(f"unix:{sock}", "GET", tokens_path("alice"), user="alice").status == 200
    finally:
        assert patd.stop() == 0


def test_sighup_reopens_the_log_file(d, tmp_path):
    sock = tmp_path / "logf.sock"
    log = tmp_path / "patd-file.log"
    patd = Patd(d.store_path, f"unix:{sock}", tmp_path / "logf-stderr.log", "--log-file", str(log))
    try:
        assert "serving the token API" in log.read_text()
        log.rename(tmp_path / "patd-file.log.1")  # as logrotate does
        assert direct(f"unix:{sock}", "GET", tokens_path("bob"), user="bob", password="nope",
                      headers=["X-Real-IP: 192.0.2.201"]).status == 401
        patd.process.send_signal(signal.SIGHUP)
        wait_for(lambda: log.exists() and "reopened the log file" in log.read_text(),
                 what="the new log file")
        assert direct(f"unix:{sock}", "GET", tokens_path("bob"), user="bob", password="nope",
                      headers=["X-Real-IP: 192.0.2.202"]).status == 401
    finally:
        assert patd.stop() == 0
    old, new = (tmp_path / "patd-file.log.1").read_text(), log.read_text()
    assert "192.0.2.201" in old and "192.0.2.202" not in old
    assert "192.0.2.202" in new and "stopped" in new
    assert patd.text() == "", "patd wrote to stderr with --log-file"


def tokens_in(db):
    listed = json.loads(Patctl(db).run("token", "list", "--json").stdout)
    return {t["id"] for t in (listed if isinstance(listed, list) else listed.get("tokens", []))}


def test_a_replaced_store_is_reopened(tmp_path):
    """A backup restored by mv: patd serves the new file from the next request
    on (no write reaches the old one), and lets go of the old file when idle."""
    db = tmp_path / "pat.db"
    patctl = Patctl(db)
    patctl.init()
    patctl.add_user("alice")
    sock = tmp_path / "swap.sock"
    patd = Patd(db, f"unix:{sock}", tmp_path / "swap.log")

    def create(name):
        r = direct(f"unix:{sock}", "PUT", tokens_path("alice"), user="alice",
                   body=json.dumps({"name": name, "permissions": ["REPO_READ"]}))
        assert r.status == 200, r.body
        return r.json()["id"]

    try:
        kept = create("in the backup")
        subprocess.run(["mdb_copy", "-n", str(db), str(tmp_path / "backup.db")], check=True)
        lost = create("after the backup")
        os.link(db, tmp_path / "old.db")  # the old file, to look at afterwards
        shutil.copy(tmp_path / "backup.db", tmp_path / "pat.db.new")
        os.rename(tmp_path / "pat.db.new", db)
        # The very next request uses the restored file: the token made after
        # the backup is gone, and a new one is written to the new file.
        listed = direct(f"unix:{sock}", "GET", tokens_path("alice"), user="alice")
        assert listed.status == 200
        ids = {t["id"] for t in listed.json()["values"]}
        assert kept in ids and lost not in ids
        fresh = create("after the restore")
        assert "was replaced or removed" in patd.text()
        # Idle, it notices a second replacement too (the timer), and lets go.
        os.link(db, tmp_path / "second-old.db")
        shutil.copy(tmp_path / "backup.db", tmp_path / "pat.db.new")
        os.rename(tmp_path / "pat.db.new", db)
        wait_for(lambda: patd.text().count("was replaced or removed") == 2, timeout=5,
                 what="the idle check")
    finally:
        assert patd.stop() == 0, patd.text()
    assert fresh not in tokens_in(tmp_path / "old.db")
    assert fresh in tokens_in(tmp_path / "second-old.db")
    assert lost in tokens_in(tmp_path / "old.db")
    assert kept in tokens_in(db) and fresh not in tokens_in(db)


def mapped(pid, inode):
    """Whether process pid maps a file with this inode (LMDB maps its data
    file while the store is open)."""
    with open(f"/proc/{pid}/maps") as maps:
        return any(len(fields) > 5 and fields[4] == str(inode) for fields in (line.split() for line in maps))


def test_a_store_replaced_under_a_sign_in_flood_is_let_go(tmp_path):
    """A backup restored by rename while patd runs password checks without a
    pause: patd lets go of the old file (it no longer maps it) and serves the
    new one while the flood still runs, not once it ends. A check running
    when the rename is noticed finishes on the old file; none starts on it
    after that (docs/patd.md "A replaced store")."""
    db = tmp_path / "pat.db"
    patctl = Patctl(db)
    patctl.init()
    patctl.add_user("alice")
    sock = tmp_path / "flood.sock"
    patd = Patd(db, f"unix:{sock}", tmp_path / "flood.log")
    new = tmp_path / "pat.db.new"
    subprocess.run(["mdb_copy", "-n", str(db), str(new)], check=True)
    Patctl(new).add_user("carol")  # only in the new file
    os.unlink(f"{new}-lock")
    old_inode = db.stat().st_ino
    flood = None
    try:
        assert direct(f"unix:{sock}", "GET", tokens_path("carol"), user="carol").status == 401
        assert mapped(patd.process.pid, old_inode)
        # Half wrong passwords for unknown names, half alice's right one:
        # every place for a check is taken, all the time.
        flood = subprocess.Popen(
            ["nice", "-n", "10", sys.executable, str(Path(__file__).with_name("sign_in_flood.py")),
             str(sock), "120", "16", PASSWORD, "alice"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: patd.text().count("password refused") >= 10, timeout=60, interval=0.1,
                 what="password checks under way")
        os.rename(new, db)
        renamed = time.monotonic()
        wait_for(lambda: not mapped(patd.process.pid, old_inode), timeout=60, interval=0.01,
                 what="patd letting go of the old file")
        let_go = time.monotonic() - renamed
        assert flood.poll() is None, f"the flood ended before patd let go of the old file: {flood.communicate()}"
        # carol's sign-in needs the new file; under the flood it may find
        # every place taken (503) and try again.
        wait_for(lambda: direct(f"unix:{sock}", "GET", tokens_path("carol"), user="carol",
                                headers=["X-Real-IP: 192.0.2.77"]).status == 200,
                 timeout=60, interval=0.1, what="a sign-in served from the new file")
        assert flood.poll() is None, "the flood ended before patd served the new file"
        assert not mapped(patd.process.pid, old_inode), "patd serves the new file and still maps the old one"
        checks_after = patd.text().count("password refused")
        wait_for(lambda: patd.text().count("password refused") > checks_after + 5, timeout=60, interval=0.1,
                 what="the flood's checks on the new file")
        assert flood.poll() is None
    finally:
        if flood is not None:
            flood.terminate()
            flood.wait(timeout=30)
        assert patd.stop() == 0, patd.text()[-3000:]
    log = patd.text()
    print(f"\npatd let go of the replaced store {let_go:.2f} s after the rename under a sign-in flood; "
          f"sign-ins refused before their check as the store was replaced: "
          f"{log.count('the store was replaced')}")
    assert log.index("was replaced or removed") < log.index("opened the store"), log[-3000:]
    assert log.count("was replaced or removed") == 1


def test_sigkill_mid_creation_keeps_the_store(tmp_path):
    db = tmp_path / "pat.db"
    patctl = Patctl(db)
    patctl.init()
    patctl.add_user("alice")
    sock = tmp_path / "kill.sock"
    patd = Patd(db, f"unix:{sock}", tmp_path / "kill.log", "--max-sign-ins", "8")
    ok = []

    def create(n):
        try:
            r = direct(f"unix:{sock}", "PUT", tokens_path("alice"), user="alice",
                       body=json.dumps({"name": f"k{n}", "permissions": ["REPO_READ"]}))
            if r.status == 200:
                ok.append(r.json()["id"])
        except AssertionError:
            pass  # the connection died with patd

    try:
        # Two at a time: the sign-in limiter's fair share lets one user run two
        # password checks at once (a third is answered 429 at once), and
        # this test wants creations in flight, not refusals.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(create, n) for n in range(60)]
            wait_for(lambda: len(ok) >= 3, timeout=60, what="a few creations")
            patd.process.send_signal(signal.SIGKILL)
            patd.process.wait(timeout=10)
            for f in futures:
                f.result()
    finally:
        patd.stop()
    listed = json.loads(patctl.run("token", "list", "--json").stdout)
    ids = {t["id"] for t in (listed if isinstance(listed, list) else listed.get("tokens", []))}
    assert set(ok) <= ids, "a creation answered 200 is missing after SIGKILL"
    # Restarted on the same (stale) socket path, it serves.
    again = Patd(db, f"unix:{sock}", tmp_path / "kill2.log")
    try:
        r = direct(f"unix:{sock}", "PUT", tokens_path("alice"), user="alice",
                   body=json.dumps({"name": "after", "permissions": ["REPO_READ"]}))
        assert r.status == 200, r.body
    finally:
        assert again.stop() == 0


def test_a_store_restored_under_nginx_and_patd(d, tmp_path):
    """The restore of docs/install.md with both running: the workers and patd
    each let go of the old file and open the new one (after PATH-lock agrees
    with it), and then agree: a token made after the backup is gone for
    git and for the API alike."""
    def create(name):
        r = via_nginx(d, "PUT", tokens_path("alice"), user="alice",
                      body={"name": name, "permissions": ["REPO_READ"]})
        assert r.status == 200, r.body
        return r.json()

    kept = create("kept by the restore")
    subprocess.run(["mdb_copy", "-n", str(d.store_path), str(tmp_path / "backup.db")], check=True)
    lost = create("lost by the restore")
    assert clone_status(d, "alice", lost["token"]) == 200
    shutil.copy(tmp_path / "backup.db", str(d.store_path) + ".new")
    os.rename(str(d.store_path) + ".new", d.store_path)

    def restored():
        listed = via_nginx(d, "GET", tokens_path("alice") + "?limit=1000", user="alice")
        if listed.status != 200:
            return False
        ids = {t["id"] for t in listed.json()["values"]}
        return kept["id"] in ids and lost["id"] not in ids

    wait_for(restored, timeout=20, what="patd serving the restored store")
    wait_for(lambda: clone_status(d, "alice", lost["token"]) == 401, timeout=20,
             what="the workers using the restored store")
    assert clone_status(d, "alice", kept["token"]) == 200
    after = create("after the restore")
    assert after["id"] in json.dumps(json.loads(
        d.patctl.run("token", "list", "alice", "--json").stdout))
    assert "was replaced or removed" in d.patd.text()


def test_a_change_made_on_a_replaced_store_is_not_acknowledged(tmp_path):
    """Creations run without a pause (four users, two at a time each) while a
    backup is renamed over the store. A creation that leased the old file
    and finished after the rename made its token in a file nothing reads any
    more: patd answers it 503 (retry), never 200 with a token that does not
    exist (docs/patd.md "A replaced store"). Every token patd says it
    refused this way is indeed missing from the store now in use, and no
    token text reached a client with a 503."""
    db = tmp_path / "pat.db"
    patctl = Patctl(db)
    patctl.init()
    users = ("alice", "bob", "carol", "dave")
    for user in users:
        patctl.add_user(user)
    backup = tmp_path / "pat.db.backup"
    subprocess.run(["mdb_copy", "-n", str(db), str(backup)], check=True)
    sock = tmp_path / "replace.sock"
    patd = Patd(db, f"unix:{sock}", tmp_path / "replace.log", "--max-sign-ins", "8")
    answers = []
    stop = threading.Event()

    def create(user):
        n = 0
        while not stop.is_set():
            n += 1
            r = direct(f"unix:{sock}", "PUT", tokens_path(user), user=user,
                       body=json.dumps({"name": f"{user}-{n}", "permissions": ["REPO_READ"]}))
            answers.append((r.status, r.body))

    try:
        with ThreadPoolExecutor(max_workers=2 * len(users)) as pool:
            workers = [pool.submit(create, user) for user in users for _ in range(2)]
            wait_for(lambda: sum(s == 200 for s, _ in answers) >= 8, timeout=60, what="creations under way")
            os.rename(backup, db)
            wait_for(lambda: "opened the store" in patd.text().split("was replaced or removed", 1)[-1],
                     timeout=60, what="patd on the new file")
            done = len(answers)
            wait_for(lambda: sum(s == 200 for s, _ in answers[done:]) >= 4, timeout=60,
                     what="creations on the new file")
            stop.set()
            for worker in workers:
                worker.result()
    finally:
        stop.set()
        assert patd.stop() == 0, patd.text()[-3000:]
    log = patd.text()
    refused = re.findall(r"answered 503: the store was replaced while it ran.*token (\S+) created for", log)
    assert refused, "no creation was caught finishing on the replaced file:\n" + log[-3000:]
    in_use = tokens_in(db)
    assert not set(refused) & in_use, "patd refused a creation that is in the store in use"
    for status, body in answers:
        if status == 503:
            assert "npat_" not in body.lower(), body
    print(f"\n{len(refused)} creation(s) answered 503 as they finished on the replaced file; "
          f"{sum(s == 200 for s, _ in answers)} answered 200 in all")
