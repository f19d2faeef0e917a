"""Why dice's score term is noisy on navigation: where its weight R_tau - b_tau varies, and how
much of that a control variate could remove.

At a fixed policy (a checkpoint's params), one batch of 20 tasks is adapted K times (K
independent draws D of its inner episodes). R_tau is the 20-episode outer return that training
uses, J_tau a 400-episode estimate of J(theta'(D)). E[(R - b)^2] splits into outer sampling
noise E[(R - J)^2], the inner draw E[(J - mean_D J)^2] and the task part. Then: how much of the
inner-draw part a linear control variate w . (theta' - theta) explains, for several w (a
baseline may only use a w that does not depend on the task's own inner episodes).

Usage: python benchmarks/score_term_noise.py CHECKPOINT [K]
"""

import sys

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.policy import log_prob
from mamlgame.returns import advantages
from mamlgame.rollout import rollout
from mamlgame.score_baseline import ScoreBaseline

torch.set_num_threads(1)
agent = load_agent(sys.argv[1])
K = int(sys.argv[2]) if len(sys.argv) > 2 else 10
family, policy, learner = agent.family, agent.policy, agent.learner(estimator="dice")
theta = {k: v.detach() for k, v in agent.params.items()}
gen = torch.Generator().manual_seed(5)
pool = agent.pack.pool("train")


def draw(n: int = 20):
    return pool.select(torch.randint(len(pool), (n,), generator=gen))


def outer_gradient(p, tasks, episodes):
    """J's estimate and its policy gradient at the adapted params, per task [T, P]."""
    p = {k: v.detach().requires_grad_() for k, v in p.items()}
    out = rollout(family, tasks, policy, p, episodes, gen)
    adv, _ = advantages(out, learner.gamma, True, False)
    lp = log_prob(policy, p, out.obs, out.actions)
    g = torch.autograd.grad((lp * adv).sum() / episodes, list(p.values()))
    return out.total_reward.mean(1).double(), torch.cat([x.reshape(len(tasks), -1) for x in g],
                                                        1).double()


# the kernel baseline's memory, filled as in training (10 batches at this policy)
sb = ScoreBaseline()
for _ in range(10):
    t = draw()
    sb(rollout(family, t, policy, learner.adapt(theta, t, gen).params, 20, gen)
       .total_reward.mean(1), t)
tasks = draw()
R, J, W_big, W_own, steps = [], [], [], [], []
for _ in range(K):
    ad = learner.adapt(theta, tasks, gen)
    p = {k: v.detach() for k, v in ad.params.items()}
    r, w20 = outer_gradient(p, tasks, 20)
    j, w400 = outer_gradient(p, tasks, 400)
    R.append(r)
    J.append(j)
    W_big.append(w400)
    W_own.append(w20)
    steps.append(torch.cat([(p[k] - theta[k]).reshape(len(tasks), -1) for k in p], 1).double())
R, J = torch.stack(R), torch.stack(J)  # [K, T]
Wb, Wo, S = torch.stack(W_big), torch.stack(W_own), torch.stack(steps)  # [K, T, P]
w_others = (Wo.sum(1, keepdim=True) - Wo) / (len(tasks) - 1)
lin = {"oracle w (400 ep., mean over draws)": (Wb.mean(0) * S).sum(-1),
       "w of the same draw (400 ep.)": (Wb * S).sum(-1),
       "the task's own outer episodes (20)": (Wo * S).sum(-1),
       "mean of the other tasks' w": (w_others * S).sum(-1)}


def kernel_baseline(r: torch.Tensor) -> torch.Tensor:
    fresh = ScoreBaseline(sb.memory, sb.reg, sb.width)
    fresh.load(sb.state())
    return fresh(r, tasks)


T = len(tasks)
b = torch.stack([kernel_baseline(r) for r in R])
others = (R.sum(1, keepdim=True) - R) / (T - 1)
print(f"E[(R - b)^2]: kernel baseline {(R - b).square().mean():.2f}, "
      f"mean of the other tasks {(R - others).square().mean():.2f}")
print(f"  outer sampling noise E[(R - J)^2]      {(R - J).square().mean():8.2f}")
inner = (J - J.mean(0)).square().mean() * K / (K - 1)
print(f"  inner draw  E[(J - mean_D J)^2]        {inner:8.2f}")
print(f"  task        E[(mean_D J - b)^2]        {(J.mean(0) - b).square().mean():8.2f}")
print("share of the inner-draw part explained by w . (theta' - theta), w from:")
Jc = J - J.mean(0)
for name, x in lin.items():
    x = x - x.mean(0)
    beta = (x * Jc).sum() / (x * x).sum()
    print(f"  {name:<38} {1 - (Jc - beta * x).square().sum() / Jc.square().sum():6.3f}")
