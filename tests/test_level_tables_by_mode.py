"""Issue 24, eighth round: the per-batch tables made more cheaply give what the plain
constructions give, bit for bit: the successor table made mode by mode, the observation
table made from its rise-0 rows, the speed rule without its cap for slow levels, and the
level constants' check for changed level tensors."""

import dataclasses

import pytest
import torch

from mamlgame.families import make_family
from mamlgame.families.game import constants
from mamlgame.families.game.rules import (
    N_ACTIONS,
    player_submove,
    rise_levels,
    speed_moves,
    successor_table,
)
from mamlgame.packs import load_pack


def batch(pack_name, generate=None, n=24):
    lp = load_pack(pack_name)
    if generate:
        lp = dataclasses.replace(lp, generate={**lp.generate, **generate})
    return lp, lp.tasks("train", n, seed=3)


def both_modes_table(tasks, levels):
    """The successor table as the rule of both modes gives it for every state."""
    wall, plat, jump = tasks["wall"], tasks["platformer"], tasks["jump"]
    t, n = wall.shape
    width = int(tasks["grid"][0, 1])
    s = levels * n
    tiles = torch.arange(n).repeat(levels)
    tiles = torch.where(wall[:, tiles], width + 1, tiles)
    rise = torch.arange(levels).repeat_interleave(n).expand(t, s)
    act = torch.arange(N_ACTIONS).repeat_interleave(s).unsqueeze(0)
    p, r = player_submove(wall, width, tiles.repeat(1, N_ACTIONS), rise.repeat(1, N_ACTIONS),
                          act, plat.view(t, 1), jump.view(t, 1))
    return (r.clamp(max=levels - 1) * n + p).reshape(t, N_ACTIONS, s)


@pytest.mark.parametrize("pack_name", ["mixed", "platformer", "chasers"])
def test_successor_table_by_mode_is_the_rule_of_both(pack_name):
    _, tasks = batch(pack_name)
    levels = rise_levels(tasks)
    got = successor_table(tasks, levels).clone()
    assert torch.equal(got, both_modes_table(tasks, levels))
    # a batch of one mode out of a mixed pack
    plat = tasks["platformer"]
    for rows in (plat.nonzero().squeeze(1), (~plat).nonzero().squeeze(1)):
        if not len(rows):
            continue
        part = tasks.select(rows)
        assert torch.equal(successor_table(part, rise_levels(part)),
                           both_modes_table(part, rise_levels(part)))


@pytest.mark.parametrize("generate", [{}, {"position": "onehot", "observe_goal": True},
                                      {"position": "tile", "view": 3}])
def test_observation_table_is_own_at_every_state(generate):
    lp, tasks = batch("mixed", generate)
    game = make_family(lp, None)
    lc = constants.LevelConstants(tasks, game.view, game.observe_goal)
    table = game._own_table(lc)
    (t, n), ww = lc.wall.shape, lc.width
    levels = rise_levels(tasks)
    tiles = torch.arange(n).clamp(max=n - 1 - ww).repeat(levels).expand(t, -1)
    rise = torch.arange(levels).repeat_interleave(n).expand(t, -1)
    zero = torch.zeros(t, levels * n, dtype=torch.long)
    want = game._own(lc, tiles, tiles // ww, tiles % ww, rise, zero.float(), zero,
                     game.obs_dim - game.opponent_feature).reshape(t, -1)
    assert torch.equal(table, want)


def test_slow_speeds_need_no_cap():
    gen = torch.Generator().manual_seed(0)
    speed = torch.rand(50, 1, generator=gen) * (1 - 1e-5)
    acc = torch.zeros(50, 7)
    for _ in range(200):
        moves, new = speed_moves(acc, speed)
        slow_moves, slow_new = speed_moves(acc, speed, slow=True)
        assert torch.equal(moves, slow_moves) and torch.equal(new, slow_new)
        acc = new


def test_level_constants_see_a_changed_level():
    lp, tasks = batch("mixed")
    game = make_family(lp, None)
    lc = game.levels.get(tasks, game.view, game.observe_goal)
    key = (game.view, game.observe_goal)
    assert lc.matches(tasks, key) and game.levels.get(tasks, *key) is lc
    tasks["wall"][0, 0] = tasks["wall"][0, 0]  # an in-place write: a new version
    assert not lc.matches(tasks, key)
    other = type(tasks)({**tasks.params, "hazard": tasks["hazard"].clone()}, tasks.ids)
    lc = game.levels.get(tasks, *key)
    assert lc.matches(tasks, key) and not lc.matches(other, key)
    assert lc.absent_still  # the shipped packs' absent opponents have speed 0
