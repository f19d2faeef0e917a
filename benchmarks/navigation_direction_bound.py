"""The best 1-step return on navigation for a policy that learns the goal's direction but not
its distance (what MAML's adapted policy does here; see BENCHMARKS.md).

Given only the direction u of a goal g = d u, every point off the ray is farther from every
possible goal than its projection on the ray, and each step's expected cost E|x_t - d| is
smallest at the median of d given u. So the best such policy moves along u at full speed
(0.1 per axis) to that median and stops: this script runs it in the real `Navigation`
dynamics, with the median per direction taken from 2 million goals of the pack's distribution
(720 direction bins), on the evaluation goals (the first 40 of the test split, as in
`mamlgame eval --tasks 40`) and on fresh goals.
Usage: python benchmarks/navigation_direction_bound.py
"""

import math

import torch

from mamlgame.families import make_family
from mamlgame.packs import Tasks, load_pack

BINS = 720
pack = load_pack("navigation")
family = make_family(pack)
gen = torch.Generator().manual_seed(0)


def angle_bin(g: torch.Tensor) -> torch.Tensor:
    theta = torch.atan2(g[:, 1], g[:, 0])
    return ((theta + math.pi) / (2 * math.pi) * BINS).long().clamp(max=BINS - 1)


def uniform_goals(n: int) -> torch.Tensor:
    return torch.rand(n, 2, generator=gen, dtype=torch.float64) - 0.5  # [-0.5, 0.5]^2


fit = uniform_goals(2_000_000)
bins, dist = angle_bin(fit), fit.norm(dim=-1)
median = torch.stack([dist[bins == b].median() for b in range(BINS)])


def direction_only_return(goals: torch.Tensor, oracle: bool = False) -> torch.Tensor:
    """Return of the best direction-only policy on each goal [N] (deterministic); `oracle`:
    of the policy that also knows the distance (straight to the goal)."""
    tasks = Tasks({"goal_x": goals[:, :1].float(), "goal_y": goals[:, 1:].float()},
                  tuple(map(str, range(len(goals)))))
    u = goals / goals.norm(dim=-1, keepdim=True)
    stop = goals.norm(dim=-1) if oracle else median[angle_bin(goals)]
    target = (stop[:, None] * u).float()[:, None]  # [N, 1, 2]
    state = family.reset(tasks, 1, None)
    alive, total = torch.ones(len(goals), 1, dtype=torch.bool), torch.zeros(len(goals), 1)
    for _ in range(family.horizon):
        a = (target - state["p"]) / family.max_step
        a = a / a.abs().amax(-1, keepdim=True).clamp(min=1.0)  # full speed, same direction
        state, reward, done = family.step(tasks, state, a)
        total += reward * alive
        alive &= ~done
    return total[:, 0]


test = pack.tasks("test", 40)  # "corner" and 39 generated goals
eval_goals = torch.cat([test["goal_x"], test["goal_y"]], -1).reshape(-1, 2).double()
on_eval = direction_only_return(eval_goals)
fresh = direction_only_return(uniform_goals(200_000))
print(f"best direction-only return, the 40 evaluation goals: {on_eval.mean():.2f} "
      f"(± {on_eval.std() / math.sqrt(len(on_eval)):.2f} over goals)")
print(f"best direction-only return, 200 000 fresh goals:     {fresh.mean():.2f}")
print(f"knowing the goal (straight there), the 40 evaluation goals: "
      f"{direction_only_return(eval_goals, oracle=True).mean():.2f}")
print(f"median stopping distance: {median.min():.3f} (axis directions) to "
      f"{median.max():.3f} (diagonals)")
whole = pack.pool("test")
whole_goals = torch.cat([whole["goal_x"], whole["goal_y"]], -1).reshape(-1, 2).double()
print(f"best direction-only return, all {len(whole)} test goals: "
      f"{direction_only_return(whole_goals).mean():.2f}")
