#!/usr/bin/python3
"""`systemctl` for a test machine without systemd (CI's container):
enough of it to run docs/install.md's `systemctl` lines against the
*installed* unit file, so that the unit is what starts patd.

    systemctl daemon-reload                 nothing to do
    systemctl enable --now UNIT | start UNIT | restart UNIT | stop UNIT
    systemctl is-active UNIT

A start does what systemd would with the unit's [Service] lines that
matter here: RuntimeDirectory= (made as User:Group with
RuntimeDirectoryMode=), UMask=, each ExecStartPre= (which must succeed),
then ExecStart= as User= with Group= as its group, in its own session,
stdout and stderr appended to STATE/UNIT.log, STATE being
/run/systemctl-without-systemd. The sandboxing lines
(ProtectSystem= and the like) are not applied: this is not a test of
systemd. The main process's pid is kept in STATE/UNIT.pid; a stop sends
KillSignal= and waits TimeoutStopSec=.

tests/package/test_install_guide.py installs it as
/usr/local/sbin/systemctl for the test's length, ahead of /usr/bin in
sudo's secure_path.
"""

import grp
import os
import pwd
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

UNIT_DIRS = (Path("/etc/systemd/system"), Path("/lib/systemd/system"),
             Path("/usr/lib/systemd/system"))


def fail(message):
    print(f"systemctl (test stand-in): {message}", file=sys.stderr)
    sys.exit(1)


# Fixed, not from the environment: sudo resets the environment.
STATE = Path("/run/systemctl-without-systemd")


def state_dir():
    STATE.mkdir(mode=0o700, exist_ok=True)
    return STATE


def unit_name(name):
    return name if name.endswith(".service") else f"{name}.service"


def service_section(name):
    """The [Service] lines of the installed unit: key -> list of values."""
    for directory in UNIT_DIRS:
        path = directory / unit_name(name)
        if path.exists():
            break
    else:
        fail(f"Unit {unit_name(name)} not found.")
    values, section = {}, None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def one(service, key, default=None):
    return service.get(key, [default])[-1]


def pid_file(name):
    return state_dir() / f"{unit_name(name)}.pid"


def alive(pid):
    """Running, and not a zombie: the process was started by an earlier
    systemctl, so whoever reaps it (the machine's init) may not yet have."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def running_pid(name):
    try:
        pid = int(pid_file(name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def start(name):
    if running_pid(name):
        return
    service = service_section(name)
    user = one(service, "User", "root")
    group = one(service, "Group", pwd.getpwnam(user).pw_gid)
    gid = grp.getgrnam(group).gr_gid if isinstance(group, str) else group
    uid = pwd.getpwnam(user).pw_uid
    for directory in " ".join(service.get("RuntimeDirectory", [])).split():
        path = Path("/run", directory)
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, int(one(service, "RuntimeDirectoryMode", "0755"), 8))
    umask = int(one(service, "UMask", "0022"), 8)
    log = open(state_dir() / f"{unit_name(name)}.log", "ab")
    as_user = dict(user=uid, group=gid, extra_groups=[], umask=umask, stdin=subprocess.DEVNULL,
                   stdout=log, stderr=log, cwd="/", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    for command in service.get("ExecStartPre", []):
        if subprocess.run(shlex.split(command), **as_user).returncode != 0:
            fail(f"{unit_name(name)}: ExecStartPre failed: {command} (log: {log.name})")
    process = subprocess.Popen(shlex.split(one(service, "ExecStart")), start_new_session=True,
                               **as_user)
    pid_file(name).write_text(str(process.pid))


def stop(name):
    pid = running_pid(name)
    if not pid:
        return
    service = service_section(name)
    signal_name = one(service, "KillSignal", "SIGTERM")
    os.kill(pid, getattr(signal, signal_name))
    deadline = time.monotonic() + float(one(service, "TimeoutStopSec", "90"))
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)


def main(args):
    args = [a for a in args if a not in ("--system", "--quiet", "-q", "--no-pager")]
    if not args:
        fail("no command")
    command, rest = args[0], args[1:]
    now = "--now" in rest
    names = [a for a in rest if not a.startswith("-")]
    if command == "daemon-reload":
        return 0
    if command == "enable":
        # Enabling is a link for the next boot; there is no boot here.
        for name in names if now else []:
            start(name)
        return 0
    if command == "start":
        for name in names:
            start(name)
        return 0
    if command == "stop":
        for name in names:
            stop(name)
        return 0
    if command == "restart":
        for name in names:
            stop(name)
            start(name)
        return 0
    if command == "is-active":
        active = all(running_pid(name) for name in names)
        print("active" if active else "inactive")
        return 0 if active else 3
    fail(f"'{command}' is not something this stand-in does")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
