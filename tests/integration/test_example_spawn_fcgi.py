"""nginx-conf-examples/git-spawn-fcgi.conf: git without systemd. The
example's own commands (its `install -d`, `chown -R` and `spawn-fcgi`
lines) start fcgiwrap through spawn-fcgi as the system user `git`, which
owns the repositories; nginx's workers run as www-data, as Debian's nginx
does, and reach fcgiwrap's socket through its group. A clone and a push go
through nginx; the pushed objects and refs belong to `git`, and www-data
cannot write the repository.

The paths are rewritten as in test_examples.py (/srv/git, /run/git-http,
the store, the listen port). Needs root (to switch users; it creates the
system user `git` when the machine has none, which is why it runs only where
the tests may change the machine: CI, or a developer's container) and
spawn-fcgi (`make deps` installs it)."""

import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import (EXAMPLES, Patctl, curl, example_nginx, git, make_bare_repo,
                     rewrite_example, wait_for)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users"),
    pytest.mark.skipif(shutil.which("spawn-fcgi") is None,
                       reason="spawn-fcgi is not installed (make deps)"),
]

GIT_USER = "git"
WORKERS = "www-data"
EXAMPLE = (EXAMPLES / "git-spawn-fcgi.conf").read_text()
# The example's commands, from its comment: "#   COMMAND".
COMMANDS = [line[4:].split("  #")[0].strip() for line in EXAMPLE.splitlines()
            if re.match(r"#   (install -d|chown -R|spawn-fcgi) ", line)]


def ensure_git_user():
    try:
        pwd.getpwnam(GIT_USER)
    except KeyError:
        # What the example's adduser line makes.
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/srv/git", "--shell", "/usr/sbin/nologin", GIT_USER],
                       check=True)


def owner(path):
    st = Path(path).stat()
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name


def process_user(pid):
    uid = int(re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))
    return pwd.getpwuid(uid).pw_name


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


class SpawnSite:
    def __init__(self, root):
        self.root = root
        os.chmod(root, 0o755)  # www-data and git must reach what is inside
        self.git_root = root / "srv-git"
        self.run_dir = root / "run-git-http"
        self.store = root / "store" / "pat.db"
        self.values = {"/srv/git": self.git_root, "/run/git-http": self.run_dir,
                       "/var/lib/nginx-pat/pat.db": self.store}
        # The store as docs/install.md lays it out, with root as its owner:
        # the workers read the data file and write the lock file.
        self.store.parent.mkdir()
        patctl = Patctl(self.store)
        patctl.init()
        patctl.add_user("alice")
        patctl.grant("alice", "project", "WORK", "write")
        self.read = patctl.create_token("alice", "read", project="read", repo="read")
        self.write = patctl.create_token("alice", "write", project="write", repo="write")
        subprocess.run(["chgrp", "-R", WORKERS, str(self.store.parent)], check=True)
        os.chmod(self.store.parent, 0o2750)
        # A repository made before (by root here), handed to git by the
        # example's commands.
        self.bare = make_bare_repo(self.git_root, "WORK", "my-repo", root / "seed")
        self.pidfile = self.run_dir / "fcgiwrap.pid"
        text, self.ports = rewrite_example(EXAMPLE, self.values)
        self.prefix = root / "nginx"
        self.nginx = example_nginx(self.prefix, text, self.ports.values(),
                                   user=f"{WORKERS} {WORKERS}")
        subprocess.run(["chown", "-R", f"{WORKERS}:{WORKERS}", str(self.prefix / "tmp")],
                       check=True)
        self.fcgiwrap_pids = []

    def command(self, line):
        for key, value in self.values.items():
            line = line.replace(key, str(value))
        return shlex.split(line)

    def start(self):
        assert [c.split()[0] for c in COMMANDS] == ["install", "chown", "install", "spawn-fcgi"], \
            COMMANDS
        for line in COMMANDS:
            # As an init script runs it: a clean environment.
            result = subprocess.run(self.command(line), capture_output=True, text=True,
                                    timeout=30, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
            assert result.returncode == 0, (line, result.stderr)
        wait_for(lambda: self.pidfile.exists() and self.pidfile.read_text().strip(),
                 what="spawn-fcgi's pid file")
        main = int(self.pidfile.read_text().split()[0])
        wait_for(lambda: children(main), what="fcgiwrap's workers")
        self.fcgiwrap_pids = [main, *children(main)]
        self.nginx.start()

    def stop(self):
        self.nginx.stop()
        for pid in self.fcgiwrap_pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def repo_url(self, token):
        return f"http://alice:{token.text}@127.0.0.1:{self.ports[80]}/scm/WORK/my-repo.git"


@pytest.fixture(scope="module")
def site():
    try:
        pwd.getpwnam(WORKERS)
    except KeyError:
        pytest.skip(f"no {WORKERS} user on this machine")
    ensure_git_user()
    root = Path(tempfile.mkdtemp(prefix="pat-spawn-fcgi-", dir="/tmp"))
    site = SpawnSite(root)
    try:
        site.start()
        yield site
    finally:
        site.stop()
        problems = site.nginx.log_problems()
        logs = "".join(p.read_text(errors="replace") for p in (site.prefix / "logs").glob("*.log"))
        shutil.rmtree(root, ignore_errors=True)
    assert not problems, "error.log has alerts:\n" + "\n".join(problems)
    assert site.read.text not in logs and site.write.text not in logs


def test_fcgiwrap_runs_as_git_behind_a_socket_of_the_workers_group(site):
    for pid in site.fcgiwrap_pids:
        assert process_user(pid) == GIT_USER
        assert Path(f"/proc/{pid}/exe").resolve() == Path("/usr/sbin/fcgiwrap")
    socket_path = site.run_dir / "fcgiwrap.sock"
    assert owner(socket_path) == (GIT_USER, WORKERS)
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o660
    assert {process_user(pid) for pid in site.nginx.worker_pids()} == {WORKERS}


def test_clone_and_push_through_nginx_written_by_git(site, tmp_path):
    work = tmp_path / "clone"
    git("clone", "-q", site.repo_url(site.read), str(work))
    assert (work / "README.md").read_text() == "version 2\n"
    (work / "pushed.txt").write_text("pushed through nginx\n")
    git("add", "pushed.txt", cwd=work)
    git("commit", "-q", "-m", "pushed", cwd=work)
    refused = git("push", "-q", "origin", "HEAD:refs/heads/pushed", cwd=work, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    git("remote", "set-url", "origin", site.repo_url(site.write), cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/pushed", cwd=work)

    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    blob = git("rev-parse", "HEAD:pushed.txt", cwd=work).stdout.strip()
    assert git("--git-dir", str(site.bare), "rev-parse", "refs/heads/pushed").stdout.strip() == head
    # A small push is unpacked into loose objects: each written by git.
    for name in (head, blob):
        path = site.bare / "objects" / name[:2] / name[2:]
        assert path.exists(), path
        assert owner(path)[0] == GIT_USER
    assert owner(site.bare / "refs" / "heads" / "pushed")[0] == GIT_USER


def test_the_workers_user_cannot_write_the_repositories(site):
    for target in (site.bare / "objects" / "planted", site.bare / "refs" / "heads" / "planted",
                   site.git_root / "WORK" / "planted.git"):
        result = subprocess.run(["runuser", "-u", WORKERS, "--", "mkdir", str(target)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0 and "Permission denied" in result.stderr, result
    assert curl(f"http://127.0.0.1:{site.ports[80]}/scm/WORK/my-repo.git/info/refs"
                "?service=git-receive-pack").status == 401
