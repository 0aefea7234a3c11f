"""A missing, unreadable or corrupt store: 500 (logged at crit), never an
accept, the worker survives, and it recovers once the store is fixed."""

import os

from harness import Patctl, curl, wait_for

EXTRA_SERVER = """
        location /missing/ {
            auth_pat "Faults";
            auth_pat_db @ROOT@/faults/missing.db;
            try_files /ok.txt =404;
        }
        location /unreadable/ {
            auth_pat "Faults";
            auth_pat_db @ROOT@/faults/directory.db;
            try_files /ok.txt =404;
        }
        location /replaced/ {
            auth_pat "Faults";
            auth_pat_db @ROOT@/faults/replaced.db;
            try_files /ok.txt =404;
        }
        location /corrupt/ {
            auth_pat "Faults";
            auth_pat_db @ROOT@/faults/corrupt.db;
            try_files /ok.txt =404;
        }
"""


def make_store(path):
    """A complete store at PATH, built beside it and moved into place in one
    rename, the way an operator restores a backup."""
    staging = path.parent / "staging" / path.name
    staging.parent.mkdir(parents=True, exist_ok=True)
    patctl = Patctl(staging)
    patctl.init()
    patctl.add_user("erin")
    token = patctl.create_token("erin", "faults")
    os.replace(staging, path)
    lock = staging.parent / (staging.name + "-lock")
    if lock.exists():
        os.unlink(lock)
    return token


def statuses(deployment, path, token_args, count=6):
    return [curl(deployment.url(path), *token_args).status for _ in range(count)]


def crit_lines(deployment):
    return [line for line in deployment.nginx.error_log.read_text().splitlines()
            if "[crit]" in line and "auth_pat" in line]


def test_missing_store_is_500_then_recovers(deployment):
    faults = deployment.root / "faults"
    faults.mkdir(exist_ok=True)
    bogus = ("-H", "Authorization: Bearer " + deployment.read_token.text)
    assert set(statuses(deployment, "/missing/x", bogus)) == {500}
    assert any("missing.db" in line for line in crit_lines(deployment))
    workers = deployment.nginx.worker_pids()

    token = make_store(faults / "missing.db")
    wait_for(lambda: set(statuses(deployment, "/missing/x", token.bearer())) == {200},
             timeout=5, interval=0.3, what="recovery from a missing store")
    # Still the same workers: none died of it.
    assert deployment.nginx.worker_pids() == workers


def test_corrupt_store_is_500_then_recovers(deployment):
    faults = deployment.root / "faults"
    faults.mkdir(exist_ok=True)
    corrupt = faults / "corrupt.db"
    corrupt.write_bytes(b"this is not an LMDB file\n" * 4096)
    token_args = ("-H", "Authorization: Bearer " + deployment.read_token.text)
    assert set(statuses(deployment, "/corrupt/x", token_args)) == {500}
    # Without credentials the store is not read: still 401.
    assert curl(deployment.url("/corrupt/x")).status == 401

    token = make_store(corrupt)
    wait_for(lambda: set(statuses(deployment, "/corrupt/x", token.bearer())) == {200},
             timeout=5, interval=0.3, what="recovery from a corrupt store")
    assert curl(deployment.url("/corrupt/x"),
                "-H", "Authorization: Bearer " + deployment.read_token.text).status == 401


def test_unreadable_store_is_500(deployment):
    # A directory where the store file should be: the open fails, every
    # request with a token gets 500, and nothing crashes.
    (deployment.root / "faults").mkdir(exist_ok=True)
    (deployment.root / "faults" / "directory.db").mkdir(exist_ok=True)
    token_args = deployment.write_token.bearer()
    assert set(statuses(deployment, "/unreadable/x", token_args)) == {500}
    assert any("directory.db" in line for line in crit_lines(deployment))


def test_replaced_store_file_is_picked_up(deployment):
    # A backup restored by rename: workers must not go on reading the old,
    # unlinked file (where a token revoked since would still be valid).
    (deployment.root / "faults").mkdir(exist_ok=True)
    old_token = make_store(deployment.root / "faults" / "replaced.db")
    assert set(statuses(deployment, "/replaced/x", old_token.bearer())) == {200}
    new_token = make_store(deployment.root / "faults" / "replaced.db")
    wait_for(lambda: set(statuses(deployment, "/replaced/x", new_token.bearer())) == {200},
             timeout=5, interval=0.3, what="the replaced store")
    assert set(statuses(deployment, "/replaced/x", old_token.bearer())) == {401}
