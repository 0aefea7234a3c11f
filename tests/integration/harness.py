"""Real processes for the integration tests: nginx with the built module,
fcgiwrap running git http-backend, patd (the token API daemon), patctl, git
and curl.

Nothing here is mocked: every request goes through /usr/sbin/nginx and the
module's access handler, every token API call through nginx to the real
patd, and every store is written by the real patctl or patd.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# PAT_NGINX runs the tests against another nginx binary, e.g. one built with
# the module compiled in (`make test-static`; then PAT_MODULE=static).
NGINX = os.environ.get("PAT_NGINX", "/usr/sbin/nginx")
FCGIWRAP = "/usr/sbin/fcgiwrap"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def git_location(fcgi_socket, git_root, pattern="^/scm(/.*)$"):
    """The protected location that serves git's smart HTTP through
    git-http-backend over fcgiwrap: the one block every test nginx uses."""
    return f"""location ~ {pattern} {{
            auth_pat "Git";
            auth_pat_route git;
            client_max_body_size 0;
            fastcgi_pass unix:{fcgi_socket};
            fastcgi_param SCRIPT_FILENAME {GIT_HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {git_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $pat_user;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REMOTE_ADDR $remote_addr;
        }}"""
PASSWORD = "correct horse battery staple"

# error.log lines that fail a test module: nginx alerts and emergencies, and
# anything a sanitizer prints.
BAD_LOG_LINE = re.compile(r"\[alert\]|\[emerg\]|AddressSanitizer|LeakSanitizer|runtime error:")
# What `nginx -t` says of an auth_pat_db store the workers could not open.
STORE_CHECK_LINE = re.compile(r'\[emerg\] .*"auth_pat_db" ".*": the nginx workers.* cannot open the store')
# Under `make test-asan` nginx's sanitizer reports go to files in its logs
# directory (tests/sanitizers/nginx-asan); this names them. Any such file
# fails the test module like an alert in error.log.
SANITIZER_LOGS = os.environ.get("PAT_SANITIZER_LOGS")


def patctl_path():
    return os.environ.get("PATCTL") or str(REPO_ROOT / "build" / "patctl")


def patd_path():
    return os.environ.get("PATD") or str(REPO_ROOT / "build" / "patd")


def module_path():
    return os.environ.get("PAT_MODULE") or str(REPO_ROOT / "build" / "ngx_http_auth_pat_module.so")


def load_module_line():
    """The load_module directive, or nothing when the module is built in."""
    return "" if module_path() == "static" else f"load_module {module_path()};"


_HANDED_OUT_PORTS = set()


def free_port():
    """A loopback port nothing listens on now that this process has not
    handed out before: the kernel may give two binds in a row the same
    ephemeral port, and a configuration with two listens then gets one
    port twice (nginx: "a duplicate listen")."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT_PORTS:
            _HANDED_OUT_PORTS.add(port)
            return port


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Patctl:
    """The real patctl against one store file."""

    def __init__(self, db):
        self.db = str(db)

    def run(self, *args, stdin=None, check=True):
        result = subprocess.run([patctl_path(), "--db", self.db, *args], input=stdin,
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"patctl {' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr.strip()}")
        return result

    def init(self):
        self.run("init")

    def add_user(self, name):
        self.run("user", "add", name, "--password-stdin", stdin=PASSWORD + "\n")

    def grant(self, user, kind, target, level):
        self.run("grant", user, kind, target, level)

    def ungrant(self, user, kind, target):
        self.run("ungrant", user, kind, target)

    def create_token(self, user, label, project=None, repo=None, expiry_days=None):
        args = ["token", "create", user, "--name", label, "--json", "--password-stdin"]
        if project:
            args += ["--project", project]
        if repo:
            args += ["--repo", repo]
        if expiry_days:
            args += ["--expiry-days", str(expiry_days)]
        created = json.loads(self.run(*args, stdin=PASSWORD + "\n").stdout)
        return Token(user=user, id=created["id"], text=created["token"])

    def revoke(self, token_id):
        self.run("token", "revoke", token_id)

    def disable_user(self, name):
        self.run("user", "disable", name)


class Token:
    def __init__(self, user, id, text):
        self.user, self.id, self.text = user, id, text

    def basic(self, user=None):
        return ("-u", f"{user or self.user}:{self.text}")

    def bearer(self):
        return ("-H", f"Authorization: Bearer {self.text}")


class Fcgiwrap:
    """fcgiwrap on a unix socket, running git http-backend for nginx."""

    def __init__(self, socket_path):
        self.socket_path = Path(socket_path)
        self.process = None

    def start(self):
        if self.socket_path.exists():
            self.socket_path.unlink()
        self.process = subprocess.Popen([FCGIWRAP, "-c", "4", "-s", f"unix:{self.socket_path}"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.socket_path.exists, what="fcgiwrap socket")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


class Nginx:
    """The distribution's nginx in the foreground with its own prefix."""

    def __init__(self, prefix, conf_text, ports):
        self.prefix = Path(prefix)
        self.conf = self.prefix / "nginx.conf"
        self.error_log = self.prefix / "logs" / "error.log"
        self.access_log = self.prefix / "logs" / "access.log"
        self.ports = ports
        self.process = None
        for sub in ("logs", "tmp", "html"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(conf_text)

    def command(self, *extra):
        return [NGINX, "-p", str(self.prefix), "-c", str(self.conf), *extra]

    def test_config(self):
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, env=None, check_config=True):
        # check_config=False: a server started on purpose before its store
        # can be opened (`nginx -t` refuses that; a start does not).
        if check_config:
            checked = self.test_config()
            # A store the workers cannot open yet fails `nginx -t` (the
            # module checks it, test_module_start.py) but not a start: many
            # tests start nginx before or without a usable store on purpose.
            # Any other problem fails here.
            others = [line for line in checked.stderr.splitlines()
                      if "[emerg]" in line and not STORE_CHECK_LINE.search(line)]
            assert checked.returncode == 0 or (STORE_CHECK_LINE.search(checked.stderr)
                                               and not others), checked.stderr
        self.process = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for port in self.ports:
            wait_for(lambda: port_open(port) or self.process.poll() is not None,
                     what=f"nginx on port {port}")
        assert self.process.poll() is None, self.process.stderr.read().decode()

    def worker_pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
                             capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def reload(self):
        """`nginx -s reload`, then wait until the old workers are gone."""
        old = self.worker_pids()
        result = subprocess.run(self.command("-s", "reload"), capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: self.worker_pids() and not (self.worker_pids() & old),
                 what="new nginx workers")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def log_problems(self):
        problems = []
        if SANITIZER_LOGS:
            for report in sorted(self.error_log.parent.glob(SANITIZER_LOGS)):
                problems += [f"{report.name}: {line}"
                             for line in report.read_text(errors="replace").splitlines()]
        if not self.error_log.exists():
            return problems
        # "worker_connections are not enough" is the test nginx's own limit
        # (256), which the patd flood test exceeds on purpose; not the module's.
        return problems + [line for line in self.error_log.read_text(errors="replace").splitlines()
                           if BAD_LOG_LINE.search(line) and "worker_connections are not enough" not in line]


class Patd:
    """The real patd on a Unix socket, in the foreground, its stderr (where
    its audit lines go) in a log file. stop() sends SIGTERM and returns the
    exit status (0 after a clean stop)."""

    # Log lines that fail a test: crit and worse (syslog priority 0-2), and
    # anything a sanitizer prints.
    BAD_LOG_LINE = re.compile(r"^<[0-2]>patd:|AddressSanitizer|LeakSanitizer|runtime error:")
    # Except the 503 of a full sign-in gate: an expected answer under load,
    # which patd logs at crit (with every status >= 500) today.
    BUSY_LINE = re.compile(r"^<2>patd: crit: token API: sign-in refused with 503, too many at once")

    def __init__(self, db, socket_path, log_path, *options):
        self.db = Path(db)
        self.socket_path = Path(socket_path)
        self.log_path = Path(log_path)
        self.options = [str(o) for o in options]
        self.process = None
        self._log = None

    def command(self):
        return [patd_path(), "--db", str(self.db), "--listen", f"unix:{self.socket_path}",
                *self.options]

    def start(self):
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=self._log)
        try:
            wait_for(lambda: self.answers() or self.process.poll() is not None,
                     what="patd's socket")
            assert self.process.poll() is None, f"patd exited at start:\n{self.text()}"
        except BaseException:
            self.process.kill()  # never left running by a failed start
            self.process.wait()
            self._log.close()
            raise

    def answers(self):
        with socket.socket(socket.AF_UNIX) as s:
            return s.connect_ex(str(self.socket_path)) == 0

    def text(self):
        if self._log and not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def notice_lines(self, text):
        """Audit lines (patd logs them at notice) that contain text."""
        return [line for line in self.text().splitlines()
                if line.startswith("<5>patd: notice: ") and text in line]

    def lines(self, text):
        """Log lines, at any level, that contain text."""
        return [line for line in self.text().splitlines() if text in line]

    def stop(self, grace=15):
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
        return self.process.returncode

    def log_problems(self):
        return [line for line in self.text().splitlines()
                if self.BAD_LOG_LINE.search(line) and not self.BUSY_LINE.search(line)]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header_values(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)


def curl(url, *args, method=None, http2=False, path_as_is=True, head=False):
    """One request with the real curl; returns status, headers and body."""
    command = ["curl", "-sS", "--max-time", "30"]
    command += ["-I"] if head else ["-D", "-", "-o", "/dev/stdout"]
    if path_as_is:
        command.append("--path-as-is")
    if http2:
        command.append("--http2-prior-knowledge")
    if method:
        command += ["-X", method]
    command += [*args, url]
    result = subprocess.run(command, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    raw = result.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return Response(status, headers, body.decode("utf-8", errors="replace"))


def git(*args, cwd=None, env=None, check=True):
    full_env = git_env()
    full_env.update(env or {})
    result = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                            timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result


def git_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    })
    return env


def make_bare_repo(git_root, project, slug, work_dir):
    """A bare repository GIT_ROOT/PROJECT/SLUG.git with two commits on master."""
    bare = Path(git_root) / project / f"{slug}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "--initial-branch=master", str(bare))
    work = Path(work_dir)
    git("init", "-q", "--initial-branch=master", str(work))
    for n in (1, 2):
        (work / "README.md").write_text(f"version {n}\n")
        git("add", "README.md", cwd=work)
        git("commit", "-q", "-m", f"commit {n}", cwd=work)
    git("push", "-q", str(bare), "master", cwd=work)
    return bare


# nginx-conf-examples/, run as written (tests/integration/test_example*.py).
EXAMPLES = REPO_ROOT / "nginx-conf-examples"

# A `listen` line of an example: optional IPv4 or IPv6 address, port, parameters.
_EXAMPLE_LISTEN = re.compile(r"^([ \t]*)listen[ \t]+(\[::\]:|127\.0\.0\.1:)?(\d+)([^;\n]*);[^\n]*\n",
                             re.M)
# Paths of a real machine that must not survive the rewrite outside comments.
_MACHINE_PATHS = re.compile(r"/var/lib/nginx-pat|/run/|/srv/git|/etc/ssl/|/usr/share/nginx-pat|"
                            r"/var/log/")


def rewrite_example(text, values):
    """An example's text with the values of a real machine replaced by a
    test's, and nothing else changed:

    - each key of VALUES (a path or an address such as /srv/git or
      127.0.0.1:7991) by its value, wherever it occurs;
    - each `listen [127.0.0.1:]PORT PARAMS;` by
      `listen 127.0.0.1:FREE PARAMS;`, one free port per port of the example;
    - each `listen [::]:PORT ...;` dropped: the test machine may have no
      IPv6, and every such server also listens on IPv4.

    Returns the text and {example port: test port}. Fails if a path of a
    real machine is left on a line that is not a comment."""
    for key in sorted(values, key=len, reverse=True):
        text = text.replace(key, str(values[key]))
    ports = {}

    def listen(match):
        indent, address, port, params = match.groups()
        if address == "[::]:":
            return ""
        if port not in ports:
            ports[port] = free_port()
        return f"{indent}listen 127.0.0.1:{ports[port]}{params};\n"
    text = _EXAMPLE_LISTEN.sub(listen, text)
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        assert not _MACHINE_PATHS.search(code), f"a machine's path is left in: {line.strip()}"
    return text, {int(k): v for k, v in ports.items()}


def example_load_module():
    """nginx-conf-examples/mod-http-auth-pat.conf pointed at the built module
    (nothing when the module is built into nginx)."""
    if module_path() == "static":
        return ""
    text = (EXAMPLES / "mod-http-auth-pat.conf").read_text()
    assert "load_module modules/ngx_http_auth_pat_module.so;" in text
    return text.replace("modules/ngx_http_auth_pat_module.so", module_path())


def example_nginx(prefix, example_text, ports, extra_http="", user=None):
    """An Nginx running one example as a site of Debian's nginx.conf would:
    included in the http block, beside mime.types, fastcgi_params copied
    next to nginx.conf (where `include fastcgi_params;` finds it). USER: the
    workers' user (root's tests run them as root unless told)."""
    prefix = Path(prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "example.conf").write_text(example_text)
    (prefix / "fastcgi_params").write_text(Path("/etc/nginx/fastcgi_params").read_text())
    if user is None and os.geteuid() == 0:
        user = "root root"
    conf = f"""
{example_load_module()}
{f"user {user};" if user else ""}
worker_processes 2;
error_log {prefix}/logs/error.log info;
pid {prefix}/nginx.pid;
daemon off;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    proxy_temp_path {prefix}/tmp/proxy;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    include {prefix}/example.conf;
    {extra_http}
}}
"""
    return Nginx(prefix, conf, list(ports))


def make_self_signed_cert(directory, name):
    """DIRECTORY/NAME.crt and NAME.key: a self-signed certificate for NAME,
    made by the real openssl. The certificate is its own CA (--cacert,
    http.sslCAInfo)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", str(directory / f"{name}.key"), "-out", str(directory / f"{name}.crt")],
                   check=True, capture_output=True, timeout=60)
    return directory / f"{name}.crt"
