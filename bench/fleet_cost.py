#!/usr/bin/env python3
"""The access phase's cost on a fleet replica against a single-host store (issue 15).

    bench/fleet_cost.py --module build/ngx_http_auth_pat_module.so \\
        --put-replica-state build/tests/put-replica-state --stores build/bench/stores
                                                              (make bench-fleet)

The same 1k-token bench store, copied three times: as it is (single-host),
with a ReplicaState written into it as the follower writes one (fleet
replica, verified just now, auth_pat_max_staleness 1d so it stays fresh
under valgrind), and the replica again with `auth_pat_max_staleness off`
(no gate at all). For each, a real nginx (one process, master_process off)
runs under callgrind, collecting inside pat::ngx::access_handler only, and
answers N and 2N git ref-advertisement requests with the hot Bearer token on
one keep-alive connection; Ir(2N) - Ir(N), divided by N, is the
instructions of one request's access phase (the decision included), one-time
costs cancelled. The worker's timer, which reads the replica state four
times a second, runs outside the access phase and is not counted: it is not
on the request path.

Prints a Markdown table (and writes it to --out). Needs valgrind.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

URI = "/scm/BENCH/repo.git/info/refs?service=git-upload-pack"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hot_token(credentials):
    for line in Path(credentials).read_text().splitlines():
        kind, _user, token = line.split(" ")
        if kind == "valid":
            return token
    raise SystemExit(f"fleet_cost: no valid token in {credentials}")


def nginx_conf(module, prefix, port, store, staleness):
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""load_module {module};
{user}master_process off;
daemon off;
error_log {prefix}/error.log info;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        location /scm/ {{
            auth_pat "bench";
            auth_pat_db {store};
            auth_pat_route git;
            auth_pat_max_staleness {staleness};
            empty_gif;
        }}
    }}
}}
"""


def instructions(module, prefix, store, staleness, token, requests):
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(module, prefix, port, store, staleness))
    process = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                                "--toggle-collect=pat::ngx::access_handler(*",
                                "/usr/sbin/nginx", "-p", str(prefix), "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"fleet_cost: nginx did not start: {process.stderr.read()}")
                time.sleep(0.2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(requests):
            connection.request("GET", URI, headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"fleet_cost: {store} ({staleness}) answered {response.status}, not 200")
        connection.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
        _, err = process.communicate(timeout=120)
    # The process nginx runs in; the module's start-up check of the store
    # forks a child that valgrind follows and reports too.
    found = re.search(rf"^=={process.pid}== Collected : (\d+)$", err, re.M)
    if not found:
        raise SystemExit(f"fleet_cost: no callgrind total: {err[-2000:]}")
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--module", required=True)
    parser.add_argument("--put-replica-state", required=True)
    parser.add_argument("--stores", required=True, help="build/bench/stores (store-1000.lmdb)")
    parser.add_argument("--requests", type=int, default=200, help="N (the runs answer N and 2N)")
    parser.add_argument("--out")
    args = parser.parse_args()
    source = Path(args.stores) / "store-1000.lmdb"
    token = hot_token(Path(args.stores) / "credentials-1000.txt")

    rows = []
    with tempfile.TemporaryDirectory(prefix="fleet-cost-") as tmp:
        tmp = Path(tmp)
        cases = (("single-host store", "single", False, "30s"),
                 ("fleet replica (verified, auth_pat_max_staleness 1d)", "replica", True, "1d"),
                 ("fleet replica, auth_pat_max_staleness off (no gate)", "replica-off", True, "off"))
        for label, name, replica, staleness in cases:
            prefix = tmp / name
            (prefix / "tmp").mkdir(parents=True)
            store = prefix / "pat.db"
            shutil.copyfile(source, store)
            if replica:
                subprocess.run([args.put_replica_state, "--db", str(store), "--verified-ago-ms", "0",
                                "--position", "1000", "--source-head", "1000"], check=True)
            one = instructions(args.module, prefix, store, staleness, token, args.requests)
            two = instructions(args.module, prefix, store, staleness, token, 2 * args.requests)
            # The worker really took the copy for what it is.
            said = "is a fleet replica" in (prefix / "error.log").read_text()
            if said != replica:
                raise SystemExit(f"fleet_cost: nginx {'did not see' if replica else 'saw'} a replica in {store}")
            rows.append((label, (two - one) / args.requests))

    base = rows[0][1]
    lines = ["| store (1k tokens, hot Bearer token, git ref advertisement) | Ir per request in the access phase "
             "| × single-host |", "|---|---:|---:|"]
    lines += [f"| {label} | {ir:,.0f} | {ir / base:.4f}× |" for label, ir in rows]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    worst = max(abs(ir / base - 1) for _, ir in rows)
    if worst > 0.05:
        print(f"fleet_cost: a replica costs {worst:.1%} more or less than single-host (bound: 5%)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
