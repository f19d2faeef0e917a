"""Malformed or accepted-but-wrong inputs get one located line: packs (nesting, overflowing
weights, level names, size, an impossible goal distance, recipe values) and checkpoints
(non-finite, float16 or mistyped entries)."""

import warnings

import pytest
import torch
from click.testing import CliRunner

from mamlgame.checkpoint import load_checkpoint, read_checkpoint
from mamlgame.cli import cli
from mamlgame.config import TrainConfig
from mamlgame.errors import CheckpointError, PackError
from mamlgame.packs import parse_pack
from mamlgame.packs.loader import MAX_PACK_CHARS
from mamlgame.train import train

BANDIT = '[pack]\nname = "b"\nfamily = "bandit"\n'
GAME = '[pack]\nname = "g"\nfamily = "game"\n[split]\ntrain = 2\ntest = 1\n'
LEVEL = '[[level]]\nname = "{name}"\nmap = """\n#####\n#S.G#\n#####\n"""\n'


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("text, message", [
    (BANDIT + "[generate]\ntarget = " + "[" * 5000 + "]" * 5000 + "\n",
     "p.toml: invalid TOML: arrays or tables nested too deeply"),
    (GAME + "[generate]\nopponent_behaviour = { chase = 1e308, patrol = 1e308 }\n",
     "p.toml:8: generate.opponent_behaviour: expected weights with a positive, finite sum"),
    (GAME + LEVEL.format(name=""), 'p.toml:8: level[0].name: expected a name like "corridor", '
                                   'got "" (an empty name)'),
    (GAME + LEVEL.format(name="  "), "level[0].name: expected a name"),
    (GAME + LEVEL.format(name="train-3"), 'level[0].name: "train-3" reads as a level index or '
                                          "a generated level's id"),
    (GAME + LEVEL.format(name="5"), 'level[0].name: "5" reads as a level index'),
    (BANDIT + "[train]\nouter_lr = 0.0\n", "p.toml:5: train.outer_lr: expected a number > 0, "
                                           "got 0.0"),
    (BANDIT + "[train]\ninner_lr = -0.5\n", "train.inner_lr: expected a number >= 0"),
    (BANDIT + "[train]\ninner_lr = nan\n", "train.inner_lr: expected a number >= 0, got nan"),
    (BANDIT + "[train]\nhidden = []\n", "train.hidden: expected a list of layer sizes"),
    (BANDIT + "[train]\nseed = -1\n", "train.seed: expected an integer in [0, "),
    (BANDIT + "#" * (MAX_PACK_CHARS + 1), "p.toml: the pack is 5.0 MB; at most 5 MB"),
])
def test_malformed_packs_get_a_located_error(text, message):
    with pytest.raises(PackError) as e:
        parse_pack(text, "p.toml")
    assert message in str(e.value), str(e.value)


def test_an_impossible_goal_distance_is_a_located_error(tmp_path):
    """No map of the pack's sizes has a path that long: one located error line, exit 1; a
    range that only reaches past the largest map is fine (and says nothing)."""
    path = tmp_path / "g.toml"
    path.write_text(GAME + "[generate]\nsize = [7, 9]\ngoal_distance = [60, 70]\n")
    message = (f"{path}:9: generate.goal_distance: no path is 60 steps long on the largest "
               "map (9x9 with its outer walls: at most 48); lower goal_distance to at most 48 "
               "or raise size")
    with pytest.raises(PackError) as e:
        parse_pack(path.read_text(), str(path))
    assert str(e.value) == message
    result = run("levels", "validate", str(path))
    assert result.exit_code == 1 and result.stderr == f"error: {message}\n", result.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a possible one says nothing
        parse_pack(GAME + "[generate]\nsize = [7, 9]\ngoal_distance = [3, 60]\n", "ok.toml")


def test_a_test_split_size_too_small_for_the_goal_distance_is_located_there():
    text = GAME + "[generate]\nsize = 9\ngoal_distance = [40, 48]\n[generate.test]\nsize = 7\n"
    with pytest.raises(PackError, match=r"^t.toml:10: generate.test.goal_distance: no path is "
                       r"40 steps long on the largest map \(7x7"):
        parse_pack(text, "t.toml")


# ---- checkpoints ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return train(TrainConfig(pack="bandit", iterations=1, meta_batch=2, episodes=2,
                             hidden=(8,)), out, progress=False)


def _altered(ckpt, tmp_path, change) -> str:
    """The checkpoint with `change` applied and its checksum to match (written wrong, not
    damaged: the entry checks are what is tested)."""
    from mamlgame.checkpoint import checksum

    state = load_checkpoint(ckpt)
    change(state)
    state["checksum"] = checksum(state)
    path = tmp_path / "altered.pt"
    torch.save(state, path)
    return str(path)


def _nan(state):
    state["params"]["layers.0.weight"][0, 0] = float("nan")


def _half(state):
    state["params"] = {k: v.half() for k, v in state["params"].items()}


@pytest.mark.parametrize("change, message", [
    (_nan, "checkpoint params['layers.0.weight'] holds non-finite values"),
    (_half, "is torch.float16, expected torch.float32"),
    (lambda s: s.update(iteration=None), "bad 'iteration' (expected int, got NoneType)"),
    (lambda s: s.update(pack_text=None), "bad 'pack_text' (expected str, got NoneType)"),
    (lambda s: s.update(params=[]), "bad 'params' (expected a dict of named tensors)"),
    (lambda s: s["rng"].update(tasks=None), "bad 'rng.tasks'"),
    (lambda s: s.pop("iteration"), "checkpoint is incomplete (missing 'iteration')"),
])
def test_bad_checkpoints_are_one_line(ckpt, tmp_path, change, message):
    path = _altered(ckpt, tmp_path, change)
    with pytest.raises(CheckpointError, match="altered.pt: "):
        read_checkpoint(path)
    result = run("eval", path, "--tasks", "2", "--steps", "0")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and message in lines[0]
    assert "nan" not in result.stdout  # no report of `nan ± nan`
