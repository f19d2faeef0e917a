"""The tile game (family `game`): one home for its rules (`rules`), hand-designed and
procedural levels (`levels`, `generate`), pack keys (`schema`), opponents (`opponents`,
`paths`), batched engine (`engine`), the policy's per-level heads (`head`, `belief`,
`distances`), drawing (`draw`) and viewer hints (`scene`). See DESIGN.md "Game rules"."""

from collections.abc import Callable

import torch

from mamlgame.families.game.draw import draw_game, draw_game_preview
from mamlgame.families.game.engine import Game
from mamlgame.families.game.head import HEADS, game_head, upgrade_policy
from mamlgame.families.game.outcomes import end_outcomes, goal_rewards, level_groups
from mamlgame.families.game.planner import play
from mamlgame.families.game.scene import (
    GameControls,
    describe_level,
    draw_game_belief,
    draw_game_state,
    game_caption,
    game_outcome,
    game_trail_point,
)
from mamlgame.families.game.schema import SCHEMA
from mamlgame.families.spec import FamilySpec


def _lookahead(family: Game, depth: int) -> Callable[..., torch.Tensor]:
    """The game's `FamilySpec.lookahead` (imported late: it builds on the policy module)."""
    from mamlgame.families.game.lookahead import Lookahead
    return Lookahead(family, depth)


SPEC = FamilySpec(
    name="game",
    schema=SCHEMA,
    dynamics=Game,
    draw=draw_game_state,
    trail_point=game_trail_point,
    preview=draw_game_preview,
    caption=game_caption,
    describe_level=describe_level,
    controls=lambda family, tasks: GameControls(tasks),
    help="arrows/WASD move   space jump",
    outcome=game_outcome,
    overlay=draw_game_belief,
    overlay_help="orange: where it believes the goal is",
    speed=6.0,
    has_success=True,
    policy_head=game_head,
    heads=HEADS,
    upgrade_policy=upgrade_policy,
    outcomes=end_outcomes,
    groups=level_groups,
    planner=play,
    lookahead=_lookahead,
    goal_rewards=goal_rewards,
)

__all__ = ["SPEC", "Game", "draw_game"]
