"""patctl's standard streams: closed descriptors, and the password prompt on
a terminal.

Every failing command is checked for its exit code (1 refused / not found,
2 usage), a single "patctl: ..." line on stderr, and an unchanged store
(mdb_dump of every sub-database before and after); see conftest.py.
"""

import os
import subprocess
import time

from conftest import (
    ALICE_PASSWORD,
    PATCTL,
    unchanged,
)


# ---------------------------------------------------------------- closed descriptors


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
