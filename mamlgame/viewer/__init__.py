"""The pygame viewer: human play, watching an agent adapt, human vs agent, recordings.

pygame is imported only inside this package (and only when an app is created).
"""

from mamlgame.viewer.levels import LevelList
from mamlgame.viewer.record import Recorder

__all__ = ["LevelList", "Recorder"]
