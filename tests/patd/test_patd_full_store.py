"""A full store through the token API (issue 10, item 3): the real patd and
the real nginx on a store made small (`patctl init --max-size 1`) and filled
until ordinary changes are refused. Revoking through patd's API still
answers 204 and nginx refuses the token at once; creating answers the 500
docs/rest-api.md states, with Bitbucket's error body; patd keeps serving.
The core and patctl sides are in tests/unit/store_space_test.cpp and
tests/cli/test_init.py."""

import importlib.util
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api_client import API_SERVER, api, tokens_path
from harness import PASSWORD, curl, wait_for

# The integration tests' Deployment (nginx + the module + git + patd on
# @PATD_SOCKET@) from their conftest.py, loaded as tests/patd/conftest.py
# loads it. This module builds its own rather than use the `deployment`
# fixture: its store has to be small from the start.
_spec = importlib.util.spec_from_file_location(
    "integration_conftest_for_full_store", Path(__file__).resolve().parents[1] / "integration" / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)

FULL = "store: full"
# The only crit lines patd may log here: each refused creation, as the
# store failure it is (rest-api.md: "500 ... a change that does not fit in a
# full store"; patd logs every 500 at crit).
EXPECTED_CRIT = re.compile(r"^<2>patd: crit: token API: .*store failure while creating a token: store: full: ")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A deployment whose store is 1 MiB (so 128 pages of reserve, the
    minimum): alice (write on WORK) and bob, before anything opens it."""
    root = tmp_path_factory.mktemp("full_store")
    deployment = _integration.Deployment(root, extra_server=API_SERVER)
    # Deployment made a store of the default size; nothing has opened it
    # yet (nginx and patd are not started). Make it again, small.
    for path in deployment.store_path.parent.iterdir():
        path.unlink()
    deployment.patctl.run("init", "--max-size", "1")
    deployment.patctl.add_user("alice")
    deployment.patctl.grant("alice", "project", "WORK", "write")
    deployment.patctl.add_user("bob")
    deployment.secret_texts = []  # the token texts this module sees
    try:
        deployment.start()
    except BaseException:
        deployment.stop()
        raise
    try:
        yield deployment
    finally:
        patd_status = deployment.stop()
    patd = deployment.own_patd
    log = patd.text()
    # Stopped cleanly; nothing worse than the expected refusals.
    assert patd_status == 0, f"patd exited with {patd_status} on SIGTERM:\n{log[-3000:]}"
    assert not patd.socket_path.exists(), "patd left its socket file behind"
    problems = [line for line in patd.log_problems() if not EXPECTED_CRIT.search(line)]
    assert not problems, "patd's log has crit lines:\n" + "\n".join(problems)
    assert deployment.nginx.process.returncode == 0, \
        f"nginx's master exited with {deployment.nginx.process.returncode}"
    problems = deployment.nginx.log_problems()
    assert not problems, "error.log has alerts:\n" + "\n".join(problems)
    logs = log + deployment.nginx.error_log.read_text(errors="replace")
    assert PASSWORD not in log, "a password reached patd's log"
    for secret in deployment.secret_texts:
        assert secret not in logs, "a token reached a log"


def create(d, name):
    return api(d, "PUT", tokens_path("alice"), user="alice",
               body={"name": name, "permissions": ["PROJECT_READ", "REPO_READ"]})


def git_status(d, token_text):
    return curl(d.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                "-u", f"alice:{token_text}").status


def rest_status(d, token_text):
    return curl(d.url("/rest/api/1.0/projects/WORK/repos/my-repo"),
                "-H", f"Authorization: Bearer {token_text}").status


def snapshots(db):
    """The read snapshots held on the store (mdb_stat's reader table: pid,
    thread, txnid; "-" for a slot that holds none)."""
    # (mdb_stat -r exits 1 whenever the table is not empty: not checked.)
    table = subprocess.run(["mdb_stat", "-r", "-n", str(db)], capture_output=True, text=True).stdout
    assert table.startswith("Reader Table Status"), table
    rows = [line.split() for line in table.splitlines()]
    return [row for row in rows if len(row) == 3 and row[0].isdigit() and row[2] != "-"]


def fill(patctl):
    """Ordinary changes until the store refuses them. First repository
    grants with long names (a record and an audit entry each), four patctl
    processes at a time, to fill it quickly. Then enabling bob (who is
    enabled: his record rewritten, and an audit entry smaller than a
    revocation's) one process at a time, so that it is full for a change no
    larger than a revocation too, and no other process's snapshot has kept
    freed pages from being counted (they would be room again afterwards).
    Returns how many of each went in."""
    key = "K" * 128

    def refused_as_full(result):
        assert result.returncode == 1 and FULL in result.stderr, result.stderr
        return True

    grants = 0
    with ThreadPoolExecutor(4) as pool:
        while True:
            results = list(pool.map(lambda i: patctl.run("grant", "bob", "repo", f"{key}/{'s' * 100}{i}", "read",
                                                         check=False), range(grants, grants + 32)))
            refused = [r for r in results if r.returncode != 0]
            grants += len(results) - len(refused)
            if refused and refused_as_full(refused[0]):
                break
            assert grants < 100_000, "the store never filled"
    enables = 0
    while (result := patctl.run("user", "enable", "bob", check=False)).returncode == 0:
        enables += 1
        assert enables < 100_000, "the store never filled"
    refused_as_full(result)
    return grants, enables


def test_a_full_store_still_revokes_through_the_api(full):
    """DELETE on a full store answers 204 and the token is refused at once;
    creating answers 500; patd keeps serving and, once the audit trail is
    pruned, creates again.

    Why it fails without the reserve: the fill goes on, one change at a
    time, until enabling bob (his record rewritten, one audit entry smaller
    than a revocation's) is refused too. With the reserve that happens at
    once (only the reserve is left); without it, only when LMDB itself has
    no page for such a change. A revocation is the same shape (the token's
    record rewritten, copy-on-write, and a larger audit entry), so it needs
    at least as many pages: MDB_MAP_FULL, 500, and the token still clones.
    Revoking without the reserve (Space::ordinary in Store::revoke_token)
    is refused as full before it begins. Both were tried on a scratch copy
    of the tree (reserve_pages() returning 0; revoke_token with
    Space::ordinary): each time the DELETE answered 500 and the 204
    assertion below failed. With long grants alone the first still revoked
    (a grant needs more pages than a revocation): hence the enables."""
    d = full
    made = {}
    for name in ("to revoke", "to keep"):
        response = create(d, name)
        assert response.status == 200, response.body
        made[name] = response.json()
        d.secret_texts.append(made[name]["token"])
    revoked, kept = made["to revoke"], made["to keep"]
    for token in (revoked, kept):
        assert git_status(d, token["token"]) == 200
        assert rest_status(d, token["token"]) == 200

    # Pages freed while a snapshot is held cannot be reused, so a fill
    # beside a held snapshot would stop early and the store would have room
    # again once it is let go. nginx's workers let theirs go after a second
    # idle; patd holds none between requests.
    wait_for(lambda: not snapshots(d.store_path), what="the workers' snapshots let go")
    grants, enables = fill(d.patctl)
    print(f"\nfilled with {grants} grants, then {enables} enables")
    assert grants > 100

    # A creation does not fit: the documented 500 with Bitbucket's error
    # body, no token in it, and nothing written.
    before = d.patctl.run("token", "list", "alice", "--json").stdout
    refused = create(d, "does not fit")
    assert refused.status == 500, refused.body
    assert refused.json() == {"errors": [{
        "context": None, "message": "An internal error occurred. The server log has the details.",
        "exceptionName": None}]}
    assert "npat_" not in refused.body
    assert d.patctl.run("token", "list", "alice", "--json").stdout == before
    assert d.own_patd.lines("store failure while creating a token: " + FULL)
    # Token authentication is unchanged by a full store.
    assert git_status(d, revoked["token"]) == 200

    # The revocation goes through, as Bitbucket answers it (204, no body)...
    deleted = api(d, "DELETE", tokens_path("alice") + "/" + revoked["id"], user="alice")
    assert deleted.status == 204, deleted.body
    assert deleted.body == ""
    assert d.own_patd.notice_lines(f"token {revoked['id']} of alice revoked by alice")
    # ... and took effect: nginx refuses the token at the next request, for
    # git and for REST, while the other token still works.
    assert git_status(d, revoked["token"]) == 401
    assert rest_status(d, revoked["token"]) == 401
    assert git_status(d, kept["token"]) == 200
    assert rest_status(d, kept["token"]) == 200
    # It was recorded in the full store's audit trail.
    audit = json.loads(d.patctl.run("audit", "alice", "--limit", "1", "--json").stdout)
    assert [(e["action"], e["token_id"]) for e in audit] == [("token-revoked", revoked["id"])]
    # The API agrees: gone from the list, 404 on its own.
    listed = api(d, "GET", tokens_path("alice"), user="alice")
    assert listed.status == 200
    assert [t["id"] for t in listed.json()["values"]] == [kept["id"]]
    assert api(d, "GET", tokens_path("alice") + "/" + revoked["id"], user="alice").status == 404

    # patd is still up and still refuses what does not fit.
    assert d.own_patd.process.poll() is None
    assert create(d, "still does not fit").status == 500
    assert d.own_patd.process.poll() is None

    # Pruning the audit trail (patctl, beside the running patd) makes room,
    # and the same patd creates again: once the workers have let go of the
    # snapshots the requests above took (the pages the prune freed are room
    # only when no snapshot older than the prune is held).
    assert d.patctl.run("audit", "prune", "--older-than", "0").stdout.startswith("pruned ")
    wait_for(lambda: not snapshots(d.store_path), what="the workers' snapshots let go")
    again = create(d, "after the prune")
    assert again.status == 200, again.body
    d.secret_texts.append(again.json()["token"])
    assert git_status(d, again.json()["token"]) == 200
