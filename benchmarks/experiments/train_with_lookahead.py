"""Experiment (issue 23, not product code): train a game pack's recipe with an act-time
lookahead in the training rollouts too (adaptation and post-adaptation episodes), so that
the meta-learned belief step sees episodes like those it gets at eval.

    .venv/bin/python benchmarks/experiments/train_with_lookahead.py PACK SEED OUT DEPTH SAMPLES

then `mamlgame eval OUT/checkpoint.pt --split valid --tasks 64 --steps 0,1 --episodes 20`
(which acts with the recipe's lookahead, 6 steps). BENCHMARKS.md, "Scoring by the goal
belief".
"""

import importlib
import sys

from mamlgame.cli import cli
from mamlgame.families.game.lookahead import Lookahead

train_module = importlib.import_module("mamlgame.train")  # `mamlgame.train` is the function


def main() -> None:
    pack, seed, out, depth, samples = sys.argv[1:6]
    make_family = train_module.make_family

    def with_lookahead(p, horizon=None):
        family = make_family(p, horizon)
        family.chooser = Lookahead(family, int(depth), samples=int(samples))
        return family

    train_module.make_family = with_lookahead
    sys.argv = ["mamlgame", "train", pack, "--seed", seed, "--threads", "1", "--quiet",
                "--out", out, "--overwrite"]
    cli()


if __name__ == "__main__":
    main()
