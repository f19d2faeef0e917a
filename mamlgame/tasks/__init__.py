"""Task families: functional dynamics batched over [tasks, episodes]."""

from __future__ import annotations

from mamlgame.packs import LevelPack
from mamlgame.tasks.bandit import Bandit
from mamlgame.tasks.base import State, TaskFamily
from mamlgame.tasks.game import Game
from mamlgame.tasks.navigation import Navigation
from mamlgame.tasks.terrain import Terrain
from mamlgame.tasks.velocity import Velocity

FAMILIES: dict[str, type[TaskFamily]] = {
    cls.name: cls for cls in (Velocity, Navigation, Terrain, Bandit, Game)
}


def make_family(pack: LevelPack, horizon: int | None = None) -> TaskFamily:
    """The family of `pack`, configured by its horizon and reward settings."""
    return FAMILIES[pack.family](pack, horizon)


__all__ = ["FAMILIES", "State", "TaskFamily", "make_family"]
