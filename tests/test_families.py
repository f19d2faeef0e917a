"""The family registry: a new family is one module (the worked example of docs/families.md,
run here as written) and gets packs, training, evaluation, previews and play from the CLI."""

import json
import re
import types
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mamlgame import families
from mamlgame.cli import cli
from mamlgame.errors import PackError
from mamlgame.families import BUILTIN, family_spec, make_family
from mamlgame.packs import parse_pack
from mamlgame.packs.schema import SCHEMAS

DOC = Path(__file__).resolve().parents[1] / "docs" / "families.md"
LINE_PACK = '''
[pack]
name = "line-walk"
family = "line"
[split]
train = 8
test = 4
test_levels = ["far"]
[generate]
goal = [-1.0, 1.0]
[[level]]
name = "far"
goal = 1.5
'''


def run_doc(blocks: int) -> types.ModuleType:
    """The first `blocks` python blocks of docs/families.md, run as one module."""
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[:blocks]
    module = types.ModuleType("line_family")
    exec(compile("\n".join(code), str(DOC), "exec"), module.__dict__)
    return module


@pytest.fixture
def line_family():
    """Registers the documented `line` family for one test, then removes it."""
    yield run_doc(1)
    families._SPECS.pop("line", None)
    SCHEMAS.pop("line", None)


@pytest.fixture
def line_with_head():
    """The documented `line` family with its own policy head."""
    yield run_doc(2)
    families._SPECS.pop("line", None)
    families._HEADS.pop("line.goal_guess", None)
    SCHEMAS.pop("line", None)


def test_shipped_families_are_registered_with_their_schemas():
    assert set(BUILTIN) <= set(families.families())
    for name in BUILTIN:
        spec = family_spec(name)
        assert spec.name == name and SCHEMAS[name] is spec.schema
    with pytest.raises(PackError, match='family "chess" is not available'):
        family_spec("chess")


def test_a_documented_family_is_one_module(line_family, tmp_path):
    pack = parse_pack(LINE_PACK, "line.toml")
    family = make_family(pack)
    assert isinstance(family, line_family.Line) and family.horizon == 30
    test = pack.pool("test")
    assert test.ids[0] == "far" and float(test["goal"][0]) == 1.5
    # the dynamics by hand: one step of +1 from 0 moves 0.1; reward -|0.1 - 1.5|
    state = family.reset(test, 2, None)
    state, reward, done = family.step(test, state, torch.ones(len(test), 2, 1))
    assert torch.allclose(state["x"], torch.full((len(test), 2), 0.1))
    assert reward[0, 0].item() == pytest.approx(-1.4)
    # pack keys of the new family are validated like every other key, with a location
    with pytest.raises(PackError, match=r"line.toml:10: generate.goal: expected"):
        parse_pack(LINE_PACK.replace("[-1.0, 1.0]", "[3.0, 1.0]"), "line.toml")


def test_the_cli_serves_a_new_family(line_family, tmp_path):
    path = tmp_path / "line.toml"
    path.write_text(LINE_PACK)
    runner = CliRunner()
    shown = runner.invoke(cli, ["levels", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "family:   line" in shown.output and "far (test): goal = 1.5" in shown.output
    png = tmp_path / "far.png"
    preview = runner.invoke(cli, ["levels", "preview", str(path), "--level", "far",
                                  "--out", str(png)])
    assert preview.exit_code == 0, preview.output
    assert png.stat().st_size > 0
    out = tmp_path / "run"
    trained = runner.invoke(cli, ["train", str(path), "--iterations", "2", "--meta-batch", "2",
                                  "--episodes", "2", "--hidden", "8", "--quiet",
                                  "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    report = tmp_path / "eval.json"
    evaluated = runner.invoke(cli, ["eval", str(out / "checkpoint.pt"), "--tasks", "2",
                                    "--steps", "0,1", "--episodes", "2", "--json", str(report)])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(report.read_text())["pack"] == "line-walk"
    drawn = family_spec("line").draw(pack_tasks(path), None, None, 200, 0)
    assert drawn.shape == (50, 200, 3)


def pack_tasks(path: Path):
    from mamlgame.packs import load_pack

    return load_pack(path).pool("test").select([0])


def test_a_family_supplies_its_own_policy_head(line_with_head, tmp_path):
    """cavia adapts the documented head's guess alone, one inner step is the hand-computed
    SGD step, the meta-gradient reaches the gain and not the guess, and the CLI trains and
    evaluates it (the checkpoint rebuilds the head by its kind)."""
    from mamlgame.meta import MetaLearner
    from mamlgame.policy import log_prob, make_policy, params_of
    from mamlgame.returns import advantages

    pack = parse_pack(LINE_PACK, "line.toml")
    family = make_family(pack)
    policy = make_policy(family, (8,), seed=0, per_level=True)
    assert isinstance(policy.head, line_with_head.GoalGuess)
    assert policy.per_level == ("head.guess",) and policy.task_inputs == ()
    learner = MetaLearner(policy, family, "cavia", inner_lr=0.5, episodes=4)
    params = params_of(policy)
    meta = learner.meta_parameters(params)
    assert any(v is params["head.gain"] for v in meta)
    assert all(v is not params["head.guess"] for v in meta)
    tasks = pack.tasks("train", 3, seed=0)
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(1), steps=1)
    assert set(k for k, v in ad.params.items() if v.dim() and v.shape[0] == 3) == {"head.guess"}
    # the inner step by hand: guess - lr * d(surrogate)/d(guess) on the same episodes
    ep = ad.episodes[0]
    guess = params["head.guess"].detach().expand(3, 1).clone().requires_grad_()
    shared = {k: v.detach() for k, v in params.items() if k != "head.guess"}
    adv, _ = advantages(ep, learner.inner_gamma, True, True, 1.0)
    logp = log_prob(policy, {**shared, "head.guess": guess}, ep.obs, ep.actions)
    loss = -(logp * adv).sum((1, 2)) / ep.mask.sum((1, 2))
    (g,) = torch.autograd.grad(loss.sum(), guess)
    torch.testing.assert_close(ad.params["head.guess"], guess - 0.5 * g)

    path = tmp_path / "line.toml"
    path.write_text(LINE_PACK)
    runner = CliRunner()
    out = tmp_path / "run"
    trained = runner.invoke(cli, ["train", str(path), "--algo", "cavia", "--iterations", "2",
                                  "--meta-batch", "2", "--episodes", "2", "--hidden", "8",
                                  "--quiet", "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(cli, ["eval", str(out / "checkpoint.pt"), "--tasks", "2",
                                    "--steps", "0,1", "--episodes", "2"])
    assert evaluated.exit_code == 0, evaluated.output
