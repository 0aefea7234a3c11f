"""patctl token rotate: a new token in place of the old one, and reuse
detection (rotating a token already rotated away revokes its family).

See docs/token-lifecycle.md#rotation.
"""

import json
import re

from conftest import (
    ALICE_PASSWORD,
    BOB_PASSWORD,
    DAY_MS,
    TOKEN_RE,
    assert_error,
    assert_password_failure_audited,
    unchanged,
)


def iso_ms(text):
    import calendar
    import time

    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


def rotate(patctl, token_id, password=ALICE_PASSWORD, json_output=True):
    args = ["token", "rotate", token_id, "--password-stdin"] + (["--json"] if json_output else [])
    return patctl.run(*args, stdin=password + "\n")


def reason(patctl, token):
    result = patctl.check(token, "repo-read", project="PROJ", repo="x", json_output=True)
    return json.loads(result.out)["reason"]


def test_rotate_prints_a_new_token_with_the_same_name_permissions_and_expiry_span(populated):
    old = populated.create_token("alice", ALICE_PASSWORD, "--project", "read", "--repo", "write",
                                 "--expiry-days", "30", name="deploy")
    result = rotate(populated, old["id"])
    assert result.rc == 0, result
    new = json.loads(result.out)
    assert set(new) == {"id", "token", "owner", "name", "project", "repo", "created", "expires", "replaces"}
    assert TOKEN_RE.match(new["token"]) and new["token"] != old["token"]
    assert re.fullmatch(r"\d{12}", new["id"]) and new["id"] != old["id"]
    assert new["replaces"] == old["id"]
    assert (new["owner"], new["name"], new["project"], new["repo"]) == ("alice", "deploy", "read", "write")
    assert iso_ms(new["expires"]) - iso_ms(new["created"]) == 30 * DAY_MS

    # The old token is refused from now on, with its own reason; the new one works.
    assert reason(populated, old["token"]) == "rotated"
    assert populated.check(old["token"], "repo-read", project="PROJ", repo="x").out == \
        f"denied: rotated (token {old['id']}, user alice)\n"
    assert reason(populated, new["token"]) == "allowed"
    listed = json.loads(populated.ok("token", "list", "alice", "--json").out)
    assert [t["id"] for t in listed] == [new["id"]]

    audit = populated.audit("--limit", "5")
    rotated = [e for e in audit if e["action"] == "token-rotated"]
    assert len(rotated) == 1 and rotated[0]["token_id"] == old["id"] and rotated[0]["user"] == "alice"
    assert new["id"] in rotated[0]["detail"]


def test_rotate_without_json_prints_only_the_token_on_stdout(populated):
    old = populated.create_token("alice", ALICE_PASSWORD)
    result = rotate(populated, old["id"], json_output=False)
    assert result.rc == 0, result
    token = result.out.rstrip("\n")
    assert result.out == token + "\n" and TOKEN_RE.match(token)
    match = re.fullmatch(r"patctl: rotated token (\d{12}) to (\d{12}) for alice \(project admin, repo admin, "
                         r"expires never\); \1 is refused from now on; the new token is shown only this once\n",
                         result.err)
    assert match and match.group(1) == old["id"], result.err
    assert reason(populated, token) == "allowed"


def test_rotating_a_rotated_token_revokes_the_family_and_fails(populated):
    first = populated.create_token("alice", ALICE_PASSWORD, name="ci")
    other = populated.create_token("alice", ALICE_PASSWORD, name="laptop")
    second = json.loads(rotate(populated, first["id"]).out)
    third = json.loads(rotate(populated, second["id"]).out)
    assert reason(populated, third["token"]) == "allowed"

    result = rotate(populated, first["id"])
    assert_error(result, 1, "token " + first["id"] + " was already rotated", "every token of its family is revoked",
                 third["id"])
    assert reason(populated, third["token"]) == "revoked"
    assert reason(populated, second["token"]) == "rotated"
    assert reason(populated, other["token"]) == "allowed"  # not of the family
    listed = json.loads(populated.ok("token", "list", "alice", "--json").out)
    assert [t["id"] for t in listed] == [other["id"]]

    family = [e for e in populated.audit("--limit", "10") if e["action"] == "token-family-revoked"]
    assert [e["token_id"] for e in family] == [third["id"]]
    assert first["id"] in family[0]["detail"]


def test_a_check_with_a_rotated_token_revokes_nothing(populated):
    first = populated.create_token("alice", ALICE_PASSWORD)
    second = json.loads(rotate(populated, first["id"]).out)
    for _ in range(3):
        assert reason(populated, first["token"]) == "rotated"
    assert reason(populated, second["token"]) == "allowed"


def test_rotate_refuses_a_wrong_password_and_leaves_the_store_unchanged(populated):
    old = populated.create_token("alice", ALICE_PASSWORD)
    with unchanged(populated, except_audit=True):
        assert_error(rotate(populated, old["id"], password="wrong"), 1, "wrong user name or password")
    assert_password_failure_audited(populated, "alice")
    assert reason(populated, old["token"]) == "allowed"


def test_rotate_asks_the_owners_password_not_an_administrators(populated):
    # bob is a sysadmin: his password does not rotate alice's token.
    old = populated.create_token("alice", ALICE_PASSWORD)
    with unchanged(populated, except_audit=True):
        assert_error(rotate(populated, old["id"], password=BOB_PASSWORD), 1, "wrong user name or password")
    assert reason(populated, old["token"]) == "allowed"


def test_rotate_unknown_revoked_and_usage_errors(populated):
    old = populated.create_token("alice", ALICE_PASSWORD)
    populated.ok("token", "revoke", old["id"])
    with unchanged(populated):
        assert_error(rotate(populated, old["id"]), 1, "no token '" + old["id"] + "'")
        assert_error(rotate(populated, "000000000000"), 1, "no token '000000000000'")
        result = populated.run("token", "rotate", old["id"], stdin=ALICE_PASSWORD + "\n")
        assert_error(result, 2, "--password-stdin")
        assert_error(populated.run("token", "rotate", "--password-stdin"), 2, "ID")
