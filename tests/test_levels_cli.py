"""`mamlgame levels list | show | validate | check | preview | new` through click's CliRunner."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mamlgame.cli import cli
from mamlgame.families.game.draw import (
    FLOOR,
    GOAL,
    HAZARD,
    OPPONENT,
    PLAYER,
    START,
    WALL,
    game_legend,
    tile_center,
)
from mamlgame.families.game.levels import BEHAVIOURS
from mamlgame.packs import load_pack
from mamlgame.render.palette import BACKGROUND, LABEL

GAME_PACKS = ["arena", "chasers", "speedway", "platformer", "mixed"]


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_shows_the_game_packs():
    result = run("levels", "list")
    assert result.exit_code == 0
    for name in GAME_PACKS:
        assert name in result.output


def test_validate_every_shipped_game_pack():
    result = run("levels", "validate", *GAME_PACKS)
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") == len(GAME_PACKS)


def test_validate_a_broken_pack_prints_the_located_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[pack]\nname = "bad"\nfamily = "game"\n[generate]\nopponents = [3, 1]\n')
    result = run("levels", "validate", "arena", str(bad))
    assert result.exit_code != 0
    assert f"{bad}:5: generate.opponents: expected" in result.output
    assert "ok: " in result.output  # the good pack is still checked


def test_show_summarises_a_pack():
    result = run("levels", "show", "chasers")
    assert result.exit_code == 0
    out = result.output
    for text in ("family:   game", "train:    500 generated", "corridor, guarded",
                 "opponent_behaviour = { chase = 0.4", "[generate.test]", "opponents = [2, 3]",
                 "[reward]", "#S....G.#"):
        assert text in out, text
    assert run("levels", "show", "navigation").exit_code == 0


def test_preview_writes_the_drawing(tmp_path):
    out = tmp_path / "corridor.png"
    result = run("levels", "preview", "chasers", "--level", "corridor", "--out", str(out),
                 "--tile", "10")
    assert result.exit_code == 0, result.output
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[0] > 50 and img.shape[1] >= 90  # the 5x9 map, its legend below
    assert tuple(img[tile_center(0, 0, 10)]) == WALL
    assert tuple(img[tile_center(1, 1, 10)]) == PLAYER
    assert tuple(img[tile_center(1, 6, 10)]) == GOAL
    assert tuple(img[tile_center(3, 4, 10)]) == OPPONENT["patrol"]


def test_preview_by_index_and_split(tmp_path):
    out = tmp_path / "x.png"
    assert run("levels", "preview", "arena", "--level", "3", "--split", "test", "--out",
               str(out)).exit_code == 0
    pack = load_pack("arena")
    h, w = (int(x) for x in pack.pool("test")["dims"][3])
    img = np.asarray(Image.open(out).convert("RGB"))
    assert tuple(img[tile_center(h - 1, w - 1, 24)]) == WALL  # the map's corner, then legend
    assert (img[h * 24, :w * 24] == BACKGROUND).all() and img.shape[0] > h * 24
    platformer = load_pack("platformer")
    spike = next((r, c) for r, row in enumerate(platformer.levels[2]["spec"].rows)
                 for c, ch in enumerate(row) if ch == "^")
    run("levels", "preview", "platformer", "--level", "spike-pit", "--out", str(out))
    img = np.asarray(Image.open(out).convert("RGB"))
    assert tuple(img[tile_center(*spike, 24)]) == HAZARD


def colours(img: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in c) for c in img.reshape(-1, 3)}


def test_preview_has_a_legend_of_what_each_colour_is(tmp_path):
    """Below the map: a swatch per tile kind and mark, hazards only where the level has
    them, an opponent per behaviour it has, each with a label."""
    out = tmp_path / "p.png"
    assert run("levels", "preview", "chasers", "--level", "corridor", "--out", str(out),
               "--tile", "10").exit_code == 0
    legend = np.asarray(Image.open(out).convert("RGB"))[50:]
    assert {WALL, FLOOR, START, GOAL, PLAYER, OPPONENT["patrol"], LABEL} <= colours(legend)
    assert HAZARD not in colours(legend) and OPPONENT["chase"] not in colours(legend)
    run("levels", "preview", "platformer", "--level", "spike-pit", "--out", str(out))
    h = load_pack("platformer").levels[2]["spec"].shape[0]
    assert HAZARD in colours(np.asarray(Image.open(out).convert("RGB"))[h * 24:])

    pack = load_pack("chasers")
    tasks = pack.pool("train")
    i = next(i for i in range(len(tasks)) if int(tasks["opp_mask"][i].sum()) == 2
             and tasks["opp_beh"][i, 0] != tasks["opp_beh"][i, 1])
    labels = [label for _, label in game_legend(tasks, 24, i)]
    behaviours = sorted({BEHAVIOURS[int(b)] for b in tasks["opp_beh"][i]},
                        key=BEHAVIOURS.index)
    assert labels[:2] == ["wall", "floor"] and labels[-2:] == [f"{b} opponent"
                                                               for b in behaviours]
    assert {"start", "goal", "player"} <= set(labels)


@pytest.mark.parametrize("args, message", [
    (["--level", "nope"], "no level named 'nope'"),
    (["--level", "100000"], "out of range"),
])
def test_preview_errors(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["levels", "preview", "arena", *args, "--out",
                                      str(tmp_path / "a.png")])
    assert result.exit_code == 1 and message in result.output


def test_new_writes_a_valid_commented_starter_and_never_overwrites(tmp_path):
    path = tmp_path / "My Levels.toml"
    assert run("levels", "new", str(path)).exit_code == 0
    text = path.read_text()
    assert text.count("#") > 20 and 'name = "my-levels"' in text
    result = run("levels", "validate", str(path))
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, ["levels", "new", str(path)])
    assert again.exit_code == 1 and "already exists" in again.output
    assert path.read_text() == text


def test_preview_and_play_read_level_alike_and_say_both_index_and_id(tmp_path):
    """--level N is the index into the split (hand-designed levels first), as in play; the
    preview names the id and the index, so the two never look like they disagree."""
    from mamlgame.cli.levels import find_level
    from mamlgame.viewer.levels import LevelList

    pack = load_pack("arena")
    for spec, split in [("5", None), ("test-0", None), ("pillars", None), ("2", "test")]:
        levels = LevelList(pack, split)
        index = levels.resolve(spec)  # what `play --level` shows
        assert find_level(pack, spec, split) == (levels.split, index)
    out = tmp_path / "x.png"
    result = run("levels", "preview", "arena", "--level", "5", "--out", str(out))
    assert result.exit_code == 0
    assert f"{out}: train-4 (index 5 of the train split" in result.output
    result = run("levels", "preview", "arena", "--level", "test-0", "--out", str(out))
    assert "test-0 (index 2 of the test split" in result.output


def test_starter_and_show_describe_sizes_plainly(tmp_path):
    path = tmp_path / "mine.toml"
    assert run("levels", "new", str(path)).exit_code == 0
    line = next(ln for ln in path.read_text().splitlines() if ln.startswith("size ="))
    assert "[lo, hi]" in line
    shown = run("levels", "show", "arena").output
    pillars = next(ln for ln in shown.splitlines() if ln.strip().startswith("pillars ("))
    rows = load_pack("arena").levels[[lv["name"] for lv in load_pack("arena").levels]
                                     .index("pillars")]["spec"].rows
    assert f"{len(rows)}x{len(rows[0])}" in pillars  # height x width, as the viewer


CHECK_PACK = '''
[pack]
name = "check-me"
family = "game"
horizon = 30
[split]
train = 0
test = 0
[[level]]
name = "blocked"
map = """
#########
#S..O..G#
#########
"""
opponents = [{ behaviour = "chase", speed = 1.0 }]
[[level]]
name = "open"
map = """
#########
#S.....G#
#.......#
#O......#
#########
"""
opponents = [{ behaviour = "patrol", speed = 0.5 }]
'''


def test_check_lists_the_levels_a_perfect_player_cannot_win(tmp_path):
    pack = tmp_path / "check.toml"
    pack.write_text(CHECK_PACK)
    js = tmp_path / "check.json"
    result = run("levels", "check", str(pack), "--split", "train", "--episodes", "2",
                 "--json", str(js))
    assert result.exit_code == 0, result.output  # findings are not errors
    lines = result.output.splitlines()
    blocked = next(x for x in lines if x.strip().startswith("blocked"))
    assert "0/2 won" in blocked and "a chaser as fast as the player (1 vs 1)" in blocked
    assert not any(x.strip().startswith("open") for x in lines)
    assert "check-me/train: 1 of 2 levels a perfect player cannot win, 0 it wins rarely" \
        in result.output
    report = json.loads(js.read_text())["splits"]["train"]
    assert report["unwinnable"] == 1 and report["levels"] == 2
    assert report["per_level"]["success"] == [0.0, 1.0]
    (finding,) = report["findings"]
    assert finding["level"] == "blocked" and finding["kind"] == "unwinnable"
    assert finding["outcomes"]["caught"] + finding["outcomes"]["timeout"] == 1.0


def test_check_a_shipped_pack_without_opponents_finds_nothing():
    result = run("levels", "check", "arena", "--split", "test", "--episodes", "1")
    assert result.exit_code == 0, result.output
    assert "arena/test: 0 of 52 levels a perfect player cannot win" in result.output
    assert "planner success 100.0%" in result.output


@pytest.mark.parametrize("args, code, message", [
    (["no-such-pack"], 1, "error: "),
    (["arena", "--split", "bogus"], 2, "error: --split: 'bogus' is not one of"),
    (["navigation"], 1, "has no planner"),
    (["arena", "--episodes", "0"], 2, "error: --episodes"),
])
def test_check_errors_are_one_line(args, code, message):
    result = CliRunner().invoke(cli, ["levels", "check", *args])
    assert result.exit_code == code, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_check_a_split_the_pack_lacks(tmp_path):
    pack = tmp_path / "check.toml"
    pack.write_text(CHECK_PACK)
    result = CliRunner().invoke(cli, ["levels", "check", str(pack), "--split", "valid"])
    assert result.exit_code == 1 and "no valid split (this pack has train, test)" in \
        result.output
