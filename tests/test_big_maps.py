"""A 128 x 128 hand-drawn level end to end from the CLI: it validates, trains (on small
generated levels), evaluates on the big level through the goal belief's two-scale tables,
and plays headless in the viewer, which scales it to its window."""

import json

import pytest
from click.testing import CliRunner

from mamlgame.cli import cli
from mamlgame.families.game.belief import CELLS, belief_inputs
from mamlgame.families.game.levels import MAX_SIZE
from mamlgame.packs import load_pack


def big_map(side: int) -> str:
    """Rooms of 16 x 16 tiles with one door in each wall, S top left, G bottom right."""
    rows = [["." for _ in range(side)] for _ in range(side)]
    for k in range(16, side, 16):
        for i in range(side):
            rows[k][i] = rows[i][k] = "#"
    for k in range(16, side, 16):
        for d in range(0, side - 9, 16):
            rows[k][d + 7] = rows[d + 9][k] = "."
    rows[1][1], rows[side - 2][side - 3], rows[40][40] = "S", "G", "O"
    return "\n".join("".join(r) for r in rows)


def pack_text(side: int) -> str:
    return f'''[pack]
name = "big-hand"
family = "game"
horizon = 40
seed = 3
[split]
train = 4
test = 0
test_levels = ["mansion"]
[generate]
size = [8, 9]
[[level]]
name = "mansion"
map = """
{big_map(side)}
"""
opponents = [{{ behaviour = "chase", speed = 0.5 }}]
'''


@pytest.fixture(scope="module")
def big_pack(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.toml"
    path.write_text(pack_text(MAX_SIZE))
    return path


def test_a_128_map_validates_trains_evaluates_and_plays(big_pack, tmp_path, monkeypatch):
    assert MAX_SIZE == 128
    runner = CliRunner()
    ok = runner.invoke(cli, ["levels", "validate", str(big_pack)])
    assert ok.exit_code == 0 and "1 test" in ok.output, ok.output
    out = tmp_path / "run"
    trained = runner.invoke(cli, ["train", str(big_pack), "--iterations", "1",
                                  "--meta-batch", "2", "--episodes", "2", "--hidden", "8",
                                  "--quiet", "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    report = tmp_path / "eval.json"
    evaluated = runner.invoke(cli, ["eval", str(out / "checkpoint.pt"), "--split", "test",
                                    "--tasks", "1", "--steps", "0,1", "--episodes", "2",
                                    "--json", str(report)])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(report.read_text())
    assert result["tasks"] == 1 and set(result["returns"]) == {"0", "1"}
    # the big level's belief acts through the two-scale tables, linear in its area
    inputs = belief_inputs(load_pack(big_pack).pool("test"))
    assert "cell_dist" in inputs and "goal_dist" not in inputs
    assert inputs["cell_dist"].shape[2] <= 2 * CELLS
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    png = tmp_path / "watch.png"
    played = runner.invoke(cli, ["play", str(big_pack), "--level", "mansion", "--agent",
                                 str(out / "checkpoint.pt"), "--headless", "--frames", "2",
                                 "--record", str(png)])
    assert played.exit_code == 0, played.output
    assert png.stat().st_size > 0


def test_a_map_past_the_limit_is_a_located_error(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text(pack_text(MAX_SIZE + 1))
    result = CliRunner().invoke(cli, ["levels", "validate", str(path)])
    assert result.exit_code != 0
    assert "huge.toml" in result.output and "at most 128 x 128" in result.output


def test_big_maps_pass_the_checkers_with_observations_in_bounds(big_pack):
    """Every observation entry stays within the declared bound on the biggest maps: the
    movement state is scaled down past TILE_SCALE's range, far offsets are clipped."""
    import warnings

    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env
    from pettingzoo.test import parallel_api_test

    from mamlgame.envs import ENV_ID, GameParallelEnv
    from mamlgame.families import make_family
    from mamlgame.families.game.engine import OBS_BOUND, state_scale

    pack = load_pack(big_pack)
    tasks = pack.pool("test")
    assert state_scale(tasks) == 10000.0 and state_scale(pack.pool("train")) == 1000.0
    family = make_family(pack)
    state = family.reset(tasks, 4, None)
    state["pos"] = state["pos"] + 130 * 120  # far from the opponent, near the map's bottom
    obs = family.observe(tasks, state)
    assert obs.abs().max() <= OBS_BOUND
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(ENV_ID, pack=pack, split="test", level="mansion")
        check_env(env.unwrapped)
    parallel_api_test(GameParallelEnv(pack, split="test", level="mansion"), num_cycles=20)
