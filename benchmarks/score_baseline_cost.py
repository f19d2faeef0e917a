"""What dice's score baseline costs at large meta-batches: seconds per meta-iteration and peak
memory of `mamlgame train PACK --estimator E --meta-batch T`, per estimator, once the
baseline's memory of 10 batches is full; and (--fit) one baseline fit alone against n.

    python benchmarks/score_baseline_cost.py [--pack bandit] [--meta-batch 2000]
                                             [--iterations 14] [--estimators lvc,dice]
    python benchmarks/score_baseline_cost.py --fit [--meta-batch 20,200,2000] [--features 1]

Training: each estimator is one `mamlgame train` run in a child process; the peak resident
memory and the CPU time of the whole run (less sensitive than wall time to other work on the
machine) are `getrusage(RUSAGE_CHILDREN)` in a parent process, the seconds per iteration the
logged `seconds` of iterations 12.. (the memory fills after iteration 11). --checkout DIR
times another checkout's code (e.g. a `git worktree` of an earlier commit).

--fit: one `ScoreBaseline` call with 10 remembered batches (n = 11 x T rows, T tasks of
`--features` uniform parameters, return -|g - 0.3|^2 + noise 0.1), by the path the code picks
and by the n x n formula (`loo_kernel_ridge_exact`, skipped past 6000 rows: minutes and
gigabytes), each in its own process (seconds, peak RSS from wait4), with the largest
difference between their predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# runs a command; prints its peak resident memory (KiB) and CPU seconds (user + system)
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(u.ru_maxrss, u.ru_utime + u.ru_stime)")


def train_cost(pack: str, estimator: str, meta_batch: int, iterations: int,
               checkout: Path = ROOT) -> dict:
    """One training run of `checkout`'s code: its per-iteration seconds and peak memory."""
    with tempfile.TemporaryDirectory() as out:
        args = ["train", pack, "--estimator", estimator, "--meta-batch", str(meta_batch),
                "--iterations", str(iterations), "--quiet", "--out", out]
        peak = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "mamlgame",
                               *args], cwd=checkout, check=True, capture_output=True, text=True)
        rows = [json.loads(x) for x in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    secs = [r["seconds"] for r in rows]
    full = secs[11:] or secs[1:] or secs
    return {"estimator": estimator, "seconds": secs, "full_memory_median": statistics.median(full),
            "peak_rss_mb": int(peak.stdout.split()[-2]) / 1024,
            "cpu_seconds": float(peak.stdout.split()[-1]),
            "load_average": os.getloadavg()[0]}


def fit_once(meta_batch: int, features: int, path: str, save: str) -> None:
    """(child process) One fit over n = 11 x meta_batch rows by `path` (auto: the path the
    code picks; exact: the n x n formula); prints its seconds, saves its predictions."""
    import torch

    from mamlgame.packs import Tasks
    from mamlgame.score_baseline import ScoreBaseline, loo_kernel_ridge_exact

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    rows = [torch.rand(meta_batch, features, generator=gen, dtype=torch.float64) * 2 - 1
            for _ in range(11)]
    rets = [-(g - 0.3).square().sum(1) + 0.1 * torch.randn(meta_batch, generator=gen,
                                                           dtype=torch.float64) for g in rows]
    t0 = time.perf_counter()
    if path == "exact":
        b = loo_kernel_ridge_exact(torch.cat(rows), torch.cat(rets), meta_batch, 1.0, 0.5)
    else:
        sb = ScoreBaseline()
        sb.load({"feats": rows[:10], "returns": rets[:10]})
        b = sb(rets[10], Tasks({"g": rows[10]}, tuple(map(str, range(meta_batch)))))
    print(time.perf_counter() - t0)
    torch.save(b, save)


def fit_cost(meta_batch: int, features: int) -> str:
    """A table row: the fit by the path the code picks and by the n x n formula, each in its
    own process (seconds, that process's peak memory), and their largest difference."""
    import torch

    from mamlgame.score_baseline import EXACT_ROWS

    n, cells, preds = 11 * meta_batch, [], []
    for path in ("auto", "exact") if n <= 6000 else ("auto",):
        with tempfile.TemporaryDirectory() as tmp:
            save = str(Path(tmp) / "b.pt")
            child = subprocess.Popen([sys.executable, __file__, "--fit-once", path, save,
                                      "--meta-batch", str(meta_batch), "--features",
                                      str(features)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
            out = child.stdout.read()
            _, status, usage = os.wait4(child.pid, 0)
            assert status == 0, out
            cells += [f"{float(out.split()[-1]):.3f}", f"{usage.ru_maxrss / 1024:.0f}"]
            preds.append(torch.load(save))
    if len(preds) < 2:
        cells += ["—", "—"]
    diff = f"{(preds[0] - preds[1]).abs().max():.1e}" if len(preds) == 2 else "—"
    path = "exact" if n <= EXACT_ROWS else "low-rank"
    return f"| {meta_batch} | {n} | {features} | {path} | {' | '.join(cells)} | {diff} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="bandit")
    ap.add_argument("--meta-batch", default="2000")
    ap.add_argument("--iterations", type=int, default=14)
    ap.add_argument("--estimators", default="lvc,dice")
    ap.add_argument("--fit", action="store_true", help="time one baseline fit against n")
    ap.add_argument("--features", type=int, default=1)
    ap.add_argument("--checkout", type=Path, default=ROOT, help="the code to time")
    ap.add_argument("--fit-once", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.fit_once:
        fit_once(int(a.meta_batch), a.features, *a.fit_once)
        return
    if a.fit:
        print("| meta-batch T | rows n | features | path | s | peak RSS (MiB) "
              "| n x n: s | peak RSS (MiB) | max difference |")
        print("|---|---|---|---|---|---|---|---|---|")
        for t in (int(x) for x in a.meta_batch.split(",")):
            print(fit_cost(t, a.features), flush=True)
        return
    print("| estimator | s / iteration (1st .. last) | median, iterations 12.. "
          "| peak RSS (MiB) | CPU s, whole run | load avg |")
    print("|---|---|---|---|---|---|")
    for e in a.estimators.split(","):
        r = train_cost(a.pack, e, int(a.meta_batch), a.iterations, a.checkout)
        print(f"| `{e}` | {', '.join(f'{s:.2f}' for s in r['seconds'])} "
              f"| {r['full_memory_median']:.2f} | {r['peak_rss_mb']:.0f} "
              f"| {r['cpu_seconds']:.1f} | {r['load_average']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
