"""Fixtures for patctl's fleet commands (docs/fleet.md) against a real
PostgreSQL 15: one server per session (initdb as the postgres user into a
temporary directory, a free loopback port), a fresh database per test, and
a CONNFILE for it (mode 0600, with a password the server never asks for, so
that any leak of it shows).
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PATCTL = os.environ.get("PATCTL") or str((HERE / "../../build/patctl").resolve())
PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "sekrit-pw-4711"


def as_db_user(argv):
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pat-fleet-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        subprocess.run(as_db_user([f"{PG_BIN}/initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres",
                                   "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
        subprocess.run(as_db_user([f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-l", f"{self.dir}/server.log",
                                   "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                                   "-c log_statement=all", "start"]), check=True, capture_output=True)
        self.databases = 0

    def psql(self, sql, db="postgres", user="postgres", check=True):
        return subprocess.run([f"{PG_BIN}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                               "-p", str(self.port), "-U", user, "-d", db, "-c", sql],
                              capture_output=True, text=True, check=check)

    def fresh_database(self):
        self.databases += 1
        name = f"f{self.databases}"
        self.psql(f"CREATE DATABASE {name}")
        return name

    def log_text(self):
        return pathlib.Path(f"{self.dir}/server.log").read_text(errors="replace")

    def stop(self):
        subprocess.run(as_db_user([f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg():
    server = PgServer()
    yield server
    server.stop()


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return f"Result(rc={self.rc}, out={self.out!r}, err={self.err!r})"


class Fleet:
    """One fresh database, its CONNFILE, and patctl."""

    def __init__(self, pg, tmp):
        self.pg = pg
        self.tmp = tmp
        self.db = pg.fresh_database()
        self.connfile = tmp / "source.conn"
        self.connfile.write_text(f"# the fleet source\nhost=127.0.0.1 port={pg.port} dbname={self.db} "
                                 f"user=postgres password={PASSWORD}\n")
        self.connfile.chmod(0o600)

    def patctl(self, *args, stdin=None, timeout=60):
        env = {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG")}
        p = subprocess.run([PATCTL, *args], input=(stdin or "").encode(), capture_output=True, env=env,
                           timeout=timeout)
        r = Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
        assert PASSWORD not in r.out and PASSWORD not in r.err, r
        return r

    def sql(self, statement, user="postgres", check=True):
        return self.pg.psql(statement, db=self.db, user=user, check=check)

    def follow(self, replica, node):
        env = {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG")}
        return subprocess.Popen([PATCTL, "follow", "--source", str(self.connfile), "--db", str(replica),
                                 "--node", node], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.fixture
def fleet(pg, tmp_path):
    return Fleet(pg, tmp_path)
