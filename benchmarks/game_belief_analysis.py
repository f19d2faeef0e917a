"""Where a goal-belief game agent fails: success before and after one inner step, split by
levels with and without opponents, by mode and by both, the belief's mass on the true goal,
the same policy given the true goal as its belief (a goal-visible version of the agent), and
given the adaptation episodes' exact posterior (the tiles consistent with every shaping term
they observed: what one step could know at best).

    .venv/bin/python benchmarks/game_belief_analysis.py CKPT [--pack PACK] [--split valid]
        [--tasks 64] [--episodes 20] [--seed 0] [--per-level] [--adapt-alone]

The agent acts as loaded (with its checkpoint's lookahead). `--per-level`: a row per level
with opponents (success after one step, with the true goal, the belief's mass on the goal);
`--adapt-alone`: the adaptation episodes sample the policy without the lookahead.

CKPT: a checkpoint trained with the game recipe (`--algo cavia`, `position = "graph"`).
"""

from __future__ import annotations

import argparse

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.families.game.belief import CLOSED
from mamlgame.packs import load_pack
from mamlgame.policy import params_of, with_task_inputs
from mamlgame.rollout import rollout


def split_rates(name: str, per_level: torch.Tensor, tasks) -> str:
    """Mean success over all levels, and over levels without/with opponents, topdown/platformer."""
    opp = tasks["opp_mask"].any(1)
    plat = tasks["platformer"]
    parts = [("all", torch.ones_like(opp)), ("no opponents", ~opp), ("opponents", opp),
             ("topdown", ~plat), ("platformer", plat), ("topdown, opponents", ~plat & opp),
             ("platformer, opponents", plat & opp)]
    cells = [f"{label} {100 * per_level[m].mean():.1f}% ({int(m.sum())})"
             for label, m in parts if m.any()]
    return f"{name:<22} " + " | ".join(cells)


def agent_arguments(description: str) -> argparse.ArgumentParser:
    """The options of a script that studies a game agent on levels of a split: the
    checkpoint, `--pack`, `--split`, `--tasks`, `--episodes`, `--seed`."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("checkpoint")
    ap.add_argument("--pack", default=None, help="default: the checkpoint's pack")
    ap.add_argument("--split", default="valid")
    ap.add_argument("--tasks", type=int, default=64,
                    help="the split's first TASKS levels, as `mamlgame eval` takes them")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="the episodes' random seed")
    return ap


def exact_posterior(family, inputs: dict, ep) -> torch.Tensor | None:
    """What the episodes `ep` say about the goal, exactly: belief logits [T, N], 0 on the open
    tiles g where every observed shaping term (the path distance to the goal gained by a
    step) equals d(s, g) - d(s', g), `CLOSED` elsewhere. None without the dense tables."""
    if "head.goal_dist" not in inputs:
        return None
    dist = inputs["head.goal_dist"].float()  # [T, N, S]
    scale = inputs["head.state_scale"].view(-1, 1, 1)
    state = (ep.obs[..., family.state_feature] * scale).round().long()  # [T, E, H]
    gained = (ep.rewards - family.reward_cfg["step"]) / family.reward_cfg["shaping"]
    # a step with a shaping term alone (not the goal's, caught's or hazard's) whose next
    # state was observed
    seen = (ep.mask[..., 1:] > 0) & ((gained - gained.round()).abs() < 1e-3)[..., :-1]
    logits = inputs["head.belief"].clone()
    for t in range(len(logits)):  # a diagnostic: a loop over levels is fine here
        s0, s1 = state[t, :, :-1][seen[t]], state[t, :, 1:][seen[t]]
        wrong = dist[t][:, s0] - dist[t][:, s1] != gained[t, :, :-1][seen[t]].round()
        logits[t] = torch.where(wrong.any(1), CLOSED, logits[t])
    return logits


def main() -> None:
    ap = agent_arguments(__doc__.splitlines()[0])
    ap.add_argument("--per-level", action="store_true")
    ap.add_argument("--adapt-alone", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    agent = load_agent(args.checkpoint, args.pack)
    if "head.belief" not in agent.policy.per_level:
        raise SystemExit("error: this checkpoint's policy has no goal belief")
    pack = load_pack(args.pack) if args.pack else agent.pack
    tasks = pack.tasks(args.split, args.tasks)  # the first levels, as `mamlgame eval` takes them
    gen = torch.Generator().manual_seed(args.seed)
    params = {k: v.detach() for k, v in params_of(agent.policy).items()}
    chooser = agent.family.chooser
    if args.adapt_alone:
        agent.family.chooser = None
    ad = agent.learner(episodes=args.episodes).adapt(params, tasks, gen, steps=1)
    agent.family.chooser = chooser
    adapted = {k: v.detach() for k, v in ad.params.items()}
    after = rollout(agent.family, tasks, agent.policy, adapted, args.episodes, gen)

    inputs = with_task_inputs(agent.policy, tasks, {})
    tile = torch.arange(inputs["head.belief"].shape[1])
    truth = torch.where(tile[None] == tasks["goal"][:, None], -CLOSED, inputs["head.belief"])
    oracle = rollout(agent.family, tasks, agent.policy, {**params, **inputs, "head.belief": truth},
                     args.episodes, gen)

    print(f"{pack.name} / {args.split}: {len(tasks)} levels, {args.episodes} episodes each")
    print(split_rates("0 steps", ad.episodes[0].success.float().mean(1), tasks))
    print(split_rates("1 step", after.success.float().mean(1), tasks))
    print(split_rates("true goal as belief", oracle.success.float().mean(1), tasks))
    mass = torch.softmax(adapted["head.belief"], -1).gather(1, tasks["goal"][:, None])[:, 0]
    print(f"belief mass on the goal after one step: median {mass.median():.3f}, "
          f"> 0.5 on {100 * (mass > 0.5).float().mean():.0f}% of levels")
    exact = exact_posterior(agent.family, inputs, ad.episodes[0])
    if exact is not None:
        told = rollout(agent.family, tasks, agent.policy, {**adapted, "head.belief": exact},
                       args.episodes, gen)
        print(split_rates("exact posterior", told.success.float().mean(1), tasks))
        posterior = torch.softmax(exact, -1).gather(1, tasks["goal"][:, None])[:, 0]
        print(f"the adaptation episodes' exact posterior (tiles consistent with every shaping "
              f"term): mass on the goal median {posterior.median():.3f}, mean "
              f"{posterior.mean():.3f} (the belief after one step: mean {mass.mean():.3f})")
    if args.per_level:
        print("levels with opponents: index, success after one step, with the true goal, "
              "belief mass on the goal" + (", the exact posterior's" if exact is not None else ""))
        won, known = after.success.float().mean(1), oracle.success.float().mean(1)
        for i in tasks["opp_mask"].any(1).nonzero()[:, 0].tolist():
            print(f"{i:4d} {100 * won[i]:5.0f}% {100 * known[i]:5.0f}% {mass[i]:6.3f}"
                  + (f" {posterior[i]:6.3f}" if exact is not None else ""))


if __name__ == "__main__":
    main()
