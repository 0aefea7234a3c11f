"""Sign-in with the directory's password (docs/directory.md#sign-in): patd's
token API (PUT /rest/access-tokens/1.0/users/NAME) and `patctl token create
--password-stdin`, against the real slapd of slapd.py. PATD names patd
(make test-directory sets it)."""

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import slapd as slapd_harness

PATCTL = os.environ.get("PATCTL", str(Path(__file__).resolve().parents[2] / "build" / "patctl"))
PATD = os.environ.get("PATD", str(Path(__file__).resolve().parents[2] / "build" / "patd"))
LOCAL_PASSWORD = "local-service-pw"


def patctl(db, *args, stdin=None, check=True):
    result = subprocess.run([PATCTL, "--db", str(db), *args], input=stdin, capture_output=True, text=True,
                            timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


class Patd:
    def __init__(self, db, directory_conf, log):
        self.port = slapd_harness.free_port()
        self.log = log
        self.process = subprocess.Popen(
            [PATD, "--db", str(db), "--listen", f"127.0.0.1:{self.port}", "--nice", "0",
             "--directory", str(directory_conf)],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process.poll() is None, Path(log).read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("patd did not listen")

    def create_token(self, user, password, name="laptop", slug=None):
        """(status, headers, body as JSON)"""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/rest/access-tokens/1.0/users/{slug or user}",
            data=json.dumps({"name": name}).encode(), method="PUT",
            headers={"Content-Type": "application/json",
                     "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"null")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)


@pytest.fixture
def store(tmp_path, patctl_binary):
    db = tmp_path / "pat.db"
    patctl(db, "init")
    patctl(db, "user", "add", "svc", "--password-stdin", stdin=LOCAL_PASSWORD + "\n")
    return db


@pytest.fixture
def patd(store, directory, tmp_path):
    server = Patd(store, directory.config(), tmp_path / "patd.log")
    yield server
    server.stop()


def users(db):
    return {u["name"]: u for u in json.loads(patctl(db, "user", "list", "--json").stdout)}


def check_token(db, token, project="WORK", need="repo-read"):
    return patctl(db, "check", "--token-stdin", "--need", need, "--project", project, "--repo", "app",
                  stdin=token + "\n", check=False)


def test_first_sign_in_creates_the_user_and_a_token_that_works(patd, store):
    status, _, body = patd.create_token("alice", slapd_harness.USERS["alice"][1])
    assert status == 200, body
    assert body["user"]["name"] == "alice"
    alice = users(store)["alice"]
    assert alice["source"] == "directory" and alice["display_name"] == "Alice Liddell" and alice["active"]
    assert users(store)["svc"]["source"] == "local"
    patctl(store, "grant", "alice", "project", "WORK", "read")
    allowed = check_token(store, body["token"])
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    # The second sign-in finds the user made by the first.
    status, _, body = patd.create_token("Alice", slapd_harness.USERS["alice"][1], name="desktop")
    assert status == 200, body
    assert body["user"]["name"] == "alice"


def test_wrong_password_unknown_user_and_filter_text_get_one_answer(patd, store):
    answers = [patd.create_token("alice", "not-her-password"),
               patd.create_token("nobody", "whatever"),
               # Signed in first (401 before any word on rights), as someone else's slug.
               patd.create_token("*)(uid=*", "alice-pw-1", slug="alice")]
    for status, _, body in answers:
        assert status == 401, body
        assert body == answers[0][2]
    assert "alice" not in users(store) and "nobody" not in users(store)


def test_a_refused_directory_password_is_throttled_like_a_local_one(patd, store):
    statuses = [patd.create_token("bob", f"wrong-{i}")[0] for i in range(12)]
    assert statuses[0] == 401
    assert 429 in statuses, statuses
    # The right password is throttled too, now.
    assert patd.create_token("bob", slapd_harness.USERS["bob"][1])[0] == 429


def test_a_user_disabled_in_the_store_is_refused_like_a_wrong_password(patd, store):
    assert patd.create_token("carol", slapd_harness.USERS["carol"][1])[0] == 200
    patctl(store, "user", "disable", "carol")
    status, _, body = patd.create_token("carol", slapd_harness.USERS["carol"][1])
    assert status == 401, body


def test_local_users_never_ask_the_directory(patd, store):
    assert patd.create_token("svc", LOCAL_PASSWORD)[0] == 200
    # The directory has no svc: a directory password does not help either.
    assert patd.create_token("svc", "alice-pw-1")[0] == 401


def test_directory_outage_is_503_while_local_users_and_tokens_keep_working(own_directory, store, tmp_path):
    server = Patd(store, own_directory.config(), tmp_path / "patd.log")
    try:
        status, _, body = server.create_token("alice", slapd_harness.USERS["alice"][1])
        assert status == 200, body
        token = body["token"]
        patctl(store, "grant", "alice", "project", "WORK", "read")
        own_directory.server.stop()
        status, headers, body = server.create_token("alice", slapd_harness.USERS["alice"][1])
        assert status == 503, body
        assert headers.get("Retry-After") == "60"
        assert "directory" in body["errors"][0]["message"]
        # Many outage answers do not throttle the user.
        for _ in range(10):
            assert server.create_token("alice", slapd_harness.USERS["alice"][1])[0] == 503
        assert server.create_token("svc", LOCAL_PASSWORD)[0] == 200
        assert check_token(store, token).returncode == 0
        assert "directory is unavailable" in (tmp_path / "patd.log").read_text()
    finally:
        server.stop()


def test_patctl_token_create_signs_in_through_the_directory(directory, store):
    conf = directory.config()
    made = patctl(store, "token", "create", "bob", "--name", "ci", "--password-stdin", "--directory", str(conf),
                  stdin=slapd_harness.USERS["bob"][1] + "\n")
    assert made.stdout.count("\n") == 1
    assert users(store)["bob"]["source"] == "directory"
    wrong = patctl(store, "token", "create", "bob", "--name", "ci", "--password-stdin", "--directory", str(conf),
                   stdin="nope\n", check=False)
    assert wrong.returncode == 1 and "wrong user name or password" in wrong.stderr
    # Without a directory, bob (no password here) cannot sign in.
    none = patctl(store, "token", "create", "bob", "--name", "ci", "--password-stdin", "--directory", "none",
                  stdin=slapd_harness.USERS["bob"][1] + "\n", check=False)
    assert none.returncode == 1 and "wrong user name or password" in none.stderr
