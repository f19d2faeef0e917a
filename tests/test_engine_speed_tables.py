"""The engine's per-level tables (issue 24): the player's successor table and the tabled
opponent behaviours (patrol) give exactly what the rules give step by step, for a batch of
levels and for levels drawn from a pool (`Game.select`, the vector envs' path)."""

import dataclasses

import pytest
import torch

from mamlgame.families import make_family
from mamlgame.families.game import constants
from mamlgame.packs import load_pack


def trajectory(game, tasks, steps=60, episodes=5, seed=0, select=None):
    """States, rewards and observations of random play (tasks drawn from `select`'s pool
    when given: (pool, index))."""
    if select is not None:
        tasks = game.select(*select)
    gen = torch.Generator().manual_seed(seed)
    state = game.reset(tasks, episodes, gen)
    m = tasks["opp_pos"].shape[1]
    out = []
    for i in range(steps):
        obs = game.observe(tasks, state)
        action = torch.randint(0, 6, (len(tasks), episodes), generator=gen)
        # every third step some opponents are driven, as by the PettingZoo adapter
        driven = (torch.randint(-3, 5, (len(tasks), episodes, m), generator=gen)
                  .clamp(min=-1) if i % 3 == 2 else None)
        state, reward, done = game.step(tasks, state, action, driven)
        out.append((obs, reward, done, *(state[k] for k in sorted(state))))
    return out


SETTINGS = [("mixed", {}), ("platformer", {}), ("chasers", {}),
            ("mixed", {"position": "onehot", "observe_goal": True, "view": 1}),
            ("mixed", {"position": "tile", "view": 3}),
            ("platformer", {"position": "scaled", "observe_goal": True})]


@pytest.mark.parametrize(("pack_name", "generate"), SETTINGS)
def test_tables_step_as_the_rules(pack_name, generate, monkeypatch):
    pack = load_pack(pack_name)
    pack = dataclasses.replace(pack, generate={**pack.generate, **generate})
    tasks = pack.tasks("train", 12, seed=1)
    tabled = make_family(pack)
    with_tables = trajectory(tabled, tasks)
    assert tabled.levels.last.successors() is not None
    assert tabled.levels.last.table("observation", tabled._own_table) is not None
    monkeypatch.setattr(constants, "TABLE_ENTRIES", 0)  # no table fits: the rules
    ruled = make_family(pack)
    by_rule = trajectory(ruled, tasks)
    assert ruled.levels.last.successors() is None
    for a, b in zip(with_tables, by_rule, strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x, y)
            if x.is_floating_point():
                assert torch.equal(torch.signbit(x), torch.signbit(y))


def test_levels_drawn_from_a_pool_read_the_pools_tables(monkeypatch):
    pack = load_pack("mixed")
    pool = pack.tasks("train", 40, seed=2)
    index = torch.tensor([3, 17, 17, 0, 39, 8])
    drawn = make_family(pack)
    from_pool = trajectory(drawn, None, select=(pool, index))
    assert drawn.levels.last._pool is not None and drawn.levels.last.successors() is not None
    monkeypatch.setattr(constants, "TABLE_ENTRIES", 0)
    by_rule = trajectory(make_family(pack), pool.select(index))
    for a, b in zip(from_pool, by_rule, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
