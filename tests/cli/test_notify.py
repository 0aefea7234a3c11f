"""patctl token notify: one run of the command per token and threshold
crossed, remembered in the store so that running it every hour sends nothing
twice, also while the clock moves on (libfaketime); a failed command is
tried again; the command sees the warning in PAT_* variables, never the
token."""

import json
import os
import re

import pytest

from conftest import ALICE_PASSWORD, BOB_PASSWORD, ISO_RE, assert_error, unchanged
from timeshift import requires_faketime, shifted

pytestmark = requires_faketime

FIELDS = ("PAT_OWNER", "PAT_DISPLAY_NAME", "PAT_TOKEN_ID", "PAT_TOKEN_NAME", "PAT_EXPIRES", "PAT_DAYS_LEFT",
          "PAT_THRESHOLD")


@pytest.fixture
def notifier(populated, tmp_path):
    """A command that appends one JSON line per run (its PAT_* variables) to
    sent.jsonl, and its whole environment to env-ID.txt."""
    log = tmp_path / "sent.jsonl"
    script = tmp_path / "notify.py"
    script.write_text(
        "import json, os\n"
        f"FIELDS = {FIELDS!r}\n"
        f"with open({str(tmp_path)!r} + '/env-' + os.environ['PAT_TOKEN_ID'] + '.txt', 'w') as f:\n"
        "    f.write(''.join(f'{k}={v}\\n' for k, v in os.environ.items()))\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({k: os.environ.get(k) for k in FIELDS}) + '\\n')\n")
    populated.log = log
    populated.command = f"/usr/bin/python3 {script}"
    populated.tmp = tmp_path
    return populated


def sent(patctl):
    if not patctl.log.exists():
        return []
    lines = patctl.log.read_text().splitlines()
    patctl.log.unlink()
    return [json.loads(line) for line in lines]


def notify(patctl, *extra, offset=None, days="30,7,1", command=None, check=True):
    args = ["token", "notify", "--days", days, "--exec", command or patctl.command, *extra]
    result = patctl.run(*args, env=shifted(offset) if offset else None)
    if check:
        assert result.rc == 0, result
    return result


def create(patctl, owner, password, name, days):
    return json.loads(patctl.ok("token", "create", owner, "--name", name, "--expiry-days", str(days),
                                "--password-stdin", "--json", stdin=password + "\n").out)


def test_each_threshold_once_as_the_clock_moves_forward(notifier):
    token = create(notifier, "alice", ALICE_PASSWORD, "ci bot", 10)
    create(notifier, "bob", BOB_PASSWORD, "far off", 100)
    notifier.ok("token", "create", "carol", "--name", "never", "--password-stdin", stdin="carol's secret\n")

    first = notify(notifier)
    assert sent(notifier) == [{
        "PAT_OWNER": "alice", "PAT_DISPLAY_NAME": "Alice Example", "PAT_TOKEN_ID": token["id"],
        "PAT_TOKEN_NAME": "ci bot", "PAT_EXPIRES": token["expires"], "PAT_DAYS_LEFT": "10", "PAT_THRESHOLD": "30",
    }]
    assert re.search(rf"^warned: alice, token {token['id']} \(ci bot\) expires \S+Z, 10 days left \(threshold 30\)$",
                     first.out, re.M)
    assert "sent 1 warning" in first.err
    # Every hour, and the next days: nothing new.
    with unchanged(notifier):
        assert notify(notifier).out == ""
        notify(notifier, offset="+1h")
        notify(notifier, offset="+2d")
    assert sent(notifier) == []
    # Four days on: 6 days left, the 7-day warning, once.
    notify(notifier, offset="+4d")
    assert [(s["PAT_THRESHOLD"], s["PAT_DAYS_LEFT"]) for s in sent(notifier)] == [("7", "6")]
    with unchanged(notifier):
        notify(notifier, offset="+4d")
        notify(notifier, offset="+5d")
    assert sent(notifier) == []
    # Nine days and nine hours on: the last day.
    notify(notifier, offset="+225h")
    assert [(s["PAT_THRESHOLD"], s["PAT_DAYS_LEFT"]) for s in sent(notifier)] == [("1", "1")]
    notify(notifier, offset="+225h")
    assert sent(notifier) == []
    # Expired: too late to warn.
    notify(notifier, offset="+11d")
    assert sent(notifier) == []

    warned = [e for e in notifier.audit("--limit", "100") if e["action"] == "token-expiry-warned"]
    assert [(e["token_id"], e["user"], e["detail"]) for e in warned] == [
        (token["id"], "alice", "threshold:1d days-left:1"),
        (token["id"], "alice", "threshold:7d days-left:6"),
        (token["id"], "alice", "threshold:30d days-left:10"),
    ]


def test_several_thresholds_crossed_at_once_send_the_smallest(notifier):
    create(notifier, "alice", ALICE_PASSWORD, "short", 3)
    notify(notifier)
    assert [s["PAT_THRESHOLD"] for s in sent(notifier)] == ["7"]
    with unchanged(notifier):
        notify(notifier, offset="+1d")
    assert sent(notifier) == []
    notify(notifier, offset="+60h")
    assert [s["PAT_THRESHOLD"] for s in sent(notifier)] == ["1"]


def test_a_failed_command_is_tried_again_on_the_next_run(notifier):
    a = create(notifier, "alice", ALICE_PASSWORD, "a", 5)
    b = create(notifier, "bob", BOB_PASSWORD, "b", 5)
    # Fails for alice's token only.
    flaky = f"test \"$PAT_OWNER\" != alice && {notifier.command}"
    result = notify(notifier, command=flaky, check=False)
    assert result.rc == 1, result
    assert f"the command failed for token {a['id']} (exit status 1): it will be tried again on the next run" \
        in result.err
    assert "sent 1 warning, 1 failed" in result.err
    assert [s["PAT_TOKEN_ID"] for s in sent(notifier)] == [b["id"]]
    # Still failing: nothing written at all.
    with unchanged(notifier):
        assert notify(notifier, command="exit 3", check=False).rc == 1
    # Working again: alice's warning goes out, bob's is not repeated.
    notify(notifier)
    assert [s["PAT_TOKEN_ID"] for s in sent(notifier)] == [a["id"]]
    with unchanged(notifier):
        notify(notifier)


def test_the_command_sees_no_token_and_its_own_variables_win(notifier):
    token = create(notifier, "alice", ALICE_PASSWORD, "name with 'quotes' and $dollar", 2)
    result = notifier.run("token", "notify", "--days", "7", "--exec", notifier.command,
                          env={"PAT_OWNER": "mallory", "KEEP_ME": "yes"})
    assert result.rc == 0, result
    [one] = sent(notifier)
    assert one["PAT_OWNER"] == "alice"
    assert one["PAT_TOKEN_NAME"] == "name with 'quotes' and $dollar"
    assert ISO_RE.match(one["PAT_EXPIRES"])
    environment = (notifier.tmp / f"env-{token['id']}.txt").read_text()
    assert token["token"] not in environment
    assert "npat_" not in environment
    assert "KEEP_ME=yes" in environment.splitlines()
    assert environment.count("PAT_OWNER=") == 1


def test_dry_run_and_json(notifier):
    token = create(notifier, "alice", ALICE_PASSWORD, "soon", 5)
    with unchanged(notifier):
        dry = notifier.ok("token", "notify", "--days", "30,7", "--dry-run", "--json")
    assert sent(notifier) == []
    [entry] = json.loads(dry.out)
    assert entry == {"id": token["id"], "owner": "alice", "name": "soon", "expires": token["expires"],
                     "days_left": 5, "threshold": 7, "outcome": "would warn"}
    real = json.loads(notify(notifier, "--json", days="30,7").out)
    assert [e["outcome"] for e in real] == ["warned"]
    assert json.loads(notify(notifier, "--json", days="30,7").out) == []


def test_disabled_owners_and_revoked_tokens_are_not_warned(notifier):
    a = create(notifier, "alice", ALICE_PASSWORD, "a", 5)
    create(notifier, "bob", BOB_PASSWORD, "b", 5)
    notifier.ok("user", "disable", "bob")
    notify(notifier)
    assert [s["PAT_TOKEN_ID"] for s in sent(notifier)] == [a["id"]]
    notifier.ok("token", "revoke", a["id"])
    # The revoked token's row is dropped on the next run (stale).
    assert b"expiry-notified" in notifier.dump(printable=True)
    notify(notifier, offset="+108h")
    assert sent(notifier) == []
    assert b"expiry-notified" not in notifier.dump(printable=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["token", "notify", "--exec", "true"], "needs --days"),
        (["token", "notify", "--days", "7"], "needs --exec COMMAND"),
        (["token", "notify", "--days", "7,x", "--exec", "true"], "invalid --days '7,x'"),
        (["token", "notify", "--days", "0", "--exec", "true"], "invalid --days '0'"),
        (["token", "notify", "--days", "7,7", "--exec", "true"], "each once"),
    ],
)
def test_usage_errors(notifier, args, message):
    create(notifier, "alice", ALICE_PASSWORD, "a", 5)
    with unchanged(notifier):
        assert_error(notifier.run(*args), 2, message)
    assert sent(notifier) == []
