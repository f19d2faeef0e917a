"""The game's act-time lookahead (`mamlgame eval --lookahead`): each action's chances of
winning and of being lost under the agent's goal belief, hand-computed on corridors; the goal
hidden from the simulation and the episode's random key never read; fewer catches than the
policy alone; the eval option."""

import json
import math

import pytest
import torch
from click.testing import CliRunner
from game_util import one_level, rc, tile

from mamlgame.checkpoint import load_agent
from mamlgame.cli import cli
from mamlgame.evaluate import evaluate
from mamlgame.families.game.lookahead import Lookahead
from mamlgame.policy import draw_categorical, make_policy, params_of, with_task_inputs
from mamlgame.rollout import rollout

CHASER = 'opponents = [{ behaviour = "chase", speed = 1.0 }]'


def outlook(map_: str, extra: str, depth: int, belief: str | None = None,
            **state_changes) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, L) [A] of each action from the level's start (one episode); `belief`: "goal"
    (sure of the goal's tile), "open" (every open tile alike) or None (no belief)."""
    game, tasks = one_level(map_, extra)
    policy = make_policy(game, hidden=(8,), seed=0)
    params = with_task_inputs(policy, tasks, params_of(policy))
    state = game.reset(tasks, 1, torch.Generator().manual_seed(0))
    state.update(state_changes)
    look = Lookahead(game, depth)
    gen = torch.Generator().manual_seed(1)
    won, lost = look.outlook(tasks, state, lambda obs: policy.apply_params(params, obs),
                             lambda z: draw_categorical(z, gen), gen,
                             None if belief is None else beliefs(tasks)[belief])
    return won[0, 0], lost[0, 0]


def beliefs(tasks) -> dict[str, torch.Tensor]:
    """Belief logits [1, N]: sure of the goal, or every open tile alike."""
    open_ = torch.where(tasks["wall"] | tasks["hazard"], -30.0, 0.0)
    goal = torch.full_like(open_, -30.0).scatter(1, tasks["goal"][:, None], 10.0)
    return {"goal": goal, "open": open_}


def shares(map_: str, extra: str, depth: int, **state_changes) -> torch.Tensor:
    """The lost share [A] of each action with no goal belief (nothing is ever won)."""
    won, lost = outlook(map_, extra, depth, None, **state_changes)
    assert won.eq(0).all()
    return lost


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


def test_a_catch_on_a_believed_goal_is_a_win_by_that_belief():
    # the engine lets the player reach the goal before the chaser moves onto it: a level
    # whose goal an opponent guards is won only by stepping into it
    level = "#######\n#SGO..#\n#######"
    won, lost = outlook(level, CHASER, depth=1, belief="goal")  # sure of the goal
    assert won[2].item() > 0.999 and lost[2].item() < 1e-3
    assert won[[0, 1, 3, 4, 5]].eq(0).all() and lost.sum() < 1e-3
    # unsure: every open tile but the player's alike (S, G, O's tile and two more: 4 of 1/4)
    won, lost = outlook(level, CHASER, depth=1, belief="open")
    assert torch.allclose(won, torch.tensor([0, 0, 0.25, 0, 0, 0]))
    assert torch.allclose(lost, torch.tensor([0, 0, 0.75, 0, 0, 0]))


def test_each_tile_counts_once_and_the_players_own_never():
    # a policy that comes back over its tiles: W is the belief of the distinct tiles reached
    level = "#######\n#S..G.#\n#######"
    won, lost = outlook(level, "", depth=6, belief="open")
    assert lost.eq(0).all() and won.max() <= 1
    game, tasks = one_level(level, "")
    state = game.reset(tasks, 1, torch.Generator().manual_seed(0))
    look = Lookahead(game, 3)
    stay = torch.full((1, 6), 0.0)
    stay[0, 0] = 50.0  # continuations always stay
    gen = torch.Generator().manual_seed(1)
    won, _ = look.outlook(tasks, state, lambda obs: stay.expand(*obs.shape[:2], 6),
                          lambda z: draw_categorical(z, gen), gen, beliefs(tasks)["open"])
    # 4 open tiles besides S: a first step right reaches one of them, standing still none
    assert torch.allclose(won[0, 0], torch.tensor([0, 0, 0.25, 0, 0, 0]), atol=1e-4)


def test_a_walked_tile_is_not_the_goal_until_the_next_episode():
    game, tasks = one_level("#######\n#S..G.#\n#######", "")
    look = Lookahead(game, 1)
    n = tasks["wall"].shape[1]
    mine, other = torch.Generator(), torch.Generator()  # two streams of episodes
    state = game.reset(tasks, 1, torch.Generator().manual_seed(0))
    start = state["pos"].clone()
    assert look.walked(state, n, mine).sum() == 1  # step 0: the start tile alone
    assert look.walked(state, n, other).sum() == 1
    state = {**state, "pos": start + 1, "t": state["t"] + 1}
    walked = look.walked(state, n, mine)
    assert walked[0, 0, start[0, 0]] and walked[0, 0, start[0, 0] + 1] and walked.sum() == 2
    policy = make_policy(game, hidden=(8,), seed=0)
    params = with_task_inputs(policy, tasks, params_of(policy))
    gen = torch.Generator().manual_seed(1)
    won, _ = look.outlook(tasks, state, lambda obs: policy.apply_params(params, obs),
                          lambda z: draw_categorical(z, gen), gen, beliefs(tasks)["open"],
                          walked)
    # 5 open tiles, 2 walked: a step back onto the start wins nothing, one on 1/3
    assert won[0, 0, 1] == 0 and torch.isclose(won[0, 0, 2], torch.tensor(1 / 3))
    # the other stream (the viewer's other side, stepped in turn) keeps its own tiles
    there = {**state, "pos": start + 2}
    assert look.walked(there, n, other)[0, 0].nonzero().view(-1).tolist() == [
        int(start[0, 0]), int(start[0, 0]) + 2]
    assert look.walked(state, n, mine).sum() == 2
    state = {**state, "t": torch.zeros_like(state["t"])}  # a new episode forgets
    assert look.walked(state, n, mine).sum() == 1


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


CORRIDORS = "#########\n#...S..G#\n#########\n#O......#\n#########"


def planned(extra: str, belief: str | dict[tuple[int, int], float], level: str = CORRIDORS,
            where: bool | None = None) -> tuple[int, tuple[int, int]] | None:
    """The first move of the planner's way at the start of `level` and the tile (row, col)
    it leads to (None: no way) with a belief of the given mass on some tiles (row, col of
    the map), or every open tile alike ("open"). In `CORRIDORS` the goal is at the right end
    of the player's corridor; the second, walled off, holds the opponent."""
    game, tasks = one_level(level, extra)
    policy = make_policy(game, hidden=(8,), seed=0, per_level=True)
    inputs = with_task_inputs(policy, tasks, params_of(policy))
    head = {k.removeprefix("head."): v for k, v in inputs.items() if k.startswith("head.")}
    if belief != "open":
        head["belief"] = torch.full_like(head["belief"], -30.0)
        for at, mass in belief.items():
            head["belief"][0, tile(tasks, *at)] = math.log(mass)
    state = game.reset(tasks, 1, torch.Generator().manual_seed(0))
    look = Lookahead(game, 1)
    walked = look.walked(state, head["belief"].shape[1], remember=False)
    asked = None if where is None else torch.tensor([[where]])
    rows, eps, way, aim = look.ways(tasks, state, head, walked, asked)
    if not len(rows):
        return None
    assert len(rows) == 1 and way.shape[1] > 0
    return int(way[0, 0]), rc(tasks, aim[0])


PATROL = 'opponents = [{ behaviour = "patrol", speed = 1.0 }]'


def test_a_sure_belief_plans_a_way_to_its_tile_not_to_the_goal():
    # actions: 0 stay, 1 left, 2 right, ...; the goal is to the right, the belief's tile left
    assert planned(PATROL, {(1, 1): 1.0}) == (1, (1, 1))
    assert planned(PATROL, {(1, 7): 1.0}) == (2, (1, 7))
    assert planned(PATROL, {(1, 1): 1.0}, where=True) == (1, (1, 1))
    assert planned(PATROL, {(1, 1): 1.0}, where=False) is None  # an episode not asked
    # every open tile alike: 1/13 of the mass on any one (the start is walked), no plan
    assert planned(PATROL, "open") is None


def test_a_spread_belief_plans_to_the_tile_with_the_most_mass_per_step():
    # the player at (1, 4): (1, 1) is 3 steps away, (1, 2) 2, (1, 3) 1, (1, 6) 2, (1, 7) 3
    assert planned(PATROL, {(1, 1): 0.5, (1, 6): 0.5}) == (2, (1, 6))  # a tie: the nearer
    assert planned(PATROL, {(1, 2): 0.3, (1, 7): 0.7}) == (2, (1, 7))  # 0.23 a step > 0.15
    # a tile under `NEAR_TOP` of the top one's mass is no candidate, however near
    assert planned(PATROL, {(1, 3): 0.3, (1, 7): 0.7}) == (2, (1, 7))
    # an unreachable top tile (the opponent's corridor is walled off): the next one
    assert planned(PATROL, {(3, 4): 0.6, (1, 7): 0.4}) == (2, (1, 7))


def test_a_way_caught_on_its_tile_counts_its_mass_squared():
    # a chaser comes down the player's corridor: the player reaches (1, 3) as it does (2
    # steps), a win only if the goal is there (the engine lets the goal come first), else
    # caught; the pocket's end (4, 1) is 3 steps down, and the chaser never catches up
    level = "#########\n#S..O..G#\n#.#######\n#.#######\n#.#######\n#########"
    assert planned(CHASER, {(1, 3): 0.5, (4, 1): 0.5}, level) == (4, (4, 1))  # 1/6 > 1/8
    assert planned(CHASER, {(1, 3): 0.9, (4, 1): 0.1}, level) == (2, (1, 3))
    assert planned(CHASER, {(1, 3): 1.0}, level) == (2, (1, 3))  # sure: a win


def test_no_plan_with_random_walkers_or_without_opponents():
    walker = 'opponents = [{ behaviour = "random", speed = 1.0 }]'
    assert planned(walker, {(1, 1): 1.0}) is None  # its moves are not known ahead
    assert planned("", {(0, 1): 1.0}, level="#######\n#..S..#\n#####G#") is None  # none


WAIT = ["###########", "#S..###..G#", "###.###.###", "#O........#", "###########"]


@pytest.mark.parametrize("big", [False, True])
def test_a_way_found_is_followed_through_its_waits(big):
    # the way to the goal runs down, along the patrol's corridor and up: the player must
    # wait for the patrol to pass. With a belief sure of the goal, every episode of an
    # untrained policy wins by following the planner's way (raising only the way's first
    # move, an earlier version, won 9 of 50: its policy's continuations lost the timing).
    # `big`: the same corridors in a 20x24 map, past the dense distance tables
    rows = [r + "#" * 13 for r in WAIT] + ["#" * 24] * 15 if big else WAIT
    game, tasks = one_level("\n".join(rows), 'opponents = [{ behaviour = "patrol", speed = 1.0 }]')
    policy = make_policy(game, hidden=(8,), seed=0, per_level=True)
    params = with_task_inputs(policy, tasks, params_of(policy))
    assert ("head.goal_dist" in params) != big
    params["head.belief"] = torch.full_like(params["head.belief"], -30.0)
    params["head.belief"][0, int(tasks["goal"][0])] = 10.0
    game.chooser = Lookahead(game, 2)
    ep = rollout(game, tasks, policy, params, 50, torch.Generator().manual_seed(0))
    assert ep.success.all(), torch.bincount(ep.end.flatten(), minlength=4)


def test_a_way_is_followed_until_its_tile_is_walked():
    game, tasks = one_level(CORRIDORS, PATROL)
    look = Lookahead(game, 1)
    gen = torch.Generator()
    state = game.reset(tasks, 2, gen)
    state["t"] = state["t"] + 1  # mid-episode
    walked = torch.zeros(1, 2, tasks["wall"].shape[1], dtype=torch.bool)
    assert look.following(state, walked, gen).tolist() == [[-1, -1]]  # none found yet
    look.follow(state, gen, torch.tensor([0]), torch.tensor([1]), torch.tensor([[3, 4, -1]]),
                torch.tensor([5]))
    assert look.following(state, walked, gen).tolist() == [[-1, 3]]
    later = {**state, "t": state["t"] + 1}
    assert look.following(later, walked, gen).tolist() == [[-1, 4]]
    reached = walked.clone()
    reached[0, 1, 5] = True
    assert look.following(later, reached, gen).tolist() == [[-1, -1]]  # its tile walked
    assert look.following(later, walked, torch.Generator()).tolist() == [[-1, -1]]  # other stream
    after = {**later, "t": later["t"] + 1}
    assert look.following(after, walked, gen).tolist() == [[-1, -1]]  # past the way's end
    past = {**later, "t": torch.full_like(later["t"], 10 * game.horizon)}
    assert look.following(past, walked, gen).tolist() == [[-1, -1]]  # past any way's end
    ended = {**later, "outcome": torch.tensor([[0, 1]])}
    assert look.following(ended, walked, gen).tolist() == [[-1, -1]]
    assert look.following({**state, "t": state["t"] * 0}, walked, gen).tolist() == [[-1, -1]]
    assert look.following(later, walked, gen).tolist() == [[-1, -1]]  # a new episode forgot it
