"""Pure drawing: expected colours at known positions, for every family."""

import numpy as np
import pytest
import torch

from mamlgame.families import family_spec, navigation, terrain, velocity
from mamlgame.render import palette, raster


def px(img: np.ndarray, x: float, y: float) -> tuple[int, int, int]:
    return tuple(int(c) for c in img[int(y), int(x)])


def world_to_px(size: int, extent: float, x: float, y: float) -> tuple[float, float]:
    s = (size - 1) / (2 * extent)
    return (x + extent) * s, (extent - y) * s


def test_navigation_shows_agent_goal_and_trail():
    size, extent = 200, 1.0
    trail = np.array([[0.0, 0.0], [-0.2, 0.3], [-0.4, 0.6]])
    img = navigation.draw_navigation((0.5, -0.5), (-0.4, 0.6), trail, size=size, extent=extent)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    assert px(img, *world_to_px(size, extent, -0.4, 0.6)) == palette.AGENT
    gx, gy = world_to_px(size, extent, 0.5, -0.5)
    assert px(img, gx, gy) == palette.GOAL  # the hidden goal is shown to the viewer
    mid = world_to_px(size, extent, -0.1, 0.15)  # halfway along the first trail segment
    r, g, b = img[int(mid[1]) - 1:int(mid[1]) + 2, int(mid[0]) - 1:int(mid[0]) + 2].reshape(-1, 3).T
    assert (b > r + 30).any()  # a bluish trail pixel
    assert px(img, 2, size - 3) == palette.BACKGROUND


def test_navigation_agent_off_field_is_drawn_at_the_edge():
    img = navigation.draw_navigation((0.1, 0.1), (5.0, 0.0), size=100, extent=1.0)
    assert (img[:, -6:] == palette.AGENT).all(-1).any()


@pytest.mark.parametrize("friction,ground",
                         [(0.0, terrain.ICE), (1.0, terrain.GRASS), (2.0, terrain.MUD)])
def test_terrain_ground_colour_follows_friction(friction, ground):
    img = terrain.draw_terrain((0.5, 0.5), (0.0, 0.0), (0.0, 0.0), friction, 1.0, size=160)
    colours = {tuple(c) for c in img[20:40, 100:120].reshape(-1, 3)}
    assert ground in colours
    assert terrain.ground_color(friction) == ground


def test_terrain_payload_is_shown_as_crates():
    light = terrain.draw_terrain((0.5, 0.5), (0.0, 0.0), (0.0, 0.0), 1.0, 0.0, size=160)
    heavy = terrain.draw_terrain((0.5, 0.5), (0.0, 0.0), (0.0, 0.0), 1.0, 2.5, size=160)
    crate = raster.sprite("crate", 8)
    wood = tuple(int(c) for c in crate[8 // 2, 8 // 2, :3]) if crate is not None else terrain.CRATE
    count = lambda im: int((im[:140] == wood).all(-1).sum())  # noqa: E731 (above the gauges)
    assert count(heavy) > count(light)


def test_velocity_gauge_shows_target_and_speed():
    img = velocity.draw_velocity(1.5, 3.0, 0.5, np.linspace(0, 0.5, 10), size=(240, 320))
    assert img.shape == (240, 320, 3)
    assert (img == palette.TARGET).all(-1).sum() > 20
    assert (img == palette.NEEDLE).all(-1).sum() > 20
    assert px(img, 5, 5) == velocity.SKY


def test_every_family_draws_its_batched_state():
    from mamlgame.errors import PackError
    from mamlgame.families import families, make_family
    from mamlgame.packs import load_pack, shipped_packs

    drawn = set()
    for pack in map(load_pack, shipped_packs()):
        tasks = pack.pool("test").select([0])
        state = make_family(pack).reset(tasks, 1, torch.Generator().manual_seed(0))
        img = family_spec(pack.family).draw(tasks, state, None, 128, 0)
        assert img.dtype == np.uint8 and img.shape[1] <= 128 and img.shape[2] == 3
        drawn.add(pack.family)
    assert drawn == set(families())
    with pytest.raises(PackError, match="not available"):
        family_spec("nope")


def test_sprites_exist_and_scale():
    for name in ("player", "goal", "hazard", "chase", "patrol", "random", "guard", "runner0",
                 "robot", "crate"):
        s = raster.sprite(name, 24)
        assert s is not None and s.shape == (24, 24, 4), name
    assert raster.sprite("missing-sprite", 24) is None
    img = raster.canvas(32, 32)
    raster.draw_sprite(img, "missing-sprite", 16, 16, 16, palette.GOAL)  # falls back to a disk
    assert px(img, 16, 16) == palette.GOAL


GAME = '''
[pack]
name = "tiny-game"
family = "game"
[split]
train = 1
test = 1
[generate]
size = [7, 7]
[[level]]
name = "hall"
map = """
#######
#S..G.#
#..^..#
#O...O#
#######
"""
opponents = [{ behaviour = "chase", speed = 0.5 }, { behaviour = "guard", speed = 0.5 }]
'''


def colours_in_tile(img: np.ndarray, row: int, col: int, tile: int) -> set:
    block = img[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile]
    return {tuple(int(v) for v in c) for c in block.reshape(-1, 3)}


def sprite_colours(name: str) -> set:
    s = raster.sprite(name, 16)
    return {tuple(int(v) for v in c[:3]) for c in s.reshape(-1, 4) if c[3] > 127}


def test_game_drawing_has_the_expected_looks_at_known_tiles():
    from mamlgame.families import make_family
    from mamlgame.families.game import draw as rg
    from mamlgame.packs import parse_pack
    from mamlgame.viewer.episode import Episode

    pack = parse_pack(GAME)
    tasks = pack.pool("train").select([0])
    family = make_family(pack)
    ep = Episode(family, tasks, seed=0)
    tile = 16
    img = ep.frame(size=7 * tile)
    assert img.shape == (5 * tile, 7 * tile, 3)
    blue = (52, 120, 220)   # the player sprite's body
    assert blue in colours_in_tile(img, 1, 1, tile)
    assert (250, 210, 40) in colours_in_tile(img, 1, 4, tile)  # the goal flag
    hazard = colours_in_tile(img, 2, 3, tile)
    assert rg.HAZARD in hazard and (150, 150, 160) in hazard  # spikes on the hazard tile
    assert (220, 50, 50) in colours_in_tile(img, 3, 1, tile)  # chase: red
    assert (40, 170, 190) in colours_in_tile(img, 3, 5, tile)  # guard: cyan
    assert colours_in_tile(img, 0, 0, tile) <= sprite_colours("wall")  # bricks
    assert rg.FLOOR in colours_in_tile(img, 2, 1, tile)
    # each behaviour has its own look
    looks = [frozenset(sprite_colours(b)) for b in ("chase", "patrol", "random", "guard")]
    assert len(set(looks)) == 4
    # the trail runs through the tiles the player visited
    ep.step(2)
    ep.step(2)
    img = ep.frame(size=7 * tile)
    y, x = int(1.5 * tile), int(2.5 * tile)
    r, g, b = (int(v) for v in img[y, x - tile // 2])
    assert b > r + 40  # a blue trail between tiles (1,1) and (1,2)


def test_previews_of_levels_as_they_start():
    from mamlgame.families.game import draw as rg
    from mamlgame.packs import load_pack, parse_pack

    tasks = parse_pack(GAME).pool("train").select([0])
    flat = rg.draw_game(tasks, tile=12)
    img = rg.draw_game_decorated(tasks, tile=12)
    assert img.shape == flat.shape
    assert (52, 120, 220) in colours_in_tile(img, 1, 1, 12)  # the player at its start
    for name in ("navigation", "terrain", "velocity", "bandit"):
        pack = load_pack(name)
        t = pack.pool("test").select([0])
        assert family_spec(name).preview_image(t).shape[1] == 320
