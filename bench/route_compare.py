#!/usr/bin/env python3
"""Cost of the route classifiers per case, for one build or several side by side.

    bench/route_compare.py build/bench/route_bench              (make bench-routes-ir)
    bench/route_compare.py old=OLD/route_bench new=build/bench/route_bench --ns-rounds 5

Each BINARY (or LABEL=BINARY) is bench/route_bench.cpp linked against a
classifier. For every
case it lists (`BINARY --cases`), the script prints

  - what the classifier answered (`BINARY --calls CASE 1`);
  - instructions per call, counted by callgrind inside the classifier alone
    (--toggle-collect): Ir(2,000 calls) - Ir(1,000 calls), divided by 1,000,
    so one-time costs (the first call's symbol binding) cancel. This is the
    figure the noise of a shared machine cannot move;
  - with --ns-rounds R, the Google Benchmark CPU ns per call: R rounds, and
    in each round every benchmark of bench/route_bench.cpp run by each
    binary in turn (A B A B ... per benchmark, so the two figures of a pair
    are taken a second apart). Per binary: the median and the minimum of the
    rounds; per pair: the median of the rounds' ratios to the first binary.
    On a loaded machine the ns drift; the instruction counts do not.

Needs valgrind (Debian package) and, for ns, nothing else: the binaries are
Google Benchmark programs. Prints Markdown.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.M)


def cases(binary):
    return subprocess.run([binary, "--cases"], check=True, capture_output=True, text=True).stdout.split()


def answer(binary, case):
    out = subprocess.run([binary, "--calls", case, "1"], check=True, capture_output=True, text=True).stdout
    return out.strip().split(": ", 1)[1]


def instructions(binary, case, calls):
    function = "pat::classify_git_request*" if case.startswith("git_") else "pat::classify_rest_request*"
    result = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                             f"--toggle-collect={function}", binary, "--calls", case, str(calls)],
                            check=True, capture_output=True, text=True)
    return int(COLLECTED.search(result.stderr).group(1))


def per_call(binary, case):
    return (instructions(binary, case, 2000) - instructions(binary, case, 1000)) / 1000


# BM_ClassifyRest/commits -> commits; BM_ClassifyGitInfoRefs -> git_info_refs
def bench_case(name):
    if name.startswith("BM_ClassifyRest/"):
        return name.split("/", 1)[1]
    return {"BM_ClassifyGitInfoRefs": "git_info_refs", "BM_ClassifyRestMix": "mix",
            "BM_ClassifyRestBehindTenRules": "commits behind ten rules"}.get(name, name)


def benchmarks(binary):
    out = subprocess.run([binary, "--benchmark_list_tests"], check=True, capture_output=True, text=True).stdout
    return out.split()


def nanoseconds(binary, benchmark, min_time):
    out = subprocess.run([binary, f"--benchmark_filter=^{benchmark}$", f"--benchmark_min_time={min_time}",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["benchmarks"][0]["cpu_time"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binaries", nargs="+", metavar="[LABEL=]BINARY")
    parser.add_argument("--ns-rounds", type=int, default=0, help="interleaved Google Benchmark rounds (0: none)")
    parser.add_argument("--min-time", default="0.3", help="--benchmark_min_time per round")
    args = parser.parse_args()
    names = [b.split("=", 1)[0] if "=" in b else os.path.relpath(b) for b in args.binaries]
    args.binaries = [os.path.abspath(b.split("=", 1)[1] if "=" in b else b) for b in args.binaries]
    first = cases(args.binaries[0])
    for binary in args.binaries[1:]:
        if cases(binary) != first:
            sys.exit(f"{binary} has other cases than {args.binaries[0]}")

    print("Instructions per call (callgrind, inside the classifier):")
    print()
    print("| case | " + " | ".join(f"{n}: answer | {n}: instructions" for n in names) + " |")
    print("|---|" + "---|---:|" * len(names))
    for case in first:
        cells = []
        for binary in args.binaries:
            cells += [answer(binary, case), f"{per_call(binary, case):,.0f}"]
        print(f"| {case} | " + " | ".join(cells) + " |")

    if args.ns_rounds:
        lists = [benchmarks(b) for b in args.binaries]
        order = lists[0] + [n for lst in lists[1:] for n in lst if n not in lists[0]]
        ns = {}  # (benchmark, binary index) -> [ns per round]
        for _ in range(args.ns_rounds):
            for benchmark in order:
                for i, binary in enumerate(args.binaries):
                    if benchmark in lists[i]:
                        ns.setdefault((benchmark, i), []).append(nanoseconds(binary, benchmark, args.min_time))
        print()
        print(f"CPU ns per call (Google Benchmark, {args.ns_rounds} rounds, the binaries alternated per "
              f"benchmark): median [minimum] of the rounds; ratio: median of the rounds' ratios to {names[0]}:")
        print()
        print("| benchmark | " + " | ".join(f"{n}: ns" for n in names) +
              "".join(f" | {n} ÷ {names[0]}" for n in names[1:]) + " |")
        print("|---|" + "---:|" * (2 * len(names) - 1))
        for benchmark in order:
            cells = [f"{statistics.median(ns[benchmark, i]):.0f} [{min(ns[benchmark, i]):.0f}]"
                     if (benchmark, i) in ns else "" for i in range(len(names))]
            for i in range(1, len(names)):
                if (benchmark, 0) in ns and (benchmark, i) in ns:
                    ratios = [b / a for a, b in zip(ns[benchmark, 0], ns[benchmark, i])]
                    cells.append(f"{statistics.median(ratios):.2f}")
                else:
                    cells.append("")
            print(f"| {bench_case(benchmark)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
