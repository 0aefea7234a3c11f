"""Fixtures: one real deployment (nginx + module + store + git backend, and
patd when the test module uses the token API) per test module, torn down
with a check of nginx's and patd's logs."""

import os
import re
from pathlib import Path

import pytest

from harness import (git_location, PASSWORD, Fcgiwrap, Nginx, Patctl, Patd, free_port,
                     load_module_line, make_bare_repo, module_path, patctl_path, patd_path)

# A token's text, or enough of one to be a secret (npat_ + 16 or more), in
# any case: a token lower- or upper-cased is still recoverable (issue 10).
TOKEN_TEXT = re.compile(r"npat_[A-Za-z0-9_-]{16,}", re.IGNORECASE)


def nginx_conf(prefix, port, h2_port, store, fcgi_socket, git_root, extra_http="",
               extra_server="", workers=2, extra_main=""):
    """The configuration most tests share: git smart HTTP under /scm, the
    Bitbucket REST API under /rest and /bitbucket/rest, and whatever the test
    module adds (extra_main in the main context, e.g. a thread_pool)."""
    user = "user root root;" if os.geteuid() == 0 else ""
    return f"""
{load_module_line()}
{user}
worker_processes {workers};
{extra_main}
error_log {prefix}/logs/error.log info;
pid {prefix}/nginx.pid;
daemon off;
events {{ worker_connections 256; }}

http {{
    default_type application/octet-stream;
    log_format pat '$remote_user|$pat_user|$pat_token_id|$status|$request_uri';
    access_log {prefix}/logs/access.log pat;
    client_body_temp_path {prefix}/tmp/body;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    proxy_temp_path {prefix}/tmp/proxy;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    {extra_http}

    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{h2_port} http2;
        root {prefix}/html;
        auth_pat_db {store};

        {git_location(fcgi_socket, git_root)}

        location /rest/ {{
            auth_pat "Bitbucket";
            auth_pat_route rest;
            try_files /rest-ok.json =404;
        }}

        location /bitbucket/rest/ {{
            auth_pat "Bitbucket";
            auth_pat_route rest;
            try_files /rest-ok.json =404;
        }}

        {extra_server}
    }}
}}
"""


class Deployment:
    """Everything one test module talks to. Users: alice (write on project
    WORK), bob (no grants). Tokens: alice's read and write tokens, bob's.

    With patd=True (or when the configuration names @PATD_SOCKET@, as
    api_client.API_SERVER does) a real patd serves the token API on the Unix
    socket ROOT/patd.sock, started before nginx and stopped after it, with
    patd_options added to its command line; its log is ROOT/patd.log."""

    def __init__(self, root, extra_http="", extra_server="", workers=2, extra_main="",
                 patd=False, patd_options=()):
        self.root = Path(root)
        self.prefix = self.root / "nginx"
        self.store_path = self.root / "store" / "pat.db"
        self.store_path.parent.mkdir(parents=True)
        self.git_root = self.root / "git"
        self.home = self.root / "home"
        self.home.mkdir()
        self.port = free_port()
        self.h2_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.h2_base = f"http://127.0.0.1:{self.h2_port}"

        self.patctl = Patctl(self.store_path)
        self.patctl.init()
        self.patctl.add_user("alice")
        self.patctl.grant("alice", "project", "WORK", "write")
        self.patctl.add_user("bob")
        self.read_token = self.patctl.create_token("alice", "read", project="read", repo="read")
        self.write_token = self.patctl.create_token("alice", "write", project="write",
                                                    repo="write")
        self.bob_token = self.patctl.create_token("bob", "bob")

        make_bare_repo(self.git_root, "WORK", "my-repo", self.root / "seed")

        self.fcgiwrap = Fcgiwrap(self.root / "fcgiwrap.sock")
        # self.patd is the tests'; start, stop and the teardown's checks use
        # self.own_patd, so a test module may put a patd of its own in
        # self.patd and manage it itself (tests/patd does).
        self.own_patd = None
        if patd or "@PATD_SOCKET@" in extra_http + extra_server:
            self.own_patd = Patd(self.store_path, self.root / "patd.sock",
                                 self.root / "patd.log", *patd_options)
        self.patd = self.own_patd

        def substitute(text):
            text = text.replace("@PREFIX@", str(self.prefix)).replace("@ROOT@", str(self.root))
            return text.replace("@PATD_SOCKET@", str(self.root / "patd.sock"))
        conf = nginx_conf(self.prefix, self.port, self.h2_port, self.store_path,
                          self.fcgiwrap.socket_path, self.git_root,
                          extra_http=substitute(extra_http),
                          extra_server=substitute(extra_server), workers=workers,
                          extra_main=extra_main)
        self.nginx = Nginx(self.prefix, conf, [self.port, self.h2_port])
        html = self.prefix / "html"
        html.mkdir(parents=True, exist_ok=True)
        (html / "rest-ok.json").write_text('{"ok":true}\n')
        (html / "ok.txt").write_text("ok\n")
        (html / "secret.txt").write_text("secret\n")

    def start(self, nginx_env=None):
        self.fcgiwrap.start()
        if self.own_patd:
            self.own_patd.start()
        self.nginx.start(env=nginx_env)

    def stop(self):
        """Stops everything; returns patd's exit status (None without one)."""
        try:
            self.nginx.stop()
            self.fcgiwrap.stop()
        finally:
            status = self.own_patd.stop() if self.own_patd else None
        return status

    def url(self, path):
        return self.base + path

    def repo_url(self, credentials=None, slug="my-repo.git", project="WORK"):
        auth = f"{credentials}@" if credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}/scm/{project}/{slug}"

    def secrets(self):
        return [t.text for t in (self.read_token, self.write_token, self.bob_token)]


@pytest.fixture(scope="session", autouse=True)
def built_binaries():
    for path, what in ((patctl_path(), "patctl"), (module_path(), "the module"),
                       (patd_path(), "patd")):
        if path != "static" and not Path(path).exists():
            pytest.exit(f"{what} is not built ({path}): run `make` first", returncode=2)


@pytest.fixture(scope="module")
def deployment(request, tmp_path_factory):
    """A running deployment; a test module may set EXTRA_HTTP / EXTRA_SERVER
    (nginx configuration text, @PREFIX@, @ROOT@ and @PATD_SOCKET@
    substituted), EXTRA_MAIN (the main context), WORKERS (worker_processes,
    2 by default), PATD (True: start patd even if the configuration does not
    name its socket) and PATD_OPTIONS (patd's extra command-line options)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    deployment = Deployment(root, getattr(request.module, "EXTRA_HTTP", ""),
                            getattr(request.module, "EXTRA_SERVER", ""),
                            workers=getattr(request.module, "WORKERS", 2),
                            extra_main=getattr(request.module, "EXTRA_MAIN", ""),
                            patd=getattr(request.module, "PATD", False),
                            patd_options=getattr(request.module, "PATD_OPTIONS", ()))
    try:
        deployment.start(getattr(request.module, "NGINX_ENV", None))
    except BaseException:
        deployment.stop()
        raise
    try:
        yield deployment
    finally:
        patd_status = deployment.stop()
    if deployment.own_patd:
        check_patd_after(deployment, patd_status)
    # A master that crashed (e.g. on a worker's exit) exits with a signal.
    assert deployment.nginx.process.returncode == 0, \
        f"nginx's master exited with {deployment.nginx.process.returncode}"
    problems = deployment.nginx.log_problems()
    assert not problems, "error.log has alerts:\n" + "\n".join(problems)
    logs = deployment.nginx.error_log.read_text(errors="replace")
    if deployment.nginx.access_log.exists():
        logs += deployment.nginx.access_log.read_text(errors="replace")
    for secret in deployment.secrets():
        assert secret not in logs, "a token reached nginx's logs"


def check_patd_after(deployment, status):
    """patd stopped cleanly on SIGTERM, removed its socket, logged nothing
    at crit or worse, and no secret reached its log."""
    patd = deployment.own_patd
    log = patd.text()
    assert status == 0, f"patd exited with {status} on SIGTERM:\n{log[-3000:]}"
    assert not patd.socket_path.exists(), "patd left its socket file behind"
    problems = patd.log_problems()
    assert not problems, "patd's log has crit lines:\n" + "\n".join(problems)
    for secret in deployment.secrets():
        assert secret not in log, "a token reached patd's log"
    assert PASSWORD not in log, "a password reached patd's log"
    leaked = TOKEN_TEXT.findall(log)
    assert not leaked, f"token text reached patd's log ({len(leaked)} times)"
