"""`patctl directory sync` against the real slapd of slapd.py: users and
groups written into the store in one transaction, then changes made in
slapd (ldapmodify, ldapdelete as its rootdn) followed by the next sync."""

import json
import subprocess

import pytest

import slapd as slapd_harness
from test_sign_in import LOCAL_PASSWORD, check_token, patctl, users

ROOT = ["-x", "-D", f"cn=admin,{slapd_harness.SUFFIX}", "-w", "admin-secret"]


def sync(db, conf, *extra):
    result = patctl(db, "directory", "sync", "--config", str(conf), "--json", *extra)
    return json.loads(result.stdout)


def ldap(tool, server, *args, stdin=None):
    subprocess.run([f"/usr/bin/{tool}", "-H", server.ldap_url, *ROOT, *args], input=stdin, text=True,
                   capture_output=True, check=True, timeout=30)


@pytest.fixture
def store(tmp_path, patctl_binary):
    db = tmp_path / "pat.db"
    patctl(db, "init")
    patctl(db, "user", "add", "svc", "--password-stdin", stdin=LOCAL_PASSWORD + "\n")
    return db


def test_sync_creates_users_and_groups_and_a_second_sync_changes_nothing(directory, store):
    conf = directory.config()
    dry = sync(store, conf, "--dry-run")
    assert dry["dry_run"] is True and "add user alice" in dry["changes"]
    assert "alice" not in users(store)
    done = sync(store, conf)
    changes = done["changes"]
    for expected in ("add user alice", "add user bob", "add user carol", "add group developers", "add group ops",
                     "add alice to group developers", "add bob to group developers", "add carol to group ops"):
        assert expected in changes, changes
    assert not any("ghost" in change for change in changes)
    listed = users(store)
    assert listed["alice"]["source"] == "directory" and listed["alice"]["display_name"] == "Alice Liddell"
    assert listed["svc"]["source"] == "local" and listed["svc"]["active"]
    assert sync(store, conf)["changes"] == []


def test_removal_from_a_group_and_from_the_directory_follow_at_the_next_sync(own_directory, store):
    server = own_directory.server
    conf = own_directory.config()
    sync(store, conf)
    token = patctl(store, "token", "create", "bob", "--name", "ci", "--password-stdin", "--directory", str(conf),
                   stdin=slapd_harness.USERS["bob"][1] + "\n").stdout.strip()
    # bob's only grant comes through the directory group.
    patctl(store, "grant", "--group", "developers", "project", "WORK", "write")
    allowed = check_token(store, token, need="repo-write")
    assert allowed.returncode == 0, allowed.stdout
    assert 'via group "developers" on project WORK' in allowed.stdout

    ldap("ldapmodify", server, stdin=(f"dn: cn=developers,ou=groups,{slapd_harness.SUFFIX}\nchangetype: modify\n"
                                      f"delete: member\nmember: {slapd_harness.user_dn('bob')}\n"))
    # Until the sync, the store still says what the directory said.
    assert check_token(store, token, need="repo-write").returncode == 0
    assert sync(store, conf)["changes"] == ["remove bob from group developers"]
    # The grant went with the membership, at the next request.
    lost = check_token(store, token, need="repo-read")
    assert lost.returncode == 1 and "user level too low" in lost.stdout, lost.stdout
    patctl(store, "grant", "bob", "project", "WORK", "read")
    assert check_token(store, token).returncode == 0

    ldap("ldapdelete", server, slapd_harness.user_dn("bob"))
    changes = sync(store, conf)["changes"]
    assert "disable user bob (gone from the directory)" in changes, changes
    assert users(store)["bob"]["active"] is False
    denied = check_token(store, token)
    assert denied.returncode == 1, denied.stdout
    # Never deleted, and local users are never touched.
    assert "bob" in users(store) and users(store)["svc"]["active"]
