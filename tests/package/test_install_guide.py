"""docs/install.md's production checklist, run as written on this machine.

The shell blocks the guide marks `<!-- checklist: step N -->` are run in
the order of their steps (document order within a step) with bash -e, as
root, from the top of the source tree, exactly as they are printed: the
packages built by `make deb` installed with apt-get, the store made and
patd started from the installed unit, fcgiwrap and the repositories
without systemd, production.conf copied into the system nginx's
sites-available and enabled, then the audit prune, the upgrade, a backup
and a restore. Step 5 is the user's: a token made through the account
page's API, then a clone and a push over HTTPS with it.

What differs from a sysadmin's machine, and only that: the test machine
has no systemd, so `systemctl` is tests/package/systemctl_without_systemd.py
(it runs the installed unit's ExecStartPre and ExecStart as its User and
Group); nobody is at the keyboard, so `sudoedit` runs an editor that makes
step 4's edit (fcgiwrap's socket from step 3); the certificate the guide
assumes is made with openssl; the restore names today's backup; the system
nginx is started first if it is not running.

Needs root and changes the machine (packages, users nginx-pat and git,
/srv/git, the system nginx): CI's throwaway machine. It refuses to run
where any of that exists already, and undoes all of it at the end, even
when a step fails.
"""

import datetime
import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
from harness import PASSWORD, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs packages: needs root")

GUIDE = REPO_ROOT / "docs" / "install.md"
STEP_BLOCK = re.compile(r"^([ \t]*)<!-- checklist: step (\d) -->\n\1```sh\n(.*?)^\1```", re.M | re.S)
PACKAGES = ("libnginx-mod-http-auth-pat", "nginx-pat")
HOST = "git.example.com"
SITE = Path(f"/etc/nginx/sites-available/{HOST}.conf")
SITE_LINK = Path(f"/etc/nginx/sites-enabled/{HOST}.conf")
CERT_DIR = Path("/etc/ssl/nginx-pat")
SYSTEMCTL = Path("/usr/local/sbin/systemctl")
SYSTEMCTL_STATE = Path("/run/systemctl-without-systemd")
NGINX_PID = Path("/run/nginx.pid")
REPO = Path("/srv/git/WORK/repo.git")
# Made by the steps; each must be absent before, and is removed after.
MADE = [Path("/var/lib/nginx-pat"), Path("/srv/git"), Path("/var/backups/nginx-pat"), CERT_DIR,
        Path("/run/git-http"), Path("/run/nginx-pat"), SITE, SITE_LINK, SYSTEMCTL, SYSTEMCTL_STATE]
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "HOME": "/root", "LANG": "C.UTF-8"}


def checklist():
    """Step number -> the step's blocks, in document order, dedented."""
    steps = {}
    for match in STEP_BLOCK.finditer(GUIDE.read_text()):
        steps.setdefault(int(match.group(2)), []).append(textwrap.dedent(match.group(3)))
    return steps


def run(*command, check=True, env=None, stdin=None, timeout=300):
    # From the top of the tree: step 1 installs ./build/deb/*.deb.
    result = subprocess.run(command, capture_output=True, text=True, env=env or ENV, input=stdin,
                            timeout=timeout, cwd=REPO_ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def run_step(number, env, stdin="", replace=()):
    for block in checklist()[number]:
        for old, new in replace:
            block = block.replace(old, new)
        result = run("bash", "-e", "-o", "pipefail", "-c", block, env=env, stdin=stdin,
                     check=False)
        assert result.returncode == 0, \
            f"step {number} failed ({result.returncode}):\n{block}\n{result.stdout[-3000:]}\n" \
            f"{result.stderr[-3000:]}"


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def nginx_running():
    try:
        os.kill(int(NGINX_PID.read_text()), 0)
        return True
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False


def package_installed(name):
    result = run("dpkg-query", "-W", "-f=${db:Status-Status}", name, check=False)
    return result.returncode == 0 and result.stdout.strip() != "not-installed" \
        and result.stdout.strip() != ""


def test_every_step_but_the_users_has_its_commands_marked():
    steps = checklist()
    assert sorted(steps) == [1, 2, 3, 4, 6], sorted(steps)
    assert any("apt-get install ./build/deb/" in block for block in steps[1])
    assert any("systemctl enable --now patd" in block for block in steps[2])
    assert any("nginx -t" in block for block in steps[4])
    assert any("patctl backup" in block for block in steps[6])


@pytest.fixture
def machine(tmp_path):
    """Checks that nothing the guide makes exists yet; afterwards stops what
    the steps started and removes what they made."""
    for name in PACKAGES:
        assert not package_installed(name), f"{name} is installed already"
    for path in MADE:
        assert not path.exists() and not path.is_symlink(), f"{path} exists already"
    users_before = {name: user_exists(name) for name in ("nginx-pat", "git")}
    nginx_was_running = nginx_running()
    try:
        yield {"tmp": tmp_path, "nginx_was_running": nginx_was_running}
    finally:
        if SYSTEMCTL.exists():
            run(str(SYSTEMCTL), "stop", "patd", check=False)
        for path in (SITE_LINK, SITE):
            path.unlink(missing_ok=True)
        if nginx_running():
            run("service", "nginx", "reload" if nginx_was_running else "stop", check=False)
        # spawn-fcgi's fcgiwrap leads a session of its own, with the
        # children it forked (-c 4): the whole process group goes.
        fcgiwrap_pid = Path("/run/git-http/fcgiwrap.pid")
        if fcgiwrap_pid.exists():
            group = fcgiwrap_pid.read_text().strip()
            run("pkill", "-g", group, check=False)
            wait_for(lambda: run("pgrep", "-g", group, check=False).returncode != 0,
                     what="fcgiwrap to end")
        installed = [name for name in PACKAGES if package_installed(name)]
        if installed:
            run("apt-get", "-y", "-q", "purge", *installed,
                env=dict(ENV, DEBIAN_FRONTEND="noninteractive"), check=False)
        for name, existed in users_before.items():
            if not existed and user_exists(name):
                run("deluser", "--system", "--quiet", name, check=False)
                run("delgroup", "--system", "--quiet", name, check=False)
        for path in MADE:
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.exists():
                shutil.rmtree(path)


def https(path, *args, ca, check_status=None):
    """curl to the site by its name, through the system nginx on 443."""
    result = run("curl", "-sS", "--max-time", "30", "--resolve", f"{HOST}:443:127.0.0.1",
                 "--cacert", str(ca), "-o", "/dev/stdout", "-w", "\n%{http_code}", *args,
                 f"https://{HOST}{path}")
    body, status = result.stdout.rsplit("\n", 1)
    if check_status is not None:
        assert int(status) == check_status, (path, status, body[-2000:])
    return int(status), body


def git_over_https(*args, ca, cwd=None, check=True):
    env = dict(ENV, GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="Alice", GIT_AUTHOR_EMAIL="a@example.com",
               GIT_COMMITTER_NAME="Alice", GIT_COMMITTER_EMAIL="a@example.com")
    result = subprocess.run(["git", "-c", f"http.curloptResolve={HOST}:443:127.0.0.1",
                             "-c", f"http.sslCAInfo={ca}", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result


def make_certificate(ca_copy):
    """What the guide takes as given: a certificate for the site, where
    production.conf names it (self-signed; the test trusts it)."""
    CERT_DIR.mkdir(mode=0o755)
    key, cert = CERT_DIR / f"{HOST}.key", CERT_DIR / f"{HOST}.crt"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
        "-keyout", str(key), "-out", str(cert))
    os.chmod(key, 0o600)
    shutil.copy(cert, ca_copy)


def test_production_checklist_as_written(machine):
    tmp = machine["tmp"]
    env = dict(ENV)
    error_log = Path("/var/log/nginx/error.log")
    log_start = error_log.stat().st_size if error_log.exists() else 0

    # Step 1: the packages, from the tree's build/deb (make test-deb built them).
    run_step(1, env)
    assert all(package_installed(name) for name in PACKAGES)

    # Step 2: the store, alice and her grant, patd from the installed unit.
    shutil.copy(REPO_ROOT / "tests/package/systemctl_without_systemd.py", SYSTEMCTL)
    os.chmod(SYSTEMCTL, 0o755)
    run_step(2, env, stdin=PASSWORD + "\n")
    wait_for(Path("/run/nginx-pat/patd.sock").exists, timeout=20, what="patd's socket")
    assert run(str(SYSTEMCTL), "is-active", "patd", check=False).returncode == 0
    status = Path(f"/proc/{(SYSTEMCTL_STATE / 'patd.service.pid').read_text()}/status").read_text()
    ids = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
           if line.startswith(("Uid:", "Gid:"))}
    assert (pwd.getpwuid(ids["Uid"]).pw_name, grp.getgrgid(ids["Gid"]).gr_name) == \
        ("nginx-pat", "www-data")

    # Step 3: fcgiwrap without systemd, the repository owned by git.
    run_step(3, env)
    wait_for(Path("/run/git-http/fcgiwrap.sock").exists, what="fcgiwrap's socket")
    assert pwd.getpwuid(REPO.stat().st_uid).pw_name == "git"

    # Step 4: production.conf into the system nginx; its edit, by the
    # "editor" sudoedit runs, is the fcgiwrap socket of step 3.
    ca = tmp / "ca.crt"
    make_certificate(ca)
    if not machine["nginx_was_running"]:
        run("service", "nginx", "start")
    editor = tmp / "editor"
    editor.write_text("#!/bin/sh\n"
                      "sed -i 's#unix:/run/fcgiwrap.socket#unix:/run/git-http/fcgiwrap.sock#' \"$1\"\n")
    os.chmod(editor, 0o755)
    run_step(4, dict(env, EDITOR=str(editor)))
    assert SITE_LINK.resolve() == SITE
    assert "unix:/run/git-http/fcgiwrap.sock" in SITE.read_text()

    # Step 5: alice signs in to the account page's API, makes a token and
    # clones and pushes with it.
    page_status, page = https("/account/tokens/", ca=ca)
    assert page_status == 200 and "<html" in page.lower()
    _, body = https("/rest/access-tokens/1.0/users/alice", "-X", "PUT", "-u", f"alice:{PASSWORD}",
                    "-H", "Content-Type: application/json", "--data-binary",
                    json.dumps({"name": "laptop", "permissions": ["PROJECT_WRITE", "REPO_WRITE"]}),
                    ca=ca, check_status=200)
    token = json.loads(body)["token"]
    url = f"https://alice:{token}@{HOST}/scm/WORK/repo.git"
    work = tmp / "work"
    git_over_https("clone", "-q", url, str(work), ca=ca)
    (work / "README.md").write_text("from the checklist\n")
    git_over_https("add", "README.md", cwd=work, ca=ca)
    git_over_https("commit", "-q", "-m", "first", cwd=work, ca=ca)
    git_over_https("push", "-q", "origin", "HEAD:refs/heads/master", cwd=work, ca=ca)
    pushed = run("runuser", "-u", "git", "--", "git", "--git-dir", str(REPO), "rev-parse",
                 "refs/heads/master").stdout.strip()
    assert pushed == git_over_https("rev-parse", "HEAD", cwd=work, ca=ca).stdout.strip()
    refused = git_over_https("clone", "-q", url.replace(token, token[:-1] + "x"),
                             str(tmp / "refused"), ca=ca, check=False)
    assert refused.returncode != 0 and not (tmp / "refused").exists()

    # Step 6: audit retention, an upgrade (a binary upgrade of nginx, patd
    # restarted), a backup and its restore; the token works throughout.
    today = datetime.date.today().isoformat()
    run_step(6, env, replace=[("pat-2026-12-01.db", f"pat-{today}.db")])
    backup = Path(f"/var/backups/nginx-pat/pat-{today}.db")
    assert backup.exists() and (backup.stat().st_mode & 0o777) == 0o600
    wait_for(Path("/run/nginx-pat/patd.sock").exists, timeout=20, what="patd's socket after restart")
    git_over_https("clone", "-q", url, str(tmp / "after"), ca=ca)
    assert (tmp / "after" / "README.md").read_text() == "from the checklist\n"
    https("/rest/access-tokens/1.0/users/alice", "-u", f"alice:{PASSWORD}", ca=ca,
          check_status=200)

    with open(error_log, errors="replace") as f:
        f.seek(log_start)
        log = f.read()
    assert token not in log
    assert not re.search(r"\[(alert|emerg)\]", log), log[-3000:]
    patd_log = (SYSTEMCTL_STATE / "patd.service.log").read_text(errors="replace")
    assert token not in patd_log and PASSWORD not in patd_log
