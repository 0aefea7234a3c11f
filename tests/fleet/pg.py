"""A real PostgreSQL 15 server for the fleet tests (tests/fleet).

initdb refuses to run as root, so when the tests run as root (CI) the
cluster belongs to the unprivileged `postgres` system user that Debian's
`postgresql` package creates (`make deps` installs it): initdb, pg_ctl and
the server run as that user through runuser, in a temporary directory it
owns. Run as an ordinary user, the cluster is that user's.

The server listens on a free loopback port only (and a Unix socket in its
own directory, for pg_ctl), authenticates every role with SCRAM, logs
every statement (log_statement=all: test 9 reads the log for secrets) and
can serve TLS with a test CA's certificate (test 9's verify-full).

Nothing is mocked: the tests talk to this server with the real psql and
the real patctl / patd / `patctl follow`, whose connection strings are
CONNFILEs (one libpq connection string; passwords in a libpq passfile),
both mode 0600.
"""

import os
import pwd
import queue
import threading
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("PAT_PG_BIN", "/usr/lib/postgresql/15/bin"))
PSQL = str(PG_BIN / "psql") if (PG_BIN / "psql").exists() else "psql"
PG_USER = "postgres"
SUPERUSER = "pat_admin"


def _free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _random_password():
    return os.urandom(18).hex()


def pg_available():
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


class Credentials:
    """Role names and their passwords, and the passfile (libpq's own
    `passfile`, mode 0600) that holds them."""

    def __init__(self, path):
        self.path = Path(path)
        self.passwords = {}

    def add(self, port, role, password):
        self.passwords[role] = password
        lines = [f"127.0.0.1:{port}:*:{r}:{p}" for r, p in self.passwords.items()]
        lines += [f"localhost:{port}:*:{r}:{p}" for r, p in self.passwords.items()]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def secrets(self):
        return list(self.passwords.values())


class Postgres:
    """One PostgreSQL cluster in its own temporary directory."""

    def __init__(self, root=None, log_statement="all", extra_conf=()):
        self.root = Path(root or tempfile.mkdtemp(prefix="pat-fleet-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "postgresql.log"
        self.port = _free_port()
        self.dbname = "pat"
        self.as_root = os.geteuid() == 0
        self.owner = PG_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        # Client-side files (passfile, CONNFILEs, TLS material) live apart
        # from the cluster's directory, which belongs to its owner.
        self.client_dir = Path(tempfile.mkdtemp(prefix="pat-fleet-client-"))
        self.credentials = Credentials(self.client_dir / "pgpass")
        self.superuser_password = _random_password()
        self.log_statement = log_statement
        self.extra_conf = list(extra_conf)
        self.tls = None  # (ca.crt path) once enable_tls ran
        self._stopped_pids = []

    # --- running things as the cluster's owner -------------------------------------------
    def _as_owner(self, *command, check=True, timeout=120, stdin=None):
        full = [*command]
        if self.as_root:
            full = ["runuser", "-u", PG_USER, "--", *command]
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=stdin)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def _chown(self, path):
        if self.as_root:
            pw = pwd.getpwnam(PG_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # --- cluster ---------------------------------------------------------------------------
    def initdb(self):
        # The cluster's directory: the owner's, not readable by others (the
        # server refuses a data directory others may read).
        os.chmod(self.root, 0o755)
        self._chown(self.root)
        for d in (self.data, self.socket_dir):
            d.mkdir(mode=0o700, exist_ok=True)
            self._chown(d)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        self._as_owner(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                       "--pwfile", str(pwfile), "--auth=scram-sha-256", "-E", "UTF8",
                       "--locale=C.UTF-8", "--no-sync")
        pwfile.unlink()
        conf = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socket_dir}'",
            f"log_statement = '{self.log_statement}'",
            "log_connections = on",
            "log_disconnections = on",
            "log_min_duration_statement = -1",
            "logging_collector = off",
            "log_line_prefix = '%m [%p] %u@%d app=%a '",
            # The tests' machine is small and shared: fsync off (a killed
            # server still loses nothing the OS has), commits stay synchronous.
            "fsync = off",
            "full_page_writes = off",
            "max_connections = 200",
            "shared_buffers = 64MB",
            *self.extra_conf,
        ]
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# tests/fleet/pg.py\n" + "\n".join(conf) + "\n")
        hba = ["local all all scram-sha-256",
               "host all all 127.0.0.1/32 scram-sha-256"]
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        self._chown(self.data / "pg_hba.conf")
        self.credentials.add(self.port, SUPERUSER, self.superuser_password)
        return self

    def enable_tls(self, ca_dir, server_name="localhost"):
        """A test CA and a server certificate for SERVER_NAME signed by it
        (real openssl); the server then accepts TLS (hostssl lines first,
        plain connections still allowed for the other tests). Returns the
        CA certificate's path (what a client's sslrootcert names)."""
        ca_dir = Path(ca_dir)
        ca_dir.mkdir(parents=True, exist_ok=True)
        ca_key, ca_crt = ca_dir / "ca.key", ca_dir / "ca.crt"
        key, csr, crt = self.data / "server.key", ca_dir / "server.csr", self.data / "server.crt"
        openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", "2", "-subj", "/CN=nginx-pat test CA",
                 "-keyout", str(ca_key), "-out", str(ca_crt)])
        openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-subj", f"/CN={server_name}", "-keyout", str(key), "-out", str(csr)])
        ext = ca_dir / "server.ext"
        ext.write_text(f"subjectAltName=DNS:{server_name},IP:127.0.0.1\n")
        openssl(["x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt)])
        for f in (key, crt):
            os.chmod(f, 0o600)
            self._chown(f)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        self.tls = ca_crt
        return ca_crt

    def start(self, timeout=60):
        self._as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                       "-w", "-t", str(timeout), "start", timeout=timeout + 30)
        self.wait_accepting(timeout)
        return self

    def start_timed(self, timeout=60):
        """Starts the server and returns the moment (time.monotonic()) it
        began to accept connections: postmaster.pid's status line turns
        "ready" then (polled every 2 ms; pg_ctl -w polls every 100 ms)."""
        self._as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                       "-W", "start", timeout=60)
        deadline = time.monotonic() + timeout
        pidfile = self.data / "postmaster.pid"
        while time.monotonic() < deadline:
            try:
                lines = pidfile.read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return time.monotonic()
            time.sleep(0.002)
        raise AssertionError("PostgreSQL did not become ready")

    def stop(self, mode="fast", check=True):
        """pg_ctl stop -m fast|immediate|smart; waits until it is down."""
        self.cont()  # a frozen server cannot stop
        return self._as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                              "-t", "60", "stop", check=check, timeout=90)

    def running(self):
        return self.postmaster_pid() is not None

    def postmaster_pid(self):
        pidfile = self.data / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def server_pids(self):
        """The postmaster and every process it started (backends, the
        checkpointer, the WAL writer...)."""
        master = self.postmaster_pid()
        if master is None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True,
                             text=True).stdout
        return [master] + [int(p) for p in out.split()]

    def freeze(self):
        """SIGSTOP the postmaster and all its processes: connections stay
        open, nothing answers (a hung server, not a refused connection)."""
        pids = self.server_pids()
        assert pids, "PostgreSQL is not running"
        os.kill(pids[0], signal.SIGSTOP)  # no new backend meanwhile
        for pid in self.server_pids()[1:]:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        self._stopped_pids = self.server_pids()

    def cont(self):
        for pid in reversed(self._stopped_pids):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._stopped_pids = []

    def wait_accepting(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                "-t", "1"], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError("PostgreSQL does not accept connections")

    def destroy(self):
        if self.running():
            self.stop("immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.client_dir, ignore_errors=True)

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # --- clients ---------------------------------------------------------------------------
    def conninfo(self, user, dbname=None, **extra):
        words = {"host": "127.0.0.1", "port": str(self.port), "dbname": dbname or self.dbname,
                 "user": user, "passfile": str(self.credentials.path), "connect_timeout": "3"}
        words.update({k: str(v) for k, v in extra.items()})
        return " ".join(f"{k}={v}" for k, v in words.items())

    def write_connfile(self, name, user, dbname=None, **extra):
        """A CONNFILE (one libpq connection string), mode 0600."""
        path = self.client_dir / name
        path.write_text(self.conninfo(user, dbname, **extra) + "\n")
        os.chmod(path, 0o600)
        return path

    def client_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGPASSFILE"] = str(self.credentials.path)
        env["PGCONNECT_TIMEOUT"] = "5"
        return env

    def psql(self, sql, user=SUPERUSER, dbname=None, check=True, timeout=60, quiet_log=False,
             **extra):
        """Runs SQL (one or more statements) with the real psql; returns
        the CompletedProcess (unaligned, tuples only, '|' between columns).
        quiet_log: the statement is not logged (the harness setting a
        role's password must not put it in the log test 9 reads)."""
        command = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                   "-d", self.conninfo(user, dbname, **extra), "-c", sql]
        env = self.client_env()
        if quiet_log:
            env["PGOPTIONS"] = "-c log_statement=none"
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"psql as {user} failed: {result.stderr.strip()}\nSQL: {sql}")
        return result

    def query(self, sql, user=SUPERUSER, dbname=None, **extra):
        """Rows of a query, each a list of column texts."""
        out = self.psql(sql, user=user, dbname=dbname, **extra).stdout
        return [line.split("|") for line in out.splitlines() if line != ""]

    def scalar(self, sql, **kwargs):
        rows = self.query(sql, **kwargs)
        assert len(rows) == 1 and len(rows[0]) == 1, f"{sql}: {rows}"
        return rows[0][0]

    def create_database(self, name=None):
        name = name or self.dbname
        self.psql(f'CREATE DATABASE "{name}"', dbname="postgres")

    def create_role(self, role, password=None, attributes="LOGIN"):
        password = password or _random_password()
        self.psql(f"CREATE ROLE \"{role}\" {attributes} PASSWORD '{password}'", dbname="postgres",
                  quiet_log=True)
        self.credentials.add(self.port, role, password)
        return password

    def set_password(self, role, password=None):
        password = password or _random_password()
        self.psql(f"ALTER ROLE \"{role}\" PASSWORD '{password}'", dbname="postgres",
                  quiet_log=True)
        self.credentials.add(self.port, role, password)
        return password

    def session(self, user=SUPERUSER, dbname=None, **extra):
        return PsqlSession(self, user, dbname, **extra)


def openssl(args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class PsqlSession:
    """One interactive psql connection (one server session) driven step by
    step: several of them interleave transactions the way concurrent
    writers would (test 8). send() runs statements and returns their
    output; an error is returned as text (ON_ERROR_STOP off), never hidden."""

    _MARK = "__pat_fleet_mark_{}__"

    def __init__(self, pg, user, dbname=None, **extra):
        self.pg = pg
        command = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0",
                   "-d", pg.conninfo(user, dbname, **extra)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1,
                                        env=pg.client_env())
        self._n = 0
        self._lines = queue.Queue()
        self._pending = []
        threading.Thread(target=self._read, daemon=True).start()
        self.pid = int(self.send("SELECT pg_backend_pid();").strip())

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def send_nowait(self, sql):
        """Sends statements without waiting for them (one that blocks on a
        lock); collect the output with wait()."""
        self._n += 1
        mark = self._MARK.format(self._n)
        sql = sql.strip()
        if not sql.endswith(";"):
            sql += ";"
        self.process.stdin.write(sql + "\n" + f"\\echo {mark}\n")
        self.process.stdin.flush()
        return mark

    def wait(self, mark, timeout=30):
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"psql session: no answer within {timeout} s:\n"
                                     + "\n".join(lines))
            if self._pending:
                line = self._pending.pop(0)
            else:
                try:
                    line = self._lines.get(timeout=left)
                except queue.Empty:
                    continue
            if line is None:
                raise AssertionError("psql session ended:\n" + "\n".join(lines))
            if line == mark:
                return "\n".join(lines)
            lines.append(line)

    def done(self, mark):
        """Whether the statements sent with MARK have finished (without
        waiting); their output is kept for wait()."""
        if mark in self._pending:
            return True
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return False
            self._pending.append(line)
            if line == mark:
                return True

    def send(self, sql, timeout=30):
        return self.wait(self.send_nowait(sql), timeout=timeout)

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("\\q\n")
                self.process.stdin.flush()
                self.process.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


SECRET_HEX = re.compile(r"\b[0-9a-f]{64}\b")
