"""Rotation in fleet mode: `patctl token rotate --source` writes format-2
token records (rotated flag, family) to the PostgreSQL source; a replica's
follower decodes them with the store's own functions, and its decisions
refuse the old token (rotated), then the whole family after a reuse."""

import json
import signal

from test_fleet_commands import make_single_host_store, wait_until


def check_reason(fleet, replica, token):
    r = fleet.patctl("check", "--token-stdin", "--need", "project-write", "--project", "WORK", "--json",
                     "--db", str(replica), stdin=token + "\n")
    return json.loads(r.out)["reason"] if r.out else r.err


def test_rotation_and_reuse_reach_a_replica(fleet, tmp_path):
    single = tmp_path / "single.db"
    first = make_single_host_store(fleet, single)
    src = str(fleet.connfile)
    assert fleet.patctl("fleet", "init", "--source", src).rc == 0
    assert fleet.patctl("fleet", "import", "--source", src, "--db", str(single)).rc == 0
    listed = json.loads(fleet.patctl("token", "list", "--source", src, "--json").out)
    first_id = listed[0]["id"]

    replica = tmp_path / "replica.db"
    follower = fleet.follow(replica, "node-r")
    try:
        assert wait_until(lambda: check_reason(fleet, replica, first) == "allowed", 10)

        r = fleet.patctl("token", "rotate", first_id, "--password-stdin", "--directory", "none", "--json",
                         "--source", src, stdin="alice pw\n")
        assert r.rc == 0, r
        second = json.loads(r.out)
        assert second["replaces"] == first_id and second["name"] == "laptop"
        assert wait_until(lambda: check_reason(fleet, replica, first) == "rotated", 10)
        assert check_reason(fleet, replica, second["token"]) == "allowed"

        # Reuse on the source: the family is revoked everywhere.
        r = fleet.patctl("token", "rotate", first_id, "--password-stdin", "--directory", "none",
                         "--source", src, stdin="alice pw\n")
        assert r.rc == 1 and "was already rotated" in r.err, r
        assert wait_until(lambda: check_reason(fleet, replica, second["token"]) == "revoked", 10)

        verified = wait_until(lambda: (lambda v: v if v.rc == 0 else None)(
            fleet.patctl("fleet", "verify", "--source", src, "--db", str(replica))), 10)
        assert verified and verified.out.strip().endswith("identical"), verified
    finally:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=5)
    assert follower.returncode == 0, err.decode()
    assert second["token"] not in fleet.pg.log_text()
