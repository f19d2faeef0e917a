"""The report of a comparison (`mamlgame.compare`): per method, metric and number of inner
steps the mean, median, IQM and optimality gap over training seeds × held-out tasks with
stratified-bootstrap intervals, the probability of improvement of each pair of methods, and
the training cost; as `compare.json`'s dict, a markdown table and a chart (interval estimates
and performance profiles)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from mamlgame import stats
from mamlgame.plot import interval_panel, profile_panel, pyplot, save_png

AGGREGATE_NAMES = {"mean": "mean", "median": "median", "iqm": "IQM",
                   "optimality_gap": "optimality gap"}
METRIC_NAMES = {"returns": "return", "success": "success rate"}
PROFILE_POINTS = 41  # thresholds on a performance profile


def _scores(runs: dict[str, list[dict[str, Any]]], metric: str, step: str) -> dict[str, Any]:
    """Per method, its `[seeds, tasks]` array of `metric` after `step` inner steps."""
    return {name: np.array([r[metric][step] for r in rs], dtype=float)
            for name, rs in runs.items()}


def return_targets(runs: dict[str, list[dict[str, Any]]], steps: list[str],
                   target: float | None) -> np.ndarray:
    """The return that counts as solving each task, for the optimality gap: `target`, else the
    best return any run reached on the task after any number of steps."""
    every = np.stack([a for k in steps for a in _scores(runs, "returns", k).values()])
    best = every.max(axis=(0, 1))
    return best if target is None else np.full_like(best, float(target))


def summarize(info: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """`compare.json`: `info` (the settings), then per method (`rows`, in order) the interval
    estimates of each metric after each step, the pairwise probabilities of improvement and
    every run's per-task scores. `runs`: per method, each seed's `scores.json`."""
    names = list(runs)
    steps = [str(k) for k in info["steps"]]
    first = runs[names[0]][0]
    if any(r["task_ids"] != first["task_ids"] for rs in runs.values() for r in rs):
        raise ValueError("runs of one comparison must be evaluated on the same tasks")
    metrics = ["returns"] + (["success"] if all("success" in r for rs in runs.values()
                                                for r in rs) else [])
    targets = {"returns": return_targets(runs, steps, info.get("target")), "success": 1.0}
    reps = info["reps"]
    rows = []
    for name in names:
        rs = runs[name]
        row: dict[str, Any] = {
            "algo": info["methods"][name]["algo"], "method": name,
            "settings": info["methods"][name], "seeds": [r["seed"] for r in rs],
            "train_seconds": round(float(np.mean([r["train_seconds"] for r in rs])), 2),
            "seconds_per_iteration": round(float(np.mean(
                [r["train_seconds"] / max(r["iteration"], 1) for r in rs])), 4)}
        for metric in metrics:
            row[metric] = {k: {agg: est.to_dict() for agg, est in stats.interval_estimates(
                _scores(runs, metric, k)[name], targets[metric], reps).items()} for k in steps}
        rows.append(row)
    improvement = {metric: {k: [
        {"x": a, "y": b, **stats.improvement_interval(s[a], s[b], reps).to_dict()}
        for a, b in combinations(names, 2)] for k in steps
        for s in [_scores(runs, metric, k)]} for metric in metrics}
    keep = ("seed", "iteration", "train_seconds", "returns", "success")
    return {**info, "task_ids": first["task_ids"],
            "targets": {"returns": [round(float(t), 4) for t in targets["returns"]],
                        "success": 1.0},
            "rows": rows, "improvement": improvement,
            "runs": {name: [{k: r[k] for k in keep if k in r} for r in rs]
                     for name, rs in runs.items()}}


# ---- compare.md ------------------------------------------------------------------------------
def _plural(k: str) -> str:
    return f"{k} step{'' if k == '1' else 's'}"


def _cell(est: dict[str, Any], metric: str) -> str:
    (lo, hi), v = est["ci"], est["value"]
    if metric == "success":
        return f"{100 * v:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]"


def _seed_text(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _header(result: dict[str, Any]) -> list[str]:
    r = result
    n = len(r["seeds"])
    target = ("the best return any run reached on the task" if r.get("target") is None
              else f"the return {r['target']:g}")
    return [
        f"# {r['pack']}: {', '.join(row['method'] for row in r['rows'])}, "
        f"{n} training seed{'s' if n > 1 else ''} ({_seed_text(r['seeds'])})", "",
        f"{r['iterations']} meta-iterations, meta-batch {r['meta_batch']}, {r['episodes']} "
        f"episodes per task. Every run evaluated on the same {r['eval_tasks']} held-out tasks "
        f"({r['split']} split), {r['eval_episodes']} episodes per inner step (seed "
        f"{r['eval_seed']}). Point estimates over seeds × tasks with "
        f"{100 * stats.LEVEL:.0f}% stratified-bootstrap CIs ({r['reps']} resamples: tasks "
        "with replacement, then seeds within each task). IQM: the mean of the middle 50% of "
        "the seed × task scores; optimality gap: the mean shortfall below the target "
        f"({target}; lower is better); P(X > Y): the probability that a run of X beats a "
        "run of Y on a task (0.5: no difference).", ""]


def format_comparison(result: dict[str, Any]) -> str:
    """Markdown: a table per metric and step (mean, median, IQM, optimality gap with CIs),
    the probability of improvement of each pair after each step, and the training cost."""
    steps = [str(k) for k in result["steps"]]
    metrics = [m for m in METRIC_NAMES if m in result["rows"][0]]
    lines = _header(result)
    for metric in metrics:
        for k in steps:
            lines += [f"### {METRIC_NAMES[metric]} after {_plural(k)}", "",
                      "| method | " + " | ".join(AGGREGATE_NAMES.values()) + " |",
                      "|---|" + "---|" * len(AGGREGATE_NAMES)]
            lines += [f"| {row['method']} | " + " | ".join(
                _cell(row[metric][k][agg], "") if agg == "optimality_gap" and metric == "returns"
                else _cell(row[metric][k][agg], metric) for agg in AGGREGATE_NAMES) + " |"
                for row in result["rows"]]
            lines.append("")
    for metric in metrics:
        pairs = result["improvement"][metric]
        if not pairs[steps[0]]:
            continue
        lines += [f"### probability of improvement: {METRIC_NAMES[metric]}", "",
                  "| X | Y | " + " | ".join(f"P(X > Y) after {_plural(k)}" for k in steps)
                  + " |", "|---|---|" + "---|" * len(steps)]
        for i, pair in enumerate(pairs[steps[0]]):
            lines.append(f"| {pair['x']} | {pair['y']} | " + " | ".join(
                _cell(pairs[k][i], "") for k in steps) + " |")
        lines.append("")
    lines += ["### training", "", "| method | seeds | train s per run | s/iter |",
              "|---|---|---|---|"]
    lines += [f"| {row['method']} | {len(row['seeds'])} | {row['train_seconds']:.1f} | "
              f"{row['seconds_per_iteration']:.3f} |" for row in result["rows"]]
    return "\n".join(lines) + "\n"


# ---- compare.png -----------------------------------------------------------------------------
def plot_comparison(result: dict[str, Any], path: str | Path) -> None:
    """One row per metric and step: the four interval estimates (a bar per method, its CI)
    and the performance profile (fraction of seed × task scores above each threshold, with
    a pointwise CI band)."""
    plt = pyplot()
    steps = [str(k) for k in result["steps"]]
    metrics = [m for m in METRIC_NAMES if m in result["rows"][0]]
    names = [row["method"] for row in result["rows"]]
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    panels = [(m, k) for m in metrics for k in steps]
    height = max(2.6, 1.0 + 0.35 * len(names))
    fig, axes = plt.subplots(len(panels), 5, figsize=(19, 0.6 + height * len(panels)),
                             squeeze=False)
    for (metric, k), row_axes in zip(panels, axes, strict=True):
        label = f"{METRIC_NAMES[metric]} after {_plural(k)}"
        for ax, (agg, title) in zip(row_axes, AGGREGATE_NAMES.items(), strict=False):
            ests = [row[metric][k][agg] for row in result["rows"]]
            interval_panel(ax, names, [(e["value"], *e["ci"]) for e in ests], colors,
                           f"{title}: {label}")
        scores = {n: np.array([r[metric][k] for r in result["runs"][n]]) for n in names}
        every = np.concatenate([s.ravel() for s in scores.values()])
        taus = np.linspace(every.min(), every.max(), PROFILE_POINTS)
        bands = {n: stats.profile_band(s, taus, min(result["reps"], 1000))
                 for n, s in scores.items()}
        profile_panel(row_axes[4], taus, bands, colors, label)
    fig.suptitle(f"{result['pack']}: {len(result['seeds'])} seed(s) × {result['eval_tasks']} "
                 f"held-out tasks, {100 * stats.LEVEL:.0f}% stratified-bootstrap CIs")
    fig.tight_layout()
    save_png(fig, path)
