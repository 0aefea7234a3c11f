"""Issue 15, test 6: the change log pruned past a node's position, the node
resyncs by itself (a snapshot read in one transaction, the replica swapped
by rename) and serves what changed meanwhile, while nginx keeps serving.

What breaks it: a follower that applies the changes after the gap as if
nothing were missing (its replica silently lacks them: verify fails), one
that stops (the node never catches up), a swap in place instead of a rename
(the workers read a half-written file), a prune that removes the head's
row or rows newer than --keep."""

import os
import time

from conftest import report, wait_for
from test_c_faults import identical


def test_6_pruned_past_a_nodes_position_the_node_resyncs_by_itself(fleet, nodes):
    c = nodes[2]
    before = fleet.create_token(label="t6-before", project="read", repo="read")
    fleet.wait_all_at(fleet.head(), timeout=5)
    assert c.probe(before["token"])[0] == 200
    c.follower.stop()
    position = fleet.head()
    inode = os.stat(c.replica).st_ino

    # Changes node c misses: a token made, one revoked, a grant.
    after = fleet.create_token(label="t6-after", project="read", repo="read")
    fleet.patctl("token", "revoke", before["id"])
    fleet.patctl("grant", "bob", "project", "WORK", "read")
    head = fleet.head()
    assert head > position + 1

    # A prune that keeps rows younger than an hour removes nothing here.
    fleet.patctl("fleet", "prune", "--keep", "1h")
    assert int(fleet.pg.scalar("SELECT count(*) FROM pat_changes WHERE seq > %d" % position)) \
        == head - position
    time.sleep(1.1)
    pruned = fleet.patctl("fleet", "prune", "--keep", "0")
    oldest = int(fleet.pg.scalar("SELECT min(seq) FROM pat_changes"))
    assert oldest > position + 1, f"the log still reaches back to node c's position ({oldest})"
    # Never the head's own row.
    assert int(fleet.pg.scalar("SELECT max(seq) FROM pat_changes")) == head, pruned.stdout

    # Node c cannot know the new token (its old replica, or 503 once stale).
    assert c.probe(after["token"])[0] in (401, 503)

    started = time.monotonic()
    c.follower.start()
    wait_for(lambda: c.probe(after["token"])[0] == 200 and c.probe(before["token"])[0] == 401,
             timeout=15, interval=0.05, what="node c serving the changes it missed")
    served = time.monotonic() - started
    wait_for(lambda: identical(fleet, c), timeout=10, what="node c identical to the source")
    took = time.monotonic() - started
    assert os.stat(c.replica).st_ino != inode, "the replica was rebuilt in place, not renamed over"
    assert c.follower.alive(), c.follower.text()[-2000:]
    report("test 6", f"node c resynced after a prune past its position: serving the missed "
                     f"changes {served:.2f} s, identical {took:.2f} s after its follower started")
    # The other nodes, whose positions the prune did not pass, are untouched.
    for node in nodes[:2]:
        assert node.probe(after["token"])[0] == 200
        assert node.probe(before["token"])[0] == 401
