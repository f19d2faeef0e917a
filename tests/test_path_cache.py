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
