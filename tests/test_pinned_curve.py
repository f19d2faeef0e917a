"""Same seed, same numbers: short training curves pinned before the code was reorganised.

The values were produced by this code at commit 3c018d9 (before the families moved to
`mamlgame.families`); a change that alters them changes behaviour, not just structure.
"""

import json

import pytest

from mamlgame.config import TrainConfig
from mamlgame.train import train

# (loss, return_before, return_after) per iteration
PINNED = {
    # re-pinned when game packs began to observe the movement state by default (`position =
    # "graph"`); with the packs' old texts (mixed's `position = "tile"`, arena's "scaled")
    # the old values still come out
    ("mixed", "maml"): [(-0.017304696142673492, -3.6031250953674316, -4.671875476837158),
                        (0.002285619266331196, -1.7250001430511475, -4.209375381469727),
                        (-0.0006231279112398624, -3.4437501430511475, -6.140625476837158)],
    ("navigation", "maml"): [(0.00018546730279922485, -8.050597190856934, -8.929450988769531),
                             (-0.044002141803503036, -7.180878639221191, -6.083914279937744),
                             (-0.0960477739572525, -5.6144866943359375, -5.995893478393555)],
    ("arena", "metasgd"): [(-0.010217399336397648, 1.6343748569488525, 0.25624996423721313),
                           (0.014225032180547714, 2.159374713897705, -0.3437499403953552),
                           (0.003896156093105674, -0.9374998807907104, -1.09375)],
    ("navigation", "reptile"): [(0.009104285389184952, -8.050597190856934, -7.1653971672058105),
                                (0.008845703676342964, -7.782838821411133, -5.950668811798096),
                                (-0.0031538130715489388, -5.478088855743408, -6.880537986755371)],
}


@pytest.mark.parametrize("pack,algo", sorted(PINNED))
def test_same_seed_gives_the_pinned_training_curve(tmp_path, pack, algo):
    cfg = TrainConfig(pack=pack, algo=algo, iterations=3, meta_batch=4, episodes=4,
                      hidden=(16, 16), seed=3, horizon=15)
    train(cfg, tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    got = [r[k] for r in rows for k in ("loss", "return_before", "return_after")]
    want = [x for row in PINNED[pack, algo] for x in row]
    assert got == pytest.approx(want, rel=1e-4, abs=1e-5)
