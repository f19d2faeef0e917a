"""One timing sitting of issue 24: a game pack's meta-iteration against a navigation one, for
two trees run alternately (e.g. an old commit's worktree and this one), in the order the
issue's rounds use: each round navigation, PACK, navigation, PACK2, navigation, each a fresh
`mamlgame bench ... --iterations 12 --warmup 0 --threads 1` (a run's first iterations, level
preparation included).

    python benchmarks/issue24_sitting.py OLD_TREE NEW_TREE [--rounds 6] [--packs mixed,platformer]
                                         [--json FILE] [--add FILE...]

Prints each run as it ends, then per tree the median seconds of every kind of run and the
ratio of each game run over the slower of the navigation runs just before and after it
(median, and the runs' ratios sorted). `--json` writes the runs; `--add` counts an earlier
sitting's runs (its `--json` file) with these.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def bench(tree: str, args: list[str]) -> float:
    """Median seconds per meta-iteration of one `mamlgame bench` run of `tree`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        env = {**os.environ, "PYTHONPATH": tree}
        subprocess.run([sys.executable, "-m", "mamlgame", "bench", *args, "--iterations", "12",
                        "--warmup", "0", "--threads", "1", "--json", out],
                       cwd=tree, env=env, check=True, capture_output=True)
        with open(out) as f:
            return next(iter(json.load(f)["seconds_per_iteration"].values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--packs", default="mixed,platformer")
    ap.add_argument("--json", help="write the runs here")
    ap.add_argument("--add", nargs="*", default=[], help="earlier sittings' --json files")
    args = ap.parse_args()
    packs = args.packs.split(",")
    nav = ["--algos", "maml"]
    runs: dict[str, list[list[tuple[str, float]]]] = {args.old: [], args.new: []}
    for r in range(args.rounds):
        for tree in (args.old, args.new):
            seq = [("navigation", nav)]
            for pack in packs:
                seq += [(pack, ["--pack", pack]), ("navigation", nav)]
            got = []
            for name, bench_args in seq:
                got.append((name, bench(tree, bench_args)))
                print(f"round {r + 1} {os.path.basename(tree.rstrip('/'))} {name} "
                      f"{got[-1][1]:.4f}", flush=True)
            runs[tree].append(got)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"old": runs[args.old], "new": runs[args.new]}, f)
    for path in args.add:
        with open(path) as f:
            earlier = json.load(f)
        runs[args.old] += [[tuple(x) for x in got] for got in earlier["old"]]
        runs[args.new] += [[tuple(x) for x in got] for got in earlier["new"]]
    for tree, rounds in runs.items():
        print(f"\n{tree}")
        navs = sorted(s for got in rounds for name, s in got if name == "navigation")
        print(f"  navigation: median {statistics.median(navs):.3f} ({len(navs)} runs, "
              f"{navs[0]:.3f}-{navs[-1]:.3f})")
        for pack in packs:
            secs, ratios = [], []
            for got in rounds:
                for i, (name, s) in enumerate(got):
                    if name == pack:
                        secs.append(s)
                        ratios.append(s / max(got[i - 1][1], got[i + 1][1]))
            print(f"  {pack}: median {statistics.median(secs):.3f} "
                  f"({' / '.join(f'{s:.3f}' for s in sorted(secs))}); ratio median "
                  f"{statistics.median(ratios):.2f}x "
                  f"({' / '.join(f'{x:.2f}' for x in sorted(ratios))})")


if __name__ == "__main__":
    main()
