"""Fixtures for the fleet tests (issue 15): one real PostgreSQL 15 (pg.py),
and nodes on loopback ports, each with its own LMDB replica kept by its own
`patctl follow`, its own nginx with the built module reading that replica,
and optionally its own `patd --source` (node A's serves the token API).

The integration harness (tests/integration/harness.py: nginx, fcgiwrap,
patd, curl, git) is reused as it is; one fcgiwrap running git
http-backend over one git root serves every node (in a real fleet the
repositories are shared or replicated by other means: not this issue's).

Names of the fleet's commands are the issue's and docs/fleet.md's:
`patctl fleet init|import|status|verify|prune --source CONNFILE`,
`patctl follow --source CONNFILE --db REPLICA --node NAME`,
`patctl --source CONNFILE <store command>`, `patd --source CONNFILE --db REPLICA`.
"""

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLEET = Path(__file__).resolve().parent
INTEGRATION = FLEET.parents[0] / "integration"
sys.path.insert(0, str(INTEGRATION))
sys.path.insert(0, str(FLEET))

from harness import (git_location, PASSWORD, Fcgiwrap, Nginx, Patd, curl, free_port,  # noqa: E402
                     git, load_module_line, make_bare_repo, module_path, patctl_path, patd_path,
                     wait_for)
from api_client import API_SERVER  # noqa: E402
import pg as pgmod  # noqa: E402

WRITER_ROLE = "pat_writer"
FOLLOWER_ROLE = "pat_follower"
# The staleness bound the fleet's nginx instances run with (test 5 needs 10 s;
# the others never freeze PostgreSQL long enough to reach it).
MAX_STALENESS = "10s"
# include/pat/kv.hpp's kv::Table, in order: pat_records.tbl is the index,
# the replica's LMDB database is the name.
TABLE_NAMES = ["meta", "users", "grants", "tokens", "token_ids", "user_tokens", "audit", "groups",
               "group_members", "user_groups", "group_grants", "everyone", "effective",
               "sign_in_failures"]
FOLLOWER_APP = re.compile(r"^nginx-pat-follower (\S+) (\d+)$")
TOKEN_TEXT = re.compile(r"npat_[A-Za-z0-9_-]{16,}", re.IGNORECASE)


def clean_env():
    """The environment without PAT_DB / PAT_CONFIG: every command names its
    store or source itself."""
    return {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG")}


def run(command, stdin=None, check=True, timeout=120, env=None):
    result = subprocess.run([str(c) for c in command], input=stdin, capture_output=True, text=True,
                            timeout=timeout, env=env or clean_env())
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(str(c) for c in command)} failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")
    return result


def mdb_records(path):
    """Every record of every named database of an LMDB file, from the real
    mdb_dump: {table name: {key hex: value hex}}."""
    out = run(["mdb_dump", "-n", "-a", str(path)], timeout=120).stdout
    tables, name, current, key = {}, None, None, None
    for line in out.splitlines():
        if line.startswith("database="):
            name = line.split("=", 1)[1]
            current = tables.setdefault(name, {})
        elif line == "HEADER=END":
            key = None
        elif line == "DATA=END":
            name, current = None, None
        elif line.startswith(" ") and current is not None:
            if key is None:
                key = line[1:]
            else:
                current[key] = line[1:]
                key = None
    return tables


class Fleet:
    """PostgreSQL, its roles and CONNFILEs, the shared git backend, and the
    nodes. Users: alice (write on project WORK), bob (no grants), and
    writer01..writer20 (write on WORK; test 7's writers), all with PASSWORD."""

    def __init__(self, root, log_statement="all"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.pg = pgmod.Postgres(log_statement=log_statement)
        self.pg.initdb()
        self.ca = self.pg.enable_tls(self.pg.client_dir / "tls")
        self.pg.start()
        self.pg.create_database()
        self.admin_conn = self.pg.write_connfile("admin.conn", pgmod.SUPERUSER)
        self.nodes = {}
        self.created_tokens = []  # token texts the tests created: never in any log
        self.git_root = self.root / "git"
        self.fcgiwrap = Fcgiwrap(self.root / "fcgiwrap.sock")

    def setup(self):
        self.fleet_init()
        self.patctl("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
        self.patctl("grant", "alice", "project", "WORK", "write")
        self.patctl("user", "add", "bob", "--password-stdin", stdin=PASSWORD + "\n")
        make_bare_repo(self.git_root, "WORK", "my-repo", self.root / "seed")
        self.fcgiwrap.start()

    def fleet_init(self):
        """`patctl fleet init` as the database's superuser: the schema and the
        two roles (created LOGIN without a password); the administrator then
        gives each role its password, kept in libpq's passfile."""
        self.patctl_admin("fleet", "init", "--writer-role", WRITER_ROLE,
                          "--follower-role", FOLLOWER_ROLE)
        self.pg.set_password(WRITER_ROLE)
        self.pg.set_password(FOLLOWER_ROLE)
        self.writer_conn = self.pg.write_connfile("writer.conn", WRITER_ROLE)
        self.follower_conn = self.pg.write_connfile("follower.conn", FOLLOWER_ROLE)

    # --- commands ----------------------------------------------------------------------------
    def patctl_admin(self, *args, check=True, stdin=None, timeout=120):
        return run([patctl_path(), *args, "--source", self.admin_conn], stdin=stdin, check=check,
                   timeout=timeout)

    def patctl(self, *args, check=True, stdin=None, timeout=120):
        """A store command against the source, as the writer role."""
        return run([patctl_path(), "--source", self.writer_conn, *args], stdin=stdin, check=check,
                   timeout=timeout)

    def create_token(self, user="alice", label="t", project="write", repo="write"):
        created = json.loads(self.patctl("token", "create", user, "--name", label, "--json",
                                         "--project", project, "--repo", repo,
                                         "--password-stdin", stdin=PASSWORD + "\n").stdout)
        self.created_tokens.append(created["token"])
        return created

    def head(self):
        return int(self.pg.scalar("SELECT seq FROM pat_head"))

    def follower_positions(self):
        """{node: position} as the followers report it in application_name."""
        rows = self.pg.query("SELECT application_name FROM pg_stat_activity "
                             "WHERE application_name LIKE 'nginx-pat-follower %'")
        positions = {}
        for (app,) in rows:
            m = FOLLOWER_APP.match(app)
            if m:
                positions[m.group(1)] = max(positions.get(m.group(1), 0), int(m.group(2)))
        return positions

    def source_records(self):
        """{table number: {key hex: value hex}} of pat_records."""
        tables = {}
        for tbl, key, value in self.pg.query(
                "SELECT tbl, encode(key, 'hex'), encode(value, 'hex') FROM pat_records "
                "ORDER BY tbl, key"):
            tables.setdefault(int(tbl), {})[key] = value
        return tables

    def verify(self, node, check=True):
        return run([patctl_path(), "fleet", "verify", "--source", self.follower_conn,
                    "--db", node.replica], check=check, timeout=120)

    def wait_all_at(self, seq, timeout, nodes=None):
        """Until every node's replica (the follower's report) reaches seq."""
        nodes = nodes or list(self.nodes.values())
        wait_for(lambda: all(self.follower_positions().get(n.name, -1) >= seq for n in nodes),
                 timeout=timeout, interval=0.02, what=f"every node at seq {seq}")

    # --- nodes -------------------------------------------------------------------------------
    def add_node(self, name, patd=False, start=True, **options):
        node = Node(self, name, patd=patd, **options)
        self.nodes[name] = node
        if start:
            node.start()
        return node

    def stop(self):
        for node in self.nodes.values():
            node.stop()
        self.fcgiwrap.stop()

    def destroy(self):
        try:
            self.stop()
        finally:
            self.pg.destroy()

    def secrets(self):
        return [PASSWORD, *self.created_tokens, *self.pg.credentials.secrets()]


class Follower:
    """`patctl follow` for one node, in the foreground, its output in a log."""

    def __init__(self, fleet, node):
        self.fleet, self.node = fleet, node
        self.log_path = node.dir / "follower.log"
        self.process = None

    def command(self):
        command = [patctl_path(), "follow", "--source",
                   str(self.node.follower_conn or self.fleet.follower_conn),
                   "--db", str(self.node.replica), "--node", self.node.name]
        if self.node.follower_user:
            command = ["runuser", "-u", self.node.follower_user, "--", *command]
        return command

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=log, start_new_session=True, env=clean_env())
        log.close()

    def kill(self, sig=signal.SIGKILL):
        """Signals the follower (its whole session: runuser and patctl)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode if self.process else None

    def pids(self):
        """The follower's process and its children (patctl under runuser)."""
        if not self.alive():
            return set()
        out = subprocess.run(["ps", "-o", "pid=", "-s", str(self.process.pid)],
                             capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Node:
    """One frontend: replica, follower, nginx (and patd --source).

    By default everything runs as the tests' user (root in CI: nginx's
    workers too, as in tests/integration). A node made with worker_user and
    follower_user runs as a packaged one does (docs/fleet.md): the follower
    as the store's owner with its own CONNFILE and passfile, the replica in
    a directory owner:workers 2750, nginx's workers as worker_user."""

    def __init__(self, fleet, name, patd=False, base_dir=None, worker_user=None,
                 follower_user=None, state_dir=None, follower_conn=None):
        self.fleet, self.name = fleet, name
        self.dir = Path(base_dir) if base_dir else fleet.root / f"node-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.worker_user = worker_user
        self.follower_user = follower_user
        self.follower_conn = follower_conn
        self.replica = (Path(state_dir) if state_dir else self.dir) / "pat.db"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.prefix = self.dir / "nginx"
        self.follower = Follower(fleet, self)
        self.patd = None
        if patd:
            self.patd = Patd(self.replica, self.dir / "patd.sock", self.dir / "patd.log",
                             "--source", fleet.writer_conn, "--max-sign-ins", "4")
        self.nginx = Nginx(self.prefix, self.nginx_conf(), [self.port])
        html = self.prefix / "html"
        html.mkdir(parents=True, exist_ok=True)
        (html / "rest-ok.json").write_text('{"ok":true}\n')
        self._connections = {}

    def nginx_conf(self):
        user = "user root root;" if os.geteuid() == 0 else ""
        if self.worker_user:
            user = f"user {self.worker_user} {self.worker_user};"
        api = API_SERVER.replace("@PATD_SOCKET@", str(self.dir / "patd.sock")) if self.patd else ""
        p = self.prefix
        return f"""
{load_module_line()}
{user}
worker_processes 2;
error_log {p}/logs/error.log info;
pid {p}/nginx.pid;
daemon off;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    log_format pat '$pid|$remote_user|$pat_user|$pat_token_id|$status|$request_uri';
    access_log {p}/logs/access.log pat;
    auth_pat_last_used_flush 1s;  # test_g_usage: uses reach the API's listings in ~11 s
    client_body_temp_path {p}/tmp/body;
    fastcgi_temp_path {p}/tmp/fastcgi;
    proxy_temp_path {p}/tmp/proxy;
    scgi_temp_path {p}/tmp/scgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {p}/html;
        auth_pat_db {self.replica};
        auth_pat_max_staleness {MAX_STALENESS};

        {git_location(self.fleet.fcgiwrap.socket_path, self.fleet.git_root, "(?s)^/scm(/.*)$")}

        location /rest/api/ {{
            auth_pat "Bitbucket";
            auth_pat_route rest;
            try_files /rest-ok.json =404;
        }}

        location = /auth-pat-status {{
            auth_pat_status;
            allow 127.0.0.1;
            deny all;
        }}

        {api}
    }}
}}
"""

    def start(self, wait_synced=True):
        self.follower.start()
        if wait_synced:
            head = self.fleet.head()
            wait_for(lambda: self.fleet.follower_positions().get(self.name, -1) >= head
                     or not self.follower.alive(), timeout=60, what=f"node {self.name}'s replica")
            assert self.follower.alive(), f"follower {self.name} exited:\n{self.follower.text()}"
        if self.patd:
            self.patd.start()
        self.nginx.start()

    def stop(self):
        for c in self._connections.values():
            c.close()
        self._connections = {}
        try:
            self.nginx.stop()
        finally:
            try:
                if self.patd:
                    self.patd.stop()
            finally:
                self.follower.stop()

    def url(self, path):
        return self.base + path

    def repo_url(self, user=None, token=None, slug="my-repo.git", project="WORK"):
        auth = f"{user}:{token}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}/scm/{project}/{slug}"

    # --- fast probes (a kept-alive HTTP/1.1 connection per thread) -----------------------------
    def probe(self, token_text, user="alice", path="/rest/api/1.0/projects/WORK/repos/my-repo"):
        """The status a token gets on a protected REST route of this node;
        with its Retry-After when there is one: (status, retry_after)."""
        import base64
        import threading
        key = threading.get_ident()
        auth = base64.b64encode(f"{user}:{token_text}".encode()).decode()
        for attempt in (1, 2):
            conn = self._connections.get(key)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self._connections[key] = conn
            try:
                conn.request("GET", path, headers={"Authorization": f"Basic {auth}"})
                response = conn.getresponse()
                response.read()
                return response.status, response.getheader("Retry-After")
            except (http.client.HTTPException, OSError):
                conn.close()
                self._connections.pop(key, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def status_location(self):
        return curl(self.url("/auth-pat-status"))

    def worker_pids(self):
        return self.nginx.worker_pids()

    def log_problems(self):
        problems = self.nginx.log_problems()
        if self.patd:
            problems += [f"patd {self.name}: {line}" for line in self.patd.log_problems()]
        return problems


def api_request(node, method, path, user="alice", password=PASSWORD, body=None, timeout=30):
    """One token-API request to a node's patd through its nginx (the real
    curl, as a client would)."""
    args = ["-u", f"{user}:{password}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    return curl(node.url(path), *args, method=None if method == "GET" else method)


def api_admitted(node, method, path, deadline_s=60, **kwargs):
    """api_request(), again after Retry-After while patd has no room for
    another password check or source connection (503 / 429 with
    Retry-After), as a client honouring Retry-After does (waiting at most
    a second: the tests' own sign-ins are all correct)."""
    deadline = time.monotonic() + deadline_s
    while True:
        response = api_request(node, method, path, **kwargs)
        retry = response.header_values("Retry-After")
        if response.status not in (429, 503) or not retry or time.monotonic() > deadline:
            return response
        time.sleep(min(1.0, float(retry[0]) if retry[0].isdigit() else 1.0) * random.uniform(0.3, 1))


def tokens_path(user):
    return f"/rest/access-tokens/1.0/users/{user}"


@pytest.fixture(scope="session", autouse=True)
def built_binaries():
    for path, what in ((patctl_path(), "patctl"), (module_path(), "the module"),
                       (patd_path(), "patd")):
        if path != "static" and not Path(path).exists():
            pytest.exit(f"{what} is not built ({path}): run `make` first", returncode=2)
    if not pgmod.pg_available():
        pytest.exit(f"PostgreSQL 15 is not installed ({pgmod.PG_BIN}): run `make deps`",
                    returncode=2)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """The shared fleet: PostgreSQL and nodes a (patd: the token API), b, c
    (patd too: test 7's writers use all three)."""
    fleet = Fleet(tmp_path_factory.mktemp("fleet"))
    try:
        fleet.setup()
        for name, patd in (("a", True), ("b", True), ("c", True)):
            fleet.add_node(name, patd=patd)
    except BaseException:
        fleet.destroy()
        raise
    try:
        yield fleet
    finally:
        fleet.stop()
        problems = []
        for node in fleet.nodes.values():
            problems += node.log_problems()
        logs = fleet.pg.log_text()
        for node in fleet.nodes.values():
            for f in (node.nginx.error_log, node.nginx.access_log, node.follower.log_path):
                if f.exists():
                    logs += f.read_text(errors="replace")
            if node.patd:
                logs += node.patd.text()
        leaked = [s for s in fleet.secrets() if s and s in logs]
        fleet.pg.destroy()
        assert not problems, "alerts in the nodes' logs:\n" + "\n".join(problems[:20])
        assert not leaked, f"{len(leaked)} secrets reached a log (PostgreSQL's, nginx's, patd's " \
                           f"or a follower's)"


@pytest.fixture
def nodes(fleet):
    """The three shared nodes, each running (a test that stopped a part
    restarts it)."""
    for node in fleet.nodes.values():
        if not node.follower.alive():
            node.follower.start()
    if not fleet.pg.running():
        fleet.pg.start()
    fleet.pg.cont()
    return [fleet.nodes[n] for n in ("a", "b", "c")]


def pytest_configure(config):
    config.addinivalue_line("markers", "large: slow fleet tests (make test-fleet-large), not in make test")


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def report(name, text):
    """A figure the issue asks to report: printed (make test-fleet shows it
    with -rP or -s) and appended to build/fleet-figures.txt when it exists."""
    line = f"{name}: {text}"
    print(line)
    target = os.environ.get("FLEET_FIGURES")
    if target:
        with open(target, "a") as f:
            f.write(line + "\n")
