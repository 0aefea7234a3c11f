"""`make run`'s demo (demo/run.sh) on free ports: the commands it prints
work as printed, the account page it prints is served and its token API
(patd, behind the demo's nginx) makes tokens that clone, and `stop` stops
everything it started, patd included."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from harness import (REPO_ROOT, curl, free_port, git, module_path, patctl_path, patd_path,
                     port_open)

RUN_SH = REPO_ROOT / "demo" / "run.sh"

if module_path() == "static":
    pytest.skip("the demo loads the dynamic module", allow_module_level=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    state = tmp_path_factory.mktemp("demo") / "state"
    env = dict(os.environ, PAT_DEMO_PORT=str(free_port()), PAT_DEMO_BACKEND_PORT=str(free_port()),
               PAT_DEMO_STATE=str(state), PATCTL=patctl_path(), PAT_MODULE=module_path(),
               PATD=patd_path())
    started = subprocess.run([str(RUN_SH), "start"], env=env, capture_output=True, text=True,
                             timeout=120)
    patd_pid = None
    try:
        assert started.returncode == 0, started.stderr
        patd_pid = int((state / "patd.pid").read_text())
        yield env, started.stdout
    finally:
        stopped = subprocess.run([str(RUN_SH), "stop"], env=env, capture_output=True, text=True,
                                 timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        assert not port_open(int(env["PAT_DEMO_PORT"]))
        assert not port_open(int(env["PAT_DEMO_BACKEND_PORT"]))
        log = (state / "nginx" / "logs" / "error.log").read_text()
        assert "[alert]" not in log and "[emerg]" not in log
    # patd stopped on SIGTERM, cleanly (its last line), and removed its socket.
    assert patd_pid is not None and not os.path.exists(f"/proc/{patd_pid}")
    assert not (state / "patd.sock").exists()
    patd_log = (state / "patd.log").read_text()
    assert patd_log.rstrip().splitlines()[-1].startswith("<5>patd: notice: stopped"), patd_log[-2000:]
    assert not re.search(r"^<[0-2]>patd:", patd_log, re.M), patd_log
    assert "demo password" not in patd_log
    assert not re.search(r"npat_[A-Za-z0-9_-]{16,}", patd_log, re.IGNORECASE), "token text in patd's log"


def printed_commands(text):
    starts = ("cd ", "git ", "echo ", "curl ")
    return [line.strip() for line in text.splitlines()
            if line.startswith("  ") and line.strip().startswith(starts)]


def test_printed_commands_work_as_printed(demo, tmp_path):
    env, output = demo
    commands = printed_commands(output)
    assert len(commands) == 8, output
    # Run them in one shell, as a user pasting them would, and note each
    # command's exit status.
    script = "\n".join(f"{c}\necho \"::rc $?\" >&2" for c in commands)
    shell_env = dict(os.environ, HOME=str(tmp_path), GIT_CONFIG_GLOBAL="/dev/null",
                     GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", TMPDIR=str(tmp_path))
    result = subprocess.run(["bash", "-c", script], env=shell_env, capture_output=True, text=True,
                            timeout=180)
    codes = [int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("::rc")]
    assert len(codes) == len(commands), result.stderr
    by_command = dict(zip(commands, codes))
    clone, refused, accepted = (commands[1], commands[5], commands[6])
    assert clone.startswith("git clone") and by_command[clone] == 0
    assert refused == "git push" and by_command[refused] != 0
    assert "403" in result.stderr
    assert accepted.startswith("git push http") and by_command[accepted] == 0

    page = json.loads(result.stdout)
    messages = [commit["message"] for commit in page["values"]]
    # The pushed commit is first, then the demo repository's own three.
    assert messages == ["A change", "Greet the world", "Say hello", "Add a README"]
    assert page["isLastPage"] is True


def test_rest_errors_through_the_demo(demo):
    env, output = demo
    port = env["PAT_DEMO_PORT"]
    url = (f"http://127.0.0.1:{port}/bitbucket/rest/api/1.0/projects/WORK/repos/my-repo/"
           "commits/?until=master")
    result = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", url], capture_output=True,
                            text=True, timeout=30)
    body, _, status = result.stdout.rpartition("\n")
    assert status == "401"
    assert json.loads(body)["errors"][0]["message"].startswith("Authentication failed")


def test_self_service_through_the_demo(demo, tmp_path):
    env, output = demo
    port = env["PAT_DEMO_PORT"]
    # The account page's address, as printed, serves the page.
    (page_url,) = re.findall(r"^  (http://localhost:\d+/account/tokens/)$", output, re.M)
    password = re.search(r'user alice, password "([^"]+)"', output).group(1)
    page = curl(page_url.replace("localhost", "127.0.0.1"))
    assert page.status == 200
    assert page.body == (REPO_ROOT / "web" / "index.html").read_text()
    script = curl(f"http://127.0.0.1:{port}/account/tokens/app.js")
    assert script.status == 200
    assert script.header_values("Content-Type")[0] in ("application/javascript", "text/javascript")

    # What the page does: sign in (a list), create a token, through the
    # demo's nginx to patd, with the page's own headers.
    base = f"http://127.0.0.1:{port}/rest/access-tokens/1.0/users/alice"
    origin = ("-H", f"Origin: http://127.0.0.1:{port}")
    listed = curl(base, "-u", f"alice:{password}", *origin)
    assert listed.status == 200, listed.body
    assert {t["name"] for t in listed.json()["values"]} == {"demo read", "demo write"}
    created = curl(base, "-u", f"alice:{password}", *origin, "-X", "PUT",
                   "-H", "Content-Type: application/json",
                   "--data-binary", '{"name": "self-service", "permissions": ["REPO_READ"]}')
    assert created.status == 200, created.body
    token = created.json()["token"]

    # The new token clones through the demo's git location.
    clone = tmp_path / "clone"
    git("clone", "-q", f"http://alice:{token}@127.0.0.1:{port}/bitbucket/scm/WORK/my-repo.git",
        str(clone))
    assert (clone / "README.md").exists()
    patd_log = (Path(env["PAT_DEMO_STATE"]) / "patd.log").read_text()
    assert f"token {created.json()['id']} created for alice from 127.0.0.1" in patd_log
    assert token not in patd_log

    # Revoked through the API, it no longer clones.
    revoked = curl(f"{base}/{created.json()['id']}", "-u", f"alice:{password}", *origin,
                   "-X", "DELETE")
    assert revoked.status == 204
    again = git("clone", "-q",
                f"http://alice:{token}@127.0.0.1:{port}/bitbucket/scm/WORK/my-repo.git",
                str(tmp_path / "again"), check=False)
    assert again.returncode != 0
