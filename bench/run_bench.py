#!/usr/bin/python3
"""The nginx benchmark of `make bench`: token auth through the module against
no auth, auth_basic, auth_request and an access_by_lua peer, in one run.

Every configuration gets its own /usr/sbin/nginx (worker_processes 1,
keepalive, access_log off, empty_gif after the access phase) under a private
prefix in build/bench/run, pinned to core 0; wrk runs pinned to core 1 on
loopback. The configurations are run in rounds, interleaved, each round in
the same order; medians are quoted.

The figure of merit is the worker's CPU time per request: its utime+stime
from /proc/PID/stat over the measured run, divided by the requests wrk saw
answered. One wrk core saturates near the no-auth rate, so requests/s alone
hides overhead.

Python standard library only (Debian's /usr/bin/python3).
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
LUA_MODULES = ["/usr/lib/nginx/modules/ndk_http_module.so",
               "/usr/lib/nginx/modules/ngx_http_lua_module.so"]
LUA_LIBRARY = "/usr/share/lua/5.1/?.lua"
WRK_SCRIPT = ROOT / "bench" / "wrk" / "credentials.lua"
TARGET = "/scm/BENCH/repo.git/info/refs?service=git-upload-pack"
SERVER_CORE = "0"
CLIENT_CORE = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STORE_SIZES = [1000, 100_000, 1_000_000]
HTPASSWD_SIZES = [1, 10_000, 100_000]
ROTATION = 10_000
PEER_STORE = 100_000  # the store whose tokens auth_request and Lua check
BAD_LOG_LINE = re.compile(r"\[(alert|emerg|crit)\]|AddressSanitizer|runtime error:")


def human(n):
    return {1000: "1k", 10_000: "10k", 100_000: "100k", 1_000_000: "1M"}.get(n, str(n))


def store_path(size):
    return BUILD / "stores" / f"store-{size}.lmdb"


def credentials_path(size):
    return BUILD / "stores" / f"credentials-{size}.txt"


class Config:
    """One benchmark configuration: the server side and the traffic."""

    def __init__(self, name, group, location, credentials=None, kind="valid", scheme="bearer",
                 count=1, expect=200, modules=(), http_extra="", server_extra="",
                 checker=False, error_log_level="error", store_size=None):
        self.name, self.group, self.location = name, group, location
        self.credentials, self.kind, self.scheme, self.count = credentials, kind, scheme, count
        self.expect, self.modules, self.http_extra = expect, modules, http_extra
        self.server_extra, self.checker = server_extra, checker
        self.error_log_level, self.store_size = error_log_level, store_size

    def wrk_args(self):
        if self.credentials is None:
            return ["none"]
        return [str(self.credentials), self.kind, self.scheme, str(self.count)]


def pat_location(size, route="git"):
    return (f'auth_pat "bench";\n        auth_pat_db {store_path(size)};\n'
            f'        auth_pat_route {route};\n        empty_gif;')


def configurations(module, checker_port):
    configs = [Config("no auth", "limit", "empty_gif;")]
    for size in STORE_SIZES:
        rotation = min(ROTATION, size)
        for scheme in ("bearer", "basic"):
            for count in (1, rotation):
                traffic = "hot" if count == 1 else f"{human(count)} rotating"
                configs.append(Config(f"module {scheme.capitalize()} {human(size)} tokens, {traffic}",
                                      "module", pat_location(size), credentials_path(size),
                                      scheme=scheme, count=count, modules=(module,),
                                      store_size=size))
    big = STORE_SIZES[-1]
    for kind, expect, label in (("unknown", 401, "unknown token"), ("badsum", 401, "bad checksum"),
                                ("noperm", 403, "insufficient permission")):
        configs.append(Config(f"module reject: {label} ({human(big)})", "reject", pat_location(big),
                              credentials_path(big), kind=kind, expect=expect, modules=(module,),
                              store_size=big))
    configs.append(Config(f"module reject: unknown token ({human(big)}), error_log crit", "reject",
                          pat_location(big), credentials_path(big), kind="unknown", expect=401,
                          modules=(module,), error_log_level="crit", store_size=big))
    for users in HTPASSWD_SIZES:
        configs.append(Config(f"auth_basic, {human(users)} user(s) {{SHA}}", "auth_basic",
                              f'auth_basic "bench";\n        auth_basic_user_file '
                              f'{BUILD / f"htpasswd-{users}"};\n        empty_gif;',
                              BUILD / "htpasswd-credentials.txt", scheme="basic"))
    peer_credentials = credentials_path(PEER_STORE)
    auth_request_server = (
        "location = /_token_check {\n        internal;\n"
        "        proxy_pass http://token_checker;\n        proxy_http_version 1.1;\n"
        '        proxy_set_header Connection "";\n        proxy_pass_request_body off;\n'
        '        proxy_set_header Content-Length "";\n'
        "        proxy_set_header X-Original-URI $request_uri;\n"
        "        proxy_set_header X-Original-Method $request_method;\n    }")
    auth_request_http = (f"upstream token_checker {{\n        server 127.0.0.1:{checker_port};\n"
                         "        keepalive 32;\n    }")
    lua_http = (f'lua_package_path "{ROOT / "bench" / "lua"}/?.lua;{LUA_LIBRARY};;";\n'
                f'    init_by_lua_block {{ require("token_check").load("{peer_credentials}", '
                f'{ROTATION}) }}')
    for count in (1, ROTATION):
        traffic = "hot" if count == 1 else f"{human(count)} rotating"
        configs.append(Config(f"auth_request + checker, Bearer, {traffic}", "auth_request",
                              "auth_request /_token_check;\n        empty_gif;", peer_credentials,
                              count=count, http_extra=auth_request_http,
                              server_extra=auth_request_server, checker=True))
    for count in (1, ROTATION):
        traffic = "hot" if count == 1 else f"{human(count)} rotating"
        configs.append(Config(f"access_by_lua SHA-256 + table, Bearer, {traffic}", "lua",
                              'access_by_lua_block { require("token_check").check() }\n'
                              "        empty_gif;", peer_credentials, count=count,
                              modules=tuple(LUA_MODULES), http_extra=lua_http))
    return configs


def nginx_conf(config, port):
    loads = "".join(f"load_module {m};\n" for m in config.modules)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{loads}{user}worker_processes 1;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log {config.error_log_level};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    {config.http_extra}
    server {{
        listen 127.0.0.1:{port};
        location /scm/ {{
        {config.location}
        }}
    {config.server_extra}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def children(pid):
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pid):
    """utime + stime of a process from /proc/PID/stat, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid):
    result = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            result[key] = int(value.split()[0])
    return result


def first_credential(path, kind):
    for line in Path(path).read_text().splitlines():
        k, user, token = line.split(" ")
        if k == kind:
            return user, token
    raise SystemExit(f"no {kind} credential in {path}")


def probe(config, port):
    """One request with the configuration's first credential: its status."""
    headers = {}
    if config.credentials is not None:
        user, token = first_credential(config.credentials, config.kind)
        if config.scheme == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        else:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", TARGET, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def run_wrk(config, port, seconds, connections):
    command = ["taskset", "-c", CLIENT_CORE, WRK, "-t1", f"-c{connections}", f"-d{seconds}s",
               "--timeout", "30s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}{TARGET}",
               "--", *config.wrk_args()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    for line in result.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line[len("WRK_RESULT "):])
    raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr.strip()[-500:]}")


class Checker:
    """bench-token-checker, the auth_request upstream, pinned to the server core."""

    def __init__(self, binary, port):
        self.port = port
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, str(binary), "--db", str(store_path(PEER_STORE)),
             "--port", str(port)], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_port(port, self.process):
            raise SystemExit("bench-token-checker did not start: "
                             + self.process.stderr.read().decode(errors="replace"))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


def measure(config, args, checker):
    prefix = BUILD / "run" / re.sub(r"[^A-Za-z0-9]+", "-", config.name).strip("-")
    shutil.rmtree(prefix, ignore_errors=True)
    (prefix / "logs").mkdir(parents=True)
    (prefix / "tmp").mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(config, port))
    master = subprocess.Popen(["taskset", "-c", SERVER_CORE, NGINX, "-p", str(prefix), "-c", str(conf)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        if not wait_port(port, master):
            raise RuntimeError("nginx did not start: " + master.stderr.read().decode(errors="replace"))
        # The master listens before it forks its worker: wait for the worker.
        deadline = time.monotonic() + 10
        workers = children(master.pid)
        while len(workers) != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
            workers = children(master.pid)
        if len(workers) != 1:
            raise RuntimeError(f"expected one nginx worker, found {workers}")
        worker = workers[0]
        status = probe(config, port)
        if status != config.expect:
            raise RuntimeError(f"a probe got HTTP {status}, expected {config.expect}")
        run_wrk(config, port, args.warmup, args.connections)
        worker_before = cpu_seconds(worker)
        checker_before = cpu_seconds(checker.process.pid) if config.checker else 0.0
        result = run_wrk(config, port, args.duration, args.connections)
        worker_after = cpu_seconds(worker)
        checker_after = cpu_seconds(checker.process.pid) if config.checker else 0.0
        result["memory_kib"] = memory_kib(worker)
    finally:
        if master.poll() is None:
            master.send_signal(signal.SIGQUIT)
            try:
                master.wait(timeout=15)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
    requests = result["requests"]
    errors = result["connect_errors"] + result["read_errors"] + result["write_errors"] + result["timeouts"]
    expected_status_errors = requests if config.expect >= 400 else 0
    if requests == 0 or errors or result["status_errors"] != expected_status_errors:
        raise RuntimeError(f"wrk saw errors or unexpected statuses: {result}")
    log = prefix / "logs" / "error.log"
    bad = [line for line in log.read_text(errors="replace").splitlines() if BAD_LOG_LINE.search(line)]
    if bad:
        raise RuntimeError(f"error.log has {len(bad)} bad line(s), first: {bad[0]}")
    result["rps"] = requests / (result["duration_us"] / 1e6)
    result["worker_us"] = (worker_after - worker_before) * 1e6 / requests
    result["checker_us"] = (checker_after - checker_before) * 1e6 / requests
    shutil.rmtree(prefix, ignore_errors=True)  # rejection logs grow by megabytes
    return result


def write_htpasswd():
    """htpasswd files of 1, 10k, 100k {SHA} users, the benchmark user last."""
    password = secrets.token_urlsafe(40)[:54]
    entry = "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    for users in HTPASSWD_SIZES:
        lines = [f"filler{i:06d}:" + "{SHA}" + base64.b64encode(
            hashlib.sha1(f"filler-{i}".encode()).digest()).decode() for i in range(users - 1)]
        lines.append(f"benchuser:{entry}")
        path = BUILD / f"htpasswd-{users}"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    creds = BUILD / "htpasswd-credentials.txt"
    creds.write_text(f"valid benchuser {password}\n")
    creds.chmod(0o600)


def median(values):
    return statistics.median(values) if values else float("nan")


def summarize(configs, runs):
    rows = {}
    for config in configs:
        results = runs.get(config.name, [])
        if not results:
            continue
        rows[config.name] = {
            "group": config.group,
            "runs": len(results),
            "rps": median([r["rps"] for r in results]),
            "p50": median([r["p50_us"] for r in results]),
            "p99": median([r["p99_us"] for r in results]),
            "worker_us": median([r["worker_us"] for r in results]),
            "checker_us": median([r["checker_us"] for r in results]),
            "rss": median([r["memory_kib"]["VmRSS"] for r in results]),
            "rss_anon": median([r["memory_kib"]["RssAnon"] for r in results]),
            "rss_file": median([r["memory_kib"]["RssFile"] for r in results]),
            "store_size": config.store_size,
        }
    return rows


def render_table(rows):
    base = rows.get("no auth")
    out = ["| configuration | req/s | × no auth | p50 µs | p99 µs | worker CPU µs/req | "
           "checker CPU µs/req | added µs/req | efficiency |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        server = row["worker_us"] + row["checker_us"]
        ratio = row["rps"] / base["rps"] if base else float("nan")
        added = server - base["worker_us"] if base else float("nan")
        efficiency = base["worker_us"] / server if base else float("nan")
        checker = f"{row['checker_us']:.2f}" if row["group"] == "auth_request" else ""
        out.append(f"| {name} | {row['rps']:,.0f} | {ratio:.3f} | {row['p50']:.0f} | {row['p99']:.0f} | "
                   f"{row['worker_us']:.2f} | {checker} | {added:+.2f} | {efficiency:.1%} |")
    return "\n".join(out)


def render_memory(rows):
    out = ["| configuration | worker VmRSS KiB | RssAnon KiB | RssFile KiB (page cache, shared) |",
           "|---|---:|---:|---:|"]
    for name, row in rows.items():
        if row["group"] in ("limit", "module"):
            out.append(f"| {name} | {row['rss']:,.0f} | {row['rss_anon']:,.0f} | {row['rss_file']:,.0f} |")
    return "\n".join(out)


def render_targets(rows):
    base = rows.get("no auth")
    if base is None:
        return "(no \"no auth\" run: no targets)"

    def added(name):
        row = rows.get(name)
        return None if row is None else row["worker_us"] + row["checker_us"] - base["worker_us"]

    lines = []

    def verdict(ok):
        return "met" if ok else "MISSED"

    module_rows = {n: r for n, r in rows.items() if r["group"] == "module"}
    if module_rows:
        worst = min(module_rows, key=lambda n: base["worker_us"] / module_rows[n]["worker_us"])
        eff = base["worker_us"] / module_rows[worst]["worker_us"]
        best = max(module_rows, key=lambda n: base["worker_us"] / module_rows[n]["worker_us"])
        best_eff = base["worker_us"] / module_rows[best]["worker_us"]
        lines.append(f"- Efficiency ≥ 95% of no auth: {verdict(eff >= 0.95)} — worst {eff:.1%} "
                     f"({worst}), best {best_eff:.1%} ({best}).")
    small, large = human(STORE_SIZES[0]), human(STORE_SIZES[-1])
    for scheme in ("Bearer", "Basic"):
        for small_traffic, large_traffic in (("hot", "hot"), (f"{human(min(ROTATION, STORE_SIZES[0]))} rotating",
                                                              f"{human(ROTATION)} rotating")):
            a = rows.get(f"module {scheme} {small} tokens, {small_traffic}")
            b = rows.get(f"module {scheme} {large} tokens, {large_traffic}")
            if a and b:
                growth = b["worker_us"] / a["worker_us"] - 1
                lines.append(f"- Flat in store size, {scheme} {large_traffic}: {verdict(growth <= 0.05)} — "
                             f"{large} costs {growth:+.1%} CPU/request against {small}.")
    accepted = rows.get(f"module Bearer {large} tokens, hot")
    if accepted:
        for name, row in rows.items():
            if row["group"] == "reject":
                ok = row["worker_us"] <= accepted["worker_us"] * (0.99 if "checksum" in name else 1.02)
                lines.append(f"- Rejection no dearer than acceptance ({name}): {verdict(ok)} — "
                             f"{row['worker_us']:.2f} vs {accepted['worker_us']:.2f} µs/request.")
    ours = added(f"module Bearer {human(PEER_STORE)} tokens, hot")
    ours_basic = added(f"module Basic {human(PEER_STORE)} tokens, hot")
    basic1 = added(f"auth_basic, 1 user(s) {{SHA}}")
    if ours_basic is not None and basic1 is not None:
        lines.append(f"- Faster than auth_basic at 1 user: {verdict(ours_basic < basic1)} — module Basic adds "
                     f"{ours_basic:+.2f} µs, auth_basic {basic1:+.2f} µs.")
    for traffic in ("hot", f"{human(ROTATION)} rotating"):
        ours_t = added(f"module Bearer {human(PEER_STORE)} tokens, {traffic}")
        req = added(f"auth_request + checker, Bearer, {traffic}")
        lua = added(f"access_by_lua SHA-256 + table, Bearer, {traffic}")
        if ours_t is not None and req is not None:
            ok = ours_t > 0 and req / ours_t >= 3 or ours_t <= 0
            lines.append(f"- ≥ 3× cheaper than auth_request ({traffic}): {verdict(ok)} — "
                         f"{ours_t:+.2f} vs {req:+.2f} µs added (worker + checker).")
        if ours_t is not None and lua is not None:
            ok = ours_t <= lua / 3
            lines.append(f"- At most a third of the Lua peer's added CPU ({traffic}): {verdict(ok)} — "
                         f"{ours_t:+.2f} vs {lua:+.2f} µs added.")
    anon = [r["rss_anon"] for r in module_rows.values()]
    if anon:
        spread = max(anon) - min(anon)
        lines.append(f"- Worker private memory (RssAnon) independent of store size: {verdict(spread <= 1024)} — "
                     f"{min(anon):,.0f}..{max(anon):,.0f} KiB across store sizes (RssFile is the shared "
                     "page cache of the mapped store).")
    return "\n".join(lines)


def render_decision(path):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    out = ["| benchmark | ns per call (CPU) |", "|---|---:|"]
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "error_occurred" in b:
            out.append(f"| {b['name']} | ERROR: {b.get('error_message', '')} |")
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6}.get(b.get("time_unit", "ns"), 1)
        out.append(f"| {b['name']} | {b['cpu_time'] * scale:,.0f} |")
    groups = render_groups(data)
    if groups:
        out += ["", "Decision by the number of groups the token's owner is in (issue 14: a user in 50 groups "
                "must cost no more per request than a user in one), ratios to 0 groups in the same run:", "",
                groups]
    return "\n".join(out)


GROUPS_CASE = re.compile(r"^decide/accept_groups_(\d+)/tokens:(\d+)$")


def render_groups(data):
    """The accept_groups_N cases of decision_bench, per store size, as CPU
    ns and as ratios to the 0-group case measured in the same run."""
    by_size = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        match = GROUPS_CASE.match(b.get("run_name", b["name"]))
        if not match or "error_occurred" in b:
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6}.get(b.get("time_unit", "ns"), 1)
        by_size.setdefault(int(match.group(2)), {})[int(match.group(1))] = b["cpu_time"] * scale
    if not by_size:
        return None
    counts = sorted({n for cases in by_size.values() for n in cases})
    out = ["| tokens in the store | " + " | ".join(f"{n} group{'' if n == 1 else 's'}: ns (× 0 groups)" for n in counts)
           + " |",
           "|---:|" + "---:|" * len(counts)]
    for size, cases in sorted(by_size.items()):
        base = cases.get(0)
        cells = []
        for n in counts:
            if n not in cases:
                cells.append("")
            elif base:
                cells.append(f"{cases[n]:,.0f} ({cases[n] / base:.2f}×)")
            else:
                cells.append(f"{cases[n]:,.0f}")
        out.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def machine_description():
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    nginx = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.splitlines()
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return (f"{model}, {os.cpu_count()} cores, {int(mem) // 1024} MiB RAM; "
            f"{platform.system()} {platform.release()}; {nginx}; "
            f"{wrk_version[0] if wrk_version else 'wrk'}; load average at start "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default=str(ROOT / "build" / "ngx_http_auth_pat_module.so"))
    parser.add_argument("--checker", default=str(BUILD / "bench-token-checker"))
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each configuration")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", help="regular expression: run only matching configurations "
                                       "(\"no auth\" always runs)")
    parser.add_argument("--decision-json", help="Google Benchmark JSON of decision_bench to include")
    parser.add_argument("--report", default=str(BUILD / "RESULTS.md"), help="Markdown report to write")
    parser.add_argument("--command", default="make bench", help="the command quoted in the report")
    args = parser.parse_args()

    for path, what in ((NGINX, "nginx"), (WRK, "wrk"), (args.module, "the module (make module)")):
        if not Path(path).exists():
            raise SystemExit(f"run_bench: {what} is missing: {path}")
    BUILD.mkdir(parents=True, exist_ok=True)
    # nginx maps the module: a build that rewrites build/*.so in place while
    # a worker runs kills it with SIGBUS. Run a private copy instead.
    module_copy = BUILD / "ngx_http_auth_pat_module.so"
    shutil.copyfile(args.module, BUILD / "module.so.tmp")
    os.replace(BUILD / "module.so.tmp", module_copy)
    args.module = str(module_copy)
    write_htpasswd()
    checker_port = free_port()
    configs = configurations(args.module, checker_port)
    if args.only:
        pattern = re.compile(args.only)
        configs = [c for c in configs if c.name == "no auth" or pattern.search(c.name)]
    for config in configs:
        if config.credentials is not None and not Path(config.credentials).exists():
            raise SystemExit(f"run_bench: {config.credentials} is missing (run bench-seed: make bench)")
    machine = machine_description()
    checker = Checker(args.checker, checker_port) if any(c.checker for c in configs) else None

    runs, failures = {}, {}
    started = time.monotonic()
    try:
        for round_number in range(1, args.rounds + 1):
            for config in configs:
                if config.name in failures:
                    continue
                try:
                    result = measure(config, args, checker)
                except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                    failures[config.name] = str(error)
                    print(f"[round {round_number}] {config.name}: FAILED: {error}", flush=True)
                    continue
                runs.setdefault(config.name, []).append(result)
                print(f"[round {round_number}] {config.name}: {result['rps']:,.0f} req/s, "
                      f"worker {result['worker_us']:.2f} µs/req"
                      + (f", checker {result['checker_us']:.2f} µs/req" if config.checker else ""),
                      flush=True)
    finally:
        if checker:
            checker.stop()
    elapsed = time.monotonic() - started

    rows = summarize(configs, runs)
    table, memory, targets = render_table(rows), render_memory(rows), render_targets(rows)
    decision = render_decision(args.decision_json) if args.decision_json else None
    report = [f"Machine: {machine}.", "",
              f"Command: `{args.command}` ({args.rounds} interleaved rounds, {args.duration} s measured "
              f"after {args.warmup} s warm-up per run, wrk -t1 -c{args.connections} on core {CLIENT_CORE}, "
              f"nginx on core {SERVER_CORE}; nginx part took {elapsed:.0f} s).", "",
              "Medians of the rounds. Worker CPU = the nginx worker's utime+stime over the run ÷ requests; "
              "added = (worker + checker) − no auth; efficiency = no-auth CPU ÷ (worker + checker) CPU.",
              "", table, "", "Worker memory after each run (median):", "", memory, "",
              "Targets (reported, not asserted):", "", targets]
    if decision:
        report += ["", "Core decision (decision_bench, Google Benchmark):", "", decision]
    if failures:
        report += ["", "Failed configurations:", ""] + [f"- {n}: {e}" for n, e in failures.items()]
    text = "\n".join(report) + "\n"
    Path(args.report).write_text(text)
    (BUILD / "results.json").write_text(json.dumps({"runs": runs, "failures": failures}, indent=1))
    print()
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
