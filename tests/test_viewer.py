"""The viewer headless (SDL dummy drivers, every loop capped): play with scripted keys,
watch with live adaptation, recordings, errors."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

from mamlgame.cli import cli  # noqa: E402
from mamlgame.packs import load_pack, parse_pack  # noqa: E402

pygame = pytest.importorskip("pygame")

TINY_NAV = """
[pack]
name = "tiny-nav"
family = "navigation"
horizon = 20
[split]
train = 3
test = 2
[[level]]
name = "east"
goal_x = 0.3
goal_y = 0.0
"""
TINY = ["--meta-batch", "2", "--episodes", "2", "--horizon", "10", "--hidden", "8", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def key(k: int, down: bool = True, mod: int = 0):
    return pygame.event.Event(pygame.KEYDOWN if down else pygame.KEYUP, key=k, mod=mod)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("viewer-run")
    result = run("train", "navigation", "--iterations", "1", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    return out / "checkpoint.pt"


def test_play_with_scripted_keys_reaches_the_goal(tmp_path):
    from mamlgame.viewer.play import PlayApp

    path = tmp_path / "tiny.toml"
    path.write_text(TINY_NAV)
    app = PlayApp(load_pack(path), level=0, headless=True, speed=30)
    app.run(max_frames=6, events={0: [key(pygame.K_RIGHT)]})
    assert app.episode.success and app.episode.done and app.episode.steps == 3
    frame = app.draw()
    assert frame.shape == (app.height, app.width, 3)
    app.close()


def test_play_keys_restart_and_switch_levels():
    from mamlgame.viewer.play import PlayApp

    app = PlayApp(parse_pack(TINY_NAV), headless=True, speed=30)
    events = {0: [key(pygame.K_d)], 2: [key(pygame.K_d, down=False)], 3: [key(pygame.K_n)],
              4: [key(pygame.K_p)], 5: [key(pygame.K_p)], 6: [key(pygame.K_r)],
              7: [key(pygame.K_EQUALS)], 8: [key(pygame.K_ESCAPE)]}
    frames = app.run(max_frames=50, events=events)
    assert frames == 8 and not app.running  # Esc quits before the cap
    assert app.index == len(app.levels) - 1  # N, P, P wraps around to the last level
    assert app.episode.steps == 2 and app.speed == pytest.approx(45)  # R at frame 6
    app.close()


def test_play_velocity_and_tapped_key_counts():
    from mamlgame.viewer.play import PlayApp

    app = PlayApp(load_pack("velocity"), level="sprint", headless=True, speed=3)
    # a tap shorter than one simulation step still moves the runner
    app.run(max_frames=10, events={0: [key(pygame.K_RIGHT)], 1: [key(pygame.K_RIGHT, False)]})
    assert app.episode.steps == 1 and float(app.episode.state["v"][0, 0]) > 0
    app.close()


def test_play_cli_records_png_and_gif(tmp_path):
    png, gif = tmp_path / "one.png", tmp_path / "many.gif"
    r = run("play", "terrain", "--level", "mud-light", "--headless", "--frames", "5",
            "--record", str(png))
    assert r.exit_code == 0, r.output
    assert Image.open(png).size[0] > 100
    r = run("play", "velocity", "--headless", "--frames", "7", "--record", str(gif))
    assert r.exit_code == 0, r.output
    assert Image.open(gif).n_frames == 7


def test_watch_records_gif_whose_halves_differ_after_adaptation(checkpoint, tmp_path):
    from mamlgame.viewer import watch

    gif = tmp_path / "watch.gif"
    n = 24
    r = run("play", "navigation", "--agent", str(checkpoint), "--level", "corner",
            "--headless", "--frames", str(n), "--record", str(gif), "--speed", "60")
    assert r.exit_code == 0, r.output
    im = Image.open(gif)
    assert im.n_frames == n
    im.seek(n - 1)
    last = np.asarray(im.convert("RGB"))
    pane, top = 400, watch.HUD_H
    left = last[top:top + pane, :pane]
    right = last[top:top + pane, pane + watch.GAP:2 * pane + watch.GAP]
    assert (left != right).any(axis=-1).mean() > 0.001


def test_watch_app_keys_adapt_again_and_take_another_step(checkpoint):
    from mamlgame.checkpoint import load_agent
    from mamlgame.viewer.watch import WatchApp

    agent = load_agent(checkpoint)
    app = WatchApp(agent, level=0, headless=True, speed=30, pane=160)
    app.run(max_frames=15)
    assert app.adapted is not None and app.adaptation.steps_taken == 1
    w = agent.params["layers.0.weight"]
    assert not np.allclose(app.adapted["layers.0.weight"][0].numpy(), w.numpy())
    first = app.adapted["layers.0.weight"].clone()
    app.handle(key(pygame.K_EQUALS))  # + : another inner step from theta'
    app.run(max_frames=30)
    assert app.adaptation.steps_taken == 2
    assert not np.allclose(app.adapted["layers.0.weight"].numpy(), first.numpy())
    app.handle(key(pygame.K_a))  # A: a new batch from theta, one step
    app.handle(key(pygame.K_SPACE))  # pause
    steps = app.left.episode.steps
    app.run(max_frames=45)
    assert app.adaptation.steps_taken == 1 and app.paused
    app.handle(key(pygame.K_PERIOD))  # one frame
    app.run(max_frames=46)
    assert app.left.episode.steps in (steps + 1, 1)
    speed = app.speed
    app.handle(key(pygame.K_UP))
    assert app.speed > speed
    app.close()


def test_watch_is_greedy_by_default_and_g_switches_to_sampled(checkpoint):
    """Greedy actions by default (adaptation is what differs between the halves), G toggles
    both halves and the help line says which is on; --sample starts sampled, --greedy is
    still accepted."""
    from mamlgame.checkpoint import load_agent
    from mamlgame.cli.play import play
    from mamlgame.viewer.watch import WatchApp

    app = WatchApp(load_agent(checkpoint), level=0, headless=True, pane=160)
    drawn: list[str] = []
    app.text = lambda surface, text, *a, **k: drawn.append(text)
    players = (app.left.player, app.right.player)
    assert app.greedy and all(p.greedy for p in players)
    app.render(app.pg.Surface((app.width, app.height)))
    assert any("G actions: greedy" in t for t in drawn)
    app.handle(key(pygame.K_g))
    drawn.clear()
    app.render(app.pg.Surface((app.width, app.height)))
    assert not app.greedy and not any(p.greedy for p in players)
    assert any("G actions: sampled" in t for t in drawn)
    app.handle(key(pygame.K_g))
    assert app.greedy and all(p.greedy for p in players)
    app.close()
    parsed = {args: play.make_context("play", list(args)).params["greedy"]
              for args in ((), ("--sample",), ("--greedy",))}
    assert parsed == {(): True, ("--sample",): False, ("--greedy",): True}


@pytest.mark.parametrize("args, message", [
    (["play", "navigation", "--agent", "missing.pt", "--headless", "--frames", "2"],
     "error: missing.pt: no such checkpoint"),
    (["play", "navigation", "--level", "nowhere", "--headless", "--frames", "2"],
     "no level named 'nowhere'"),
    (["play", "navigation", "--level", "999999", "--headless", "--frames", "2"],
     "level index 999999 is out of range"),
    (["play", "no-such-pack", "--headless", "--frames", "2"],
     "error: no-such-pack: no such level pack"),
    (["play", "navigation", "--headless", "--frames", "2", "--record", "x.webm"],
     "expects a .mp4, .gif or .png"),
    (["play", "navigation", "--agent", "no-such-agent", "--headless", "--frames", "2"],
     "error: no-such-agent: no such checkpoint (shipped agents: arena, chasers, mixed,"),
    (["play", "navigation", "--headless", "--frames", "2", "--record", "/proc/no/x.png"],
     "--record /proc/no/x.png: cannot write there"),
])
def test_bad_input_is_one_line_and_nonzero(args, message):
    r = run(*args)
    assert r.exit_code == 1
    assert message in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


TINY_GAME = '''
[pack]
name = "tiny-game"
family = "game"
horizon = 20
[split]
train = 2
test = 2
[generate]
size = [7, 7]
[[level]]
name = "hall"
map = """
#######
#S..G.#
#..^..#
#O....#
#######
"""
opponents = [{ behaviour = "patrol", speed = 0.5 }]
[[level]]
name = "hop"
mode = "platformer"
jump_height = 2
map = """
#######
#.....#
#...#G#
#S..#.#
#######
"""
'''


def test_play_game_with_scripted_keys_reaches_the_goal():
    from mamlgame.viewer.play import PlayApp

    app = PlayApp(parse_pack(TINY_GAME), level="hall", headless=True, speed=30)
    app.run(max_frames=8, events={0: [key(pygame.K_RIGHT)]})
    ep = app.episode
    assert ep.done and ep.success and ep.steps == 3 and ep.outcome() == "GOAL!"
    assert app.wins == 1
    assert [tuple(p) for p in ep.trail] == [(1, 1), (1, 2), (1, 3), (1, 4)]
    app.close()


def test_play_platformer_jumps_with_space():
    from mamlgame.viewer.play import PlayApp

    app = PlayApp(parse_pack(TINY_GAME), level="hop", headless=True, speed=30)
    # run right to the wall, then jump right over it onto the goal
    events = {0: [key(pygame.K_RIGHT)], 3: [key(pygame.K_SPACE)]}
    app.run(max_frames=12, events=events)
    assert app.episode.success, [tuple(p) for p in app.episode.trail]
    app.close()


def test_game_keys_map_to_actions():
    from mamlgame.families.game.scene import game_action

    pack = parse_pack(TINY_GAME)
    levels = {t: pack.pool("train").select([i]) for i, t in enumerate(("hall", "hop"))}
    topdown, platformer = levels["hall"], levels["hop"]
    assert bool(platformer["platformer"][0]) and not bool(topdown["platformer"][0])
    cases = [(topdown, [], 0), (topdown, ["left"], 1), (topdown, ["right"], 2),
             (topdown, ["up"], 3), (topdown, ["down"], 4), (topdown, ["up", "left"], 1),
             (platformer, ["jump"], 3), (platformer, ["left", "jump"], 4),
             (platformer, ["right", "up"], 5), (platformer, ["right"], 2)]
    for tasks, keys, action in cases:
        assert int(game_action(tasks, keys)) == action, keys


def test_play_game_cli_default_pack_records(tmp_path):
    out = tmp_path / "play.png"
    r = run("play", "--headless", "--frames", "3", "--record", str(out))  # bare play: mixed
    assert r.exit_code == 0, r.output
    assert Image.open(out).size[0] >= 400


@pytest.fixture(scope="module")
def game_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("game-run")
    pack = out / "tiny-game.toml"
    pack.write_text(TINY_GAME)
    result = run("train", str(pack), "--iterations", "1", "--out", str(out / "run"), *TINY)
    assert result.exit_code == 0, result.output
    return out / "run" / "checkpoint.pt"


def test_human_vs_agent_moves_the_controlled_opponent(game_checkpoint):
    from mamlgame.checkpoint import load_agent
    from mamlgame.viewer.versus import VersusApp

    app = VersusApp(load_agent(game_checkpoint), level="hall", headless=True, speed=30,
                    episodes=2)
    while app.adaptation.running:  # the match starts once the agent has adapted
        app.run(max_frames=app.frame_no + 1)
    start = int(app.env.game_state["opp"][0, 0, 0])
    width = int(app.tasks["grid"][0, 1])
    app.run(max_frames=app.frame_no + 4, events={app.frame_no: [key(pygame.K_UP)]})
    assert app.steps >= 3
    # opponent speed 0.5: it moved up at least once, never sideways
    now = int(app.env.game_state["opp"][0, 0, 0])
    assert now != start and (start - now) % width == 0 and now < start
    assert app.draw().shape == (app.height, app.width, 3)
    app.close()


def test_human_vs_agent_cli_runs_and_refuses_non_game_agents(game_checkpoint, checkpoint,
                                                             tmp_path):
    r = run("play", "--agent", str(game_checkpoint), "--as", "opponent", "--headless",
            "--frames", "12", "--record", str(tmp_path / "vs.gif"))
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "vs.gif").n_frames == 12
    r = run("play", "--agent", str(checkpoint), "--as", "opponent", "--headless",
            "--frames", "2")
    assert r.exit_code == 1 and "needs a game pack" in r.output


def test_windowed_loop_runs_under_the_dummy_driver():
    """The non-headless path (window, flip, 30 fps clock) with SDL's dummy video driver."""
    from mamlgame.viewer.play import PlayApp

    if os.environ.get("SDL_VIDEODRIVER") != "dummy":
        pytest.skip("needs the SDL dummy video driver")
    app = PlayApp(parse_pack(TINY_NAV), headless=False, speed=30)
    pygame.event.post(key(pygame.K_RIGHT))  # events posted to pygame's queue count too
    assert app.run(max_frames=3) == 3
    assert app.screen is not None and app.episode.steps == 3
    assert app.episode.trail[-1][0] > 0
    app.close()


def test_malformed_pack_file_is_a_located_one_line_error(tmp_path):
    pack = tmp_path / "broken.toml"
    pack.write_text('[pack]\nname = "b"\nfamily = "game"\n[generate]\nopponents = [3, 1]\n')
    r = run("play", str(pack), "--headless", "--frames", "2")
    assert r.exit_code == 1 and f"{pack}:5: generate.opponents" in r.output
    assert len(r.output.strip().splitlines()) == 1
