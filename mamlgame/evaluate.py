"""Adaptation curves on held-out tasks: returns (and success) after 0..K inner steps, how
episodes end (for families that say: `FamilySpec.outcomes`, split by its `groups` of
levels), an optional planner row (`FamilySpec.planner`: the ceiling), reports as JSON and a
PNG chart."""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mamlgame.checkpoint import Agent, act_with_lookahead, atomic_write_bytes
from mamlgame.errors import MamlgameError
from mamlgame.families import FamilySpec, TaskFamily, family_spec, make_family
from mamlgame.memory import check_evaluation
from mamlgame.packs import LevelPack, Tasks
from mamlgame.plot import pyplot, save_png
from mamlgame.policy import Params, params_of, seeded_init
from mamlgame.rollout import Episodes, rollout
from mamlgame.stats import mean_interval


def _summary(per_task: torch.Tensor) -> dict[str, Any]:
    n = per_task.numel()
    std = per_task.std().item() if n > 1 else 0.0
    ci = mean_interval(per_task.tolist())  # 95% bootstrap CI over tasks (mamlgame.stats)
    return {"mean": per_task.mean().item(), "std": std, "se": std / math.sqrt(max(n, 1)),
            "ci": [round(ci.lo, 4), round(ci.hi, 4)],
            "per_task": [round(x, 4) for x in per_task.tolist()]}


def outcome_fractions(spec: FamilySpec, tasks: Tasks, end: torch.Tensor
                      ) -> dict[str, dict[str, float]] | None:
    """How episodes ended (`spec.outcomes` of the end codes `end` [T, E]): the fraction of
    episodes per outcome, over all levels ("all") and over each non-empty group of levels
    (`spec.groups`); None when the family reports no outcomes."""
    if spec.outcomes is None or end is None:
        return None
    masks = spec.outcomes(tasks, end)
    groups = {"all": torch.ones(len(tasks), dtype=torch.bool),
              **(spec.groups(tasks) if spec.groups is not None else {})}
    return {name: {k: m[g].float().mean().item() for k, m in masks.items()}
            for name, g in groups.items() if bool(g.any())}


def group_sizes(spec: FamilySpec, tasks: Tasks) -> dict[str, int]:
    """Levels per group of `outcome_fractions` (empty groups too)."""
    groups = spec.groups(tasks) if spec.groups is not None else {}
    return {"all": len(tasks), **{k: int(g.sum()) for k, g in groups.items()}}


def adaptation_curve(agent: Agent, params: Params, tasks: Tasks, steps: list[int],
                     episodes: int, seed: int) -> dict[str, Any]:
    """Returns after each number of inner steps in `steps`: at step k the episodes drawn with
    the k-step params are measured and then used for the next inner step. With a family
    that reports outcomes, how the episodes ended ("outcomes")."""
    learner = agent.learner(episodes=episodes)
    gen = torch.Generator().manual_seed(seed)
    K = max(steps)
    ad = learner.adapt(params, tasks, gen, steps=K)
    eps: list[Episodes] = ad.episodes + [
        rollout(agent.family, tasks, agent.policy, ad.params, episodes, gen)]
    spec = family_spec(agent.pack.family)
    returns, success, success_se, success_ci, worse, outcomes = {}, {}, {}, {}, {}, {}
    before = eps[0].total_reward.mean(1)
    for k in steps:
        per_task = eps[k].total_reward.mean(1)
        returns[str(k)] = _summary(per_task)
        rate = eps[k].success.float().mean(1)  # per task
        success[str(k)] = rate.mean().item()
        success_se[str(k)], success_ci[str(k)] = _summary(rate)["se"], _summary(rate)["ci"]
        if k > 0:
            worse[str(k)] = (per_task < before).float().mean().item()
        ends = outcome_fractions(spec, tasks, eps[k].end)
        if ends is not None:
            outcomes[str(k)] = ends
    curve = {"adapts": learner.adapts(), "returns": returns, "success": success,
             "success_se": success_se, "success_ci": success_ci, "worse_fraction": worse}
    return {**curve, "outcomes": outcomes} if outcomes else curve


PLANNER_ADAPTS = "nothing, knows each level"  # the planner row's "adapts"


def row_label(name: str, curve: dict[str, Any]) -> str:
    """A report row's label: its name and what its inner step adapts
    (`random init (adapts: goal belief)`)."""
    return f"{name} (adapts: {curve['adapts']})" if "adapts" in curve else name


def planner_curve(spec: FamilySpec, family: TaskFamily, tasks: Tasks, steps: list[int],
                  episodes: int, seed: int) -> dict[str, Any]:
    """The family's planner (`spec.planner`) on `tasks`, as an adaptation curve that does
    not adapt (the same numbers at every step count), plus per level: won (at least once),
    success rate and mean steps of its won episodes ("levels")."""
    assert spec.planner is not None
    plays = spec.planner(family, tasks, episodes, torch.Generator().manual_seed(seed))
    per_task = plays.total_reward.mean(1)
    rate = plays.success.float().mean(1)
    won_steps = torch.where(plays.success, plays.steps.float(), 0.0).sum(1) / \
        plays.success.sum(1).clamp(min=1)
    ends = outcome_fractions(spec, tasks, plays.end)
    returns, rates = _summary(per_task), _summary(rate)
    curve: dict[str, Any] = {
        "adapts": PLANNER_ADAPTS,
        "returns": {str(k): returns for k in steps},
        "success": {str(k): rate.mean().item() for k in steps},
        "success_se": {str(k): rates["se"] for k in steps},
        "success_ci": {str(k): rates["ci"] for k in steps},
        "worse_fraction": {str(k): 0.0 for k in steps if k > 0},
    }
    if ends is not None:
        curve["outcomes"] = {str(k): ends for k in steps}
    curve["levels"] = {"won": [bool(x) for x in (rate > 0).tolist()],
                       "success": [round(x, 4) for x in rate.tolist()],
                       "steps": [round(x, 2) if w else None for x, w in
                                 zip(won_steps.tolist(), (rate > 0).tolist(), strict=True)],
                       "notes": list(plays.notes)}
    return curve


def evaluate(agent: Agent, pack: LevelPack | None = None, split: str = "test",
             n_tasks: int | None = None, steps: list[int] | None = None,
             episodes: int | None = None, seed: int = 0,
             baselines: dict[str, Agent] | None = None, planner: bool = False,
             lookahead: int | None = None) -> dict[str, Any]:
    """The eval report (DESIGN.md "Output files"): returns per number of inner steps on the
    first `n_tasks` tasks of `split` (each task once: a larger `n_tasks` takes the whole
    split, with a warning), plus optional baseline rows (same tasks and seed) and, with
    `planner` and a family that has one, the planner's row ("planner" among the
    baselines). Every row says what its inner step adapts ("adapts": `MetaLearner.adapts`;
    the table's labels: `row_label`). With a family that reports outcomes: "outcomes" per
    row and step count, and "groups": the levels in each group. Each agent acts as loaded
    (with its config's `lookahead`, `load_agent`); `lookahead` makes the agent and its
    baselines (not the planner) act with the family's act-time search that many steps deep
    instead (0: sample the policy), adaptation episodes included ("lookahead": the agent's)."""
    pack = pack or agent.pack
    steps = sorted(set(steps or [0, 1, 2, 3]))
    episodes = episodes or agent.config.episodes
    size = len(pack.pool(split))
    if n_tasks is not None and n_tasks > size:
        warnings.warn(f"--tasks {n_tasks}: the {split} split of {pack.name} has {size} tasks; "
                      f"evaluating each of them once", stacklevel=2)
        n_tasks = size
    for a in (agent, *(baselines or {}).values()):  # a clear error before allocating
        check_evaluation(a.config, min(n_tasks or size, size), episodes, max(steps),
                         a.family.obs_dim, a.family.action_dim)
    spec = family_spec(pack.family)
    tasks = pack.tasks(split, n_tasks)
    agents = {"": agent, **(baselines or {})}
    curves = {}
    for name, a in agents.items():
        own = a.family.chooser
        if lookahead is not None:
            act_with_lookahead(a.family, pack, lookahead)
        try:
            curves[name] = adaptation_curve(a, a.params, tasks, steps, episodes, seed)
        finally:
            a.family.chooser = own
    depth = agent.config.lookahead if lookahead is None else lookahead
    report: dict[str, Any] = {
        "pack": pack.name, "split": split, "tasks": len(tasks), "algo": agent.config.algo,
        "iteration": agent.iteration, "episodes": episodes, "seed": seed,
        "lookahead": depth, "task_ids": list(tasks.ids), **curves.pop("")}
    if spec.outcomes is not None:
        report["groups"] = group_sizes(spec, tasks)
    rows = curves
    if planner and spec.planner is not None:
        rows["planner"] = planner_curve(spec, agent.family, tasks, steps, episodes, seed)
    if rows:
        report["baselines"] = rows
    return report


CHECK_CHUNK = 256  # levels `check_levels` plays at once


def check_levels(pack: LevelPack, split: str, episodes: int = 8, seed: int = 0,
                 min_success: float = 0.5, progress: Callable[[int], None] | None = None
                 ) -> dict[str, Any]:
    """Every level of a split played by the family's planner (`FamilySpec.planner`),
    `episodes` each: the levels it cannot win ("unwinnable": no episode won) or wins rarely
    ("rare": success below `min_success`), each with the family's note on why, and per-level
    success. `progress(n)` is called after each batch of `n` levels."""
    spec = family_spec(pack.family)
    if spec.planner is None:
        raise MamlgameError(f"{pack.path}: family {pack.family} has no planner (levels check "
                            "needs one: the game has)")
    if split not in pack.splits:
        raise MamlgameError(f"{pack.path}: no {split} split (this pack has "
                            f"{', '.join(pack.splits)})")
    start = time.perf_counter()
    family, pool = make_family(pack), pack.pool(split)
    rates, steps, findings = [], [], []
    for lo in range(0, len(pool), CHECK_CHUNK):
        tasks = pool.select(slice(lo, lo + CHECK_CHUNK))
        plays = spec.planner(family, tasks, episodes,
                             torch.Generator().manual_seed(seed * 100003 + lo))
        ends = spec.outcomes(tasks, plays.end) if spec.outcomes is not None else {}
        won = plays.success.sum(1)
        mean_steps = torch.where(plays.success, plays.steps, 0).sum(1) / won.clamp(min=1)
        for i in range(len(tasks)):
            rate = won[i].item() / episodes
            rates.append(rate)
            steps.append(round(mean_steps[i].item(), 2) if won[i] else None)
            if rate < min_success:
                findings.append({
                    "level": tasks.ids[i], "index": lo + i, "won": int(won[i]),
                    "episodes": episodes, "success": rate, "steps": steps[-1],
                    "kind": "unwinnable" if won[i] == 0 else "rare",
                    "outcomes": {k: m[i].float().mean().item() for k, m in ends.items()},
                    "reason": plays.notes[i]})
        if progress is not None:
            progress(len(tasks))
    won_steps = [x for x in steps if x is not None]
    return {
        "pack": pack.name, "path": str(pack.path), "split": split, "levels": len(pool),
        "episodes": episodes, "seed": seed, "min_success": min_success,
        "unwinnable": sum(f["kind"] == "unwinnable" for f in findings),
        "rare": sum(f["kind"] == "rare" for f in findings),
        "success": sum(rates) / max(len(rates), 1),
        "mean_steps": sum(won_steps) / len(won_steps) if won_steps else None,
        "seconds": round(time.perf_counter() - start, 2),
        "findings": findings, "per_level": {"success": rates, "steps": steps}}


def random_init_agent(agent: Agent) -> Agent:
    """The same architecture and inner-loop settings with freshly initialised weights (from
    the run's seed: the weights training started from)."""
    with seeded_init(agent.config.seed):
        fresh = type(agent.policy).from_config(agent.policy.config())
    params = {k: v.detach().clone() for k, v in params_of(fresh).items()}
    return Agent(fresh, params, {}, agent.config, agent.pack, agent.family, 0)


def format_table(report: dict[str, Any]) -> str:
    """A before/after table in plain text."""
    steps = list(report["returns"])
    rows = [("agent", *[f"{k} step{'s' if k != '1' else ''}" for k in steps])]

    def cells(curve: dict[str, Any]) -> list[str]:
        out = []
        for k in steps:
            r = curve["returns"][k]
            s = f"{r['mean']:.2f} ± {r['se']:.2f} [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
            lo, hi = (100 * x for x in curve["success_ci"][k])
            s += (f" ({100 * curve['success'][k]:.0f} ± {100 * curve['success_se'][k]:.0f}% "
                  f"[{lo:.0f}, {hi:.0f}])")
            out.append(s)
        return out

    rows.append((row_label(report["algo"], report), *cells(report)))
    for name, curve in report.get("baselines", {}).items():
        rows.append((row_label(name, curve), *cells(curve)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = (f"{report['pack']} / {report['split']}: {report['tasks']} tasks, "
            f"{report['episodes']} episodes per step"
            + (f", lookahead {report['lookahead']} steps" if report.get("lookahead") else "")
            + "; mean return ± s.e. [95% bootstrap CI over tasks] (success rate ± s.e. [CI])")
    worse = report["worse_fraction"].get("1")
    tail = f"adaptation made the return worse on {100 * worse:.0f}% of tasks (1 step)" \
        if worse is not None else ""
    return "\n".join([head, *lines, tail, *format_outcomes(report)]).rstrip()


def format_outcomes(report: dict[str, Any]) -> list[str]:
    """The outcome block of the table: per group of levels, the % of episodes ending each
    way (goal/caught/... in the family's order) at each step count, and the planner's."""
    outcomes = report.get("outcomes")
    if not outcomes:
        return []
    steps = list(outcomes)
    planner = report.get("baselines", {}).get("planner", {}).get("outcomes", {})
    names = list(outcomes[steps[0]]["all"])
    columns = [(f"{k} step{'s' if k != '1' else ''}", outcomes[k]) for k in steps]
    if planner:
        columns.append(("planner", planner[steps[0]]))
    sizes = report.get("groups", {})
    rows = [("levels", "n", *[c for c, _ in columns])]
    for group in outcomes[steps[0]]:
        cells = ["/".join(f"{100 * col[group][x]:3.0f}" for x in names) if group in col
                 else "-" for _, col in columns]
        rows.append((group, str(sizes.get(group, "")), *cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    return ["", f"how episodes end, % ({' / '.join(names)}):", *lines]


def write_json(report: dict[str, Any], path: str | Path) -> None:
    atomic_write_bytes(Path(path), lambda f: f.write(json.dumps(report, indent=2).encode()))


def plot_report(report: dict[str, Any], path: str | Path) -> None:
    """PNG: per-task return before vs after one step, and the 0..K adaptation curve."""
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    r = report["returns"]
    if "0" in r and "1" in r:
        b, a = r["0"]["per_task"], r["1"]["per_task"]
        ax1.scatter(b, a, s=18, alpha=0.8)
        lo, hi = min(b + a), max(b + a)
        ax1.plot([lo, hi], [lo, hi], "k--", lw=1, label="no change")
        ax1.set_xlabel("return before adaptation (0 steps)")
        ax1.set_ylabel("return after 1 inner step")
        ax1.set_title("per held-out task")
        ax1.legend(loc="lower right")
    curves = {report["algo"]: report, **report.get("baselines", {})}
    for name, curve in curves.items():
        ks = [int(k) for k in curve["returns"]]
        ax2.errorbar(ks, [curve["returns"][str(k)]["mean"] for k in ks],
                     yerr=[curve["returns"][str(k)]["se"] for k in ks], marker="o",
                     capsize=3, label=row_label(name, curve))
    ax2.set_xticks([int(k) for k in report["returns"]])
    ax2.set_xlabel("inner policy-gradient steps")
    ax2.set_ylabel("mean return")
    ax2.set_title(f"{report['pack']} ({report['split']}, {report['tasks']} tasks)")
    ax2.legend()
    fig.tight_layout()
    save_png(fig, path)
