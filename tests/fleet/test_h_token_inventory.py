"""Expiry warnings and the inventory in fleet mode (issue 16): `patctl token
notify --source` remembers what it sent in the source (a meta row every
replica gets, byte for byte), and `token revoke --unused-since --source`
revokes in one transaction of the source; every node refuses the tokens
once its follower applied it.

What breaks it: notify keeping its rows anywhere but the kv rules (no
replica has them, or `fleet verify` differs), a bulk revocation that does
not reach the change log."""

import json

from conftest import PASSWORD


def test_notify_and_revoke_unused_over_the_source(fleet, nodes, tmp_path):
    fleet.patctl("user", "add", "inventory", "--display-name", "Inventory Tester", "--password-stdin",
                 stdin=PASSWORD + "\n")
    expiring = json.loads(fleet.patctl("token", "create", "inventory", "--name", "soon", "--expiry-days", "5",
                                       "--json", "--password-stdin", stdin=PASSWORD + "\n").stdout)
    forever = json.loads(fleet.patctl("token", "create", "inventory", "--name", "forever", "--json",
                                      "--password-stdin", stdin=PASSWORD + "\n").stdout)
    fleet.created_tokens += [expiring["token"], forever["token"]]

    log = tmp_path / "sent"
    command = f'echo "$PAT_TOKEN_ID $PAT_THRESHOLD $PAT_DAYS_LEFT $PAT_DISPLAY_NAME" >> {log}'

    def sent():
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if line.split()[0] in (expiring["id"], forever["id"])]

    fleet.patctl("token", "notify", "--days", "30,7", "--exec", command)
    assert sent() == [f"{expiring['id']} 7 5 Inventory Tester"]
    fleet.patctl("token", "notify", "--days", "30,7", "--exec", command)
    assert sent() == [f"{expiring['id']} 7 5 Inventory Tester"]
    rows = fleet.pg.query("SELECT encode(value, 'escape') FROM pat_records WHERE tbl = 0 AND "
                          f"key = 'expiry-notified'::bytea || '\\x00'::bytea || '{expiring['id']}'::bytea")
    assert rows == [["7"]], rows

    listed = json.loads(fleet.patctl("token", "list", "--user", "inventory", "--expiring-within", "7",
                                     "--json").stdout)
    assert [t["id"] for t in listed] == [expiring["id"]]

    # Dry run: nothing reaches the change log.
    head = fleet.head()
    dry = json.loads(fleet.patctl("token", "revoke", "--unused-since", "0", "--user", "inventory", "--dry-run",
                                  "--json").stdout)
    assert sorted(t["id"] for t in dry["would_revoke"]) == sorted([expiring["id"], forever["id"]])
    assert fleet.head() == head

    revoked = json.loads(fleet.patctl("token", "revoke", "--unused-since", "0", "--user", "inventory",
                                      "--json").stdout)
    assert sorted(t["id"] for t in revoked["revoked"]) == sorted([expiring["id"], forever["id"]])
    assert fleet.head() > head
    fleet.wait_all_at(fleet.head(), timeout=10)
    for node in nodes:
        assert node.probe(expiring["token"], user="inventory")[0] == 401
        assert node.probe(forever["token"], user="inventory")[0] == 401
    # The warning row went with the token, everywhere.
    fleet.verify(nodes[0])
    assert fleet.pg.query("SELECT 1 FROM pat_records WHERE tbl = 0 AND "
                          f"key = 'expiry-notified'::bytea || '\\x00'::bytea || '{expiring['id']}'::bytea") == []
    audit = json.loads(fleet.patctl("audit", "inventory", "--json").stdout)
    assert [e["action"] for e in audit[:3]] == ["token-revoked", "token-revoked", "token-expiry-warned"]
