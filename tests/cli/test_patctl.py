"""patctl, run as the real binary against real LMDB stores.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after).
"""

import json
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import (
    ALICE_PASSWORD,
    BOB_PASSWORD,
    PATCTL,
    Patctl,
    assert_error,
    now_ms,
    unchanged,
)

DAY_MS = 86_400_000
TOKEN_RE = re.compile(r"^npat_[A-Za-z0-9]{49}$")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


# ---------------------------------------------------------------- help, usage


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--help"], "patctl token create NAME"),
        (["-h"], "Exit status"),
        (["user", "--help"], "patctl user passwd NAME"),
        (["user", "add", "--help"], "--password-stdin"),
        (["check", "-h"], "PAT_NOW_MS"),
        (["token", "create", "NAME", "--help"], "--expiry-days"),
    ],
)
def test_help_goes_to_stdout_with_exit_0(tmp_path, args, expected):
    result = Patctl(tmp_path / "none.db").run(*args, db=False)
    assert result.rc == 0, result
    assert expected in result.out
    assert result.err == ""


USAGE_ERRORS = [
    ([], "no command given"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["user"], "'user' needs a subcommand"),
    (["user", "rename", "alice"], "unknown command 'user rename'"),
    (["user", "list", "--bogus"], "unknown option --bogus"),
    (["user", "list", "-x"], "unknown option -x"),
    (["user", "list", "--sysadmin"], "option --sysadmin does not apply to 'user list'"),
    (["user", "list", "extra"], "unexpected argument 'extra'"),
    (["user", "disable"], "'user disable' needs NAME"),
    (["user", "add", "dave"], "--password-stdin"),
    (["user", "passwd", "alice"], "--password-stdin"),
    (["user", "add", "dave", "--password-stdin", "--display-name"], "option --display-name needs a value"),
    (["user", "add", "dave", "--password-stdin", "--display-name="], "needs a non-empty value"),
    (["user", "list", "--json", "--json"], "option --json given twice"),
    (["user", "list", "--json=yes"], "option --json takes no value"),
    (["token", "create", "alice", "--name", "--password-stdin"], "option --name needs a value"),
    (["grant", "alice", "project", "PROJ"], "'grant' needs"),
    (["grant", "alice", "project", "PROJ", "owner"], "invalid LEVEL 'owner'"),
    (["grant", "alice", "team", "PROJ", "read"], "invalid scope 'team'"),
    (["grant", "alice", "repo", "PROJ", "read"], "expected KEY/SLUG"),
    (["grant", "alice", "repo", "PROJ/", "read"], "expected KEY/SLUG"),
    (["ungrant", "alice", "repo", "/slug"], "expected KEY/SLUG"),
    (["grants", "alice", "bob"], "unexpected argument 'bob'"),
    (["token", "create", "alice", "--password-stdin"], "needs --name"),
    (["token", "create", "alice", "--name", "x"], "--password-stdin"),
    (["token", "create", "alice", "--owner", "bob"], "unknown option --owner"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--project", "all"], "invalid --project 'all'"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--repo", "none"], "invalid --repo 'none'"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--expiry-days", "7d"], "invalid --expiry-days"),
    (["token", "create", "alice", "--name", "x", "--password-stdin", "--expiry-days", "1.5"], "invalid --expiry-days"),
    (["token", "modify", "123456789012"], "needs something to change"),
    (["token", "modify", "123456789012", "--project", "root"], "invalid --project 'root'"),
    (["token", "revoke"], "'token revoke' needs ID"),
    (["check", "--need", "repo-read", "--project", "P", "--repo", "r"], "exactly one of --token"),
    (["check", "--token", "npat_x", "--token-stdin", "--need", "authenticated"], "exactly one of --token"),
    (["check", "--token", "npat_x"], "needs --need"),
    (["check", "--token", "npat_x", "--need", "repo-delete"], "invalid --need 'repo-delete'"),
    (["check", "--token", "npat_x", "--need", "unrecognised-route"], "invalid --need"),
    (["check", "--token", "npat_x", "--need", "repo-read", "--project", "P"], "needs --repo"),
    (["check", "--token", "npat_x", "--need", "repo-fork", "--project", "P"], "needs --repo"),
    (["check", "--token", "npat_x", "--need", "project-read"], "needs --project"),
    (["check", "--token", "npat_x", "--need", "project-read", "--project", "P", "--repo", "r"],
     "--repo does not apply"),
    (["init", "now"], "unexpected argument 'now'"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS, ids=[" ".join(a) or "empty" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line_and_store_unchanged(populated, args, message):
    with unchanged(populated):
        result = populated.run(*args, stdin="some password\n")
    assert_error(result, 2, message)


def test_control_characters_in_a_bad_argument_do_not_break_the_error_line(populated):
    result = populated.run("grant", "alice", "project", "PROJ", "re\nad\x1b[2J")
    assert_error(result, 2, "invalid LEVEL 're\\x0aad\\x1b[2J'")


def test_missing_store_path_is_a_usage_error(tmp_path):
    result = Patctl(tmp_path / "x.db").run("user", "list", db=False)
    assert_error(result, 2, "no store given: use --db PATH or set PAT_DB")


def test_store_path_from_pat_db(populated):
    result = populated.run("user", "list", "--json", db=False, env={"PAT_DB": populated.db})
    assert result.rc == 0, result
    assert [u["name"] for u in json.loads(result.out)] == ["alice", "bob", "carol"]


def test_db_option_wins_over_pat_db(populated, tmp_path):
    result = populated.run("user", "list", "--json", env={"PAT_DB": str(tmp_path / "elsewhere.db")})
    assert result.rc == 0, result
    assert len(json.loads(result.out)) == 3


def test_options_may_appear_anywhere(populated):
    result = populated.run("--json", "grant", "alice", "--db", populated.db, "project", "NEW", "read", db=False)
    assert result.rc == 0, result
    assert json.loads(result.out)["project"] == "NEW"
    result = populated.run("token", "--json", "list", "alice")
    assert result.rc == 0 and json.loads(result.out) == []
    result = populated.run("--db=" + populated.db, "grants", "alice", "--json", db=False)
    assert result.rc == 0 and len(json.loads(result.out)) == 3


# ---------------------------------------------------------------- init, open


def test_init_creates_an_empty_store_of_the_current_schema(tmp_path):
    tool = Patctl(tmp_path / "new.db")
    result = tool.run("init", "--json")
    assert result.rc == 0, result
    assert json.loads(result.out) == {"path": tool.db, "schema_version": 1}
    assert b"schema_version" in tool.dump(printable=True)
    assert b"schema_version".hex().encode() in tool.dump()
    assert tool.ok("user", "list").out == "no users\n"
    assert tool.ok("token", "list").out == "no tokens\n"
    assert tool.ok("grants").out == "no grants\n"


def test_init_max_size_bounds_the_store(tmp_path):
    for bad in ("0", "-1", "x", "1048577", "1.5"):
        tool = Patctl(tmp_path / f"bad-{bad}.db")
        assert_error(tool.run("init", "--max-size", bad), 2, "--max-size")
        assert not (tmp_path / f"bad-{bad}.db").exists()
    tool = Patctl(tmp_path / "small.db")
    tool.ok("init", "--max-size", "1")
    # LMDB records the map size in the file: every later process honours it.
    info = subprocess.run(["mdb_stat", "-e", "-n", str(tool.db)], capture_output=True, text=True, check=True).stdout
    assert "Map size: 1048576" in info, info
    assert tool.ok("user", "list").out == "no users\n"


def test_init_refuses_an_existing_store(populated):
    with unchanged(populated):
        assert_error(populated.run("init"), 1, "exists")


def test_init_refuses_an_existing_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"keep me\n")
    assert_error(Patctl(path).run("init"), 1)
    assert path.read_bytes() == b"keep me\n"


def test_a_missing_store_is_refused_and_not_created(tmp_path):
    path = tmp_path / "missing.db"
    for args in (["user", "list"], ["user", "disable", "alice"], ["check", "--token", "npat_x", "--need", "authenticated"]):
        assert_error(Patctl(path).run(*args), 1)
        assert not path.exists()


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(16384))
    before = path.read_bytes()
    assert_error(Patctl(path).run("user", "list"), 1)
    assert_error(Patctl(path).run("user", "add", "x", "--password-stdin", stdin="pw\n"), 1)
    assert path.read_bytes() == before


# ---------------------------------------------------------------- users


def test_user_add_and_list(populated):
    out = populated.ok("user", "list").out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DISPLAY", "NAME", "ACTIVE", "SYSADMIN"]
    assert re.search(r"^alice\s+Alice Example\s+yes\s+no$", out, re.M)
    assert re.search(r"^bob\s+bob\s+yes\s+yes$", out, re.M)
    users = json.loads(populated.ok("user", "list", "--json").out)
    assert users[0] == {"name": "alice", "display_name": "Alice Example", "active": True, "sysadmin": False}
    assert users[1]["sysadmin"] is True


def test_user_add_stores_the_canonical_name_and_reports_it(patctl):
    result = patctl.ok("user", "add", "Dave.Smith", "--password-stdin", stdin="pw\n")
    assert result.out == "added user dave.smith\n"
    result = patctl.ok("user", "add", "Erin", "--password-stdin", "--json", stdin="pw\n")
    assert json.loads(result.out)["name"] == "erin"


@pytest.mark.parametrize(
    "name, stdin, message",
    [
        ("alice", "pw\n", "exists"),
        ("ALICE", "pw\n", "exists"),
        ("-", "pw\n", "user name"),
        ("bad/name", "pw\n", "user name"),
        ("x" * 65, "pw\n", "user name"),
        ("dave", "", "no password on standard input"),
        ("dave", "\n", "no password on standard input"),
        ("dave", "p" * 1025 + "\n", "longer than 1024 bytes"),
    ],
)
def test_user_add_refusals_exit_1_and_change_nothing(populated, name, stdin, message):
    with unchanged(populated):
        result = populated.run("user", "add", name, "--password-stdin", stdin=stdin)
    assert_error(result, 1, message)


def test_display_name_with_a_control_character_is_refused(populated):
    with unchanged(populated):
        result = populated.run("user", "add", "dave", "--display-name", "x\x1b[31m", "--password-stdin",
                               stdin="pw\n")
    assert_error(result, 1, "control character")


def test_a_value_starting_with_dashes_uses_the_equals_form(populated):
    result = populated.run("token", "create", "alice", "--name=--odder", "--password-stdin", "--json",
                           stdin=ALICE_PASSWORD + "\n")
    assert result.rc == 0 and json.loads(result.out)["name"] == "--odder"


def test_password_line_end_is_stripped(patctl):
    patctl.ok("user", "add", "dave", "--password-stdin", stdin="crlf pass\r\n")
    patctl.create_token("dave", "crlf pass")
    patctl.ok("user", "add", "erin", "--password-stdin", stdin="no newline")
    patctl.create_token("erin", "no newline")
    # Only the first line is the password.
    patctl.ok("user", "add", "frank", "--password-stdin", stdin="first\nsecond\n")
    patctl.create_token("frank", "first")


def test_user_passwd_replaces_the_password(populated):
    assert populated.ok("user", "passwd", "alice", "--password-stdin", stdin="new one\n").out == (
        "changed the password of user alice\n")
    with unchanged(populated, except_audit=True):
        refused = populated.run("token", "create", "alice", "--name", "x", "--password-stdin",
                                stdin=ALICE_PASSWORD + "\n")
    assert_error(refused, 1, "wrong user name or password")
    assert_password_failure_audited(populated, "alice")
    populated.create_token("alice", "new one")


def test_user_commands_on_an_unknown_user_exit_1(populated):
    for args in (["user", "passwd", "zed", "--password-stdin"], ["user", "disable", "zed"],
                 ["user", "enable", "zed"], ["user", "delete", "zed"]):
        with unchanged(populated):
            result = populated.run(*args, stdin="pw\n")
        assert_error(result, 1)


def test_listing_an_unknown_users_tokens_or_grants_is_an_error(populated):
    for args in (["token", "list", "zed"], ["grants", "zed"], ["token", "list", "zed", "--json"]):
        result = populated.run(*args)
        assert_error(result, 1, "no user 'zed'")
    assert populated.run("token", "list", "alice").rc == 0


def test_disable_and_enable_a_user(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    assert populated.check(token, "repo-read", "PROJ", "repo").rc == 0

    assert populated.ok("user", "disable", "alice").out == "disabled user alice\n"
    assert json.loads(populated.ok("user", "list", "--json").out)[0]["active"] is False
    assert "no (disabled)" in populated.ok("user", "list").out
    denied = populated.check(token, "repo-read", "PROJ", "repo")
    assert denied.rc == 1 and denied.out.startswith("denied: user disabled (token ")
    # A disabled user cannot create tokens either, with the same message as a wrong password.
    with unchanged(populated, except_audit=True):
        result = populated.run("token", "create", "alice", "--name", "x", "--password-stdin",
                               stdin=ALICE_PASSWORD + "\n")
    assert_error(result, 1, "wrong user name or password")
    assert_password_failure_audited(populated, "alice")

    assert json.loads(populated.ok("user", "enable", "alice", "--json").out)["active"] is True
    assert populated.check(token, "repo-read", "PROJ", "repo").rc == 0


def test_delete_user_removes_grants_and_tokens(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    populated.create_token("bob", BOB_PASSWORD)
    assert populated.ok("user", "delete", "alice").out == "deleted user alice with their grants and tokens\n"
    assert [u["name"] for u in json.loads(populated.ok("user", "list", "--json").out)] == ["bob", "carol"]
    assert json.loads(populated.ok("grants", "--json").out) == []
    assert [t["owner"] for t in json.loads(populated.ok("token", "list", "--json").out)] == ["bob"]
    denied = populated.check(token, "repo-read", "PROJ", "repo")
    assert denied.rc == 1 and denied.out == "denied: unknown token\n"
    # A new alice does not inherit anything.
    populated.add_user("alice", "another")
    assert json.loads(populated.ok("grants", "alice", "--json").out) == []
    assert populated.check(token, "authenticated").rc == 1


# ---------------------------------------------------------------- grants


def test_grant_list_and_ungrant(populated):
    out = populated.ok("grants").out
    assert re.search(r"^alice\s+project\s+PROJ\s+write$", out, re.M)
    assert re.search(r"^alice\s+repo\s+OTHER/tools\s+admin$", out, re.M)

    result = populated.ok("grant", "carol", "repo", "proj/My-Repo", "read", "--json")
    assert json.loads(result.out) == {"user": "carol", "scope": "repo", "project": "PROJ", "repo": "my-repo",
                                      "level": "read"}
    assert populated.ok("grant", "Carol", "project", "~alice", "admin").out == (
        "granted carol admin on project ~ALICE\n")
    carol = json.loads(populated.ok("grants", "carol", "--json").out)
    assert {(g["project"], g["repo"], g["level"]) for g in carol} == {("PROJ", "my-repo", "read"),
                                                                        ("~ALICE", None, "admin")}

    assert populated.ok("ungrant", "carol", "repo", "PROJ/my-repo").out == (
        "removed the grant of carol on repo PROJ/my-repo\n")
    assert [g["project"] for g in json.loads(populated.ok("grants", "carol", "--json").out)] == ["~ALICE"]


def test_grant_replaces_the_level(populated):
    populated.ok("grant", "alice", "project", "PROJ", "read")
    grants = json.loads(populated.ok("grants", "alice", "--json").out)
    assert [g["level"] for g in grants if g["project"] == "PROJ"] == ["read"]


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "zed", "project", "PROJ", "read"],
        ["grant", "alice", "project", "1PROJ", "read"],
        ["grant", "alice", "repo", "PROJ/bad slug", "read"],
        ["grant", "alice", "repo", "PROJ/a/b", "read"],
        ["ungrant", "alice", "project", "NOPE"],
        ["ungrant", "alice", "repo", "PROJ/never-granted"],
        ["ungrant", "zed", "project", "PROJ"],
    ],
)
def test_grant_refusals_exit_1_and_change_nothing(populated, args):
    with unchanged(populated):
        result = populated.run(*args)
    assert_error(result, 1)


def test_lowering_a_grant_caps_every_token_at_once(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]  # admin/admin
    assert populated.check(token, "repo-write", "PROJ", "code").out.startswith("allowed (token ")
    populated.ok("grant", "alice", "project", "PROJ", "read")
    denied = populated.check(token, "repo-write", "PROJ", "code", user="alice")
    assert denied.rc == 1
    assert re.fullmatch(r"denied: user level too low \(token \d{12}, user alice\)\n", denied.out)
    assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
    populated.ok("ungrant", "alice", "project", "PROJ")
    assert populated.check(token, "repo-read", "PROJ", "code").out.startswith("denied: user level too low")


# ---------------------------------------------------------------- token create


def test_token_create_prints_the_token_once_and_stores_only_its_digest(populated):
    result = populated.ok("token", "create", "alice", "--name", "ci", "--project", "read", "--repo", "write",
                          "--password-stdin", stdin=ALICE_PASSWORD + "\n")
    token = result.out.rstrip("\n")
    assert result.out == token + "\n" and TOKEN_RE.match(token)
    match = re.fullmatch(r"patctl: created token (\d{12}) for alice \(project read, repo write, expires never\); "
                         r"it is shown only this once and cannot be recovered\n", result.err)
    assert match, result.err
    token_id = match.group(1)

    listing = populated.ok("token", "list").out + populated.ok("token", "list", "--json").out
    assert token_id in listing and token not in listing
    secret = token[len("npat_"):]
    assert secret.encode() not in populated.dump(printable=True)
    assert secret.encode().hex().encode() not in populated.dump()
    with open(populated.db, "rb") as f:
        raw = f.read()
    assert token.encode() not in raw and secret[:20].encode() not in raw


def test_token_create_json(populated):
    before = now_ms()
    created = populated.create_token("alice", ALICE_PASSWORD, "--expiry-days", "30", name='say "hi" \\ ü')
    after = now_ms()
    assert set(created) == {"id", "token", "owner", "name", "project", "repo", "created", "expires"}
    assert TOKEN_RE.match(created["token"]) and re.fullmatch(r"\d{12}", created["id"])
    assert created["owner"] == "alice" and created["name"] == 'say "hi" \\ ü'
    assert (created["project"], created["repo"]) == ("admin", "admin")
    assert ISO_RE.match(created["created"]) and ISO_RE.match(created["expires"])
    listed = json.loads(populated.ok("token", "list", "alice", "--json").out)
    assert listed == [{k: v for k, v in created.items() if k != "token"} | {"last_authenticated": None}]
    assert before // 1000 - 1 <= iso_seconds(created["created"]) <= after // 1000 + 1


def iso_seconds(text):
    return int(time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


@pytest.mark.parametrize(
    "options, expected",
    [
        ([], ("admin", "admin")),
        (["--project", "read", "--repo", "read"], ("read", "read")),
        (["--project", "READ"], ("read", "admin")),
        (["--project", "write"], ("write", "admin")),
        (["--repo", "admin"], ("admin", "admin")),
        (["--project", "write", "--repo", "write"], ("write", "write")),
    ],
)
def test_token_permission_defaults(populated, options, expected):
    created = populated.create_token("alice", ALICE_PASSWORD, *options)
    assert (created["project"], created["repo"]) == expected


@pytest.mark.parametrize(
    "options, message",
    [
        (["--repo", "read"], "repository permission must be at least its project permission"),
        (["--project", "admin", "--repo", "write"], "at least its project"),
        (["--expiry-days", "0"], "expiry"),
        (["--expiry-days", "3651"], "expiry"),
        (["--expiry-days", "-1"], "expiry"),
    ],
)
def test_token_create_refusals_exit_1_and_change_nothing(populated, options, message):
    with unchanged(populated):
        result = populated.run("token", "create", "alice", "--name", "x", *options, "--password-stdin",
                               stdin=ALICE_PASSWORD + "\n")
    assert_error(result, 1, message)


def assert_password_failure_audited(patctl, user):
    newest = patctl.audit("--limit", "1")[0]
    assert (newest["action"], newest["user"], newest["address"]) == ("password-failed", user, "local")
    assert newest["actor"].startswith("patctl:")


@pytest.mark.parametrize(
    "owner, password",
    [
        ("alice", "wrong password"),
        ("alice", BOB_PASSWORD),  # the sysadmin's password does not create for alice
        ("zed", "zed guesses"),  # an unknown user looks like a wrong password
    ],
)
def test_token_create_with_a_wrong_password_only_adds_an_audit_entry(populated, owner, password):
    with unchanged(populated, except_audit=True):
        result = populated.run("token", "create", owner, "--name", "x", "--password-stdin",
                               stdin=password + "\n")
    assert_error(result, 1, "wrong user name or password")
    assert password not in json.dumps(populated.audit())
    if owner != "zed":
        assert_password_failure_audited(populated, owner)
    assert json.loads(populated.ok("token", "list", "--json").out) == []


def test_token_names_are_escaped_in_json_and_safe_in_tables(populated):
    tricky = b"quote\" backslash\\ tab\xe2\x80\x8b bad\xff utf8"
    created = populated.run("token", "create", "alice", "--name", tricky, "--password-stdin", "--json",
                            stdin=ALICE_PASSWORD + "\n")
    assert created.rc == 0, created
    parsed = json.loads(created.out)
    assert parsed["name"] == "quote\" backslash\\ tab\u200b bad\ufffd utf8"
    raw = subprocess.run([PATCTL, "token", "list", "--json", "--db", populated.db], capture_output=True).stdout
    raw.decode("utf-8")  # valid UTF-8 even though the stored name is not
    assert json.loads(raw)[0]["name"] == parsed["name"]


# ---------------------------------------------------------------- token list, modify, revoke


def test_token_list_table(populated):
    a = populated.create_token("alice", ALICE_PASSWORD, "--project", "read", "--repo", "write",
                               "--expiry-days", "7", name="build bot")
    b = populated.create_token("bob", BOB_PASSWORD, name="bob's")
    lines = populated.ok("token", "list").out.splitlines()
    assert lines[0].split() == ["ID", "OWNER", "NAME", "PROJECT", "REPO", "CREATED", "EXPIRES", "LAST",
                                "AUTHENTICATED"]
    row_a = next(line for line in lines if a["id"] in line)
    assert re.fullmatch(rf"{a['id']}\s+alice\s+build bot\s+read\s+write\s+\S+Z\s+\S+Z\s+never", row_a)
    row_b = next(line for line in lines if b["id"] in line)
    assert re.fullmatch(rf"{b['id']}\s+bob\s+bob's\s+admin\s+admin\s+\S+Z\s+never\s+never", row_b)
    only_bob = json.loads(populated.ok("token", "list", "bob", "--json").out)
    assert [t["id"] for t in only_bob] == [b["id"]]


def test_token_modify(populated):
    created = populated.create_token("alice", ALICE_PASSWORD)
    token, token_id = created["token"], created["id"]
    result = populated.ok("token", "modify", token_id, "--project", "read", "--repo", "read", "--name", "ro")
    assert result.out.startswith(f"modified token {token_id} (ro, owner alice): project read, repo read")
    assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
    denied = populated.check(token, "repo-write", "PROJ", "code")
    assert denied.out.startswith("denied: token level too low (token ")

    modified = json.loads(populated.ok("token", "modify", token_id, "--repo", "write", "--json").out)
    assert (modified["project"], modified["repo"], modified["name"]) == ("read", "write", "ro")
    assert populated.check(token, "repo-write", "PROJ", "code").rc == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["token", "modify", "000000000000", "--name", "x"], ""),
        (["token", "modify", "not-an-id", "--name", "x"], ""),
        (["token", "revoke", "000000000000"], ""),
        (["token", "modify", "{id}", "--repo", "read"], "at least its project"),
        (["token", "modify", "{id}", "--project", "admin", "--repo", "read"], "at least its project"),
        (["token", "modify", "{id}", "--name", "tab\there"], "control character"),
    ],
)
def test_token_modify_and_revoke_refusals(populated, args, message):
    token_id = populated.create_token("alice", ALICE_PASSWORD)["id"]
    args = [a.replace("{id}", token_id) for a in args]
    with unchanged(populated):
        result = populated.run(*args)
    assert_error(result, 1, message)


def test_token_revoke(populated):
    created = populated.create_token("alice", ALICE_PASSWORD)
    assert populated.ok("token", "revoke", created["id"]).out == f"revoked token {created['id']}\n"
    denied = populated.check(created["token"], "repo-read", "PROJ", "code", json_output=True)
    assert denied.rc == 1
    assert json.loads(denied.out) == {"allowed": False, "reason": "revoked", "verdict": "unauthenticated",
                                      "http_status": 401, "token_id": created["id"], "user": "alice"}
    with unchanged(populated):
        assert_error(populated.run("token", "revoke", created["id"]), 1)


# ---------------------------------------------------------------- check


def test_check_reasons(populated):
    token = populated.create_token("alice", ALICE_PASSWORD, "--project", "write", "--repo", "write")["token"]
    cases = [
        (dict(need="repo-write", project="proj", repo="Code"), 0, "allowed"),
        (dict(need="project-write", project="PROJ"), 0, "allowed"),
        (dict(need="authenticated"), 0, "allowed"),
        (dict(need="authenticated", user="ALICE"), 0, "allowed"),
        (dict(need="repo-admin", project="OTHER", repo="tools"), 1, "denied: token level too low"),
        (dict(need="repo-read", project="NOPE", repo="x"), 1, "denied: user level too low"),
        (dict(need="repo-fork", project="PROJ", repo="code"), 1, "denied: token level too low"),
        (dict(need="repo-read", project="PROJ", repo="code", user="bob"), 1, "denied: wrong user"),
        (dict(need="repo-read", project="bad key!", repo="code"), 1,
         "denied: invalid project or repository name"),
    ]
    for kwargs, rc, expected in cases:
        result = populated.check(token, **kwargs)
        assert result.rc == rc, (kwargs, result)
        assert result.out.startswith(expected), (kwargs, result)
        assert result.err == ""


def test_check_rejects_bad_token_text_before_lookup(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert populated.check(flipped, "authenticated").out == "denied: bad checksum\n"
    assert populated.check(token[:-1], "authenticated").out == "denied: malformed token\n"
    assert populated.check("hunter2", "authenticated").out == "denied: malformed token\n"
    result = populated.run("check", "--token", "x", "--need", "authenticated", "--json")
    assert result.rc == 1
    assert json.loads(result.out) == {"allowed": False, "reason": "malformed token",
                                      "verdict": "unauthenticated", "http_status": 401,
                                      "token_id": None, "user": None}


def test_check_token_from_argv(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    result = populated.run("check", "--token", token, "--need", "project-read", "--project", "PROJ")
    assert result.rc == 0 and result.out.startswith("allowed (token ")
    assert token not in result.out + result.err


def test_check_json_forbidden(populated):
    created = populated.create_token("alice", ALICE_PASSWORD, "--project", "read", "--repo", "read")
    result = populated.check(created["token"], "repo-write", "PROJ", "code", json_output=True)
    assert result.rc == 1
    assert json.loads(result.out) == {"allowed": False, "reason": "token level too low", "verdict": "forbidden",
                                      "http_status": 403, "token_id": created["id"], "user": "alice"}


def test_check_does_not_write_the_store(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    with unchanged(populated):
        assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
        assert populated.check(token, "repo-admin", "NOPE", "code").rc == 1


def test_expiry_evaluated_at_a_given_time(populated):
    before = now_ms()
    created = populated.create_token("alice", ALICE_PASSWORD, "--expiry-days", "1")
    after = now_ms()
    token = created["token"]
    assert populated.check(token, "repo-read", "PROJ", "code").rc == 0
    still_valid = {"PAT_NOW_MS": str(before + DAY_MS - 5_000)}
    assert populated.check(token, "repo-read", "PROJ", "code", env=still_valid).rc == 0
    expired = {"PAT_NOW_MS": str(after + DAY_MS + 1_000)}
    result = populated.check(token, "repo-read", "PROJ", "code", env=expired)
    assert result.rc == 1 and result.out.startswith(f"denied: expired (token {created['id']}, user alice)")


@pytest.mark.parametrize("value", ["soon", "12.5", "-1", "99999999999999999999999"])
def test_invalid_pat_now_ms_is_a_usage_error(populated, value):
    result = populated.run("check", "--token", "npat_x", "--need", "authenticated", env={"PAT_NOW_MS": value})
    assert_error(result, 2, "PAT_NOW_MS")


def test_empty_token_on_stdin(populated):
    assert_error(populated.run("check", "--token-stdin", "--need", "authenticated", stdin="\n"), 1, "no token")


def test_revocation_is_seen_by_the_next_reader_process(populated):
    """A reader keeps running `patctl check` in its own processes while another
    process revokes: every check that starts after revoke returned is refused."""
    created = populated.create_token("alice", ALICE_PASSWORD)
    results = []  # (started, finished, rc, stdout)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            started = time.monotonic()
            result = populated.check(created["token"], "repo-read", "PROJ", "code")
            results.append((started, time.monotonic(), result.rc, result.out))

    def wait_for(predicate):
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, "the reader stopped making progress"
            time.sleep(0.01)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_for(lambda: len(results) >= 3)
        revoke_started = time.monotonic()
        populated.ok("token", "revoke", created["id"])
        revoke_returned = time.monotonic()
        wait_for(lambda: sum(1 for r in results if r[0] > revoke_returned) >= 3)
    finally:
        stop.set()
        thread.join()

    before = [r for r in results if r[1] < revoke_started]
    after = [r for r in results if r[0] > revoke_returned]
    assert before and all(r[2] == 0 and r[3].startswith("allowed") for r in before), before
    assert len(after) >= 3
    assert all(r[2] == 1 and r[3].startswith("denied: revoked (token ") for r in after), after


def run_with_closed_descriptors(patctl, closed, *args, stdin=b""):
    """Runs patctl with some of fds 0-2 closed, as a careless cron job might."""
    redirections = " ".join(f"{fd}>&-" for fd in closed)
    script = f'exec "$0" "$@" {redirections}'
    return subprocess.run(["sh", "-c", script, PATCTL, *args, "--db", patctl.db], input=stdin,
                          capture_output=True, timeout=60)


def store_files_bytes(patctl):
    data = b""
    for path in (patctl.db, patctl.db + "-lock"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                data += f.read()
    return data


def test_closed_stdout_is_refused_and_never_lands_in_the_store(populated):
    with unchanged(populated):
        result = run_with_closed_descriptors(populated, [1], "token", "create", "alice", "--name", "x",
                                             "--password-stdin", stdin=(ALICE_PASSWORD + "\n").encode())
    assert result.returncode == 1
    assert result.stderr == b"patctl: standard output is closed\n"
    assert b"npat_" not in store_files_bytes(populated)


def test_closed_stderr_keeps_error_messages_out_of_the_store(populated):
    result = run_with_closed_descriptors(populated, [2], "user", "disable", "nobody-here")
    assert result.returncode == 1
    assert b"nobody-here" not in store_files_bytes(populated)
    result = run_with_closed_descriptors(populated, [0, 2], "user", "list")
    assert result.returncode == 0 and b"alice" in result.stdout


# ---------------------------------------------------------------- audit


def test_audit_records_each_change_with_patctl_as_the_actor(populated):
    created = populated.create_token("alice", ALICE_PASSWORD)
    populated.ok("token", "modify", created["id"], "--name", "renamed")
    populated.ok("token", "revoke", created["id"])
    populated.ok("ungrant", "alice", "project", "PROJ")
    populated.ok("user", "disable", "carol")
    entries = populated.audit()
    assert [e["action"] for e in entries[:5]] == ["user-disabled", "grant-removed", "token-revoked",
                                                  "token-modified", "token-created"]
    actor = entries[0]["actor"]
    assert re.fullmatch(r"patctl:\S+( \(sudo from .+\))?", actor)
    assert all(e["actor"] == actor and e["address"] == "local" for e in entries[:5])
    assert entries[2]["token_id"] == created["id"] and entries[0]["token_id"] is None
    assert all(ISO_RE.match(e["time"]) for e in entries)
    assert created["token"][5:] not in json.dumps(entries)

    only_carol = populated.audit("carol")
    assert only_carol and all(e["user"] == "carol" for e in only_carol)
    assert len(populated.audit("--limit", "2")) == 2

    table = populated.ok("audit", "--limit", "3").out.splitlines()
    assert table[0].split() == ["TIME", "ACTION", "ACTOR", "ADDRESS", "USER", "TOKEN", "DETAIL"]
    assert re.match(r"\S+Z\s+user-disabled\s+patctl:", table[1])
    assert len(table) == 4


def test_audit_sudo_caller_is_named(populated):
    populated.ok("user", "enable", "carol", env={"SUDO_USER": "admin1"})
    assert populated.audit("--limit", "1")[0]["actor"].endswith(" (sudo from admin1)")


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_audit_limit_must_be_positive(populated, limit):
    assert_error(populated.run("audit", "--limit", limit), 2, "invalid --limit")


def test_audit_of_a_new_store_is_empty(patctl):
    assert patctl.ok("audit").out == "no audit entries\n"


def test_a_stray_token_argument_is_not_echoed_in_errors(populated):
    token = populated.create_token("alice", ALICE_PASSWORD)["token"]
    result = populated.run("check", "--token-stdin", "--need", "authenticated", token, stdin=token + "\n")
    assert_error(result, 2, "unexpected argument 'npat_... (a token, not shown)'")
    assert token[5:] not in result.err
    assert_error(populated.run(token), 2, "unknown command 'npat_...")


# ---------------------------------------------------------------- terminal prompt


def spawn_on_terminal(patctl, *args):
    """patctl with a pseudo-terminal as stdin and controlling terminal (so
    Ctrl-C sends SIGINT); stdout and stderr are pipes."""
    import fcntl
    import pty
    import termios
    master, slave = pty.openpty()

    def become_terminal_owner():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([PATCTL, *args, "--db", patctl.db], stdin=slave, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=become_terminal_owner)
    os.close(slave)
    return master, process


def read_terminal(master, seconds=0.5):
    import select
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data += os.read(master, 1024)
            except OSError:
                break
    return data


def wait_for_echo_off(master):
    import termios
    deadline = time.monotonic() + 10
    while termios.tcgetattr(master)[3] & termios.ECHO:
        assert time.monotonic() < deadline, "patctl never turned echo off"
        time.sleep(0.01)


def test_password_prompt_on_a_terminal_does_not_echo(populated):
    master, process = spawn_on_terminal(populated, "user", "add", "dave", "--password-stdin")
    try:
        wait_for_echo_off(master)
        os.write(master, b"typed secret\n")
        out, err = process.communicate(timeout=30)
        echoed = read_terminal(master)
    finally:
        os.close(master)
    assert process.returncode == 0, err
    assert out == b"added user dave\n"
    assert err.startswith(b"password: ")
    assert b"typed secret" not in echoed
    populated.create_token("dave", "typed secret")


def test_interrupted_password_prompt_restores_the_terminal(populated):
    import termios
    master, process = spawn_on_terminal(populated, "user", "add", "dave", "--password-stdin")
    try:
        wait_for_echo_off(master)
        with unchanged(populated):
            os.write(master, b"\x03")  # Ctrl-C
            process.communicate(timeout=30)
        assert process.returncode == -2  # killed by SIGINT, as it should be
        assert termios.tcgetattr(master)[3] & termios.ECHO
    finally:
        os.close(master)
