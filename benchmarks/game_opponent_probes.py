"""Three probes of what a goal-belief game agent would gain from planning, on the levels of a
split, with a checkpoint's belief after one inner step of its policy alone (no lookahead;
no training: each changes only how the adapted agent acts):

- `map`: how often the belief's most likely tile is the goal (a planner that walks to one
  believed goal can win at most that often);
- `lookahead`: the agent acts as the planner does on levels with random walkers
  (`planner._branches`: every action, then a few continuations for `DEPTH` steps, in
  fresh worlds), with the belief's expected distance in place of the true one and the goal
  hidden from the simulation; given the adapted belief and given the true goal as belief;
- `visited`: the adapted policy with every tile the player has stood on this episode taken
  out of its belief (a tile walked over is not the goal), one episode at a time.

(The lookahead that made it into the product, over the policy's own continuations, is
`mamlgame eval --lookahead`: `mamlgame.families.game.lookahead`.)

    .venv/bin/python benchmarks/game_opponent_probes.py CKPT [--pack PACK] [--split valid]
        [--tasks 64] [--episodes 20] [--lookahead-episodes 4] [--probes map,lookahead,visited]

Each prints success / caught / out-of-time rates (%) on the levels with and without opponents.
"""

from __future__ import annotations

import torch
from game_belief_analysis import agent_arguments  # this folder's sibling script

from mamlgame.checkpoint import load_agent
from mamlgame.families.game import planner
from mamlgame.families.game.belief import CLOSED
from mamlgame.packs import Tasks, load_pack
from mamlgame.policy import params_of, sample, with_task_inputs
from mamlgame.rollout import _freeze

ENDS = (1, 2, 0)  # goal, caught, out of time (the engine's outcome codes)


def rates(out: torch.Tensor, rows: torch.Tensor) -> str:
    """'goal / caught / timeout %' of the episodes' outcomes `out` in `rows`."""
    return " / ".join(f"{100 * (out[rows] == k).float().mean():.1f}" for k in ENDS)


def true_belief(inputs: dict[str, torch.Tensor], tasks: Tasks) -> torch.Tensor:
    tile = torch.arange(inputs["head.belief"].shape[1])
    return torch.where(tile[None] == tasks["goal"][:, None], -CLOSED, inputs["head.belief"])


def lookahead(agent, tasks: Tasks, belief: torch.Tensor, goal_dist: torch.Tensor,
              episodes: int, seed: int) -> torch.Tensor:
    """Outcomes [L * episodes] of the planner's lookahead walking down the belief's field."""
    field = torch.bmm(torch.softmax(belief, -1).unsqueeze(1), goal_dist.float()).squeeze(1)
    level = torch.arange(len(tasks)).repeat_interleave(episodes)
    real = tasks.select(level)
    potential = torch.zeros_like(real["potential"])
    potential[:, :field.shape[1]] = field[level]
    # the simulation never ends at the goal (tile 0 is a wall corner): it is hidden
    blind = Tasks({**real.params, "potential": potential,
                   "goal": torch.zeros_like(real["goal"])}, real.ids)
    game = agent.family
    state = game.reset(real, 1, torch.Generator().manual_seed(seed))
    worlds = torch.Generator().manual_seed(seed + 1)
    no_plan = torch.zeros(len(real), planner.DEPTH + 1, dtype=torch.long)
    has_plan = torch.zeros(len(real), dtype=torch.bool)
    alive = torch.ones(len(real), 1, dtype=torch.bool)
    for t in range(game.horizon):
        action = planner._branches(game, blind, state, game.horizon - t, worlds, no_plan,
                                   has_plan)
        new, _, done = game.step(real, state, action[:, None])
        state = {k: _freeze(alive, v, state[k]) for k, v in new.items()}
        alive = alive & ~done
        if not bool(alive.any()):
            break
    return state["outcome"][:, 0]


def walk(agent, tasks: Tasks, params: dict[str, torch.Tensor], episodes: int, seed: int,
         drop_walked: bool) -> torch.Tensor:
    """Outcomes [T, E] of the adapted policy, one episode at a time (the same draws either
    way); with `drop_walked`, each episode's walked tiles taken out of its belief."""
    game, policy = agent.family, agent.policy
    gen = torch.Generator().manual_seed(seed)
    state = game.reset(tasks, episodes, gen)
    t, n = len(tasks), tasks["wall"].shape[1]
    alive = torch.ones(t, episodes, dtype=torch.bool)
    walked = torch.zeros(t, episodes, n, dtype=torch.bool)
    for _ in range(game.horizon):
        if drop_walked:
            walked.scatter_(2, state["pos"][..., None], True)
        obs = game.observe(tasks, state)
        action = torch.cat([sample(policy, {**params, "head.belief": params["head.belief"]
                                            + CLOSED * walked[:, e].float()},
                                   obs[:, e:e + 1], gen) for e in range(episodes)], 1)
        new, _, done = game.step(tasks, state, action)
        state = {k: _freeze(alive, v, state[k]) for k, v in new.items()}
        alive = alive & ~done
    return state["outcome"]


def main() -> None:
    ap = agent_arguments(__doc__.splitlines()[0])
    ap.add_argument("--lookahead-episodes", type=int, default=4)
    ap.add_argument("--probes", default="map,lookahead,visited")
    args = ap.parse_args()
    torch.set_num_threads(1)
    agent = load_agent(args.checkpoint, args.pack)
    agent.family.chooser = None  # the policy alone, as trained (not the agent's lookahead)
    if "head.belief" not in agent.policy.per_level:
        raise SystemExit("error: this checkpoint's policy has no goal belief")
    pack = load_pack(args.pack) if args.pack else agent.pack
    tasks = pack.tasks(args.split, args.tasks)  # the first levels, as `mamlgame eval` takes them
    params = {k: v.detach() for k, v in params_of(agent.policy).items()}
    gen = torch.Generator().manual_seed(args.seed)
    ad = agent.learner(episodes=args.episodes).adapt(params, tasks, gen, steps=1)
    adapted = with_task_inputs(agent.policy, tasks,
                               {k: v.detach() for k, v in ad.params.items()})
    opp = tasks["opp_mask"].any(1)
    probes = args.probes.split(",")
    print(f"{pack.name} / {args.split}: {len(tasks)} levels ({int(opp.sum())} with "
          "opponents); goal / caught / out of time, %")
    if "map" in probes:
        right = (adapted["head.belief"].argmax(-1) == tasks["goal"]).float()
        print(f"map: the belief's most likely tile is the goal on {100 * right[opp].mean():.0f}"
              f"% of levels with opponents, {100 * right[~opp].mean():.0f}% without")
    if "lookahead" in probes:
        sub = tasks.select(opp.nonzero()[:, 0])
        k = args.lookahead_episodes
        rows = torch.ones(len(sub) * k, dtype=torch.bool)
        for name, belief in (("adapted belief", adapted["head.belief"]),
                             ("true goal", true_belief(adapted, tasks))):
            out = lookahead(agent, sub, belief[opp], adapted["head.goal_dist"][opp], k,
                            args.seed + 1)
            print(f"lookahead, {name}, levels with opponents ({k} episodes each): "
                  f"{rates(out, rows)}")
    if "visited" in probes:
        for name, drop in (("the adapted policy", False),
                           ("walked tiles out of the belief", True)):
            out = walk(agent, tasks, adapted, args.episodes, args.seed + 1, drop)
            print(f"{name}: with opponents {rates(out, opp)} | without {rates(out, ~opp)}")


if __name__ == "__main__":
    main()
