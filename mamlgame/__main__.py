"""`python -m mamlgame` (used by torchrun)."""

from mamlgame.cli import main

main()
