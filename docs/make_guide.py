"""Regenerate the learner's guide: docs/guide.md, its figures docs/guide/*.png and every number
it quotes, docs/guide/numbers.json (headless, deterministic, one torch thread).

    .venv/bin/python docs/make_guide.py [--budget tiny|full] [--out DIR] [--guide FILE]
                                        [--runs DIR] [--render-only | --only PART]

Trains the agents the guide measures into --runs (navigation: MAML and FOMAML on several seeds,
`pretrain`, Meta-SGD, an inner-step-size sweep; velocity and terrain agents; the game part
uses the shipped arena agent of `make agents`), measures them on held-out tasks, draws each
figure and renders docs/guide/template.md into --guide with the numbers filled in: the guide
holds no number that numbers.json does not. `--budget tiny` runs the same code at a toy size
(the test does); `--render-only` re-renders the guide from an existing numbers.json; `--only
game` (or bandit, velocity, terrain, inner_lr) redoes one part into it and re-renders.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the exact bandit gradient lives with its test

from test_dice_defaults import SETTINGS, estimates, exact_gradient, z_scores  # noqa: E402

from mamlgame.checkpoint import Agent, load_agent, numbered_checkpoints  # noqa: E402
from mamlgame.config import ALGO_KEYS, ESTIMATORS, TrainConfig  # noqa: E402
from mamlgame.cpu import configure  # noqa: E402
from mamlgame.evaluate import adaptation_curve, random_init_agent  # noqa: E402
from mamlgame.meta import MetaLearner  # noqa: E402
from mamlgame.packs import Tasks, load_pack  # noqa: E402
from mamlgame.policy import MLPPolicy, Params, is_batched  # noqa: E402
from mamlgame.rollout import rollout  # noqa: E402
from mamlgame.train import train  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent / "guide" / "template.md"
PLACEHOLDER = re.compile(r"\{\{\s*([\w.\-]+)\s*(?::([^}]*))?\}\}")
ALPHAS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 1.0, 1.5, 2.5, 4.0)  # inner step sizes swept
INITS = ("maml", "pretrain", "random")
COLORS = {"maml": "C0", "fomaml": "C1", "pretrain": "C2", "random": "C7", "metasgd": "C3"}
# terrain types as the terrain viewer names them (friction per second)
TERRAINS = (("ice", 0.0, 0.6), ("grass", 0.6, 1.3), ("mud", 1.3, math.inf))


@dataclass(frozen=True)
class Budget:
    """How much each measurement spends."""

    iterations: int  # navigation meta-iterations (MAML, FOMAML, pretrain, Meta-SGD)
    seeds: int  # training seeds of MAML and FOMAML
    side_iterations: int  # velocity, terrain and the inner-step-size sweep's trainings
    eval_tasks: int  # held-out tasks per evaluation
    eval_episodes: int  # episodes per task for each inner step in evaluations
    finetune_steps: int  # inner steps to each task's own fine-tuned optimum
    bandit_batches: int  # meta-gradient estimates per estimator on the bandit
    bandit_tasks: int
    bandit_samples: int  # Monte Carlo samples of the exact gradient
    variance_batches: int  # meta-gradients per meta-batch size
    meta_batches: tuple[int, ...]
    frames: int  # most viewer frames before a game snapshot (an episode's end comes first)
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides for all runs


BUDGETS = {
    "full": Budget(200, 3, 100, 40, 20, 20, 400, 50, 200_000, 8, (1, 2, 5, 10, 20, 40), 400),
    "tiny": Budget(2, 2, 2, 4, 2, 2, 3, 4, 2000, 2, (1, 2), 4,
                   {"meta_batch": 2, "episodes": 2, "horizon": 8, "hidden": (8,)}),
}


# ---- measurements ---------------------------------------------------------------------------
def flat(policy: MLPPolicy, params: Params, n: int) -> torch.Tensor:
    """Params as one row per task [n, P] (shared params are repeated)."""
    rows = 0 if is_batched(policy, params) else 1
    return torch.cat([params[k].detach().reshape(rows or n, -1).expand(n, -1)
                      for k in sorted(params)], 1)


def returns_01(agent: Agent, tasks: Tasks, episodes: int, inner_lr: float | None = None,
               seed: int = 0) -> dict[str, Any]:
    """`adaptation_curve` (0 and 1 inner steps) with the agent's inner step size or `inner_lr`."""
    if inner_lr is not None:
        agent = replace(agent, config=replace(agent.config, inner_lr=inner_lr))
    return adaptation_curve(agent, agent.params, tasks, [0, 1], episodes, seed)


def mean_se(x: torch.Tensor | list[float]) -> tuple[float, float]:
    x = torch.as_tensor(x, dtype=torch.float64)
    se = x.std().item() / math.sqrt(x.numel()) if x.numel() > 1 else 0.0
    return x.mean().item(), se


def one_step_and_optimum(agent: Agent, tasks: Tasks, episodes: int, steps: int,
                         lr: float, seed: int = 0) -> dict[str, torch.Tensor]:
    """Per task: cosine between the one-step direction theta'-theta and the direction to the
    task's own fine-tuned optimum (`steps` inner steps of size `lr` from fresh episodes), and
    the fine-tuned return."""
    # plain steps, whatever the recipe's schedule (inner_lr/std_decay, a learned std shift)
    learner = agent.learner(episodes=episodes, inner_lr=lr, inner_lr_decay=1.0,
                            inner_std_decay=1.0, learn_std_shift=False)
    gen = torch.Generator().manual_seed(seed)
    n = len(tasks)
    theta = flat(agent.policy, agent.params, n)
    one = flat(agent.policy, learner.adapt(agent.params, tasks, gen, steps=1).params, n) - theta
    tuned = learner.adapt(agent.params, tasks, gen, steps=steps).params
    final = rollout(agent.family, tasks, agent.policy, tuned, episodes, gen)
    cos = torch.nn.functional.cosine_similarity(one, flat(agent.policy, tuned, n) - theta, 1)
    return {"cosine": cos, "tuned_return": final.total_reward.mean(1)}


def meta_gradient_noise(learner: MetaLearner, params: Params, pool: Tasks, sizes: tuple[int, ...],
                        batches: int, seed: int = 0) -> dict[str, list[float]]:
    """For each meta-batch size T: the total variance of `batches` independent meta-gradients
    and the mean cosine of each with the mean of the others."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {"sizes": list(sizes), "variance": [], "cosine": []}
    for T in sizes:
        grads = []
        for _ in range(batches):
            tasks = pool.select(torch.randint(len(pool), (T,), generator=gen))
            loss, _ = learner.meta_loss(params, tasks, gen)
            g = torch.autograd.grad(loss, list(params.values()))
            grads.append(torch.cat([x.flatten() for x in g]))
        G = torch.stack(grads)
        out["variance"].append(G.var(0).sum().item())
        others = (G.sum(0) - G) / max(batches - 1, 1)
        out["cosine"].append(torch.nn.functional.cosine_similarity(G, others, 1).mean().item())
    return out


def seconds_per_iteration(run_dir: Path) -> float:
    """Median logged wall time of a run's meta-iterations (the first left out)."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    secs = sorted(json.loads(x)["seconds"] for x in lines[1:] or lines)
    return secs[len(secs) // 2]


# ---- the guide ------------------------------------------------------------------------------
class Guide:
    """Trains, measures and draws; `numbers` collects every number the guide quotes."""

    def __init__(self, budget: Budget, out: Path, runs: Path):
        self.b, self.out, self.runs = budget, out, runs
        self.numbers: dict[str, Any] = {"budget": {
            k: v for k, v in budget.__dict__.items() if k != "train"}}
        self.figures: list[str] = []
        out.mkdir(parents=True, exist_ok=True)

    def trained(self, name: str, pack: str, iterations: int, **cfg: Any) -> Agent:
        """Train (from scratch) an agent with the pack's recipe, `cfg` and the budget."""
        recipe = load_pack(pack).train
        other_algo = "algo" in cfg and recipe.get("algo", cfg["algo"]) != cfg["algo"]
        drop = {"iterations", "time_limit", *(ALGO_KEYS if other_algo else ())}
        recipe = {k: v for k, v in recipe.items() if k not in drop}
        config = TrainConfig(pack=pack, **{**recipe, **self.b.train, **cfg,
                                           "iterations": iterations,
                                           "checkpoint_every": max(1, iterations // 10),
                                           "keep_checkpoints": 11})
        t = time.perf_counter()
        path = train(config, self.runs / name, progress=False, overwrite=True)
        print(f"  trained {name}: {iterations} iterations in {time.perf_counter() - t:.0f} s",
              flush=True)
        return load_agent(path)

    def save(self, fig: plt.Figure, name: str) -> None:
        fig.tight_layout()
        fig.savefig(self.out / f"{name}.png", dpi=100)
        plt.close(fig)
        self.figures.append(name)

    def held_out(self, agent: Agent) -> Tasks:
        return agent.pack.tasks("test", self.b.eval_tasks)

    # ---- 1. the objective: estimator bias on the bandit -------------------------------------
    def bandit_bias(self) -> None:
        setting = SETTINGS[0]
        target, alpha, n, mu0, sigma0 = setting
        res: dict[str, Any] = {"target": target, "alpha": alpha, "inner_samples": n, "mu0": mu0,
                               "sigma0": sigma0, "batches": self.b.bandit_batches,
                               "tasks": self.b.bandit_tasks}
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
        names = ["weight", "bias", "log std"]
        exact_of = {loo: exact_gradient(*setting, loo=loo, n_samples=self.b.bandit_samples)
                    for loo in (True, False)}  # dice's inner rule leaves each sample out
        for ax, est in zip(axes, ESTIMATORS):
            exact, exact_se = exact_of[est == "dice"]
            s = estimates(est, *setting, n_batches=self.b.bandit_batches,
                          n_tasks=self.b.bandit_tasks)
            mean, se = s.mean(0), s.std(0) / math.sqrt(s.shape[0])
            # lvc and naive divide by the batch's advantage spread: compare them with the
            # exact gradient times the best positive factor c (1 when none is positive)
            fit = float(mean @ exact / (exact @ exact))
            c = 1.0 if est == "dice" or fit <= 0 else fit
            z = z_scores(s, c * exact, c * exact_se)
            cos = torch.nn.functional.cosine_similarity(mean, exact, 0).item()
            res[est] = {"max_abs_z": z.abs().max().item(), "cosine": cos, "scale": c,
                        "fitted_scale": fit,
                        "relative_error": ((mean - c * exact).norm() / (c * exact).norm()).item()}
            x = torch.arange(3).float()
            ax.bar(x - 0.2, c * exact, 0.4, yerr=2 * c * exact_se, capsize=3, color="0.6",
                   label="exact gradient" + ("" if c == 1.0 else " × c"))
            ax.bar(x + 0.2, mean, 0.4, yerr=2 * se, capsize=3, color="C0",
                   label="mean estimate ± 2 s.e.")
            ax.set_xticks(x, names)
            ax.axhline(0, color="k", lw=0.6)
            ax.set_title(f"{est}: max |z| = {z.abs().max():.1f}, cosine {cos:.2f}")
            ax.legend(fontsize=8)
            ax.set_xlabel("parameter")
        axes[0].set_ylabel("meta-gradient component (return per unit)")
        self.save(fig, "bandit_bias")
        self.numbers["bandit"] = res

    # ---- 2. why the initialisation fine-tunes easily ---------------------------------------
    def sensitivity(self, inits: dict[str, Agent]) -> None:
        tasks, E = self.held_out(inits["maml"]), self.b.eval_episodes
        alpha0 = inits["maml"].config.inner_lr
        res: dict[str, Any] = {"tasks": len(tasks), "episodes": E, "alpha": alpha0,
                               "alphas": list(ALPHAS)}
        fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4.2))
        gains: dict[str, torch.Tensor] = {}
        for name, agent in inits.items():
            curves = [returns_01(agent, tasks, E, a) for a in ALPHAS]
            m = [c["returns"]["1"]["mean"] for c in curves]
            se = [c["returns"]["1"]["se"] for c in curves]
            a1.errorbar(ALPHAS, m, yerr=se, marker="o", capsize=3, color=COLORS[name],
                        label=name)
            at = returns_01(agent, tasks, E)
            r0 = torch.tensor(at["returns"]["0"]["per_task"])
            gain = torch.tensor(at["returns"]["1"]["per_task"]) - r0
            d = one_step_and_optimum(agent, tasks, E, self.b.finetune_steps, alpha0 / 2)
            best = max(range(len(ALPHAS)), key=lambda i: m[i])
            res[name] = {"return_0": mean_se(r0)[0], "return_0_se": mean_se(r0)[1],
                         "return_1": at["returns"]["1"]["mean"],
                         "return_1_se": at["returns"]["1"]["se"],
                         "best_alpha": ALPHAS[best], "best_return_1": m[best],
                         "curve": m, "gain_median": gain.median().item(),
                         "improved": (gain > 0).float().mean().item(),
                         "cosine_mean": d["cosine"].mean().item(),
                         "cosine_se": mean_se(d["cosine"])[1],
                         "tuned_return": d["tuned_return"].mean().item()}
            a2.hist(d["cosine"].numpy(), bins=15, range=(-1, 1), alpha=0.5, color=COLORS[name],
                    label=f"{name} (mean {d['cosine'].mean():.2f})")
            gains[name] = gain
        bins = torch.linspace(min(g.min() for g in gains.values()).item(),
                              max(g.max() for g in gains.values()).item(), 21).numpy()
        for name, gain in gains.items():
            a3.hist(gain.numpy(), bins=bins, alpha=0.5, color=COLORS[name],
                    label=f"{name} (median {gain.median():+.1f})")
        floor = 1.5 * min(res[n]["return_0"] for n in inits)  # large steps fall far below
        a1.set_ylim(bottom=floor)
        a1.set_xscale("symlog", linthresh=0.05)
        a1.set_xlim(left=0)
        a1.set_xlabel("inner step size α (symlog scale)")
        a1.set_ylabel(f"mean return after one step (± s.e.; cut at {floor:.0f})")
        a1.set_title(f"one step on {len(tasks)} held-out goals")
        a1.legend()
        a2.set_xlabel("cosine(one-step direction, direction to the task's optimum)")
        a2.set_ylabel("held-out tasks")
        a2.set_title(f"one step vs {self.b.finetune_steps} steps of size α/2")
        a2.legend(fontsize=8)
        a3.axvline(0, color="k", lw=0.8)
        a3.set_xlabel(f"return after one step − before (α = {alpha0:g})")
        a3.set_ylabel("held-out tasks")
        a3.set_title("per-task improvement")
        a3.legend(fontsize=8)
        self.save(fig, "sensitivity")
        self.numbers["sensitivity"] = res

    # ---- 3. trajectories before and after one step ----------------------------------------
    def trajectories(self, inits: dict[str, Agent], goals: int = 4) -> None:
        res: dict[str, Any] = {"goals": goals}
        fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True)
        for ax, name in zip(axes, ("maml", "pretrain")):
            agent = inits[name]
            tasks = self.held_out(agent).select(list(range(goals)))
            gen = torch.Generator().manual_seed(0)
            adapted = agent.learner(episodes=self.b.eval_episodes).adapt(
                agent.params, tasks, gen, steps=1).params
            rows = {}
            for label, params, style in (("before", agent.params, ":"),
                                         ("after", adapted, "-")):
                ep = rollout(agent.family, tasks, agent.policy, params, 1, gen,
                             deterministic=True)
                rows[label] = ep.total_reward[:, 0]
                for t in range(goals):
                    keep = ep.mask[t, 0] > 0
                    xy = torch.cat([ep.obs[t, 0][keep], ep.obs[t, 0][keep][-1:]])
                    ax.plot(xy[:, 0], xy[:, 1], style, color=f"C{t}", lw=1.8,
                            label=f"goal {t + 1}, {label}" if t == 0 or label == "after"
                            else None)
            for t in range(goals):
                ax.plot(tasks["goal_x"][t], tasks["goal_y"][t], "*", ms=16, color=f"C{t}",
                        mec="k")
            ax.plot(0, 0, "ko")
            res[name] = {"before": rows["before"].mean().item(),
                         "after": rows["after"].mean().item()}
            ax.set_title(f"{name}: before (dotted) / after (solid) one step")
            ax.set_xlabel("x (arena units)")
            ax.set_aspect("equal")
        axes[0].set_ylabel("y (arena units)")
        axes[1].legend(fontsize=7, loc="lower left")
        self.save(fig, "trajectories")
        self.numbers["trajectories"] = res

    # ---- 4. second vs first order ----------------------------------------------------------
    def orders(self) -> dict[str, Agent]:
        """Trains MAML and FOMAML on each seed; returns the seed-0 MAML agent."""
        res: dict[str, Any] = {"iterations": self.b.iterations, "seeds": self.b.seeds}
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2))
        first: dict[str, Agent] = {}
        for algo in ("maml", "fomaml"):
            finals, secs, curves = [], [], []
            for seed in range(self.b.seeds):
                name = f"navigation-{algo}-{seed}"
                agent = self.trained(name, "navigation", self.b.iterations, algo=algo,
                                     seed=seed)
                first.setdefault(algo, agent)
                tasks = self.held_out(agent)
                points = [(0, random_init_agent(agent))] + [
                    (a.iteration, a) for a in map(load_agent, reversed(
                        numbered_checkpoints(self.runs / name / "checkpoint.pt")))]
                its = [it for it, _ in points]
                r1 = [returns_01(a, tasks, self.b.eval_episodes)["returns"]["1"]["mean"]
                      for _, a in points]
                curves.append(r1)
                finals.append(r1[-1])
                secs.append(seconds_per_iteration(self.runs / name))
                a1.plot(its, r1, color=COLORS[algo], alpha=0.35, lw=1)
            mean = torch.tensor(curves).mean(0)
            a1.plot(its, mean, color=COLORS[algo], lw=2.5, label=f"{algo} (mean of seeds)")
            m, se = mean_se(finals)
            res[algo] = {"final_return_1": finals, "mean": m, "se": se,
                         "median": sorted(finals)[len(finals) // 2],
                         "best": max(finals), "worst": min(finals),
                         "seconds_per_iteration": secs,
                         "seconds_median": sorted(secs)[len(secs) // 2]}
        # the median over seeds: a run slowed by other work on the machine counts less
        res["time_ratio"] = res["maml"]["seconds_median"] / res["fomaml"]["seconds_median"]
        gap = res["maml"]["mean"] - res["fomaml"]["mean"]
        noise = math.hypot(res["maml"]["se"], res["fomaml"]["se"])
        res["gap"], res["gap_se"] = gap, noise
        res["verdict"] = ("second order returned more after one step, by more than two "
                          "standard errors" if gap > 2 * noise else
                          "first order returned more after one step, by more than two standard "
                          "errors" if gap < -2 * noise else
                          "the two are within two standard errors of each other")
        a1.set_xlabel("meta-iteration")
        a1.set_ylabel("held-out return after one step")
        a1.set_title("FOMAML vs MAML on navigation (thin: single seeds)")
        a1.legend()
        for i, algo in enumerate(("maml", "fomaml")):
            a2.bar(i - 0.2, res[algo]["seconds_median"], 0.4, color=COLORS[algo])
            a2.text(i - 0.2, res[algo]["seconds_median"], f"{res[algo]['seconds_median']:.2f} s",
                    ha="center", va="bottom")
        a2.set_xticks([0, 1], ["maml (second order)", "fomaml (first order)"])
        a2.set_ylabel("seconds per meta-iteration (median of seeds)")
        a2b = a2.twinx()
        for i, algo in enumerate(("maml", "fomaml")):
            a2b.errorbar(i + 0.2, res[algo]["mean"], yerr=res[algo]["se"], fmt="o", capsize=4,
                         color="k")
            finals = res[algo]["final_return_1"]
            a2b.scatter([i + 0.3] * len(finals), finals, s=14, color=COLORS[algo],
                        edgecolor="k", zorder=3)
        a2b.set_ylabel("final held-out return after one step\n(• mean ± s.e. over seeds; "
                       "small: seeds)")
        a2.set_title("cost (bars) and final adaptation (dots)")
        self.save(fig, "orders")
        self.numbers["orders"] = res
        return first

    # ---- 5. beyond navigation --------------------------------------------------------------
    def velocity(self) -> None:
        agent = self.trained("velocity-maml", "velocity", self.b.side_iterations)
        tasks = agent.pack.tasks("test")
        c = returns_01(agent, tasks, self.b.eval_episodes)
        v = tasks["target_velocity"].flatten()
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for k, label in (("0", "before"), ("1", "after one step")):
            ax.scatter(v, c["returns"][k]["per_task"], s=14, label=label)
        ax.set_xlabel("hidden target velocity (units/s)")
        ax.set_ylabel("return per episode")
        ax.set_title(f"velocity: {len(tasks)} held-out targets")
        ax.legend()
        self.save(fig, "velocity")
        self.numbers["velocity"] = self._before_after(c, len(tasks))

    @staticmethod
    def _before_after(c: dict[str, Any], n: int) -> dict[str, Any]:
        return {"tasks": n, "return_0": c["returns"]["0"]["mean"],
                "return_0_se": c["returns"]["0"]["se"], "return_1": c["returns"]["1"]["mean"],
                "return_1_se": c["returns"]["1"]["se"], "worse": c["worse_fraction"]["1"],
                "success_0": c["success"]["0"], "success_1": c["success"]["1"]}

    def terrain(self) -> None:
        agent = self.trained("terrain-maml", "terrain", self.b.side_iterations)
        tasks = agent.pack.tasks("test")
        c = returns_01(agent, tasks, self.b.eval_episodes)
        fr, pay = tasks["friction"].flatten(), tasks["payload"].flatten()
        groups = [(n, n, (fr >= lo) & (fr < hi)) for n, lo, hi in TERRAINS]
        groups += [("payload_le_2", "payload ≤ 2\n(as in training)", pay <= 2.0),
                   ("payload_gt_2", "payload > 2\n(heavier)", pay > 2.0)]
        res: dict[str, Any] = {"tasks": len(tasks), **self._before_after(c, len(tasks))}
        fig, ax = plt.subplots(figsize=(9, 4.2))
        for i, (key, _, sel) in enumerate(groups):
            row: dict[str, Any] = {"tasks": int(sel.sum())}
            for k, dx in (("0", -0.2), ("1", 0.2)):
                per = torch.tensor(c["returns"][k]["per_task"])[sel]
                m, se = mean_se(per) if len(per) else (float("nan"), 0.0)
                row[f"return_{k}"], row[f"return_{k}_se"] = m, se
                ax.bar(i + dx, m, 0.4, yerr=se, capsize=3, color="C7" if k == "0" else "C0",
                       label=("before" if k == "0" else "after one step") if i == 0 else None)
            res[key] = row
        ax.set_xticks(range(len(groups)), [f"{n}\n{int(s.sum())} tasks" for _, n, s in groups])
        ax.set_ylabel("mean return (± s.e.)")
        ax.set_title("terrain: held-out robots per ground and payload")
        ax.set_ylim(1.3 * ax.get_ylim()[0], 0)  # room for the legend below the bars
        ax.legend(loc="lower center", ncols=2)
        self.save(fig, "terrain")
        self.numbers["terrain"] = res

    def game(self, levels: tuple[str, ...] = ("far-corner", "test-3")) -> None:
        """The shipped arena agent (`make agents`: the game family's recipe, cavia adapting a
        goal belief) on held-out levels: numbers, and the viewer's last frame of the first
        episode after adaptation on each of `levels`."""
        from PIL import Image

        from mamlgame.viewer.record import Recorder, run_recorded
        from mamlgame.viewer.watch import WatchApp

        agent = load_agent("arena")
        tasks = agent.pack.tasks("test")
        c = returns_01(agent, tasks, self.b.eval_episodes)
        frames, shown = [], {}
        for level in levels:
            app = WatchApp(agent, level=level, headless=True, speed=8, pane=320, greedy=True)
            rec = Recorder(self.out / "game-frame.png")  # keeps the last frame only
            run_recorded(app, rec, self.b.frames, episodes=1)
            frames.append(rec.last)
            shown[level] = {"success_0": int(app.left.episode.success),
                            "success_1": int(app.right.episode.success),
                            "steps_0": app.left.episode.steps, "steps_1": app.right.episode.steps}
        (self.out / "game-frame.png").unlink(missing_ok=True)
        Image.fromarray(torch.cat([torch.from_numpy(f) for f in frames], 0).numpy()).save(
            self.out / "game.png")
        self.figures.append("game")
        self.numbers["game"] = {**self._before_after(c, len(tasks)), "levels": list(levels),
                                "algo": agent.config.algo, "iterations": agent.iteration,
                                "inner_lr": agent.config.inner_lr, "shown": shown}

    # ---- 6. knobs and pitfalls -------------------------------------------------------------
    def inner_lr_sweep(self, lrs: tuple[float, ...] = (0.05, 0.6, 2.5)) -> None:
        res: dict[str, Any] = {"iterations": self.b.side_iterations, "lrs": list(lrs)}
        fig, ax = plt.subplots(figsize=(6.5, 4))
        rows = []
        for lr in lrs:
            agent = self.trained(f"navigation-fomaml-lr{lr:g}", "navigation",
                                 self.b.side_iterations, algo="fomaml", inner_lr=lr)
            rows.append(self._before_after(returns_01(agent, self.held_out(agent),
                                                      self.b.eval_episodes), self.b.eval_tasks))
        x = torch.arange(len(lrs)).float()
        for k, dx, color, label in (("0", -0.2, "C7", "before"),
                                    ("1", 0.2, "C1", "after one step")):
            ax.bar(x + dx, [r[f"return_{k}"] for r in rows], 0.4,
                   yerr=[r[f"return_{k}_se"] for r in rows], capsize=3, color=color, label=label)
        ax.set_xticks(x, [f"α = {lr:g}" for lr in lrs])
        ax.set_xlabel("inner step size used in training and evaluation")
        ax.set_ylabel("held-out return (± s.e.)")
        ax.set_title(f"fomaml, {self.b.side_iterations} meta-iterations")
        ax.legend()
        self.save(fig, "inner_lr")
        res["runs"] = {f"{lr:g}": r for lr, r in zip(lrs, rows)}
        self.numbers["inner_lr"] = res

    def batch_noise(self, agent: Agent) -> None:
        fresh = random_init_agent(agent)
        learner = fresh.learner()
        params = {k: v.detach().requires_grad_() for k, v in fresh.params.items()}
        res = meta_gradient_noise(learner, params, agent.pack.pool("train"), self.b.meta_batches,
                                  self.b.variance_batches)
        res["batches"] = self.b.variance_batches
        v1 = res["variance"][0]
        res["ratio"] = v1 / res["variance"][-1]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        sizes = res["sizes"]
        a1.loglog(sizes, res["variance"], "o-", label="measured")
        a1.loglog(sizes, [v1 * sizes[0] / s for s in sizes], "k--", lw=1, label="∝ 1/T")
        a1.set_xlabel("tasks per meta-batch T")
        a1.set_ylabel("total variance of the meta-gradient")
        a1.set_title(f"{res['batches']} meta-gradients per T (maml, lvc)")
        a1.legend()
        a2.semilogx(sizes, res["cosine"], "o-")
        a2.set_xlabel("tasks per meta-batch T")
        a2.set_ylabel("cosine with the other batches' mean")
        a2.set_title("agreement between meta-batches")
        self.save(fig, "batch_noise")
        self.numbers["batch_noise"] = res

    def metasgd(self, maml: Agent) -> None:
        agent = self.trained("navigation-metasgd-0", "navigation", self.b.iterations,
                             algo="metasgd", seed=0)
        tasks = self.held_out(agent)
        res = {"metasgd": self._before_after(returns_01(agent, tasks, self.b.eval_episodes),
                                             len(tasks)),
               "maml": self._before_after(returns_01(maml, tasks, self.b.eval_episodes),
                                          len(tasks)),
               "init": agent.config.inner_lr, "layers": {}}
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, lrs in (agent.learner_state.get("inner_lrs") or {}).items():
            v = lrs.detach().flatten()
            res["layers"][name] = {"median": v.median().item(), "min": v.min().item(),
                                   "max": v.max().item(), "negative": (v < 0).float().mean().item()}
            ax.hist(v.numpy(), bins=40, alpha=0.5, label=name)
        ax.axvline(agent.config.inner_lr, color="k", ls="--", lw=1, label="initial α")
        ax.set_xlabel("learned inner step size per parameter entry")
        ax.set_ylabel("entries")
        ax.set_yscale("log")
        ax.set_title(f"Meta-SGD after {self.b.iterations} meta-iterations")
        ax.legend(fontsize=8)
        self.save(fig, "metasgd")
        self.numbers["metasgd"] = res


# ---- rendering ------------------------------------------------------------------------------
def lookup(numbers: dict[str, Any], path: str) -> Any:
    """The value at a dotted `path`; a key may itself hold dots (`inner_lr.runs.0.05`: the
    longest key that matches is taken) and list items are numbered."""
    parts, value, i = path.split("."), numbers, 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if isinstance(value, dict) and key in value:
                value, i = value[key], j
                break
            if isinstance(value, list) and j == i + 1 and re.fullmatch(r"-?\d+", key):
                value, i = value[int(key)], j
                break
        else:
            raise KeyError(f"{path}: no {'.'.join(parts[i:])!r} in the numbers")
    return value


def render(template: str, numbers: dict[str, Any], figures: str) -> str:
    """`template` with each `{{path.in.numbers:format}}` replaced by its value and
    `{{figures}}` by the relative folder of the figures (a list: its items, comma
    separated)."""
    def fill(m: re.Match) -> str:
        if m.group(1) == "figures":
            return figures
        value = lookup(numbers, m.group(1))
        spec = m.group(2) if m.group(2) is not None else ("" if isinstance(value, (int, str))
                                                          else ".2f")
        items = value if isinstance(value, list) else [value]
        return ", ".join(format(v, spec) for v in items)

    return PLACEHOLDER.sub(fill, template)


def write_guide(numbers: dict[str, Any], out: Path, guide: Path) -> None:
    rel = os.path.relpath(out.resolve(), guide.resolve().parent)
    guide.write_text(render(TEMPLATE.read_text(), numbers, rel))


def build(budget: Budget, out: Path, runs: Path) -> dict[str, Any]:
    """Run every measurement; returns the numbers (also written to out/numbers.json)."""
    g = Guide(budget, out, runs)
    t0 = time.perf_counter()
    print("1/6 estimator bias on the bandit", flush=True)
    g.bandit_bias()
    print("4/6 second vs first order (navigation)", flush=True)
    first = g.orders()
    maml = first["maml"]
    print("2/6 sensitivity of the initialisations", flush=True)
    pretrain = g.trained("navigation-pretrain-0", "navigation", budget.iterations,
                         algo="pretrain", seed=0)
    inits = {"maml": maml, "pretrain": pretrain, "random": random_init_agent(maml)}
    g.sensitivity(inits)
    print("3/6 trajectories", flush=True)
    g.trajectories(inits)
    print("5/6 velocity, terrain, game", flush=True)
    g.velocity()
    g.terrain()
    g.game()
    print("6/6 knobs: inner step size, meta-batch noise, Meta-SGD", flush=True)
    g.inner_lr_sweep()
    g.batch_noise(maml)
    g.metasgd(maml)
    g.numbers["figures"] = g.figures
    g.numbers["wall_seconds"] = time.perf_counter() - t0
    (out / "numbers.json").write_text(json.dumps(rounded(g.numbers), indent=1) + "\n")
    return rounded(g.numbers)


# the parts that need no other part's agents: `--only PART` redoes one of them
PARTS = {"bandit": "bandit_bias", "velocity": "velocity", "terrain": "terrain", "game": "game",
         "inner_lr": "inner_lr_sweep"}


def redo(part: str, budget: Budget, out: Path, runs: Path) -> dict[str, Any]:
    """Run one of `PARTS` again into out/numbers.json, keeping the other parts' numbers."""
    path = out / "numbers.json"
    numbers = json.loads(path.read_text())
    g = Guide(budget, out, runs)
    getattr(g, PARTS[part])()
    numbers.update(rounded(g.numbers))  # the part's numbers and the budget
    path.write_text(json.dumps(numbers, indent=1) + "\n")
    return numbers


def rounded(x: Any) -> Any:
    """Floats to 4 significant decimals (the JSON stays readable; the guide prints fewer)."""
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", choices=sorted(BUDGETS), default="full")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "guide")
    ap.add_argument("--guide", type=Path, default=None, help="default: OUT/../guide.md")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "guide")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--only", choices=sorted(PARTS), default=None,
                    help="redo one part (its figure and numbers) into OUT/numbers.json")
    args = ap.parse_args(argv)
    guide = args.guide or args.out.parent / "guide.md"
    configure(1)  # one torch thread, as the commands use by default
    t = time.perf_counter()
    if args.render_only:
        numbers = json.loads((args.out / "numbers.json").read_text())
    elif args.only:
        numbers = redo(args.only, BUDGETS[args.budget], args.out, args.runs)
    else:
        numbers = build(BUDGETS[args.budget], args.out, args.runs)
    write_guide(numbers, args.out, guide)
    print(f"wrote {guide} and {len(numbers['figures'])} figures in {args.out} "
          f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
