"""`mamlgame eval` says how episodes end (goal, caught, hazard, timeout) per step count,
overall and per group of levels, and `--baselines` adds the planner's row: the ceiling; the
rewards that say where the goal is (`inner_rewards = "goal"`) leave a catch out."""

import json

import pytest
import torch
from click.testing import CliRunner
from game_util import one_level

from mamlgame.cli import cli
from mamlgame.families import make_family
from mamlgame.families.game.outcomes import goal_rewards
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of
from mamlgame.rollout import rollout

TINY = ["--meta-batch", "2", "--episodes", "2", "--horizon", "12", "--hidden", "16",
        "--quiet", "--iterations", "1"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def game_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run("train", "chasers", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    return out


def test_episodes_carry_how_they_ended():
    pack = load_pack("mixed")
    family, tasks = make_family(pack, 20), pack.tasks("valid", 6)
    policy = make_policy(family, hidden=(8,))
    eps = rollout(family, tasks, policy, params_of(policy), 4, torch.Generator().manual_seed(0))
    assert eps.end.shape == (6, 4)
    assert torch.equal(eps.end == 1, eps.success)
    steps = eps.mask.sum(-1)
    assert (steps[eps.end == 0] == 20).all()  # still running: a timeout at the horizon
    assert (eps.end[steps < 20] > 0).all()  # stopped early: goal, caught or hazard
    nav = load_pack("navigation")  # a family without outcomes: zeros
    family = make_family(nav, 5)
    policy = make_policy(family, hidden=(8,))
    eps = rollout(family, nav.tasks("test", 2), policy, params_of(policy), 2)
    assert (eps.end == 0).all()


def test_eval_json_has_outcomes_and_the_planner_row(game_run, tmp_path):
    js = tmp_path / "e.json"
    result = run("eval", str(game_run / "checkpoint.pt"), "--split", "valid", "--tasks", "6",
                 "--steps", "0,1", "--episodes", "2", "--baselines", "--json", str(js))
    assert result.exit_code == 0, result.output
    report = json.loads(js.read_text())
    rows = {"agent": report, **report["baselines"]}
    assert set(rows) == {"agent", "random init", "planner"}
    for name, row in rows.items():
        assert set(row["outcomes"]) == {"0", "1"}, name
        for k, block in row["outcomes"].items():
            assert "all" in block and "opponents" in block, (name, k)
            for group, ends in block.items():
                assert set(ends) == {"goal", "caught", "hazard", "timeout"}
                assert sum(ends.values()) == pytest.approx(1.0), (name, k, group)
            assert block["all"]["goal"] == pytest.approx(row["success"][k])
    assert report["groups"]["all"] == 6
    assert sum(report["groups"][g] for g in ("no_opponents", "opponents")) == 6
    planner = report["baselines"]["planner"]
    assert planner["success"]["0"] == planner["success"]["1"]  # it does not adapt
    assert planner["returns"]["0"] == planner["returns"]["1"]
    assert len(planner["levels"]["won"]) == 6 and len(planner["levels"]["notes"]) == 6
    out = result.output
    assert "planner" in out and "how episodes end, % (goal / caught / hazard / timeout)" in out
    assert "player_faster" in out or "player_slower" in out or "player_as_fast" in out


def test_eval_without_baselines_has_no_planner_row(game_run):
    result = run("eval", str(game_run / "checkpoint.pt"), "--split", "valid", "--tasks", "2",
                 "--steps", "0", "--episodes", "1")
    assert result.exit_code == 0, result.output
    assert "planner" not in result.output and "how episodes end" in result.output


def test_the_inner_step_reads_the_goal_rewards_alone_with_inner_rewards_goal():
    # a chaser waits 3 tiles right of the player: walking right is caught on step 2, the
    # episode's reward there step + shaping + caught; its goal rewards leave the catch out
    game, tasks = one_level("#########\n#S..O..G#\n#########",
                            'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    policy = make_policy(game, hidden=(8,), seed=0)
    params = params_of(policy)
    with torch.no_grad():  # a policy that always steps right
        params["layers.1.bias"][:] = torch.tensor([0.0, 0.0, 50.0, 0.0, 0.0, 0.0])
    eps = rollout(game, tasks, policy, params, 2, torch.Generator().manual_seed(0))
    assert (eps.end == 2).all() and (eps.mask.sum(-1) == 2).all()
    cfg = game.reward_cfg
    shaped = cfg["step"] + cfg["shaping"]  # one tile nearer the goal
    assert torch.allclose(eps.rewards[0, :, :2], torch.tensor(shaped).expand(2, 2)
                          + torch.tensor([0.0, cfg["caught"]]))
    read = goal_rewards(game, eps.rewards, eps.mask, eps.end)
    assert torch.allclose(read[0, :, :2], torch.tensor(shaped).expand(2, 2))
    assert torch.equal(read[..., 2:], eps.rewards[..., 2:])
    # the learner reads them with "goal"; a family without them says so
    assert MetaLearner(policy, game, algo="cavia", inner_rewards="goal").goal_rewards \
        is goal_rewards
    nav = make_family(load_pack("navigation"), 5)
    with pytest.raises(ValueError, match="navigation family has no goal rewards"):
        MetaLearner(make_policy(nav, hidden=(8,)), nav, inner_rewards="goal")


def test_train_refuses_goal_rewards_on_a_family_without_them(tmp_path):
    result = run("train", "navigation", "--inner-rewards", "goal", "--out", str(tmp_path),
                 *TINY)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "error: --inner-rewards: the navigation family's rewards do not say where a goal is "
        "(only game packs' do); use all")
    assert not (tmp_path / "metrics.jsonl").exists()
