"""Every row of `mamlgame eval` says what its inner step adapts, derived from the policy and
the algorithm (never from the pack's name): the goal belief of a game pack's cavia agent and
its random init, every weight of maml and pretrain, the context of cavia without a head, and
nothing for the planner; in the table and in eval.json."""

import json
import re

import pytest
from click.testing import CliRunner
from game_util import TILE_PACK

from mamlgame.cli import cli
from mamlgame.evaluate import PLANNER_ADAPTS, row_label
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack, parse_pack
from mamlgame.policy import make_policy

TINY = ["--iterations", "1", "--meta-batch", "2", "--episodes", "2", "--hidden", "8",
        "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def row_names(output: str) -> list[str]:
    """The first column of the before/after table, below its dashes."""
    lines = output.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("agent ")) + 2
    end = next(i for i, x in enumerate(lines) if i > start and not x.strip()
               or x.startswith("adaptation made"))
    return [x.split("  ")[0] for x in lines[start:end]]


@pytest.mark.parametrize("pack, algo, context, per_level, adapts", [
    ("navigation", "maml", 0, False, "all weights"),
    ("navigation", "reptile", 0, False, "all weights"),
    ("navigation", "metasgd", 0, False, "all weights, learned step sizes"),
    ("navigation", "cavia", 8, False, "context inputs"),
    ("mixed", "cavia", 0, True, "goal belief"),
    ("mixed", "cavia", 8, False, "context inputs"),
    ("mixed", "pretrain", 0, False, "all weights"),
    (TILE_PACK, "cavia", 0, True, "tile table"),
])
def test_what_the_inner_step_adapts_comes_from_policy_and_algo(pack, algo, context, per_level,
                                                              adapts):
    lp = parse_pack(pack, "tiles.toml") if "\n" in pack else load_pack(pack)
    family = make_family(lp)
    policy = make_policy(family, (8,), context=context, per_level=per_level)
    assert MetaLearner(policy, family, algo).adapts() == adapts


def test_row_labels():
    assert row_label("random init", {"adapts": "goal belief"}) == \
        "random init (adapts: goal belief)"
    assert row_label("old", {}) == "old"  # a report from before the field


def test_game_pack_rows_say_what_they_adapt(tmp_path):
    out, pre = tmp_path / "cavia", tmp_path / "pre"
    assert run("train", "chasers", "--out", str(out), *TINY).exit_code == 0
    assert run("train", "chasers", "--algo", "pretrain", "--out", str(pre), *TINY
               ).exit_code == 0
    js = tmp_path / "eval.json"
    result = run("eval", str(out / "checkpoint.pt"), "--tasks", "2", "--steps", "0,1",
                 "--episodes", "2", "--baselines", "--pretrained", str(pre / "checkpoint.pt"),
                 "--json", str(js))
    assert result.exit_code == 0, result.output
    report = json.loads(js.read_text())
    # the game recipe learns a factor on the step size (learn_inner_lr); the random init's is
    # its starting value, 1
    assert re.fullmatch(r"goal belief, step size x\d\.\d\d", report["adapts"])
    assert {k: v["adapts"] for k, v in report["baselines"].items()} == {
        "random init": "goal belief, step size x1.00", "pretrain": "all weights",
        "planner": PLANNER_ADAPTS}
    names = row_names(result.output)
    assert names[0] == f"cavia (adapts: {report['adapts']})"
    assert names[1:] == ["random init (adapts: goal belief, step size x1.00)",
                         "pretrain (adapts: all weights)", f"planner (adapts: {PLANNER_ADAPTS})"]


def test_navigation_rows_say_all_weights(tmp_path):
    assert run("train", "navigation", "--out", str(tmp_path), *TINY).exit_code == 0
    result = run("eval", str(tmp_path / "checkpoint.pt"), "--tasks", "2", "--steps", "0,1",
                 "--episodes", "2", "--baselines")
    assert result.exit_code == 0, result.output
    # navigation's recipe learns the first step's std shift (learn_std_shift); the random
    # init's is its starting value, none
    maml, random_init = row_names(result.output)
    assert re.fullmatch(r"maml \(adapts: all weights, std x\d\.\d\d at step 1\)", maml)
    assert random_init == "random init (adapts: all weights, std x1.00 at step 1)"
