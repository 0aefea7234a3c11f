"""`make run`'s demo (demo/run.sh) on free ports: the commands it prints
work as printed, and `stop` stops everything it started."""

import json
import os
import subprocess

import pytest

from harness import REPO_ROOT, free_port, module_path, patctl_path, port_open

RUN_SH = REPO_ROOT / "demo" / "run.sh"

if module_path() == "static":
    pytest.skip("the demo loads the dynamic module", allow_module_level=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    state = tmp_path_factory.mktemp("demo") / "state"
    env = dict(os.environ, PAT_DEMO_PORT=str(free_port()), PAT_DEMO_BACKEND_PORT=str(free_port()),
               PAT_DEMO_STATE=str(state), PATCTL=patctl_path(), PAT_MODULE=module_path())
    started = subprocess.run([str(RUN_SH), "start"], env=env, capture_output=True, text=True,
                             timeout=120)
    try:
        assert started.returncode == 0, started.stderr
        yield env, started.stdout
    finally:
        stopped = subprocess.run([str(RUN_SH), "stop"], env=env, capture_output=True, text=True,
                                 timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        assert not port_open(int(env["PAT_DEMO_PORT"]))
        assert not port_open(int(env["PAT_DEMO_BACKEND_PORT"]))
        log = (state / "nginx" / "logs" / "error.log").read_text()
        assert "[alert]" not in log and "[emerg]" not in log


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
