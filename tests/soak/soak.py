#!/usr/bin/env python3
"""Soak: sustained authenticated load on the real nginx + module while the
store churns and nginx reloads (issue 6).

  load     THREADS Python threads, each on its own keep-alive connection,
           send git info/refs (through fcgiwrap and git http-backend) and
           REST requests with the tokens of several users, Basic and Bearer
  churn    one thread runs the real patctl, one change after another:
           create tokens, revoke them, modify them, remove and restore
           users' project grants
  reload   `nginx -s reload` every RELOAD_EVERY seconds; the workers' RSS
           is sampled a moment after each reload

The checker: every change is recorded with the time its command started and
the time it returned. A request is judged when no change that could alter
its answer overlaps it: it must be accepted (200) if, when it started, its
token was created, not revoked and its owner held the grant; refused (401 or
403) otherwise. Modifications keep read access, so they are judged through:
no request may be refused because of one. At the end: requests sent, server
errors (5xx, must be 0), wrongful accepts and refusals (must be 0), and the
workers' RSS per reload generation (must stay flat).

Exit status 0 when every check passes. `make soak` runs it long,
`make soak-short` (part of `make test`) for about a minute.
"""

import argparse
import base64
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from conftest import Deployment  # noqa: E402  (the integration tests' real deployment)
from harness import PASSWORD, Patctl  # noqa: E402

GIT_PATH = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
REST_PATH = "/rest/api/1.0/projects/WORK/repos/my-repo/branches"
REFUSED = {401, 403}


class Timeline:
    """What changed when, for tokens and for users' grants. An event is
    (began, returned, state after) with state None for a change that must
    not alter any decision (a modification that keeps read access)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.token_events = {}   # token id -> [(began, returned, valid)]
        self.grant_events = {}   # user -> [(began, returned, granted)]
        self.published = []      # (id, owner, text): what the load may use
        self.live = []           # the published tokens not revoked yet
        self.counts = {"create": 0, "revoke": 0, "modify": 0, "ungrant": 0, "grant": 0}

    def add(self, table, key, began, returned, state):
        with self.lock:
            table.setdefault(key, []).append((began, returned, state))

    @staticmethod
    def state(events, started, ended):
        """The state a request over [started, ended] must see, or "unknown"
        while a change overlaps it."""
        current = "unknown"
        for began, returned, value in events:
            if value is None:
                continue
            if began < ended and returned > started:
                return "unknown"
            if returned <= started:
                current = value
        return current

    def expected(self, token_id, owner, started, ended):
        token = self.state(self.token_events[token_id], started, ended)
        grant = self.state(self.grant_events[owner], started, ended)
        if "unknown" in (token, grant):
            return None
        return token and grant


class Churn(threading.Thread):
    def __init__(self, patctl, users, timeline, stop, pause, rng):
        super().__init__(daemon=True)
        self.patctl, self.users, self.timeline = patctl, users, timeline
        self.stop, self.pause, self.rng = stop, pause, rng
        self.live = []            # (id, owner) not revoked
        self.granted = set(users)
        self.error = None

    def timed(self, *args, stdin=None):
        began = time.monotonic()
        result = self.patctl.run(*args, stdin=stdin)
        return began, time.monotonic(), result

    def create(self, user):
        began, returned, result = self.timed(
            "token", "create", user, "--name", f"soak-{self.timeline.counts['create']}",
            "--project", "read", "--repo", "read", "--json", "--password-stdin",
            stdin=PASSWORD + "\n")
        created = json.loads(result.stdout)
        self.timeline.add(self.timeline.token_events, created["id"], began, returned, True)
        with self.timeline.lock:
            self.timeline.published.append((created["id"], user, created["token"]))
            self.timeline.live.append((created["id"], user, created["token"]))
        self.live.append((created["id"], user))
        self.timeline.counts["create"] += 1

    def step(self):
        choice = self.rng.random()
        if choice < 0.4 or len(self.live) < 6:
            self.create(self.rng.choice(self.users))
        elif choice < 0.6:
            token_id, _ = self.live.pop(self.rng.randrange(len(self.live)))
            with self.timeline.lock:
                self.timeline.live = [t for t in self.timeline.live if t[0] != token_id]
            began, returned, _ = self.timed("token", "revoke", token_id)
            self.timeline.add(self.timeline.token_events, token_id, began, returned, False)
            self.timeline.counts["revoke"] += 1
        elif choice < 0.8:
            token_id, _ = self.rng.choice(self.live)
            level = self.rng.choice(["read", "write", "admin"])
            began, returned, _ = self.timed("token", "modify", token_id, "--project", level,
                                            "--repo", level)
            self.timeline.add(self.timeline.token_events, token_id, began, returned, None)
            self.timeline.counts["modify"] += 1
        else:
            # Mostly granted users, so that most tokens should work.
            ungranted = [u for u in self.users if u not in self.granted]
            if ungranted and (self.rng.random() < 0.6 or len(ungranted) > 1):
                user = self.rng.choice(ungranted)
            else:
                user = self.rng.choice(sorted(self.granted))
            if user in self.granted:
                began, returned, _ = self.timed("ungrant", user, "project", "WORK")
                self.granted.discard(user)
                self.timeline.counts["ungrant"] += 1
            else:
                began, returned, _ = self.timed("grant", user, "project", "WORK", "read")
                self.granted.add(user)
                self.timeline.counts["grant"] += 1
            self.timeline.add(self.timeline.grant_events, user, began, returned,
                              user in self.granted)

    def run(self):
        try:
            while not self.stop.is_set():
                self.step()
                self.stop.wait(self.pause)
        except Exception as e:  # reported by main: a failed patctl is a failed soak
            self.error = e
            self.stop.set()


class Load(threading.Thread):
    def __init__(self, port, timeline, stop, rng):
        super().__init__(daemon=True)
        self.port, self.timeline, self.stop, self.rng = port, timeline, stop, rng
        self.results = []       # (started, ended, token id, owner, kind, status)
        self.reconnects = 0

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def run(self):
        conn = self.connect()
        while not self.stop.is_set():
            # Mostly tokens that should work, the rest from everything
            # published (revoked ones included).
            with self.timeline.lock:
                pool = self.timeline.published
                if self.rng.random() < 0.7 and self.timeline.live:
                    pool = self.timeline.live
                token_id, owner, text = self.rng.choice(pool)
            kind = "git" if self.rng.random() < 0.25 else "rest"
            if self.rng.random() < 0.5:
                auth = "Basic " + base64.b64encode(f"{owner}:{text}".encode()).decode()
            else:
                auth = "Bearer " + text
            started = time.monotonic()
            try:
                conn.request("GET", GIT_PATH if kind == "git" else REST_PATH,
                             headers={"Authorization": auth, "Git-Protocol": "version=2"})
                response = conn.getresponse()
                response.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                # A keep-alive connection closed by a worker that a reload
                # retired: no answer was given; reconnect (as clients do).
                conn.close()
                conn = self.connect()
                self.reconnects += 1
                continue
            self.results.append((started, time.monotonic(), token_id, owner, kind,
                                 response.status))
        conn.close()


def worker_rss_kib(pids):
    total = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total.append(int(line.split()[1]))
        except FileNotFoundError:
            pass
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--reload-every", type=float, default=4.0)
    parser.add_argument("--churn-pause", type=float, default=0.05)
    parser.add_argument("--rss-tolerance-kib", type=int, default=4096)
    parser.add_argument("--root", default=None, help="work directory (default: a new one in /tmp)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()

    root = Path(args.root or tempfile.mkdtemp(prefix="pat-soak-"))
    rng = random.Random(args.seed)
    print(f"soak: {args.seconds:.0f} s, {args.threads} load threads, reload every "
          f"{args.reload_every} s, seed {args.seed}, work dir {root}", flush=True)

    deployment = Deployment(root)
    patctl = deployment.patctl
    users = [f"user{n}" for n in range(args.users)]
    timeline = Timeline()
    setup_time = time.monotonic()
    for user in users:
        patctl.add_user(user)
        patctl.grant(user, "project", "WORK", "read")
        timeline.add(timeline.grant_events, user, setup_time, setup_time, True)

    stop = threading.Event()
    churn = Churn(patctl, users, timeline, stop, args.churn_pause, random.Random(rng.random()))
    for user in users:
        churn.create(user)
    deployment.start()
    loads = [Load(deployment.port, timeline, stop, random.Random(rng.random()))
             for _ in range(args.threads)]
    began = time.monotonic()
    churn.start()
    for load in loads:
        load.start()

    rss = []          # per generation: the workers' RSS in KiB
    reloads = 0
    failure = None
    try:
        while time.monotonic() - began < args.seconds and not stop.is_set():
            time.sleep(min(args.reload_every, 1.5))
            rss.append(worker_rss_kib(deployment.nginx.worker_pids()))
            rest = args.reload_every - 1.5
            if rest > 0:
                stop.wait(rest)
            if stop.is_set():
                break
            deployment.nginx.reload()
            reloads += 1
    except Exception as e:
        failure = e
    finally:
        stop.set()
        for thread in [churn, *loads]:
            thread.join(timeout=60)
        elapsed = time.monotonic() - began
        deployment.stop()

    results = [r for load in loads for r in load.results]
    server_errors = [r for r in results if r[5] >= 500]
    other = [r for r in results if r[5] not in REFUSED and r[5] != 200 and r[5] < 500]
    wrong_accepts, wrong_refusals, judged = [], [], 0
    for started, ended, token_id, owner, kind, status in results:
        expected = timeline.expected(token_id, owner, started, ended)
        if expected is None or status >= 500:
            continue
        judged += 1
        if status == 200 and not expected:
            wrong_accepts.append((token_id, owner, kind, status))
        elif status in REFUSED and expected:
            wrong_refusals.append((token_id, owner, kind, status))

    problems = deployment.nginx.log_problems()
    by_kind = {k: sum(1 for r in results if r[4] == k) for k in ("git", "rest")}
    accepted = sum(1 for r in results if r[5] == 200)
    means = [statistics.mean(g) / 1024 for g in rss if g]
    print(f"requests: {len(results)} in {elapsed:.1f} s ({len(results) / elapsed:.0f}/s): "
          f"git {by_kind['git']}, rest {by_kind['rest']}; accepted {accepted}, "
          f"refused {sum(1 for r in results if r[5] in REFUSED)}")
    print(f"judged: {judged} (the rest overlapped a change of their token or grant)")
    print(f"changes: {timeline.counts}; reloads: {reloads}; "
          f"connections reopened after a reload: {sum(l.reconnects for l in loads)}")
    print(f"server errors (5xx): {len(server_errors)}; other statuses: {len(other)}")
    print(f"wrongful accepts: {len(wrong_accepts)}; wrongful refusals: {len(wrong_refusals)}")
    print("worker RSS per generation (MiB, mean of workers): " +
          " ".join(f"{m:.1f}" for m in means))
    print(f"error.log alerts / sanitizer reports: {len(problems)}")

    failures = []
    if failure is not None:
        failures.append(f"the soak stopped: {failure!r}")
    if churn.error is not None:
        failures.append(f"a change failed: {churn.error}")
    if server_errors:
        failures.append(f"{len(server_errors)} server errors, e.g. {server_errors[:3]}")
    if other:
        failures.append(f"unexpected statuses, e.g. {other[:3]}")
    if wrong_accepts:
        failures.append(f"wrongful accepts, e.g. {wrong_accepts[:3]}")
    if wrong_refusals:
        failures.append(f"wrongful refusals, e.g. {wrong_refusals[:3]}")
    if problems:
        failures.append("error.log: " + "; ".join(problems[:5]))
    if not results or judged < len(results) // 2:
        failures.append(f"too few judged requests ({judged} of {len(results)})")
    if timeline.counts["revoke"] == 0 or timeline.counts["ungrant"] == 0:
        failures.append(f"not enough churn: {timeline.counts}")
    # Flat: after the first generations (warm-up), no generation's mean
    # exceeds the early ones' by more than the tolerance.
    if len(means) >= 4:
        baseline = max(means[1:3]) * 1024
        peak = max(means[2:]) * 1024
        if peak > baseline + args.rss_tolerance_kib:
            failures.append(f"worker RSS grew across reloads: {baseline:.0f} -> {peak:.0f} KiB")
    else:
        failures.append(f"too few reload generations to judge RSS ({len(means)})")
    secrets_in_logs = deployment.nginx.error_log.read_text(errors="replace")
    secrets_in_logs += deployment.nginx.access_log.read_text(errors="replace")
    if any(text in secrets_in_logs for _, _, text in timeline.published):
        failures.append("a token reached nginx's logs")

    if failures:
        print("SOAK FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("soak passed")
    if not args.root:
        subprocess.run(["rm", "-rf", str(root)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
