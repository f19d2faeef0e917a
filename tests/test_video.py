"""Recordings: MP4 through imageio-ffmpeg (read back with imageio), whole episodes with
--episodes (the adaptation not counted), even video sizes, and a one-line error when the
`video` extra is missing."""

import math
import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from mamlgame.cli import cli  # noqa: E402

pytest.importorskip("pygame")
imageio = pytest.importorskip("imageio.v2")
pytest.importorskip("imageio_ffmpeg")

TINY = ["--meta-batch", "2", "--episodes", "2", "--horizon", "10", "--hidden", "8", "--quiet"]
PACK = '''
[pack]
name = "tiny-video"
family = "game"
horizon = 20
[split]
train = 2
test = 2
[[level]]
name = "hall"
map = """
#######
#S...G#
#.....#
#O....#
#######
"""
opponents = [{ behaviour = "patrol", speed = 0.5 }]
'''


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def read_video(path) -> tuple[int, tuple[int, int]]:
    """(frames, (width, height)) of a video, as imageio's ffmpeg reader decodes it."""
    reader = imageio.get_reader(path)
    try:
        return reader.count_frames(), tuple(reader.get_meta_data()["size"])
    finally:
        reader.close()


@pytest.fixture(scope="module")
def agent_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("video-run")
    pack = out / "tiny-video.toml"
    pack.write_text(PACK)
    result = run("train", str(pack), "--iterations", "1", "--out", str(out / "run"), *TINY)
    assert result.exit_code == 0, result.output
    return out / "run" / "checkpoint.pt"


def engine_episode_length(agent, tasks, seed: int, params) -> int:
    """Steps of one greedy episode, stepped by the family itself (no viewer)."""
    from mamlgame.viewer.episode import Episode, PolicyPlayer

    episode, player = Episode(agent.family, tasks, seed), PolicyPlayer(agent.policy, params,
                                                                       greedy=True)
    while not episode.done:
        episode.step(player.act(episode))
    return episode.steps


def test_watch_mp4_holds_the_whole_episode_after_adaptation(agent_file, tmp_path):
    from mamlgame.checkpoint import load_agent
    from mamlgame.viewer.app import FPS
    from mamlgame.viewer.record import Recorder, run_recorded
    from mamlgame.viewer.watch import END_HOLD_FRAMES, WatchApp

    agent = load_agent(agent_file)
    app = WatchApp(agent, level="hall", headless=True, speed=6, pane=101)  # odd width
    rec = Recorder(tmp_path / "watch.mp4")
    n = run_recorded(app, rec, episodes=1)
    assert app.episodes_done == 1 and app.adapted is not None
    left, right = app.left.episode, app.right.episode
    assert left.done and right.done
    # the recorded episode is the one the engine plays from the same level and seed
    assert left.steps == engine_episode_length(agent, app.tasks, left.seed, agent.params)
    assert right.steps == engine_episode_length(agent, app.tasks, right.seed, app.adapted)
    frames, (w, h) = read_video(rec.path)
    assert frames == n == rec.count
    steps = max(left.steps, right.steps)
    episode_frames = math.ceil(steps * FPS / 6) + END_HOLD_FRAMES - 1
    adapting = app.adaptation.n_episodes + 3  # one chunk of episodes per frame at most
    assert episode_frames <= frames <= episode_frames + adapting
    assert (w, h) == (app.width + app.width % 2, app.height + app.height % 2)
    assert w % 2 == 0 and h % 2 == 0


def test_play_cli_records_mp4_of_one_episode_without_frames(agent_file, tmp_path):
    out = tmp_path / "x.mp4"
    r = run("play", "--agent", str(agent_file), "--level", "hall", "--headless",
            "--record", str(out))
    assert r.exit_code == 0, r.output
    assert "1 episode(s) ended" in r.output
    count = int(r.output.split("recorded ")[1].split(" frame")[0])
    frames, (w, h) = read_video(out)
    assert frames == count and w % 2 == 0 and h % 2 == 0


def test_episodes_counts_ended_episodes_of_human_play(tmp_path):
    from mamlgame.packs import parse_pack
    from mamlgame.viewer.app import FPS
    from mamlgame.viewer.play import END_HOLD_FRAMES, PlayApp
    from mamlgame.viewer.record import Recorder, run_recorded

    app = PlayApp(parse_pack(PACK), level="hall", headless=True, speed=20, size=64)
    rec = Recorder(tmp_path / "two.gif")
    n = run_recorded(app, rec, frames=app.frames_for(2), episodes=2)
    assert app.episodes_done == 2
    per_episode = math.ceil(app.family.horizon * FPS / 20) + END_HOLD_FRAMES  # nobody moves
    assert 2 * per_episode - 4 <= n <= 2 * per_episode + 2 and rec.count == n
    assert rec.path.exists()


def test_odd_frames_are_padded_to_even_sizes(tmp_path):
    from mamlgame.viewer.record import Recorder

    rec = Recorder(tmp_path / "odd.mp4", fps=10)
    for i in range(7):
        rec.add(np.full((75, 101, 3), 30 * i, np.uint8))
    rec.save()
    assert read_video(rec.path) == (7, (102, 76))


def test_missing_video_extra_is_one_line_naming_the_install(tmp_path, monkeypatch):
    for name in ("imageio", "imageio.v2", "imageio_ffmpeg"):
        monkeypatch.setitem(sys.modules, name, None)  # `import` raises ImportError
    r = run("play", "velocity", "--headless", "--frames", "2", "--record",
            str(tmp_path / "x.mp4"))
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "pip install mamlgame[video]" in lines[0] and "Traceback" not in r.output
    assert not (tmp_path / "x.mp4").exists()
    # GIF and PNG need no extra
    r = run("play", "velocity", "--headless", "--frames", "2", "--record",
            str(tmp_path / "x.gif"))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("name", ["x.avi", "x"])
def test_unknown_record_format_is_one_line(name, tmp_path):
    r = run("play", "velocity", "--headless", "--frames", "2", "--record", str(tmp_path / name))
    assert r.exit_code == 1
    assert "expects a .mp4, .gif or .png file" in r.output
    assert len(r.output.strip().splitlines()) == 1
