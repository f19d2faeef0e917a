"""The path cache's kept row starts (`_Grid.keep`): a target asked for again reads the same
distances as a fresh lookup, also after the target changes in place, another batch or the
cache starting over."""

import torch

from mamlgame.families.game.paths import KEPT, PathCache
from mamlgame.packs import load_pack


def test_kept_row_starts_read_what_a_fresh_lookup_reads():
    tasks = load_pack("mixed").tasks("train", 12, seed=1)
    n = tasks["wall"].shape[1]
    gen = torch.Generator().manual_seed(0)
    target = torch.randint(0, n, (12, 3, 2), generator=gen)
    tiles = torch.randint(0, n, (12, 3, 2, 5), generator=gen)
    need = torch.rand(12, 3, 2, generator=gen) > 0.3
    cache = PathCache()

    def fresh(t=tasks):
        return PathCache().distances(t, target, tiles, need)

    first = cache.distances(tasks, target, tiles, need)
    assert torch.equal(first, fresh())
    for _ in range(KEPT + 1):  # other targets between: the kept one stays the latest asked
        assert torch.equal(cache.distances(tasks, target, tiles, need), first)
        cache.distances(tasks, target.roll(1, 0), tiles, need)
    target[0, 0, 0] = (target[0, 0, 0] + 1) % n  # an in-place change: a new version
    assert torch.equal(cache.distances(tasks, target, tiles, need), fresh())
    other = load_pack("mixed").tasks("train", 12, seed=2)
    assert torch.equal(cache.distances(other, target, tiles, need), fresh(other))
    for grid in cache._grids.values():
        grid.forget_rows()
    assert torch.equal(cache.distances(tasks, target, tiles, need), fresh())
