"""How game episodes end and which levels `mamlgame eval` splits that by (the game's
`FamilySpec.outcomes` and `FamilySpec.groups`), and the rewards of an episode that say where
the goal is (`FamilySpec.goal_rewards`).

Outcomes (mutually exclusive, one per episode): `goal`, `caught`, `hazard`, `timeout` (still
running at the horizon). Groups of levels: `no_opponents`, `opponents`, one per opponent
behaviour of `opponents.TABLE` (levels with at least one such opponent) and three by the
player's speed against its fastest opponent's: `player_faster` (more than `AS_FAST` times
as fast), `player_as_fast` (within that factor either way), `player_slower`.
"""

from __future__ import annotations

import torch

from mamlgame.families.game.engine import OUTCOMES, Game
from mamlgame.families.game.opponents import TABLE
from mamlgame.packs import Tasks

AS_FAST = 1.1  # speeds within this factor of each other count as "as fast"
ENDS = ("goal", "caught", "hazard", "timeout")
CODE = {name: i for i, name in enumerate(OUTCOMES)}  # the engine's end code of each outcome


def end_outcomes(tasks: Tasks, end: torch.Tensor) -> dict[str, torch.Tensor]:
    """{goal, caught, hazard, timeout}: bool [T, E] masks of the end codes `end` [T, E]
    (the engine's `state["outcome"]`; 0, still running, is a timeout)."""
    return {"goal": end == CODE["goal"], "caught": end == CODE["caught"],
            "hazard": end == CODE["hazard"], "timeout": end == CODE["running"]}


def fastest_opponent(tasks: Tasks) -> torch.Tensor:
    """The speed of each level's fastest opponent [T] (0 without opponents)."""
    return torch.where(tasks["opp_mask"], tasks["opp_speed"], 0.0).amax(1)


def level_groups(tasks: Tasks) -> dict[str, torch.Tensor]:
    """Groups of levels [T] bool (see the module docstring), in report order."""
    mask = tasks["opp_mask"]
    has = mask.any(1)
    groups = {"no_opponents": ~has, "opponents": has}
    for i, name in enumerate(TABLE):
        groups[name] = ((tasks["opp_beh"] == i) & mask).any(1)
    ratio = tasks["speed"] / fastest_opponent(tasks).clamp(min=1e-9)
    groups["player_faster"] = has & (ratio > AS_FAST)
    groups["player_as_fast"] = has & (ratio <= AS_FAST) & (ratio >= 1 / AS_FAST)
    groups["player_slower"] = has & (ratio < 1 / AS_FAST)
    return groups


def goal_rewards(family: Game, rewards: torch.Tensor, mask: torch.Tensor, end: torch.Tensor
                 ) -> torch.Tensor:
    """Episodes' `rewards` [T, E, H] (steps taken: `mask`; how each ended: `end` [T, E], as
    `rollout.Episodes` holds them) without the `caught` or `hazard` reward on the step that
    ended an episode so: the step, shaping and goal rewards, which say where the goal is. A
    catch says where an opponent was (a guard's post is near the goal: its penalty would
    push the belief away from the goal), a hazard is on the map."""
    cfg = family.reward_cfg
    ending = torch.where(end == CODE["caught"], cfg["caught"], 0.0)
    ending = torch.where(end == CODE["hazard"], cfg["hazard"], ending).to(rewards.dtype)
    last = (mask.sum(-1).long() - 1).clamp_min(0)  # the ending step [T, E]
    return rewards.scatter_add(2, last[..., None], -ending[..., None])
