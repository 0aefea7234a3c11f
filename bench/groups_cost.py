#!/usr/bin/env python3
"""The decision's cost for a user in 0, 1 and 50 groups (issue 14), in one run.

    bench/groups_cost.py build/bench/decision_bench build/bench/stores --sizes 1000,1000000
                                                                  (make bench-groups)

For each store size, the accept of a Bearer token for a repo read of
BENCH/repo whose owner reaches BENCH through their own grant and no group
(groups0), through the one group they are in (groups1), and through one of
the fifty groups they are in (groups50) (bench/bench_store.cpp), measured two
ways:

  - instructions per decision inside Store::decide, counted by callgrind
    (--toggle-collect): Ir(2,000 decisions) - Ir(1,000), divided by 1,000, so
    one-time costs cancel. The figure a shared machine's noise cannot move;
  - Google Benchmark CPU ns per decision: the three cases in one run of
    decision_bench, --repetitions times in random order (so that the load
    of a shared machine falls on all three alike), the median of each.

Both as ratios to the 0-group case of the same size. Prints Markdown.
Needs valgrind (a Debian package).
"""
import argparse
import json
import re
import subprocess
import sys

COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.M)
KINDS = ("groups0", "groups1", "groups50")
CASE = re.compile(r"^decide/accept_groups_(\d+)/tokens:(\d+)$")


def instructions(binary, stores, size, kind, calls):
    result = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                             "--toggle-collect=pat::Store::decide(*", binary, "--stores", stores,
                             "--sizes", str(size), "--calls", kind, str(calls)],
                            check=True, capture_output=True, text=True)
    if not result.stdout.strip().endswith(", allowed"):
        raise SystemExit(f"groups_cost: {kind} on {size} tokens was not allowed: {result.stdout.strip()}")
    return int(COLLECTED.search(result.stderr).group(1))


def per_decision(binary, stores, size, kind):
    return (instructions(binary, stores, size, kind, 2000) - instructions(binary, stores, size, kind, 1000)) / 1000


def nanoseconds(binary, stores, sizes, repetitions, min_time):
    """{(size, groups): median CPU ns} from one run of decision_bench."""
    out = subprocess.run([binary, "--stores", stores, "--sizes", ",".join(map(str, sizes)),
                          "--benchmark_filter=accept_groups_", f"--benchmark_min_time={min_time}",
                          f"--benchmark_repetitions={repetitions}", "--benchmark_enable_random_interleaving=true",
                          "--benchmark_report_aggregates_only=true",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    found = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        match = CASE.match(b["run_name"])
        if match:
            scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b.get("time_unit", "ns")]
            found[(int(match.group(2)), int(match.group(1)))] = b["cpu_time"] * scale
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", help="decision_bench")
    parser.add_argument("stores", help="the directory of store-N.lmdb and credentials-N.txt")
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", default="0.5")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    ns = nanoseconds(args.binary, args.stores, sizes, args.repetitions, args.min_time)
    print("| tokens in the store | owner's groups | Ir per decision | × 0 groups | CPU ns (median) | × 0 groups |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        ir = {kind: per_decision(args.binary, args.stores, size, kind) for kind in KINDS}
        for kind in KINDS:
            groups = int(kind[len("groups"):])
            time = ns.get((size, groups))
            base = ns.get((size, 0))
            time_cells = (f"{time:,.0f} | {time / base:.2f}×" if time and base else " | ")
            print(f"| {size:,} | {groups} | {ir[kind]:,.0f} | {ir[kind] / ir['groups0']:.3f}× | {time_cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
