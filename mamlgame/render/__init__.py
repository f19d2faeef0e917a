"""Pure drawing (state -> RGB uint8 array, no pygame): the task families and the game.

`mamlgame.render.game.draw_game` draws game levels; the functions below draw the continuous
families and decorate game drawings with sprites and the trail.
"""

from mamlgame.render.families import (
    decorate_game,
    draw_bandit,
    draw_family,
    draw_game_decorated,
    draw_navigation,
    draw_start,
    draw_terrain,
    draw_velocity,
)

__all__ = ["decorate_game", "draw_bandit", "draw_family", "draw_game_decorated",
           "draw_navigation", "draw_start", "draw_terrain", "draw_velocity"]
