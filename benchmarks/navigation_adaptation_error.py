"""Where a navigation checkpoint's 1-step return is lost: the adapted policy's stochastic and
deterministic returns, and how far its deterministic path ends from each goal, by goal
distance. Usage: python benchmarks/navigation_adaptation_error.py CHECKPOINT [SEED]"""

import sys

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.rollout import rollout

torch.set_num_threads(1)
agent = load_agent(sys.argv[1])
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
tasks = agent.pack.tasks("test", 40)
gen = torch.Generator().manual_seed(seed)
adapted = agent.learner(episodes=40).adapt(agent.params, tasks, gen, steps=1).params
adapted = {k: v.detach() for k, v in adapted.items()}
sto = rollout(agent.family, tasks, agent.policy, adapted, 40, gen)
det = rollout(agent.family, tasks, agent.policy, adapted, 1, gen, deterministic=True)
print(f"1-step return: stochastic {sto.total_reward.mean():.2f}, "
      f"deterministic {det.total_reward.mean():.2f}; "
      f"log-std before {agent.params['log_std'].tolist()}, "
      f"after (mean) {adapted['log_std'].mean(0).tolist()}")
goal = agent.family.goal(tasks).squeeze(1)
final = det.obs[:, 0, -1]  # where the deterministic adapted policy is at the last step
dist, reached = goal.norm(dim=-1), final.norm(dim=-1)
print("goal distance   goals  final distance from origin  error to goal")
for lo, hi in ((0.0, 0.25), (0.25, 0.45), (0.45, 1.0)):
    m = (dist >= lo) & (dist < hi)
    print(f"[{lo:.2f}, {hi:.2f})   {int(m.sum()):5d}  {reached[m].mean():26.3f}  "
          f"{(final[m] - goal[m]).norm(dim=-1).mean():13.3f}")
