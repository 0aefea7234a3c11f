"""Inventory hygiene with real traffic (issue 16): `patctl token list
--unused-since` and `token revoke --unused-since` count the uses nginx's
workers flush into the usage file, so a token used through nginx is never
revoked as unused, and the one revoked is refused by nginx from then on.
Both tokens are made 40 days ago (patctl under libfaketime)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import PASSWORD, curl, patctl_path, wait_for

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

if not LIBFAKETIME.exists():
    pytest.skip("libfaketime is not installed (Debian package faketime)", allow_module_level=True)

EXTRA_HTTP = "auth_pat_last_used_flush 1s;"
URL = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"


def create_long_ago(deployment, label):
    env = dict(os.environ, LD_PRELOAD=str(LIBFAKETIME), FAKETIME="-40d", FAKETIME_DONT_FAKE_MONOTONIC="1")
    result = subprocess.run([patctl_path(), "--db", str(deployment.store_path), "token", "create", "alice",
                             "--name", label, "--project", "read", "--repo", "read", "--json",
                             "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True,
                            env=env, timeout=60, check=True)
    return json.loads(result.stdout)


def unused(deployment):
    out = deployment.patctl.run("token", "list", "--user", "alice", "--unused-since", "30", "--json").stdout
    return sorted(t["id"] for t in json.loads(out))


def test_a_token_used_through_nginx_is_not_revoked_as_unused(deployment):
    used = create_long_ago(deployment, "used")
    idle = create_long_ago(deployment, "idle")
    assert unused(deployment) == sorted([used["id"], idle["id"]])

    assert curl(deployment.url(URL), "-u", f"alice:{used['token']}").status == 200
    # Within a flush interval (plus slack) the use counts.
    wait_for(lambda: unused(deployment) == [idle["id"]], timeout=10, interval=0.2,
             what="the use in the usage file")

    dry = deployment.patctl.run("token", "revoke", "--unused-since", "30", "--dry-run").stdout
    assert dry.startswith(f"would revoke token {idle['id']} (idle, owner alice, last used never")

    revoked = json.loads(deployment.patctl.run("token", "revoke", "--unused-since", "30", "--json").stdout)
    assert [t["id"] for t in revoked["revoked"]] == [idle["id"]]
    assert curl(deployment.url(URL), "-u", f"alice:{idle['token']}").status == 401
    assert curl(deployment.url(URL), "-u", f"alice:{used['token']}").status == 200
