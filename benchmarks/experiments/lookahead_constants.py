"""Experiment (issue 23, not product code): `mamlgame eval` (or any command) with the game
lookahead's module constants set first, in-process:

    .venv/bin/python benchmarks/experiments/lookahead_constants.py PLAN_MIN=2 PLAN_BEAM=256 \
        -- eval mamlgame/assets/agents/mixed.pt --split valid --tasks 64 --steps 0,1

(`PLAN_MIN=2`: no planning.) Each NAME=VALUE takes the constant's own type. BENCHMARKS.md,
"Following the planner's way".
"""

from __future__ import annotations

import sys

from mamlgame.cli import main as cli_main
from mamlgame.families.game import lookahead


def main() -> None:
    if "--" not in sys.argv:
        raise SystemExit(__doc__)
    cut = sys.argv.index("--")
    for setting in sys.argv[1:cut]:
        name, _, value = setting.partition("=")
        if not hasattr(lookahead, name):
            raise SystemExit(f"error: lookahead has no constant {name}")
        setattr(lookahead, name, type(getattr(lookahead, name))(value))
    sys.argv = [sys.argv[0], *sys.argv[cut + 1:]]
    cli_main()


if __name__ == "__main__":
    main()
