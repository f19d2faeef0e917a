"""The game's act-time lookahead (`mamlgame eval --lookahead`): each action's share of lost
continuations, hand-computed on corridors; the goal hidden from the simulation and the
episode's random key never read; fewer catches than the policy alone; the eval option."""

import json

import torch
from click.testing import CliRunner
from game_util import one_level

from mamlgame.checkpoint import load_agent
from mamlgame.cli import cli
from mamlgame.evaluate import evaluate
from mamlgame.families.game.lookahead import Lookahead
from mamlgame.policy import draw_categorical, make_policy, params_of, with_task_inputs
from mamlgame.rollout import rollout

CHASER = 'opponents = [{ behaviour = "chase", speed = 1.0 }]'


def shares(map_: str, extra: str, depth: int, **state_changes) -> torch.Tensor:
    """The lost share [A] of each action from the level's start (one episode)."""
    game, tasks = one_level(map_, extra)
    policy = make_policy(game, hidden=(8,), seed=0)
    params = with_task_inputs(policy, tasks, params_of(policy))
    state = game.reset(tasks, 1, torch.Generator().manual_seed(0))
    state.update(state_changes)
    look = Lookahead(game, depth)
    gen = torch.Generator().manual_seed(1)
    return look.lost_share(tasks, state, lambda obs: policy.apply_params(params, obs),
                           lambda z: draw_categorical(z, gen), gen)[0, 0]


def test_a_step_towards_a_chaser_is_lost_and_a_dead_end_loses_every_action():
    # actions: 0 stay, 1 left, 2 right, 3 up, 4 down, 5 stay; walls leave the player put
    one = shares("#########\n#S.O...G#\n#########", CHASER, depth=1)
    assert one.tolist() == [0, 0, 1, 0, 0, 0]  # right meets the chaser; the rest wait
    two = shares("#########\n#S.O...G#\n#########", CHASER, depth=2)
    assert two.tolist() == [1] * 6  # a step later it reaches the dead end whatever comes next


def test_the_goal_is_hidden_and_hazards_count_as_lost():
    # for real, stepping right wins (the goal comes before the chaser's move); the
    # simulation has no goal, so the chaser catches the player there
    assert shares("#######\n#SGO..#\n#######", CHASER, depth=1).tolist() == [0, 0, 1, 0, 0, 0]
    assert shares("#######\n#S^...#\n#....G#\n#######", "", depth=1).tolist() == [
        0, 0, 1, 0, 0, 0]


def test_random_walkers_are_redrawn_not_read():
    level = "#######\n#S....#\n#..O..#\n#....G#\n#######"
    walker = 'opponents = [{ behaviour = "random", speed = 1.0 }]'
    a = shares(level, walker, depth=3)
    b = shares(level, walker, depth=3, rng=torch.tensor([[12345]]))  # another episode key
    assert torch.equal(a, b)


def test_fewer_catches_than_the_policy_alone():
    game, tasks = one_level("#######\n#S....#\n#.....#\n#..O..#\n#.....#\n#....G#\n#######",
                            'opponents = [{ behaviour = "patrol", speed = 1.0 }]')
    policy = make_policy(game, hidden=(8,), seed=0)
    params = params_of(policy)

    def caught(chooser) -> float:
        game.chooser = chooser
        try:
            ep = rollout(game, tasks, policy, params, 200, torch.Generator().manual_seed(0))
        finally:
            game.chooser = None
        return (ep.end == 2).float().mean().item()

    plain, ahead = caught(None), caught(Lookahead(game, 4))
    assert plain > 0.2, plain
    assert ahead < plain / 3, (plain, ahead)


def test_the_game_recipe_acts_with_a_lookahead_and_eval_can_change_it(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "chasers", "--iterations", "1", "--meta-batch",
                                      "2", "--episodes", "2", "--horizon", "8", "--hidden", "8",
                                      "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    agent = load_agent(out / "checkpoint.pt")
    assert agent.config.lookahead == 6 and isinstance(agent.family.chooser, Lookahead)
    assert agent.family.chooser.depth == 6
    own = agent.family.chooser
    report = evaluate(agent, split="valid", n_tasks=2, steps=[0, 1], episodes=2, lookahead=0)
    assert report["lookahead"] == 0 and agent.family.chooser is own  # given back
    js = tmp_path / "e.json"
    for given, depth in (([], 6), (["--lookahead", "3"], 3), (["--lookahead", "0"], 0)):
        result = CliRunner().invoke(cli, [
            "eval", str(out / "checkpoint.pt"), "--split", "valid", "--tasks", "2", "--steps",
            "0,1", "--episodes", "2", "--baselines", "--json", str(js), *given])
        assert result.exit_code == 0, result.output
        assert (f"lookahead {depth} steps" in result.output.splitlines()[0]) == (depth > 0)
        report = json.loads(js.read_text())
        assert report["lookahead"] == depth
        assert set(report["baselines"]) == {"random init", "planner"}
    result = CliRunner().invoke(cli, ["eval", str(out / "checkpoint.pt"), "--lookahead", "31"])
    assert result.exit_code != 0 and "--lookahead" in result.output
    assert "Traceback" not in result.output


def test_a_lookahead_needs_a_family_that_has_one(tmp_path):
    tiny = ["--iterations", "1", "--meta-batch", "2", "--episodes", "2", "--horizon", "5",
            "--hidden", "8", "--quiet"]
    result = CliRunner().invoke(cli, ["train", "navigation", *tiny, "--lookahead", "2",
                                      "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0
    assert "--lookahead: the navigation family has no act-time search" in result.output
    out = tmp_path / "nav"
    result = CliRunner().invoke(cli, ["train", "navigation", *tiny, "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["eval", str(out / "checkpoint.pt"), "--tasks", "1",
                                      "--lookahead", "2"])
    assert result.exit_code != 0
    assert "lookahead 2: the navigation family has no act-time search" in result.output


def test_the_viewer_acts_with_the_agents_lookahead():
    """`PolicyPlayer` (watch, play --agent) asks the family's chooser: with a lookahead the
    step into a waiting chaser is never taken, and `play --lookahead` sets or drops it."""
    from mamlgame.viewer.episode import Episode, PolicyPlayer

    game, tasks = one_level("#########\n#S.O...G#\n#########", CHASER)
    policy = make_policy(game, hidden=(8,), seed=0)
    params = params_of(policy)
    with torch.no_grad():  # a policy that always steps right, into the chaser
        params["layers.1.bias"][:] = torch.tensor([0.0, 0.0, 5.0, 0.0, 0.0, 0.0])
    player = PolicyPlayer(policy, params, greedy=True)
    assert int(player.act(Episode(game, tasks, 0))) == 2
    game.chooser = Lookahead(game, 1)
    assert int(player.act(Episode(game, tasks, 0))) != 2
    result = CliRunner().invoke(cli, ["play", "chasers", "--agent", "chasers", "--headless",
                                      "--frames", "3", "--lookahead", "2"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["play", "chasers", "--lookahead", "2", "--headless"])
    assert result.exit_code != 0 and "--lookahead needs --agent" in result.output
