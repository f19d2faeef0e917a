"""`winnable = true` in [generate]: a generated level that the planner proves no player can
win is drawn again (issue 23: generators that make unwinnable levels); the others stay as
they were, the result is reproducible, and a pack that cannot make winnable levels gets one
clear error."""

import pytest
import torch

from mamlgame.errors import PackError
from mamlgame.families.game import planner
from mamlgame.families.game.engine import Game
from mamlgame.packs import parse_pack

# fast chasers and guards on small maps with corridors: many levels cannot be won
HARD = """
[pack]
name = "hard"
family = "game"
horizon = 40
seed = 5
[split]
train = 40
test = 0
[generate]
size = [7, 9]
layout = {{ rooms = 0.5, maze = 0.5 }}
goal_distance = [5, 12]
player_speed = [0.5, 1.0]
opponents = [1, 2]
opponent_speed = {speed}
opponent_behaviour = {{ chase = 0.5, guard = 0.3, random = 0.2 }}
{extra}
"""


def hard(extra: str = "", speed: str = "[0.5, 1.5]"):
    pack = parse_pack(HARD.format(extra=extra, speed=speed), "hard.toml")
    return Game(pack), pack.pool("train")


def test_winnable_redraws_exactly_the_levels_no_player_can_win():
    game, plain = hard()
    lost = planner.unwinnable(game, plain)
    assert 0 < int(lost.sum()) < len(plain)  # the pack makes some unwinnable levels
    game, fixed = hard("winnable = true")
    assert not bool(planner.unwinnable(game, fixed).any())
    same = plain["digest"] == fixed["digest"]
    assert torch.equal(~same, lost)  # the winnable ones are the very same levels
    # and the planner wins the redrawn ones when it plays them
    redrawn = fixed.select(lost.nonzero()[:, 0])
    plays = planner.play(game, planner.without(redrawn, planner.KEYED), 1,
                         torch.Generator().manual_seed(0))
    assert bool(plays.success.all())


def test_unwinnable_is_a_proof_not_a_guess():
    game, tasks = hard()
    lost = planner.unwinnable(game, tasks).nonzero()[:, 0]
    # the planner never wins such a level, random walkers or not
    plays = planner.play(game, tasks.select(lost), 4, torch.Generator().manual_seed(1))
    assert not bool(plays.success.any())


def test_winnable_levels_are_reproducible():
    _, a = hard("winnable = true")
    _, b = hard("winnable = true")
    assert torch.equal(a["digest"], b["digest"])


def test_a_pack_that_cannot_make_winnable_levels_gets_one_clear_error():
    pack = parse_pack(HARD.format(extra="winnable = true", speed="2.0").replace(
        "player_speed = [0.5, 1.0]", "player_speed = 0.2").replace(
        "opponent_behaviour = { chase = 0.5, guard = 0.3, random = 0.2 }",
        'opponent_behaviour = "chase"').replace("train = 40", "train = 1"), "hard.toml")
    with pytest.raises(PackError) as err:
        pack.pool("train")
    msg = str(err.value)
    assert "hard.toml" in msg and "winnable" in msg and "perfect player" in msg
    assert "\n" not in msg.strip()
