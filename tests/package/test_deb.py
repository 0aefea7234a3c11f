"""The Debian packages (debian/, `make deb`) on this very machine, and
`make install` / `make uninstall` (docs/install.md, "From Debian packages"
and "From source").

The packages that `make test-deb` has just built in DEB_DIR are installed
with `apt-get install ./...deb`; then: the module is enabled the way
Debian's own modules are and `nginx -t` passes with it; the postinst made
the nginx-pat user and /var/lib/nginx-pat with the documented owners; the
packaged patctl creates the store there and a token with which git clones
through the system's /usr/sbin/nginx, loading the module through the
packaged snippet, with workers as www-data; `apt-get remove` keeps the store
and `apt-get purge` deletes it. lintian finds nothing unexplained; the
binaries are stripped and their symbols are in the -dbgsym packages.
`make install DESTDIR=...` installs exactly the packages' files, and
`make uninstall` removes them all.

Needs root and changes the machine (packages, a system user): CI's
throwaway Debian 12 machine. It refuses to run where the packages or
/var/lib/nginx-pat exist already, and leaves the machine as it found it:
the packages are purged at the end even when a test fails, and the user
nginx-pat is removed again if it was made here.
"""

import gzip
import io
import os
import pwd
import grp
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
from harness import (FCGIWRAP, GIT_HTTP_BACKEND, NGINX, PASSWORD, Nginx, free_port,  # noqa: E402
                     git, make_bare_repo, wait_for)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs packages: needs root")

DEB_DIR = Path(os.environ.get("DEB_DIR", REPO_ROOT / "build" / "deb"))
MODULE_PKG = "libnginx-mod-http-auth-pat"
TOOLS_PKG = "nginx-pat"
PACKAGES = (MODULE_PKG, TOOLS_PKG)
STATE_DIR = Path("/var/lib/nginx-pat")
STORE = STATE_DIR / "pat.db"
CONFIG_FILE = Path("/etc/nginx-pat/nginx-pat.conf")
MODULE_SO = Path("/usr/lib/nginx/modules/ngx_http_auth_pat_module.so")
SNIPPET = Path("/usr/share/nginx/modules-available/mod-http-auth-pat.conf")
ENABLED = Path("/etc/nginx/modules-enabled/50-mod-http-auth-pat.conf")
PATCTL = "/usr/sbin/patctl"
PATD = "/usr/sbin/patd"
# Files debhelper adds to every package, which make install has no reason to.
DEBHELPER_ONLY = re.compile(r"^/usr/share/doc/[^/]+/(changelog\.gz|copyright)$"
                            r"|^/usr/share/lintian/overrides/")


def run(*command, check=True, env=None, timeout=600, stdin=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                            input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def apt_get(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run("apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", *args, env=env)


def package_status(name):
    """dpkg's state of a package: 'installed', 'config-files', or None."""
    result = run("dpkg-query", "-W", "-f=${db:Status-Status}", name, check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


def deb_file(name):
    arch = run("dpkg", "--print-architecture").stdout.strip()
    version = re.search(r'kVersion = "([^"]+)"',
                        (REPO_ROOT / "include/pat/version.hpp").read_text()).group(1)
    path = DEB_DIR / f"{name}_{version}_{arch}.deb"
    assert path.exists(), f"{path} is missing: run `make deb` (make test-deb does)"
    return path


def deb_paths(deb):
    """The paths a .deb installs (files and symlinks; directories left out),
    with their modes and link targets."""
    raw = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                         check=True).stdout
    paths = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for member in tar.getmembers():
            if member.isdir():
                continue
            name = "/" + member.name.lstrip("./")
            paths[name] = (stat.S_IMODE(member.mode), member.linkname if member.issym() else None)
    return paths


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def installed():
    """Both packages installed with apt-get from DEB_DIR; purged at the end
    whatever happened, and the user removed if this made it."""
    for name in PACKAGES:
        assert package_status(name) is None, \
            f"{name} is on this machine already ({package_status(name)}): this test installs and purges it"
    assert not STATE_DIR.exists(), f"{STATE_DIR} exists: purging the package would delete it"
    debs = [deb_file(name) for name in PACKAGES]
    user_was_there = user_exists("nginx-pat")
    enabled_before = sorted(os.listdir(ENABLED.parent))
    try:
        # apt-get takes a path with a slash as a package file.
        apt_get("install", "--no-install-recommends", *[str(d.resolve()) for d in debs])
        yield {"user_was_there": user_was_there}
    finally:
        # Whatever a test did: the packages go, with their configuration.
        present = [name for name in PACKAGES if package_status(name) is not None]
        if present:
            apt_get("purge", *present)
        if not user_was_there and user_exists("nginx-pat"):
            run("deluser", "--system", "--quiet", "nginx-pat")
            if grp_exists("nginx-pat"):
                run("delgroup", "--system", "--quiet", "nginx-pat")
        if STATE_DIR.exists():
            shutil.rmtree(STATE_DIR)
        assert sorted(os.listdir(ENABLED.parent)) == enabled_before, \
            "/etc/nginx/modules-enabled differs from before the test"


def grp_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def test_changelog_version_is_the_source_version():
    """debian/changelog and include/pat/version.hpp name the same release."""
    changelog = (REPO_ROOT / "debian/changelog").read_text().splitlines()[0]
    source = re.search(r'kVersion = "([^"]+)"',
                       (REPO_ROOT / "include/pat/version.hpp").read_text()).group(1)
    assert re.match(rf"nginx-pat \({re.escape(source)}\) ", changelog), \
        f"debian/changelog says {changelog!r}, version.hpp says {source}"


def test_lintian_finds_nothing_unexplained():
    """No error or warning beyond those overridden, with a reason, in
    debian/*.lintian-overrides."""
    changes = list(DEB_DIR.glob("nginx-pat_*.changes"))
    assert len(changes) == 1, f"expected one .changes in {DEB_DIR}: {changes}"
    result = run("lintian", "--fail-on", "error,warning", str(changes[0]), check=False)
    assert result.returncode == 0, f"lintian:\n{result.stdout}{result.stderr}"


def test_module_package_depends_on_the_exact_nginx_abi():
    """As Debian's own libnginx-mod-* packages: Depends names the nginx-abi
    virtual package of the nginx the module was built against."""
    abi = re.search(r"^nginx:abi=(\S+)$",
                    Path("/usr/share/nginx/src/debian/libnginx-mod.abisubstvars").read_text(),
                    re.M).group(1)
    depends = run("dpkg-deb", "-f", str(deb_file(MODULE_PKG)), "Depends").stdout
    assert abi in [d.strip() for d in depends.split(",")], depends
    assert run("dpkg-query", "-W", "-f=${Provides}", "nginx").stdout.find(abi) >= 0


def test_binaries_are_stripped_with_symbols_in_dbgsym(installed):
    for name, binary in ((MODULE_PKG, MODULE_SO), (TOOLS_PKG, Path(PATCTL)),
                         (TOOLS_PKG, Path(PATD))):
        sections = run("readelf", "-S", "-W", str(binary)).stdout
        assert ".symtab" not in sections and ".debug_info" not in sections, f"{binary} is not stripped"
        build_id = re.search(r"Build ID: ([0-9a-f]+)", run("readelf", "-n", str(binary)).stdout).group(1)
        dbgsym = DEB_DIR / deb_file(name).name.replace(f"{name}_", f"{name}-dbgsym_")
        debug_file = f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
        assert debug_file in deb_paths(dbgsym), f"{dbgsym.name} lacks {binary}'s symbols"


def test_module_is_enabled_like_debians_modules_and_nginx_t_passes(installed):
    assert ENABLED.is_symlink() and os.readlink(ENABLED) == str(SNIPPET)
    assert "load_module modules/ngx_http_auth_pat_module.so;" in SNIPPET.read_text()
    result = run("/usr/sbin/nginx", "-T", "-q", check=False)
    assert result.returncode == 0, result.stderr
    assert "load_module modules/ngx_http_auth_pat_module.so;" in result.stdout


def test_postinst_made_the_user_and_the_store_directory(installed):
    """docs/install.md, "Files and owners": nginx-pat owns the directory,
    www-data may enter and read, setgid."""
    owner = pwd.getpwnam("nginx-pat")
    if not installed["user_was_there"]:
        assert owner.pw_uid < 1000, "nginx-pat is not a system user"
        assert owner.pw_shell in ("/usr/sbin/nologin", "/bin/false"), owner.pw_shell
        assert grp.getgrgid(owner.pw_gid).gr_name == "nginx-pat"
    info = STATE_DIR.stat()
    assert (pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name) == \
        ("nginx-pat", "www-data")
    assert stat.S_IMODE(info.st_mode) == 0o2750
    assert list(STATE_DIR.iterdir()) == [], "the postinst must not make the store"


def test_tools_package_contents(installed):
    web = Path("/usr/share/nginx-pat/web")
    assert (web / "index.html").exists() and (web / "app.js").exists()
    assert not (web / "screenshot.png").exists()
    unit = Path("/lib/systemd/system/patd.service").read_text()
    assert "ExecStart=/usr/sbin/patd " in unit and "/usr/local/" not in unit
    # Not enabled until there is a store (debian/rules).
    assert not Path("/etc/systemd/system/multi-user.target.wants/patd.service").exists()
    for page, name in (("patctl.8.gz", "patctl"), ("patd.8.gz", "patd")):
        roff = gzip.decompress(Path("/usr/share/man/man8", page).read_bytes()).decode()
        assert re.search(rf'^\.TH "?{name}"? "?8"?', roff, re.M | re.I), roff[:300]
        assert ".SH NAME" in roff and ".SH SEE ALSO" in roff
        # What man-db's index (whatis, apropos) reads from the NAME section.
        whatis = run("lexgrog", f"/usr/share/man/man8/{page}").stdout
        assert f'"{name} - ' in whatis, whatis
        rendered = run("man", "--warnings=w", "-l", f"/usr/share/man/man8/{page}",
                       env=dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8"))
        assert "SYNOPSIS" in rendered.stdout or "USAGE" in rendered.stdout
        assert rendered.stderr == "", f"man warns about {page}: {rendered.stderr}"
    assert Path("/usr/share/doc/nginx-pat/examples/git-http-backend.conf").exists()
    # The expiry warnings' example service names patctl where the package puts it.
    notify = Path("/usr/share/doc/nginx-pat/examples/nginx-pat-notify.service").read_text()
    assert "ExecStart=/usr/sbin/patctl " in notify and "/usr/local/" not in notify
    assert Path("/usr/share/doc/nginx-pat/examples/sendmail-expiry.sh").exists()
    assert Path("/usr/share/doc/nginx-pat/patd.md").exists()  # the unit's Documentation=
    # The configuration file: a conffile, all comments, so the default store applies.
    assert str(CONFIG_FILE) in Path("/var/lib/dpkg/info/nginx-pat.conffiles").read_text().split()
    assert all(not line.strip() or line.startswith("#") for line in CONFIG_FILE.read_text().splitlines())


def complete(words):
    """What bash completion offers for the last word of `words`."""
    script = ("source /usr/share/bash-completion/bash_completion; "
              "source /usr/share/bash-completion/completions/patctl; "
              f"COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); "
              'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; '
              '_patctl patctl; printf "%s\\n" "${COMPREPLY[@]}"')
    return sorted(run("bash", "-c", script).stdout.split())


def test_bash_completion_of_patctl(installed):
    assert complete("patctl ''") == sorted(
        "init user grant ungrant grants group public token check audit backup restore route directory "
        "apply export fleet follow policy".split())
    assert complete("patctl fleet ''") == sorted("init import status verify prune".split())
    assert complete("patctl policy ''") == ["set", "show"]
    assert complete("patctl policy set --creation ''") == ["disabled", "enabled"]
    assert complete("patctl --so") == ["--source"]
    assert complete("patctl group ''") == sorted("add delete list members add-member remove-member".split())
    assert complete("patctl token c") == ["create"]
    assert complete("patctl user ''") == sorted("add passwd disable enable delete list".split())
    assert complete("patctl token create alice --pro") == ["--project"]
    assert complete("patctl token create alice --project ''") == ["admin", "read", "write"]
    assert complete("patctl check --need repo-w") == ["repo-write"]
    assert complete("patctl audit p") == ["prune"]
    assert complete("patctl audit prune --o") == ["--older-than"]


class SystemPrefixNginx(Nginx):
    """nginx with the system's prefix, /usr/share/nginx, against which the
    packaged snippet's relative `modules/...` resolves (Debian links
    /usr/share/nginx/modules to /usr/lib/nginx/modules); every path of the
    test's configuration is absolute."""

    def command(self, *extra):
        return [NGINX, "-p", "/usr/share/nginx/", "-c", str(self.conf), *extra]


class SystemNginxSite:
    """/usr/sbin/nginx with a configuration of its own that loads the module
    through the packaged snippet (the modules-enabled link), workers as
    www-data reading the packaged store, git http-backend behind fcgiwrap
    running as www-data."""

    def __init__(self, root):
        self.root = root
        os.chmod(root, 0o755)  # the workers and fcgiwrap (www-data) reach what is inside
        self.git_root = root / "git"
        make_bare_repo(self.git_root, "WORK", "my-repo", root / "seed")
        run("chown", "-R", "www-data:www-data", str(self.git_root))
        fcgi_dir = root / "fcgiwrap"
        run("install", "-d", "-o", "www-data", "-g", "www-data", "-m", "0755", str(fcgi_dir))
        self.fcgi_socket = fcgi_dir / "fcgiwrap.sock"
        self.port = free_port()
        prefix = root / "nginx"
        conf = f"""
include {ENABLED};
user www-data www-data;
worker_processes 1;
error_log {prefix}/logs/error.log notice;
pid {prefix}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    proxy_temp_path {prefix}/tmp/proxy;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    server {{
        listen 127.0.0.1:{self.port};
        auth_pat_db {STORE};
        location ~ (?s)^/scm(/.*)$ {{
            auth_pat "Git";
            auth_pat_route git;
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:{self.fcgi_socket};
            fastcgi_param SCRIPT_FILENAME {GIT_HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {self.git_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $pat_user;
        }}
    }}
}}
"""
        self.nginx = SystemPrefixNginx(prefix, conf, [self.port])
        self.fcgiwrap = None

    def start(self):
        self.fcgiwrap = subprocess.Popen(
            ["runuser", "-u", "www-data", "--", FCGIWRAP, "-c", "2", "-s",
             f"unix:{self.fcgi_socket}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.fcgi_socket.exists, what="fcgiwrap's socket")
        self.nginx.start()

    def stop(self):
        try:
            if self.nginx.process:
                self.nginx.stop()
        finally:
            if self.fcgiwrap and self.fcgiwrap.poll() is None:
                os.killpg(self.fcgiwrap.pid, 15)
                self.fcgiwrap.wait(timeout=10)


# No --db, PAT_DB nor configuration file: the packaged programs find the
# store at the default path, as docs/install.md's checklist uses them.
DEFAULT_PATH_ENV = {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG")}


def patctl_as_owner(*args, stdin=None, check=True):
    return run("runuser", "-u", "nginx-pat", "--", PATCTL, *args, stdin=stdin, check=check,
               env=DEFAULT_PATH_ENV)


def test_store_token_clone_remove_purge(installed):
    """The whole life: a store made by the packaged patctl, a clone through
    the system nginx with a token, then remove (store kept) and purge
    (store gone)."""
    patctl_as_owner("init")
    modes = {p.name: (pwd.getpwuid(p.stat().st_uid).pw_name, grp.getgrgid(p.stat().st_gid).gr_name,
                      stat.S_IMODE(p.stat().st_mode)) for p in STATE_DIR.iterdir()}
    assert modes["pat.db"] == ("nginx-pat", "www-data", 0o640), modes
    patctl_as_owner("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    patctl_as_owner("grant", "alice", "project", "WORK", "read")
    token = patctl_as_owner("token", "create", "alice", "--name", "packaged", "--password-stdin",
                            stdin=PASSWORD + "\n").stdout.strip()
    assert token.startswith("npat_")

    # The packaged patd accepts the store (as the unit's ExecStartPre does).
    with tempfile.TemporaryDirectory() as run_dir:
        os.chmod(run_dir, 0o777)
        check = run("runuser", "-u", "nginx-pat", "-g", "www-data", "--", PATD, "--check-config",
                    "--listen", f"unix:{run_dir}/patd-check.sock", check=False, env=DEFAULT_PATH_ENV)
        assert check.returncode == 0, check.stderr
        assert str(STORE) in check.stdout + check.stderr

    root = Path(tempfile.mkdtemp(prefix="pat-deb-"))
    site = SystemNginxSite(root)
    try:
        site.start()
        url = f"http://127.0.0.1:{site.port}/scm/WORK/my-repo.git"
        cloned = git("clone", "-q", url.replace("http://", f"http://alice:{token}@"),
                     str(root / "clone"))
        assert (root / "clone" / "README.md").read_text() == "version 2\n", cloned.stderr
        refused = git("clone", "-q", url.replace("http://", "http://alice:npat_wrong@"),
                      str(root / "refused"), check=False)
        assert refused.returncode != 0 and not (root / "refused" / "README.md").exists()
    finally:
        site.stop()
        log = (root / "nginx" / "logs" / "error.log").read_text(errors="replace")
        shutil.rmtree(root)
    assert "[alert]" not in log and "[emerg]" not in log, log[-3000:]
    assert token not in log

    # remove: programs and module gone, the store and the user stay, the
    # module disabled the way dh_nginx does (a .removed link).
    apt_get("remove", *PACKAGES)
    assert not Path(PATCTL).exists() and not MODULE_SO.exists()
    assert STORE.exists() and (STATE_DIR / "pat.db-lock").exists()
    assert user_exists("nginx-pat")
    assert not ENABLED.exists()
    assert CONFIG_FILE.exists()  # a conffile: kept until the purge
    assert run("/usr/sbin/nginx", "-t", "-q", check=False).returncode == 0

    # purge: the store is deleted; the user stays (docs/install.md).
    apt_get("purge", *PACKAGES)
    assert not STATE_DIR.exists()
    assert not CONFIG_FILE.exists() and not CONFIG_FILE.parent.exists()
    assert not ENABLED.is_symlink() and not Path(f"{ENABLED}.removed").is_symlink()
    assert user_exists("nginx-pat")
    for name in PACKAGES:
        assert package_status(name) is None


def make_env():
    return {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}


def installed_tree(root):
    paths = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        name = "/" + str(path.relative_to(root))
        mode = stat.S_IMODE(path.lstat().st_mode)
        paths[name] = (mode if not path.is_symlink() else 0o777,
                       os.readlink(path) if path.is_symlink() else None)
    return paths


def test_make_install_installs_the_packages_files_and_uninstall_removes_them(tmp_path):
    """make install PREFIX=/usr (Debian 12's unit directory) puts exactly the
    packages' files in place, with their modes, and the same bytes for all
    but the binaries (built with other flags); the modules-enabled link is
    the one the postinst makes. make uninstall then leaves no file."""
    dest = tmp_path / "root"
    args = [f"DESTDIR={dest}", "PREFIX=/usr", "SYSTEMD_UNIT_DIR=/lib/systemd/system"]
    run("make", "-s", "-C", str(REPO_ROOT), "install", *args, env=make_env())
    ours = installed_tree(dest)

    packaged = {}
    for name in PACKAGES:
        packaged.update(deb_paths(deb_file(name)))
    packaged = {p: v for p, v in packaged.items() if not DEBHELPER_ONLY.match(p)}
    packaged[str(ENABLED)] = (0o777, str(SNIPPET))  # made by the module's postinst
    packaged = {p: (0o777 if link else mode, link) for p, (mode, link) in packaged.items()}
    assert ours == packaged

    workdir = Path(tempfile.mkdtemp())
    try:
        for name in PACKAGES:
            run("dpkg-deb", "-x", str(deb_file(name)), str(workdir))
        for path, (_, link) in ours.items():
            if link or path.startswith(("/usr/sbin/", "/usr/lib/nginx/modules/")):
                continue
            assert (dest / path.lstrip("/")).read_bytes() == \
                (workdir / path.lstrip("/")).read_bytes(), f"{path} differs from the package's"
        for binary in ("/usr/sbin/patctl", "/usr/sbin/patd",
                       "/usr/lib/nginx/modules/ngx_http_auth_pat_module.so"):
            sections = run("readelf", "-S", "-W", str(dest / binary.lstrip("/"))).stdout
            assert ".symtab" not in sections, f"make install left {binary} unstripped"
    finally:
        shutil.rmtree(workdir)

    run("make", "-s", "-C", str(REPO_ROOT), "uninstall", *args, env=make_env())
    left = [str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir() or p.is_symlink()]
    assert left == [], f"make uninstall left {left}"
    assert not (dest / "usr/share/nginx-pat").exists()
    assert not (dest / "usr/share/doc/nginx-pat").exists()
