"""Experiment (issue 23, not product code): what limits a game agent on levels with
opponents, inference or acting? `mamlgame eval` with the agent's belief after its step
replaced, or its lookahead without the planning step (`lookahead.PLAN_MIN`), in-process:

    .venv/bin/python benchmarks/experiments/belief_planner.py [--belief adapted|exact|true]
        [--sharpen K] [--no-plan] -- CKPT --split valid --tasks 64 --steps 0,1 --episodes 20

- `--belief exact`: after the inner step the belief is replaced by the adaptation episodes'
  exact posterior (`game_belief_analysis.exact_posterior`: the tiles consistent with every
  shaping term they observed); `true`: by the level's goal (a goal-visible agent). Both are
  diagnostics, not agents. `--sharpen K`: the step's change of the belief times K (the step
  size K x the recipe's at eval).
- `--no-plan`: the lookahead as before its planning step (sampled continuations only).

Everything after `--` goes to `mamlgame eval`. BENCHMARKS.md, "Inference or acting".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # game_belief_analysis
from game_belief_analysis import exact_posterior  # noqa: E402

from mamlgame import meta  # noqa: E402
from mamlgame.cli import main as cli_main  # noqa: E402
from mamlgame.families.game import lookahead  # noqa: E402
from mamlgame.families.game.belief import CLOSED  # noqa: E402
from mamlgame.policy import with_task_inputs  # noqa: E402


def patch_belief(kind: str, sharpen: float) -> None:
    """The learner's belief after its steps: sharpened, or replaced (`kind`)."""
    adapt = meta.MetaLearner.adapt

    def patched(self, params, tasks, generator=None, steps=None, **kw):
        ad = adapt(self, params, tasks, generator, steps, **kw)
        if not ad.episodes or "head.belief" not in ad.params:
            return ad
        inputs = with_task_inputs(self.policy, tasks, {})
        start, belief = inputs["head.belief"], ad.params["head.belief"]
        if kind == "exact":
            belief = exact_posterior(self.family, inputs, ad.episodes[0])
        elif kind == "true":
            tile = torch.arange(start.shape[1])
            belief = torch.where(tile[None] == tasks["goal"][:, None], -CLOSED, start)
        else:
            belief = start + sharpen * (belief - start)
        return ad._replace(params={**ad.params, "head.belief": belief})

    meta.MetaLearner.adapt = patched


def main() -> None:
    if "--" not in sys.argv:
        raise SystemExit(__doc__)
    split = sys.argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belief", choices=("adapted", "exact", "true"), default="adapted")
    ap.add_argument("--sharpen", type=float, default=1.0)
    ap.add_argument("--no-plan", action="store_true")
    args = ap.parse_args(sys.argv[1:split])
    if args.belief != "adapted" or args.sharpen != 1.0:
        patch_belief(args.belief, args.sharpen)
    if args.no_plan:
        lookahead.PLAN_MIN = float("inf")
    sys.argv = ["mamlgame", "eval", *sys.argv[split + 1:]]
    cli_main()


if __name__ == "__main__":
    main()
