"""Seconds per meta-iteration against the number of processes and the meta-batch size, with
peak memory, on the 2D-navigation paper workload (E episodes x H steps per task).

    python benchmarks/scaling.py [--nproc 1,2] [--meta-batch 10,20,40,80,160]
                                 [--iterations 4] [--json FILE]

Each point is one `mamlgame train ... --nproc P` run; the time is the median of the logged
per-iteration `seconds` of process 0 (the first iteration, a warm-up, is left out), the memory
the peak resident memory of the largest process (`getrusage(RUSAGE_CHILDREN)`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# runs a command and prints the peak resident memory (KiB) of the largest process under it
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measure(nproc: int, meta_batch: int, iterations: int, episodes: int, horizon: int,
            threads: int) -> dict:
    """One training run; returns its timing and memory."""
    with tempfile.TemporaryDirectory() as out:
        cmd = ["mamlgame", "train", "navigation", "--meta-batch", str(meta_batch),
               "--episodes", str(episodes), "--horizon", str(horizon), "--iterations",
               str(iterations), "--checkpoint-every", str(iterations), "--threads",
               str(threads), "--nproc", str(nproc), "--quiet", "--out", out]
        t0 = time.perf_counter()
        peak = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "mamlgame",
                               *cmd[1:]], cwd=ROOT, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rows = [json.loads(x) for x in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    secs = [r["seconds"] for r in rows[1:]] or [rows[0]["seconds"]]
    cmd[-1] = "OUT"
    return {"nproc": nproc, "meta_batch": meta_batch,
            "seconds_per_iteration": round(statistics.median(secs), 3),
            "peak_rss_mb": round(int(peak.stdout.split()[-1]) / 1024),
            "wall_seconds": round(wall, 1),
            "load_average": round(os.getloadavg()[0], 1),  # >= cores: other work shared them
            "command": shlex.join(cmd)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nproc", default="1,2")
    ap.add_argument("--meta-batch", default="10,20,40,80,160")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--horizon", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    results = []
    print("| processes | meta-batch | s / iteration | speed-up | peak RSS / process (MiB) "
          "| load avg |")
    print("|---|---|---|---|---|---|")
    base: dict[int, float] = {}
    for t in (int(x) for x in a.meta_batch.split(",")):
        for p in (int(x) for x in a.nproc.split(",")):
            r = measure(p, t, a.iterations, a.episodes, a.horizon, a.threads)
            base.setdefault(t, r["seconds_per_iteration"])
            r["speedup"] = round(base[t] / r["seconds_per_iteration"], 2)
            results.append(r)
            print(f"| {p} | {t} | {r['seconds_per_iteration']:.3f} | {r['speedup']:.2f} | "
                  f"{r['peak_rss_mb']:.0f} | {r['load_average']} |", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"workload": f"navigation, {a.episodes} episodes x "
                                            f"{a.horizon} steps per task, maml/lvc",
                                            "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
