"""patctl apply FILE and patctl export: permissions as a file
(docs/permissions-file.md).

Every failing command is checked for its exit code, a single "patctl: ..."
line on stderr naming the file's line, and an unchanged store (mdb_dump of
every sub-database, and the export, before and after); see conftest.py.
"""

import json
import os
import stat

import pytest

from conftest import ALICE_PASSWORD, assert_error, unchanged

EXAMPLE = """\
# the team
users:
  alice: {display-name: Alice Liddell, sysadmin: true}
  bob: {}
  dave: {disabled: true}
groups:
  backend: [alice, Bob]
  Domain Users:
    - dave
projects:
  work:
    users: {alice: admin}
    groups: {backend: write}
    all-users: read
    public: true
    repos:
      API:
        users: {bob: admin}
        groups: {domain users: read}
        all-users: write
"""


def write(tmp_path, text, name="perms.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def changes(result):
    return result.out.splitlines()


def export(patctl):
    return patctl.ok("export").out


def users(patctl):
    return {u["name"]: u for u in json.loads(patctl.ok("user", "list", "--json").out)}


def test_apply_then_again_changes_nothing(patctl, tmp_path):
    path = write(tmp_path, EXAMPLE)
    first = changes(patctl.ok("apply", path))
    assert first and "no changes" not in first
    assert patctl.ok("apply", path).out == "no changes\n"

    listed = users(patctl)
    assert listed["alice"]["display_name"] == "Alice Liddell" and listed["alice"]["sysadmin"]
    assert listed["bob"]["active"] and not listed["bob"]["sysadmin"]
    assert not listed["dave"]["active"]
    state = json.loads(patctl.ok("export", "--json").out)
    assert {g["name"]: sorted(g["members"]) for g in state["groups"]} == {"backend": ["alice", "bob"],
                                                                        "domain users": ["dave"]}
    assert {(g["kind"], g["name"], g["project"], g["repo"], g["level"]) for g in state["grants"]} == {
        ("user", "alice", "WORK", None, "admin"),
        ("group", "backend", "WORK", None, "write"),
        ("all-users", None, "WORK", None, "read"),
        ("user", "bob", "WORK", "api", "admin"),
        ("group", "domain users", "WORK", "api", "read"),
        ("all-users", None, "WORK", "api", "write"),
    }
    assert state["public"] == [{"project": "WORK", "repo": None}]


def test_apply_reads_standard_input_and_prints_json(patctl):
    result = patctl.ok("apply", "-", "--json", stdin=EXAMPLE)
    output = json.loads(result.out)
    assert output["dry_run"] is False and output["prune"] is False and output["changes"]
    again = json.loads(patctl.ok("apply", "-", "--json", stdin=EXAMPLE).out)
    assert again == {"dry_run": False, "prune": False, "changes": []}


def test_dry_run_changes_nothing_and_says_what_apply_would(patctl, tmp_path):
    path = write(tmp_path, EXAMPLE)
    with unchanged(patctl):
        would = changes(patctl.ok("apply", path, "--dry-run"))
    assert would and all(line.startswith("would: ") for line in would)
    did = changes(patctl.ok("apply", path))
    assert did == [line[len("would: "):] for line in would]
    assert patctl.ok("apply", path, "--dry-run").out == "no changes\n"


def facts(patctl):
    state = json.loads(patctl.ok("export", "--json").out)
    return {json.dumps(item, sort_keys=True) for items in state.values() for item in items}


def test_without_prune_what_the_file_does_not_name_stays(populated, tmp_path):
    before = facts(populated)
    populated.ok("apply", write(tmp_path, "projects:\n  NEW:\n    users: {carol: read}\n"))
    after = facts(populated)
    assert after - before == {json.dumps({"kind": "user", "name": "carol", "project": "NEW", "repo": None,
                                          "level": "read"}, sort_keys=True)}


def test_prune_removes_what_the_file_does_not_name_and_disables_users(populated, tmp_path):
    token = populated.create_token("alice", ALICE_PASSWORD)
    populated.ok("grant", "carol", "project", "GONE", "read")
    tokens_before = populated.ok("token", "list", "--json").out
    setup = write(tmp_path, "groups:\n  old: [carol]\nprojects:\n  PUB: {public: true}\n", "setup.yaml")
    populated.ok("apply", setup)

    path = write(tmp_path, "users:\n  alice: {}\nprojects:\n  PROJ:\n    users: {alice: read}\n")
    would = changes(populated.ok("apply", path, "--prune", "--dry-run"))
    assert would and all(line.startswith("would: ") for line in would)
    populated.ok("apply", path, "--prune")

    listed = users(populated)
    assert set(listed) == {"alice", "bob", "carol"}  # disabled, never deleted
    assert listed["alice"]["active"]
    assert not listed["bob"]["active"] and not listed["carol"]["active"]
    state = json.loads(populated.ok("export", "--json").out)
    assert [(g["kind"], g["name"], g["project"], g["repo"], g["level"]) for g in state["grants"]] == [
        ("user", "alice", "PROJ", None, "read")]
    assert state["groups"] == [] and state["public"] == []
    # Tokens are never touched (the disabled owners' tokens stop working by
    # the user's flag, not by a change of the token).
    assert populated.ok("token", "list", "--json").out == tokens_before
    assert any(t["id"] == token["id"] for t in json.loads(tokens_before))
    assert populated.ok("apply", path, "--prune").out == "no changes\n"


def test_export_round_trips(populated, tmp_path):
    populated.ok("apply", write(tmp_path, EXAMPLE, "example.yaml"))
    exported = export(populated)
    path = write(tmp_path, exported)
    assert populated.ok("apply", path).out == "no changes\n"
    assert populated.ok("apply", path, "--prune").out == "no changes\n"
    assert export(populated) == exported

    # An edit, applied, is what the next export shows.
    edited = exported.replace("    users:\n      alice: admin\n", "    users:\n      alice: admin\n      carol: write\n", 1)
    assert edited != exported
    write(tmp_path, edited)
    assert changes(populated.ok("apply", path)) != ["no changes"]
    assert export(populated) == edited


def test_export_to_a_file_is_private_and_replaces_it(populated, tmp_path):
    populated.ok("apply", write(tmp_path, EXAMPLE, "example.yaml"))
    out = tmp_path / "out.yaml"
    out.write_text("old\n")
    os.chmod(out, 0o644)
    result = populated.ok("export", "--output", str(out))
    assert result.out.startswith("exported ")
    assert out.read_text() == export(populated)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("out.yaml.")]  # no temporary file left
    summary = json.loads(populated.ok("export", "--output", str(out), "--json").out)
    assert summary["output"] == str(out) and summary["users"] == 4


def test_an_empty_store_exports_empty_sections(patctl):
    text = export(patctl)
    assert text.endswith("users: {}\ngroups: {}\nprojects: {}\n")
    assert patctl.ok("apply", "-", stdin=text).out == "no changes\n"


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("users:\n  alice: {}\n  bob: {admin: true}\n", 3, 'unknown key "admin"'),
        ("users:\n  alice: {}\n  Alice: {}\n", 3, "named twice"),
        ("projects:\n  WORK:\n    users:\n      alice: owner\n", 4, "accepted are read, write and admin"),
        ("groups:\n  ops:\n    - alice\n    - b@d\n", 4, "user name contains"),
        ("users:\n  alice: [\n", 3, "YAML syntax error"),
        ("users: {alice: {}}\n---\ngroups: {}\n", 2, "one document"),
    ],
)
def test_a_bad_file_is_refused_with_its_line_and_changes_nothing(populated, tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    before = export(populated)
    with unchanged(populated):
        assert_error(populated.run("apply", path), 1, f"perms.yaml: line {line}: ", fragment)
        assert_error(populated.run("apply", path, "--prune", "--dry-run"), 1, f"line {line}: ")
    assert export(populated) == before


def test_an_unknown_member_or_grantee_is_refused_naming_its_line(populated, tmp_path):
    cases = [
        ("users:\n  dave: {}\ngroups:\n  ops:\n    - dave\n    - zed\n", 6, "zed"),
        ("projects:\n  WORK:\n    users:\n      alice: read\n      zed: write\n", 5, "zed"),
        ("projects:\n  WORK:\n    groups:\n      nobody: read\n", 4, "nobody"),
    ]
    for text, line, name in cases:
        path = write(tmp_path, text)
        with unchanged(populated):
            assert_error(populated.run("apply", path), 1, f"line {line}", name)


def test_a_valid_file_the_store_refuses_changes_nothing(populated, tmp_path):
    # Everything before the last entry would be a change; the last is refused.
    text = "users:\n  newbie: {}\ngroups:\n  ops: [newbie]\nprojects:\n  WORK:\n    users: {ghost: read}\n"
    with unchanged(populated):
        assert_error(populated.run("apply", write(tmp_path, text)), 1, "line 7", "ghost")


def test_a_file_over_the_limit_is_refused(populated):
    text = "users:\n" + "# filler filler filler filler filler filler filler filler\n" * 300_000
    assert len(text) > 16 << 20
    with unchanged(populated):
        assert_error(populated.run("apply", "-", stdin=text), 1, "standard input: line ", "16 MiB")


def test_usage_and_unreadable_files(patctl, tmp_path):
    assert_error(patctl.run("apply"), 2, "FILE")
    assert_error(patctl.run("export", "extra"), 2)
    with unchanged(patctl):
        assert_error(patctl.run("apply", str(tmp_path / "missing.yaml")), 1, "cannot read", "missing.yaml")
        assert_error(patctl.run("apply", str(tmp_path)), 1, "cannot read")
    assert_error(patctl.run("export", "--output", str(tmp_path / "no" / "such" / "dir.yaml")), 1, "cannot write")


@pytest.mark.xfail(strict=True, reason="Store::apply does not yet check display names as add_user does (reported)")
def test_a_display_name_the_store_refuses_changes_nothing(populated, tmp_path):
    for name in ['"bell\\x07"', "x" * 257]:
        path = write(tmp_path, f"users:\n  alice: {{display-name: {name}}}\n  newbie: {{}}\n")
        with unchanged(populated):
            assert_error(populated.run("apply", path), 1, "line 2", "display name")
