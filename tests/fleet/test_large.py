"""Issue 15, test 6's slow half (make test-fleet-large, not in make test): a
new node joining a fleet whose source holds 1,000,000 tokens serves within
60 s of its follower's start.

The source is made the way an operator upgrading from single-host would:
a single-host store of 1,000,000 tokens (seeded by bench-seed through the
store's bulk loader, as make bench seeds its stores) moved into PostgreSQL
with `patctl fleet import`, which keeps every token. The new node's
follower then bootstraps from a snapshot; nginx (started first, with no
replica yet) serves a token of the store as soon as the replica is there."""

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import Fleet, report, run, wait_for

pytestmark = pytest.mark.large

TOKENS = 1_000_000


def seeded_store(tmp):
    """BENCH_STORE (make bench's store-1000000.lmdb and its credentials), or
    one seeded here with BENCH_SEED."""
    store = os.environ.get("BENCH_STORE")
    credentials = os.environ.get("BENCH_CREDENTIALS")
    if store and credentials and Path(store).exists() and Path(credentials).exists():
        return Path(store), Path(credentials)
    seed = os.environ.get("BENCH_SEED")
    if not seed or not Path(seed).exists():
        pytest.fail("no seeded store: run through `make test-fleet-large` (it builds bench-seed)")
    store, credentials = tmp / "store-1m.lmdb", tmp / "credentials-1m.txt"
    run([seed, "--db", store, "--credentials", credentials, "--tokens", TOKENS], timeout=1800)
    return store, credentials


def test_6_large_new_node_of_a_million_token_source_serves_within_60s(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("large")
    store, credentials = seeded_store(tmp)
    valid = [line.split() for line in credentials.read_text().splitlines()
             if line.startswith("valid ")]
    assert len(valid) >= 100
    # Not every statement logged here: the import's millions of rows would
    # fill the disk (test 9 reads the log of the ordinary suite).
    fleet = Fleet(tmp / "fleet", log_statement="none")
    try:
        fleet.fleet_init()
        started = time.monotonic()
        fleet.patctl("fleet", "import", "--db", str(store), timeout=1800)
        imported = time.monotonic() - started
        tokens = int(fleet.pg.scalar("SELECT count(*) FROM pat_records WHERE tbl = 3"))
        assert tokens >= TOKENS, tokens
        fleet.git_root.mkdir(parents=True, exist_ok=True)
        fleet.fcgiwrap.start()
        node = fleet.add_node("new", start=False)
        node.nginx.start(check_config=False)
        _, user, token = valid[-1]
        probe = "/rest/api/1.0/projects/BENCH/repos/repo"
        began = time.monotonic()
        node.follower.start()
        wait_for(lambda: node.probe(token, user=user, path=probe)[0] == 200
                 or not node.follower.alive(), timeout=300, interval=0.2,
                 what="the new node serving a token of the source")
        serving = time.monotonic() - began
        assert node.follower.alive(), node.follower.text()[-3000:]
        # Every token is there: a sample of them all works on the new node.
        for _, user, token in valid[::max(1, len(valid) // 200)]:
            assert node.probe(token, user=user, path=probe)[0] == 200
        verified = fleet.verify(node, check=False)
        report("test 6 (large)", f"{tokens} tokens imported in {imported:.1f} s; a new node "
                                 f"served {serving:.1f} s after its follower started")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert serving < 60, f"the new node served only after {serving:.1f} s"
    finally:
        fleet.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
