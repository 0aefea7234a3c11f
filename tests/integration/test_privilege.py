"""Privilege separation with the packaged ownership (docs/install.md): the
store belongs to nginx-pat, nginx's workers run as www-data and only read it,
patd runs as nginx-pat and writes. Real users, real runuser, real nginx, patd,
git and curl.

What is asserted: a process running as www-data cannot change the store (an
O_RDWR open fails, and patctl refuses a write with one clear line naming the
owner, leaving the store byte for byte as it was), while it can still read
(patctl's read commands work), clones through nginx work, and patd creates a
token the very next clone accepts. A worker that could write the data file
says so in error.log at start. Whatever www-data writes into the usage file
(the one file it may write) costs only last-use times.

Needs root (to switch users); skipped otherwise. It creates the system user
nginx-pat when the machine has none (as the package will), which is why it
runs only where the tests may change the machine (CI, or a developer's
container)."""

import os
import pwd
import grp
import json
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness import (GIT_HTTP_BACKEND, PASSWORD, FCGIWRAP, Nginx, curl, free_port, git,
                     load_module_line, make_bare_repo, patctl_path, wait_for)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")

OWNER = "nginx-pat"
WORKERS = "www-data"


def patd_path():
    return os.environ.get("PATD") or str(Path(patctl_path()).parent / "patd")


def ensure_owner_user():
    try:
        pwd.getpwnam(OWNER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", OWNER], check=True)


def as_user(user, *command, stdin=None, check=False):
    return subprocess.run(["runuser", "-u", user, "--", *command], input=stdin,
                          capture_output=True, text=True, timeout=60, check=check)


def store_dump(store):
    """Every record of every table, as mdb_dump prints them: the store's
    content, independent of free pages and transaction ids."""
    return subprocess.run(["mdb_dump", "-n", "-a", str(store)], capture_output=True, text=True,
                          check=True, timeout=30).stdout


class Site:
    """A packaged-style installation under a fresh directory."""

    def __init__(self, root):
        self.root = root
        os.chmod(root, 0o755)  # www-data and nginx-pat must reach what is inside
        self.state = root / "var-lib-nginx-pat"
        # As docs/install.md: owned by nginx-pat, group www-data, setgid so
        # that files made inside get the group, not writable by the workers.
        subprocess.run(["install", "-d", "-o", OWNER, "-g", WORKERS, "-m", "2750",
                        str(self.state)], check=True)
        self.store = self.state / "pat.db"
        self.run_dir = root / "run-nginx-pat"
        subprocess.run(["install", "-d", "-o", OWNER, "-g", WORKERS, "-m", "0750",
                        str(self.run_dir)], check=True)
        self.socket = self.run_dir / "patd.sock"
        self.patctl("init", check=True)
        self.patctl("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n",
                    check=True)
        self.patctl("grant", "alice", "project", "WORK", "write", check=True)

        self.git_root = root / "git"
        make_bare_repo(self.git_root, "WORK", "my-repo", root / "seed")
        subprocess.run(["chown", "-R", f"{WORKERS}:{WORKERS}", str(self.git_root)], check=True)
        # fcgiwrap runs as the workers' user and makes its socket in a
        # directory of that user's, as Debian's /run/fcgiwrap.socket.
        fcgi_dir = root / "run-fcgiwrap"
        subprocess.run(["install", "-d", "-o", WORKERS, "-g", WORKERS, "-m", "0755", str(fcgi_dir)],
                       check=True)
        self.fcgi_socket = fcgi_dir / "fcgiwrap.sock"
        self.port = free_port()
        self.prefix = root / "nginx"
        self.nginx = Nginx(self.prefix, self.nginx_conf(), [self.port])
        subprocess.run(["chown", "-R", f"{WORKERS}:{WORKERS}", str(self.prefix / "tmp")],
                       check=True)
        self.fcgiwrap = None
        self.patd = None
        self.patd_log = root / "patd.log"

    def patctl(self, *args, stdin=None, check=False, user=OWNER):
        result = as_user(user, patctl_path(), "--db", str(self.store), *args, stdin=stdin)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def nginx_conf(self):
        return f"""
{load_module_line()}
user {WORKERS} {WORKERS};
worker_processes 2;
error_log {self.prefix}/logs/error.log info;
pid {self.prefix}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log {self.prefix}/logs/access.log;
    client_body_temp_path {self.prefix}/tmp/body;
    proxy_temp_path {self.prefix}/tmp/proxy;
    fastcgi_temp_path {self.prefix}/tmp/fastcgi;
    scgi_temp_path {self.prefix}/tmp/scgi;
    uwsgi_temp_path {self.prefix}/tmp/uwsgi;
    server {{
        listen 127.0.0.1:{self.port};
        auth_pat_db {self.store};
        location /rest/access-tokens/ {{
            proxy_pass http://unix:{self.socket};
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For "";
        }}
        location ~ (?s)^/scm(/.*)$ {{
            auth_pat "Git";
            auth_pat_route git;
            fastcgi_pass unix:{self.fcgi_socket};
            fastcgi_param SCRIPT_FILENAME {GIT_HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {self.git_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $pat_user;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
        }}
    }}
}}
"""

    def start(self):
        # fcgiwrap (and so git http-backend) runs as the workers' user, as
        # Debian's fcgiwrap service does.
        self.fcgiwrap = subprocess.Popen(
            ["runuser", "-u", WORKERS, "--", FCGIWRAP, "-c", "2", "-s",
             f"unix:{self.fcgi_socket}"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.fcgi_socket.exists, what="fcgiwrap's socket")
        self.start_patd()
        self.nginx.start()

    def start_patd(self):
        log = open(self.patd_log, "ab")
        self.patd = subprocess.Popen(["runuser", "-u", OWNER, "-g", WORKERS, "--", patd_path(),
                                      "--db", str(self.store), "--listen", f"unix:{self.socket}"],
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()

        def connects():
            with socket.socket(socket.AF_UNIX) as s:
                return s.connect_ex(str(self.socket)) == 0
        wait_for(lambda: connects() or self.patd.poll() is not None, what="patd's socket")
        assert self.patd.poll() is None, self.patd_log.read_text()

    def stop(self):
        if self.nginx.process:
            self.nginx.stop()
        for process in (self.patd, self.fcgiwrap):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def clone(self, user, secret, into):
        return git("clone", "-q", f"http://{user}:{secret}@127.0.0.1:{self.port}/scm/WORK/my-repo.git",
                   str(into), check=False)


@pytest.fixture(scope="module")
def site():
    for name in (WORKERS,):
        try:
            grp.getgrnam(name)
            pwd.getpwnam(name)
        except KeyError:
            pytest.skip(f"no {name} user on this machine")
    ensure_owner_user()
    root = Path(tempfile.mkdtemp(prefix="pat-privilege-", dir="/tmp"))
    site = Site(root)
    site.start()
    try:
        yield site
    finally:
        site.stop()
        problems = site.nginx.log_problems()
        shutil.rmtree(root, ignore_errors=True)
    assert not problems, "error.log has alerts:\n" + "\n".join(problems)


def mode_and_owner(path):
    st = path.stat()
    return (stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name,
            grp.getgrgid(st.st_gid).gr_name)


def test_the_store_is_made_with_the_packaged_ownership(site):
    assert mode_and_owner(site.store) == (0o640, OWNER, WORKERS)
    # LMDB readers register in the lock file: the workers' group writes it.
    lock = Path(f"{site.store}-lock")
    assert mode_and_owner(lock) == (0o660, OWNER, WORKERS)
    # The workers write last-use times to the usage file: a flat file, no
    # lock file of its own.
    usage = Path(f"{site.store}-usage")
    assert mode_and_owner(usage) == (0o660, OWNER, WORKERS)
    assert not Path(f"{site.store}-usage-lock").exists()


def test_the_workers_user_cannot_open_the_store_for_writing(site):
    for path in (site.store, site.state / "pat.db.new"):
        result = as_user(WORKERS, "python3", "-c",
                         f"import os; os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)")
        assert result.returncode != 0 and "Permission denied" in result.stderr, result


def test_patctl_as_the_workers_user_refuses_writes_with_a_clear_message(site):
    before = store_dump(site.store)
    for command in (("user", "add", "mallory", "--sysadmin", "--password-stdin"),
                    ("grant", "alice", "project", "OTHER", "admin"),
                    ("token", "create", "alice", "--name", "stolen", "--password-stdin")):
        result = site.patctl(*command, stdin=PASSWORD + "\n", user=WORKERS)
        assert result.returncode != 0, (command, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("patctl: "), result.stderr
        assert "permission denied" in lines[0].lower(), lines[0]
        assert OWNER in lines[0], f"the message should name the store's owner: {lines[0]}"
        assert "does not exist" not in lines[0]
    assert store_dump(site.store) == before, "the store changed"
    # Reading is allowed: the workers' user may look (it reads every token
    # digest anyway).
    listed = site.patctl("user", "list", user=WORKERS)
    assert listed.returncode == 0 and "alice" in listed.stdout, listed.stderr


def create_token_via_patd(site, name):
    response = curl(site.url("/rest/access-tokens/1.0/users/alice"), "-X", "PUT",
                    "-u", f"alice:{PASSWORD}", "-H", "Content-Type: application/json",
                    "--data-binary",
                    f'{{"name": "{name}", "permissions": ["PROJECT_READ", "REPO_READ"]}}')
    assert response.status == 200, (response.status, response.body)
    return response.json()["token"]


def test_patd_writes_and_the_read_only_workers_see_it_at_once(site, tmp_path):
    secret = create_token_via_patd(site, "ci")
    clone = site.clone("alice", secret, tmp_path / "clone")
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "clone" / "README.md").read_text() == "version 2\n"
    # A wrong token is refused by the same workers.
    refused = site.clone("alice", secret[:-1] + ("A" if secret[-1] != "A" else "B"),
                         tmp_path / "refused")
    assert refused.returncode != 0
    # The data file still has its ownership after patd's writes.
    assert mode_and_owner(site.store) == (0o640, OWNER, WORKERS)
    log = site.nginx.error_log.read_text(errors="replace")
    assert "writable" not in log, "a read-only worker warned that it could write the store"


def test_a_worker_that_could_write_the_store_warns_at_start(site):
    os.chmod(site.store, 0o660)
    try:
        site.nginx.reload()
        wait_for(lambda: "writable" in site.nginx.error_log.read_text(errors="replace"),
                 what="the writable-store warning")
        warned = [line for line in site.nginx.error_log.read_text(errors="replace").splitlines()
                  if "writable" in line]
        assert "[warn]" in warned[0] and str(site.store) in warned[0], warned
    finally:
        os.chmod(site.store, 0o640)


# The usage file's layout (include/pat/usage.hpp).
USAGE_HEADER = b"NPATUSE1" + (1).to_bytes(4, "little")
USAGE_SIZE = 64 + 24 * (1 << 19)

HOSTILE_WRITER = f"""
import os
fd = os.open({{path!r}}, os.O_RDWR)
noise = bytearray(os.urandom({USAGE_SIZE}))
noise[:12] = {USAGE_HEADER!r}
noise[12:16] = b"\\xff" * 4  # a slot count no reader may trust
os.pwrite(fd, bytes(noise), 0)
os.ftruncate(fd, 1 << 40)  # 1 TiB, sparse
"""


def test_a_hostile_usage_file_costs_only_the_times(site):
    """www-data may write the usage file: noise in every slot, a lying
    header and a huge sparse length leave patctl (the owner) listing and
    revoking as before; the trusted side reads only fixed slots."""
    created = site.patctl("token", "create", "alice", "--name", "hostile", "--json",
                          "--password-stdin", stdin=PASSWORD + "\n", check=True)
    token_id = json.loads(created.stdout)["id"]
    usage = Path(f"{site.store}-usage")
    try:
        wrote = as_user(WORKERS, "python3", "-c", HOSTILE_WRITER.format(path=str(usage)))
        assert wrote.returncode == 0, wrote.stderr
        listed = site.patctl("token", "list", "alice", "--json", check=True)
        token = next(t for t in json.loads(listed.stdout) if t["id"] == token_id)
        assert token["last_authenticated"] is None
        revoked = site.patctl("token", "revoke", token_id)
        assert revoked.returncode == 0 and not revoked.stderr, revoked.stderr
        assert token_id not in site.patctl("token", "list", "alice", check=True).stdout
    finally:
        # A fresh usage file again, for the tests after this one.
        with open(usage, "r+b") as restore:
            restore.truncate(0)
            restore.write(USAGE_HEADER + (1 << 19).to_bytes(4, "little"))
            restore.truncate(USAGE_SIZE)
    assert mode_and_owner(usage) == (0o660, OWNER, WORKERS)
