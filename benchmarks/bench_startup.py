"""Start-up time of the console script: ``sslbench --help`` and ``sslbench list``.

Each command runs in a fresh interpreter (``python -m sslbench ...``) ``ROUNDS`` times,
in rotated order beside ``python -c pass`` (the interpreter alone) and ``python -c
"import torch"`` (what a command that imported torch would pay at least). Reported:
the median wall time of each, and its ratio to ``python -c pass`` — on a loaded
machine the ratios travel better than the seconds. Goals (on an idle core): --help
<= 0.3 s, list <= 1 s. Also prints whether the command imported torch.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_startup.py [--rounds 7] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import torch'": ["-c", "import torch"],
    "sslbench --help": ["-m", "sslbench", "--help"],
    "sslbench list": ["-m", "sslbench", "list"],
}
GOALS = {"sslbench --help": 0.3, "sslbench list": 1.0}


def wall_time(args: list[str]) -> float:
    """Seconds for one fresh interpreter to run ``args`` to completion."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def imports_torch(args: list[str]) -> bool:
    """Whether ``python -X importtime ARGS`` imports torch."""
    err = subprocess.run([sys.executable, "-X", "importtime", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True).stderr
    return any(line.split("|")[-1].strip() == "torch" for line in err.splitlines())


def measure(rounds: int) -> dict[str, dict[str, float | bool]]:
    """Median wall time per command over ``rounds`` rotated rounds, its ratio to ``python -c pass``."""
    names = list(COMMANDS)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(wall_time(COMMANDS[name]))
    base = statistics.median(times["python -c pass"])
    return {n: {"median_s": statistics.median(t), "ratio_to_python": statistics.median(t) / base,
                "imports_torch": imports_torch(COMMANDS[n]) if n.startswith("sslbench") else n.endswith("torch'")}
            for n, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    results = measure(args.rounds)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores, {args.rounds} rounds")
    print(f"{'command':28} {'median':>8} {'× python':>9}  torch  goal")
    for name, r in results.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"<= {goal} s: {'met' if r['median_s'] <= goal else 'missed'}"
        print(f"{name:28} {r['median_s']:7.3f}s {r['ratio_to_python']:8.1f}×  {'yes' if r['imports_torch'] else 'no ':5}  {verdict}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_average": load, "rounds": args.rounds, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
