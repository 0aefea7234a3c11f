"""The module at start and under `nginx -t` (issue 13, "Operate"): its
version and each store's schema in error.log at notice, once per start or
reload (from the master, not once per worker); `nginx -t` fails, naming
the path and the fix, for a store the workers could not open (missing,
unreadable by the workers' user, not an LMDB file, another schema); a
server started anyway logs that at error and serves once the store
appears."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import (REPO_ROOT, Nginx, Patctl, curl, free_port, load_module_line, wait_for)

VERSION = re.search(r'kVersion = "([^"]+)"',
                    (REPO_ROOT / "include" / "pat" / "version.hpp").read_text()).group(1)


def make_nginx(root, store, user_line=None, workers=2):
    prefix = root / "nginx"
    port = free_port()
    if user_line is None:
        user_line = "user root root;" if os.geteuid() == 0 else ""
    conf = f"""
{load_module_line()}
{user_line}
worker_processes {workers};
error_log {prefix}/logs/error.log notice;
pid {prefix}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    proxy_temp_path {prefix}/tmp/proxy;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    root {prefix}/html;
    server {{
        listen 127.0.0.1:{port};
        auth_pat_db {store};
        location / {{
            auth_pat "Start";
            try_files /ok.txt =404;
        }}
    }}
}}
"""
    nginx = Nginx(prefix, conf, [port])
    (prefix / "html" / "ok.txt").write_text("ok\n")
    return nginx, port


def seeded_store(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    patctl = Patctl(path)
    patctl.init()
    patctl.add_user("alice")
    return patctl, patctl.create_token("alice", "start")


def version_lines(nginx, store):
    wanted = "[notice]"
    line = f"auth_pat {VERSION}: store {store} schema 2"
    return [l for l in nginx.error_log.read_text().splitlines() if wanted in l and l.endswith(line)]


def test_version_and_schema_at_notice_once_per_start_and_reload(tmp_path):
    store = tmp_path / "store" / "pat.db"
    _, token = seeded_store(store)
    nginx, port = make_nginx(tmp_path, store)
    nginx.start()
    try:
        # Both workers answer once the master is past init_module.
        wait_for(lambda: len(nginx.worker_pids()) == 2, what="two workers")
        assert curl(f"http://127.0.0.1:{port}/", *token.basic()).status == 200
        # Once, from the master: not once per worker.
        assert len(version_lines(nginx, store)) == 1, nginx.error_log.read_text()
        nginx.reload()
        assert len(version_lines(nginx, store)) == 2
        assert curl(f"http://127.0.0.1:{port}/", *token.basic()).status == 200
    finally:
        nginx.stop()
    assert not nginx.log_problems()


def nginx_t_fails(nginx, store):
    checked = nginx.test_config()
    assert checked.returncode != 0, checked.stderr
    lines = [l for l in checked.stderr.splitlines() if "[emerg]" in l and "auth_pat_db" in l]
    assert len(lines) == 1, checked.stderr
    assert f'"{store}"' in lines[0]
    assert "Fix: " in lines[0]
    return lines[0]


def test_nginx_t_refuses_a_missing_store(tmp_path):
    store = tmp_path / "nowhere" / "pat.db"
    nginx, _ = make_nginx(tmp_path, store)
    line = nginx_t_fails(nginx, store)
    assert "does not exist" in line and "patctl init" in line
    assert "nginx.conf:" in line  # the auth_pat_db line
    assert not store.parent.exists()  # nothing created


def test_nginx_t_refuses_a_file_that_is_not_a_store(tmp_path):
    store = tmp_path / "pat.db"
    store.write_bytes(b"not an LMDB file\n" * 1000)
    nginx, _ = make_nginx(tmp_path, store)
    line = nginx_t_fails(nginx, store)
    assert "damaged" in line or "not an nginx-pat store" in line
    assert "backup" in line


def test_nginx_t_refuses_another_schema(tmp_path):
    store = tmp_path / "store" / "pat.db"
    seeded_store(store)
    dump = "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n schema_version\n 3\nDATA=END\n"
    subprocess.run(["mdb_load", "-n", "-s", "meta", str(store)], input=dump, text=True, check=True)
    nginx, _ = make_nginx(tmp_path, store)
    line = nginx_t_fails(nginx, store)
    assert "schema version 3" in line and "reads versions 1 and 2" in line
    assert "matches the store's schema" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the workers as another user")
def test_nginx_t_opens_the_store_as_the_workers_user(tmp_path):
    """Root reads everything; the workers do not. With `user nobody`, a
    store in a directory only root may enter fails `nginx -t`, as it would
    fail every worker; the same store passes once the workers may read it."""
    # pytest's own directories are root's alone (0700): a directory of its
    # own in /tmp, which anyone may enter.
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        os.chmod(top, 0o755)
        store_dir = Path(top) / "private"
        store = store_dir / "pat.db"
        seeded_store(store)
        os.chmod(store_dir, 0o700)
        nginx, _ = make_nginx(tmp_path, store, user_line="user nobody nogroup;")
        line = nginx_t_fails(nginx, store)
        assert '(user "nobody")' in line
        assert "cannot enter the directory" in line and "(permission denied)" in line
        assert "read access to the data file" in line

        # The documented modes (here with the group nogroup): -t passes.
        subprocess.run(["chgrp", "-R", "nogroup", str(store_dir)], check=True)
        os.chmod(store_dir, 0o750)
        os.chmod(store, 0o640)
        os.chmod(f"{store}-lock", 0o660)
        checked = nginx.test_config()
        assert checked.returncode == 0, checked.stderr


def test_a_server_started_without_its_store_serves_once_it_appears(tmp_path):
    store = tmp_path / "later" / "pat.db"
    nginx, port = make_nginx(tmp_path, store)
    nginx.start(check_config=False)  # -t would refuse: test_nginx_t_refuses_a_missing_store
    try:
        wanted = f"auth_pat {VERSION}: store {store}: the nginx workers"
        # The master checks after it opened the listening sockets.
        wait_for(lambda: wanted in nginx.error_log.read_text(), what="the store's error line")
        log = nginx.error_log.read_text()
        assert [line for line in log.splitlines() if wanted in line and "[error]" in line]
        assert "requests it protects get 500 until it opens" in log
        # Fails closed meanwhile, and keeps running.
        assert curl(f"http://127.0.0.1:{port}/", "-u", "alice:x").status == 500
        assert curl(f"http://127.0.0.1:{port}/").status == 401  # no credentials: no store needed
        _, token = seeded_store(store)
        # A worker retries a failed open at most once a second.
        wait_for(lambda: curl(f"http://127.0.0.1:{port}/", *token.basic()).status == 200,
                 timeout=15, interval=0.2, what="the store to be picked up")
        assert nginx.process.poll() is None
    finally:
        nginx.stop()
    assert not nginx.log_problems()
