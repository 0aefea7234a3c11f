"""Workers only read the store (issue 12): they open it read-only whatever
the configuration, so a data file they may not write (it holds password
hashes; patd and patctl own it) is the normal deployment. Only LMDB's lock
file must be writable by them, and the usage file where the last-use flush
writes. A worker that could write the data file warns once at start.

The workers run as nobody (the master stays root), so this needs root."""

import json
import os
import re
import subprocess
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from harness import Nginx, Patctl, curl, free_port, load_module_line, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs the workers as another user")

ROUTE = "/rest/api/1.0/projects/WORK/repos/my-repo"


class ReadOnlyDeployment:
    """A store the workers (nobody) may read but not write, under a
    directory they can traverse (pytest's own temporary root is 0700)."""

    def __init__(self, flush, store_mode=0o644, usage_mode=0o666):
        self.root = Path(tempfile.mkdtemp(prefix="pat-read-only-", dir="/tmp"))
        self.root.chmod(0o755)
        self.store = self.root / "store" / "pat.db"
        self.store.parent.mkdir(mode=0o755)
        patctl = Patctl(self.store)
        patctl.init()
        patctl.add_user("alice")
        patctl.grant("alice", "project", "WORK", "read")
        self.token = patctl.create_token("alice", "reader")
        self.patctl = patctl
        self.store.chmod(store_mode)  # root's: nobody reads it, cannot write it (0o644)
        lock = self.store.parent / "pat.db-lock"
        lock.chmod(0o666)  # the reader table: every reader writes its slot
        (self.store.parent / "pat.db-usage").chmod(usage_mode)  # the flush writes it
        assert not (self.store.parent / "pat.db-usage-lock").exists()  # a flat file: no lock file
        prefix = self.root / "nginx"
        self.port = free_port()
        conf = f"""
{load_module_line()}
user nobody nogroup;
worker_processes 1;
error_log {prefix}/logs/error.log info;
pid {prefix}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    auth_pat_last_used_flush {flush};
    access_log off;
    server {{
        listen 127.0.0.1:{self.port};
        root {prefix}/html;
        auth_pat_db {self.store};
        location /rest/ {{
            auth_pat "Bitbucket";
            auth_pat_route rest;
            try_files /rest-ok.json =404;
        }}
    }}
}}
"""
        self.nginx = Nginx(prefix, conf, [self.port])
        for path in (prefix, prefix / "html"):
            path.chmod(0o755)
        (prefix / "html" / "rest-ok.json").write_text('{"ok":true}\n')
        (prefix / "html" / "rest-ok.json").chmod(0o644)

    def __enter__(self):
        self.nginx.start()
        return self

    def __exit__(self, *exc):
        try:
            self.nginx.stop()
            assert self.nginx.process.returncode == 0
            assert not self.nginx.log_problems(), self.nginx.log_problems()
            assert self.token.text not in self.log()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        return self.nginx.error_log.read_text(errors="replace")

    def worker_uids(self):
        uids = set()
        for pid in self.nginx.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            uids.add(int(next(line for line in status.splitlines()
                              if line.startswith("Uid:")).split()[1]))
        return uids


def last_txn_id(path):
    out = subprocess.run(["mdb_stat", "-n", "-e", str(path)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return int(re.search(r"Last transaction ID: (\d+)", out).group(1))


def last_authenticated(deployment):
    tokens = json.loads(deployment.patctl.run("token", "list", "--json").stdout)
    return next(t for t in tokens if t["id"] == deployment.token.id)["last_authenticated"]


WRITABLE_WARNING = "is writable by the nginx workers"


def test_workers_read_the_store_and_write_only_the_usage_file():
    with ReadOnlyDeployment(flush="1s") as deployment:
        assert 0 not in deployment.worker_uids()
        store_txn = last_txn_id(deployment.store)
        url = f"http://127.0.0.1:{deployment.port}{ROUTE}"
        assert curl(url, *deployment.token.basic()).status == 200
        assert curl(url, *deployment.token.bearer()).status == 200
        log = deployment.log()
        assert f'opened the store "{deployment.store}" read-only' in log
        assert WRITABLE_WARNING not in log
        # The flush records the use where the workers may write ...
        wait_for(lambda: last_authenticated(deployment) is not None, timeout=5, interval=0.3,
                 what="the use in the usage file")
        assert "could not record" not in deployment.log()
        # ... and the store did not move.
        assert last_txn_id(deployment.store) == store_txn


def test_a_data_file_the_workers_could_write_is_warned_about_once():
    with ReadOnlyDeployment(flush="1s", store_mode=0o666) as deployment:
        assert 0 not in deployment.worker_uids()
        store_txn = last_txn_id(deployment.store)
        url = f"http://127.0.0.1:{deployment.port}{ROUTE}"
        for _ in range(3):
            assert curl(url, *deployment.token.basic()).status == 200
        wait_for(lambda: last_authenticated(deployment) is not None, timeout=5, interval=0.3,
                 what="the use in the usage file")
        warnings = [line for line in deployment.log().splitlines() if WRITABLE_WARNING in line]
        assert len(warnings) == 1, warnings  # one worker, one store: once
        assert "[warn]" in warnings[0] and "nginx-pat" in warnings[0] and "0640" in warnings[0]
        assert "docs/install.md" in warnings[0]
        # Even so, the workers opened it read-only and never wrote it.
        assert f'opened the store "{deployment.store}" read-only' in deployment.log()
        assert last_txn_id(deployment.store) == store_txn


def test_a_usage_file_the_workers_may_not_write_costs_only_the_times():
    with ReadOnlyDeployment(flush="1s", usage_mode=0o644) as deployment:
        assert 0 not in deployment.worker_uids()
        url = f"http://127.0.0.1:{deployment.port}{ROUTE}"
        assert curl(url, *deployment.token.basic()).status == 200
        # The flush tries, fails at error level, and authentication goes on.
        wait_for(lambda: "could not record when tokens were last used" in deployment.log(),
                 timeout=5, interval=0.3, what="the flush's failure")
        time.sleep(0.2)
        assert curl(url, *deployment.token.basic()).status == 200
        assert curl(url, *deployment.token.bearer()).status == 200
        assert last_authenticated(deployment) is None


def test_flush_off_needs_no_usage_file():
    with ReadOnlyDeployment(flush="off", usage_mode=0o600) as deployment:
        url = f"http://127.0.0.1:{deployment.port}{ROUTE}"
        assert curl(url, *deployment.token.basic()).status == 200
        time.sleep(0.3)
        assert "usage" not in deployment.log()
