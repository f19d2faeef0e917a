"""The opponents' lazy path cache over its byte budget: it starts over and moves every
opponent exactly as with room to spare (chase and guard targets of every shape)."""

import torch

from mamlgame.families import make_family
from mamlgame.families.game.paths import PathCache
from mamlgame.packs import load_pack


def test_a_cache_over_its_budget_moves_opponents_the_same():
    pack = load_pack("mixed")
    tasks = pack.tasks("train", 16, seed=0)
    assert bool((tasks["opp_mask"]).any())
    roomy, tight = make_family(pack), make_family(pack)
    tight.paths = PathCache(max_bytes=1)  # every fill goes over: it starts over each time
    gen = torch.Generator().manual_seed(0)
    a = roomy.reset(tasks, 6, torch.Generator().manual_seed(1))
    b = {k: v.clone() for k, v in a.items()}
    for _ in range(12):
        action = torch.randint(0, 6, (len(tasks), 6), generator=gen)
        a, ra, _ = roomy.step(tasks, a, action)
        b, rb, _ = tight.step(tasks, b, action)
        assert torch.equal(a["opp"], b["opp"]) and torch.equal(ra, rb)


def test_a_small_level_fills_every_row_at_its_first_lookup():
    from mamlgame.families.game.paths import WHOLE_TILES, level_distances

    tasks = load_pack("mixed").tasks("train", 3, seed=0)
    n = tasks["wall"].shape[1]
    assert n <= WHOLE_TILES
    cache = PathCache()
    target = tasks["start"].view(3, 1, 1)
    cache.distances(tasks, target, target, torch.tensor(True))  # one target per level
    grid = next(iter(cache._grids.values()))
    assert grid.used == 1 + 3 * n and bool((grid.start_of >= 0).all())  # all rows, one search
    every = torch.arange(n).view(1, n, 1).expand(3, n, 1)
    got = cache.distances(tasks, every, torch.arange(n).expand(3, n, 1, n), torch.tensor(True))
    for i in range(3):
        want = torch.from_numpy(level_distances(tasks, i, list(range(n)))).long()
        assert torch.equal(got[i, :, 0], want)
    assert grid.used == 1 + 3 * n  # nothing more to fill
