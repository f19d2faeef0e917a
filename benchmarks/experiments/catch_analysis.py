"""Where an adapted game agent gets caught (BENCHMARKS.md, "Opponent-aware danger: what did
not work"): at the step of each catch, was there a move keeping every opponent 2+ tiles
away, how much did the policy put on such moves, and could the player move at all.

    python benchmarks/experiments/catch_analysis.py CKPT [--greedy]

With `opponent_danger.patch` applied, SPEED=1 / DSCALE=x / DEPTH=n / NOGAIN=1 set the head's
speed awareness, danger scale, lookahead and threat gain on a loaded checkpoint (zero-shot).
`--greedy`: the adapted agent's success acting greedily against sampling (same params).
"""

from __future__ import annotations

import argparse
import os

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.rollout import rollout


def patched(agent) -> None:
    """The patch's zero-shot knobs, from the environment."""
    head = agent.policy.head
    if os.environ.get("SPEED"):
        head.speed_feature = 2
    if os.environ.get("DEPTH"):
        head.depth = int(os.environ["DEPTH"])
    with torch.no_grad():
        if os.environ.get("NOGAIN"):
            head.threat_gain.zero_()
        if os.environ.get("DSCALE"):
            head.danger.mul_(float(os.environ["DSCALE"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--greedy", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    agent = load_agent(args.checkpoint)
    patched(agent)
    tasks = agent.pack.tasks("valid", 64)  # the first levels, as `mamlgame eval` takes them
    gen = torch.Generator().manual_seed(0)
    base = {k: v.detach() for k, v in agent.params.items()}
    p = {k: v.detach() for k, v in agent.learner(episodes=20).adapt(base, tasks, gen,
                                                                   steps=1).params.items()}
    opp = tasks["opp_mask"].any(1)
    if args.greedy:
        for det in (False, True):
            ep = rollout(agent.family, tasks, agent.policy, p, 20,
                         torch.Generator().manual_seed(1), deterministic=det)
            s, end = ep.success.float(), ep.end[opp]
            print(f"{'greedy' if det else 'sampled'}: with opponents {s[opp].mean():.3f}, "
                  f"caught {(end == 2).float().mean():.3f}, out of time "
                  f"{(end == 0).float().mean():.3f}")
        return
    ep = rollout(agent.family, tasks, agent.policy, p, 20, gen)
    caught = ep.end == 2
    last = (ep.mask.sum(-1).long() - 1).clamp(min=0)
    t, e = caught.shape
    obs = ep.obs.gather(2, last[..., None, None].expand(t, e, 1, ep.obs.shape[-1]))[:, :, 0]
    act = ep.actions.gather(2, last[..., None])[..., 0]
    head = agent.policy.head
    with torch.no_grad():
        probs = torch.softmax(agent.policy.apply_params(p, obs), -1)
        q = {k[5:]: v for k, v in p.items() if k.startswith("head.")}
        q["belief_scale"] = torch.tensor(0.0)
        if "threat" in q:
            q["threat"] = torch.zeros_like(q["threat"])
        near = 0
        for d in (0, 1):  # opponents within 1 tile of each move's tile
            q["danger"] = torch.nn.functional.one_hot(torch.tensor(d), 4).float()
            near = near + head.logits(q, obs)
    safe = near == 0
    moves = torch.floor(obs[..., 3] + obs[..., 2] + 1e-6)[caught]
    has, mass = safe.any(-1)[caught], (probs * safe).sum(-1)[caught]
    took = safe.gather(-1, act[..., None])[..., 0][caught]
    can = moves > 0
    print(f"caught: {int(caught.sum())} of {t * e} episodes; on a step the player could not "
          f"move: {(~can).float().mean():.2f}")
    print(f"where it could move: a safe move existed {has[can].float().mean():.2f}, mass on "
          f"safe moves mean {mass[can].mean():.2f} median {mass[can].median():.2f}, the "
          f"taken move safe {took[can].float().mean():.2f}")
    print(f"success after one step: with opponents {ep.success[opp].float().mean():.3f}, "
          f"without {ep.success[~opp].float().mean():.3f}")


if __name__ == "__main__":
    main()
