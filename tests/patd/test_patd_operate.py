"""patd's side of operating nginx-pat (issue 13): the store path rule it
shares with patctl (--db, PAT_DB, the configuration file, the default),
`patd --version`, its message for a store it may not open, and a store
restored with `patctl restore` while patd and nginx's workers use it."""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import REPO_ROOT, Patctl, wait_for
# d: test_patd's fixture (nginx with the API locations of patd.conf + patd),
# which reads this module's EXTRA_SERVER.
from test_patd import EXTRA_SERVER, clone_status, d, tokens_path, via_nginx  # noqa: F401

VERSION = re.search(r'kVersion = "([^"]+)"', (REPO_ROOT / "include/pat/version.hpp").read_text()).group(1)


def patd_path():
    return os.environ.get("PATD", str(REPO_ROOT / "build" / "patd"))


def patd(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if k not in ("PAT_DB", "PAT_CONFIG")}
    full_env.update(env or {})
    return subprocess.run([patd_path(), *args], capture_output=True, text=True, timeout=30, env=full_env)


def test_version_is_the_release_the_schema_and_lmdb(tmp_path):
    broken = tmp_path / "broken.conf"
    broken.write_text("nonsense\n")
    result = patd("--version", env={"PAT_CONFIG": str(broken)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"patd {VERSION}"
    assert re.fullmatch(r"store schema 2, LMDB \d+\.\d+\.\d+", lines[1]), lines
    assert len(lines) == 2 and result.stderr == ""


def check_config(tmp_path, *args, env=None):
    return patd("--check-config", "--listen", f"unix:{tmp_path / 'check.sock'}", *args, env=env)


def test_the_store_path_rule_is_patctls(tmp_path):
    from_file = tmp_path / "from-file.db"
    from_env = tmp_path / "from-env.db"
    from_option = tmp_path / "from-option.db"
    for db in (from_file, from_env, from_option):
        Patctl(db).init()
    config = tmp_path / "nginx-pat.conf"
    config.write_text(f"# the store\ndb = {from_file}\n")
    env = {"PAT_CONFIG": str(config)}
    result = check_config(tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert f"store {from_file} (from {config}:2) opens read-write" in result.stdout
    result = check_config(tmp_path, env={**env, "PAT_DB": str(from_env)})
    assert f"store {from_env} (from PAT_DB)" in result.stdout, result
    result = check_config(tmp_path, "--db", str(from_option), env={**env, "PAT_DB": str(from_env)})
    assert f"store {from_option} (from --db)" in result.stdout, result


def test_a_malformed_configuration_file_is_one_line_and_exit_1(tmp_path):
    config = tmp_path / "nginx-pat.conf"
    config.write_text("db = /x\nlisten = unix:/y\n")
    result = check_config(tmp_path, env={"PAT_CONFIG": str(config)})
    assert result.returncode == 1
    assert result.stderr == f"patd: {config}:2: unknown key 'listen' (known: db)\n"


def test_the_built_in_default(tmp_path):
    config = tmp_path / "nginx-pat.conf"
    config.write_text("")
    result = check_config(tmp_path, env={"PAT_CONFIG": str(config)})
    if os.path.exists("/var/lib/nginx-pat/pat.db"):
        pytest.skip("this machine has a store at the default path")
    assert result.returncode == 1
    assert "/var/lib/nginx-pat/pat.db does not exist" in result.stderr, result.stderr


def test_a_store_patd_may_not_read_is_named_with_the_permission(tmp_path):
    """patd as a user who may not read the data file: the message names the
    file, the permission and who may, never "does not exist"."""
    if os.geteuid() != 0:
        pytest.skip("runs patd as another user (runuser -u nobody)")
    root = Path(tempfile.mkdtemp(prefix="patd-perm-", dir="/tmp"))  # pytest's own is 0700
    try:
        os.chmod(root, 0o755)
        db = root / "pat.db"
        Patctl(db).init()
        os.chmod(db, 0o640)
        result = subprocess.run(["runuser", "-u", "nobody", "--", patd_path(), "--check-config", "--db", str(db),
                                 "--listen", f"unix:{root / 'x.sock'}"], capture_output=True, text=True,
                                timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert result.returncode == 1
    assert (f"cannot open the store {db} read-write: store: cannot open {db} for reading (permission denied): "
            "it is root:root, mode 0640; run as a member of group root or root") in result.stderr, result.stderr
    assert "does not exist" not in result.stderr


def test_patctl_backup_and_restore_under_nginx_and_patd(d, tmp_path):
    """patctl backup while patd writes, patctl restore while the workers and
    patd hold the store: restore returns once they use the restored file, so
    right after it a token made after the backup is refused by git and gone
    from the API, and the next change (through patd or patctl) builds on the
    restored state."""
    def create(name):
        r = via_nginx(d, "PUT", tokens_path("alice"), user="alice",
                      body={"name": name, "permissions": ["REPO_READ"]})
        assert r.status == 200, r.body
        return r.json()

    kept = create("kept by the restore")
    backup = tmp_path / "backup.db"
    d.patctl.run("backup", str(backup))
    assert os.stat(backup).st_mode & 0o777 == 0o600 and not os.path.exists(f"{backup}-lock")
    lost = create("lost by the restore")
    assert clone_status(d, "alice", lost["token"]) == 200
    restored = json.loads(d.patctl.run("restore", str(backup), "--json").stdout)
    assert restored["in_use"] is True, restored
    assert not os.path.exists(f"{backup}-lock")
    # The workers may need one more second to let go of the old file; they
    # fail closed meanwhile (401 is what a restored store says of `lost`).
    wait_for(lambda: clone_status(d, "alice", lost["token"]) == 401, timeout=20,
             what="the workers using the restored store")
    assert clone_status(d, "alice", kept["token"]) == 200
    listed = via_nginx(d, "GET", tokens_path("alice") + "?limit=1000", user="alice")
    assert listed.status == 200
    ids = {t["id"] for t in listed.json()["values"]}
    assert kept["id"] in ids and lost["id"] not in ids
    after = create("after the restore")
    d.patctl.run("token", "revoke", kept["id"])
    listed = json.loads(d.patctl.run("token", "list", "alice", "--json").stdout)
    assert after["id"] in {t["id"] for t in listed} and kept["id"] not in {t["id"] for t in listed}
    assert clone_status(d, "alice", kept["token"]) == 401
    assert clone_status(d, "alice", after["token"]) == 200
