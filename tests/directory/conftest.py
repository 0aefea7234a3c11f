"""The directory tests: `patctl directory test` against a real slapd that
these fixtures start in a temporary directory (slapd.py). PATCTL names the
patctl binary (make test-directory sets it)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import slapd as slapd_harness  # noqa: E402

PATCTL = os.environ.get("PATCTL", str(Path(__file__).resolve().parents[2] / "build" / "patctl"))


@pytest.fixture(scope="session")
def patctl_binary():
    if not os.access(PATCTL, os.X_OK):
        pytest.fail(f"patctl not built: {PATCTL} (run make, or set PATCTL)")
    for tool in (slapd_harness.SLAPD, slapd_harness.SLAPADD):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} is missing: run make deps (slapd, ldap-utils)")
    return PATCTL


@pytest.fixture(scope="session")
def shared_slapd(tmp_path_factory, patctl_binary):
    """One slapd for the tests that leave it running."""
    server = slapd_harness.Slapd(tmp_path_factory.mktemp("slapd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_slapd(tmp_path, patctl_binary):
    """A slapd of the test's own, for the tests that stop or pause it."""
    server = slapd_harness.Slapd(tmp_path / "slapd")
    server.start()
    yield server
    server.stop()


class Directory:
    """Writes directory configurations for a slapd and runs patctl on them."""

    def __init__(self, server, tmp_path):
        self.server = server
        self.tmp = tmp_path
        self.password_file = tmp_path / "directory.password"
        self.password_file.write_text(slapd_harness.SERVICE_PASSWORD + "\n")
        self.password_file.chmod(0o640)
        self.count = 0

    def config(self, urls=None, ca=None, extra="", password_file=None):
        self.count += 1
        path = self.tmp / f"directory-{self.count}.conf"
        path.write_text(slapd_harness.directory_config_text(self.server, password_file or self.password_file,
                                                            urls=urls, ca=ca, extra=extra))
        return path

    def test(self, config, user="alice", password=None, json=False, timeout=30):
        args = [PATCTL, "directory", "test", "--user", user, "--config", str(config)]
        if password is not None:
            args.append("--password-stdin")
        if json:
            args.append("--json")
        started = time.monotonic()
        result = subprocess.run(args, input=password, capture_output=True, text=True, timeout=timeout)
        result.seconds = time.monotonic() - started
        return result


@pytest.fixture
def directory(shared_slapd, tmp_path):
    return Directory(shared_slapd, tmp_path)


@pytest.fixture
def own_directory(own_slapd, tmp_path):
    return Directory(own_slapd, tmp_path)
