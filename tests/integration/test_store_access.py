"""Workers that may only read the data file (it holds password hashes;
the install table gives the workers read access unless the API or the
last-use flush writes to it).

Without the API and with the flush off, a worker opens the store read-only
and authenticates. With the flush on it cannot open it read-write: it opens
it read-only, says so in error.log, and token authentication goes on; only
the flush fails (logged at error, never alert).

The workers run as nobody (the master stays root), so this needs root."""

import os
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

    def __init__(self, flush):
        self.root = Path(tempfile.mkdtemp(prefix="pat-read-only-", dir="/tmp"))
        self.root.chmod(0o755)
        self.store = self.root / "store" / "pat.db"
        self.store.parent.mkdir(mode=0o755)
        patctl = Patctl(self.store)
        patctl.init()
        patctl.add_user("alice")
        patctl.grant("alice", "project", "WORK", "read")
        self.token = patctl.create_token("alice", "reader")
        self.store.chmod(0o644)  # root's: nobody reads it, cannot write it
        lock = self.store.parent / "pat.db-lock"
        lock.chmod(0o666)  # the reader table: every reader writes its slot
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
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    auth_pat_last_used_flush {flush};
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


def test_read_only_deployment_authenticates():
    with ReadOnlyDeployment(flush="off") as deployment:
        assert 0 not in deployment.worker_uids()
        assert curl(f"http://127.0.0.1:{deployment.port}{ROUTE}",
                    *deployment.token.basic()).status == 200
        log = deployment.log()
        assert f'opened the store "{deployment.store}" read-only' in log
        assert "may not write" not in log


def test_flush_on_with_a_read_only_data_file_still_authenticates():
    with ReadOnlyDeployment(flush="1s") as deployment:
        assert 0 not in deployment.worker_uids()
        url = f"http://127.0.0.1:{deployment.port}{ROUTE}"
        assert curl(url, *deployment.token.basic()).status == 200
        log = deployment.log()
        assert f'may not write the store "{deployment.store}": opened it read-only' in log
        # The flush tries, fails at error level, and authentication goes on.
        wait_for(lambda: "could not record when tokens were last used" in deployment.log(),
                 timeout=5, interval=0.3, what="the flush's failure")
        time.sleep(0.2)
        assert curl(url, *deployment.token.basic()).status == 200
        assert curl(url, *deployment.token.bearer()).status == 200
