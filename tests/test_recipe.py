"""Packs carry their training recipe: the `[train]` section is validated like every other key
(located errors), `train` and `compare` use it for every option the command line does not
give, and the `train` options are derived from `TrainConfig`'s one description per field."""

import ast
import re
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mamlgame.cli import cli
from mamlgame.config import SETTINGS, TrainConfig
from mamlgame.errors import PackError
from mamlgame.families.game.schema import RECIPE as GAME_RECIPE
from mamlgame.packs import load_pack, parse_pack

ROOT = Path(__file__).resolve().parents[1]
BANDIT = '[pack]\nname = "tiny"\nfamily = "bandit"\nhorizon = 1\n[split]\ntrain = 20\ntest = 5\n'
TINY = ["--meta-batch", "2", "--episodes", "2", "--hidden", "8", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def write_pack(tmp_path: Path, train: str) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(BANDIT + "[train]\n" + train)
    return path


def saved_config(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", weights_only=True)["config"]


# ---- one description per field -------------------------------------------------------------
def test_config_is_a_stdlib_only_leaf():
    tree = ast.parse((ROOT / "mamlgame" / "config.py").read_text())
    imported = set()
    for node in tree.body:  # module level, outside `if TYPE_CHECKING:`
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_every_field_is_described_once():
    for s in SETTINGS.values():
        assert s.doc and not s.doc.endswith("."), s.name
        assert s.kind in ("int", "float", "bool", "str", "sizes", "duration"), s.name
    assert SETTINGS["gamma"].lo == 0 and SETTINGS["gamma"].hi == 1
    assert not SETTINGS["pack"].recipe and not SETTINGS["device"].recipe


def test_train_help_lists_the_derived_options_with_their_defaults():
    out = run("train", "--help").output
    for s in SETTINGS.values():
        if s.option:
            assert s.flag in out, s.flag
    for flag in ("--nproc", "--out", "--resume", "--quiet", "--no-anneal-lr"):
        assert flag in out
    assert "--baseline" not in out and "--normalize" not in out  # recipe keys only
    flat = " ".join(out.split())
    assert "Tasks per meta-iteration. [default: 20; x>=1]" in flat
    assert "[default: 100; 1<=x<=1000000000]" in flat and "[default: 100,100]" in flat
    assert "[default: 0.99; 0<=x<=1]" in flat and "[default: relu]" in flat


@pytest.mark.parametrize("args, flag", [
    (["--iterations", "0"], "--iterations"), (["--gamma", "1.5"], "--gamma"),
    (["--hidden", "16,0"], "--hidden"), (["--hidden", "big"], "--hidden"),
    (["--algo", "sgd"], "--algo"), (["--init-std", "0"], "--init-std"),
])
def test_derived_options_keep_their_validation(tmp_path, args, flag):
    result = run("train", "bandit", "--iterations", "1", *TINY, *args, "--out", str(tmp_path))
    assert result.exit_code == 2 and flag in result.output, result.output
    assert not (tmp_path / "checkpoint.pt").exists()


def test_hidden_and_defaults_reach_the_config(tmp_path):
    result = run("train", "bandit", "--iterations", "1", "--out", str(tmp_path), *TINY,
                 "--hidden", "8,4", "--no-anneal-lr")
    assert result.exit_code == 0, result.output
    cfg = saved_config(tmp_path)
    assert cfg["hidden"] == [8, 4] and cfg["anneal_lr"] is False and cfg["gamma"] == 0.99
    assert "recipe" not in result.output  # bandit has no [train]


# ---- the [train] section ------------------------------------------------------------------
def test_recipe_values_are_parsed_as_config_values():
    pack = parse_pack(BANDIT + '[train]\ninner_lr = 1\nhidden = [64, 32]\ntime_limit = "1.5m"\n'
                      'algo = "fomaml"\nanneal_lr = false\n', "p.toml")
    assert pack.train == {"inner_lr": 1.0, "hidden": (64, 32), "time_limit": 90.0,
                          "algo": "fomaml", "anneal_lr": False}
    assert isinstance(pack.train["inner_lr"], float)
    TrainConfig(**pack.train)  # fits the dataclass
    assert parse_pack(BANDIT, "p.toml").train == {}


@pytest.mark.parametrize("body, message", [
    ("bogus = 1", "train.bogus: unknown key (known keys: activation, algo, anneal_lr,"),
    ("device = \"cuda\"", "train.device: unknown key"),  # a runtime setting, not a recipe
    ("iterations = \"many\"",
     'train.iterations: expected an integer in [1, 1000000000], got "many"'),
    ("iterations = 0", "train.iterations: expected an integer in [1, 1000000000], got 0"),
    ("meta_batch = 2.5", "train.meta_batch: expected an integer >= 1, got 2.5"),
    ("gamma = 1.5", "train.gamma: expected a number in [0, 1], got 1.5"),
    ("inner_lr = \"big\"", 'train.inner_lr: expected a number, got "big"'),
    ("algo = \"sgd\"", 'train.algo: expected one of "maml", "fomaml", "reptile", "metasgd", '
                       '"cavia", "pretrain", got "sgd"'),
    ("anneal_lr = 1", "train.anneal_lr: expected true or false, got 1"),
    ("hidden = [64, 0]", "train.hidden: expected a list of layer sizes (integers in "
                         "[1, 100000]), got [64, 0]"),
    ("hidden = \"64,64\"", 'train.hidden: expected a list of layer sizes'),
    ("hidden = [64, true]", "train.hidden: expected a list of layer sizes"),
    ("time_limit = \"soon\"", 'train.time_limit: expected a duration like "90s", "20m", '
                              '"1.5h", "1h30m" or a number of seconds (>= 0), got "soon"'),
    ("time_limit = -5", "train.time_limit: expected a duration"),
])
def test_bad_recipe_values_get_a_located_error(tmp_path, body, message):
    path = write_pack(tmp_path, "seed = 1\n" + body + "\n")
    with pytest.raises(PackError) as e:
        load_pack(path)
    assert str(e.value).startswith(f"{path}:10: {message}"), str(e.value)
    result = run("levels", "validate", str(path))  # and one line from the CLI
    assert result.exit_code == 1 and f"error: {path}:10: train." in result.output


def test_train_must_be_a_table(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("train = 3\n" + BANDIT)
    with pytest.raises(PackError, match="train: expected a table"):
        load_pack(path)


def test_levels_show_prints_the_recipe(tmp_path):
    path = write_pack(tmp_path, 'inner_lr = 0.6\nhidden = [64, 64]\ntime_limit = "20m"\n')
    out = run("levels", "show", str(path)).output
    assert "[train]" in out
    assert "  inner_lr = 0.6\n  hidden = [64, 64]\n  time_limit = \"20m\"\n" in out
    assert "[train]" not in run("levels", "show", "bandit").output


def test_levels_new_shows_a_commented_recipe_that_validates(tmp_path):
    path = tmp_path / "new.toml"
    assert run("levels", "new", str(path)).exit_code == 0
    text = path.read_text()
    # commented: the game family's recipe alone
    assert "# [train]" in text and load_pack(path).train == GAME_RECIPE
    lines = text.splitlines()
    after = lines[lines.index("# [train]") + 1:]
    block = [ln[2:] for ln in after if re.match(r"# [a-z_]+ = ", ln)]
    path.write_text(text + "\n[train]\n" + "\n".join(block) + "\n")
    recipe = load_pack(path).train
    assert set(recipe) >= {"inner_lr", "time_limit"} and recipe["time_limit"] == 1200.0
    assert recipe["iterations"] == 2000 and recipe["algo"] == GAME_RECIPE["algo"]


def test_shipped_packs_carry_their_measured_recipes():
    assert load_pack("navigation").train == {"inner_lr": 0.6, "learn_std_shift": True,
                                             "inner_lr_decay": 0.15, "inner_std_decay": 0.5,
                                             "iterations": 300}
    mixed = load_pack("mixed")
    assert mixed.train == GAME_RECIPE
    assert mixed.generate["position"] == "graph"
    assert GAME_RECIPE["algo"] == "cavia"
    for name in ("arena", "chasers"):  # the game family's recipe
        assert load_pack(name).train == GAME_RECIPE
    # a pack's own budget replaces the family's whole budget
    timed = parse_pack(load_pack("arena").text + '\n[train]\ntime_limit = "5m"\n', "a.toml")
    assert timed.train == {**{k: v for k, v in GAME_RECIPE.items() if k != "iterations"},
                           "time_limit": 300.0}
    for name in ("velocity", "terrain"):  # measured: halve each later inner step
        assert load_pack(name).train == {"inner_lr_decay": 0.5}
    assert load_pack("bandit").train == {}  # not measured: no recipe


# ---- train and compare use it ---------------------------------------------------------------
def test_recipe_is_used_and_the_command_line_overrides_it(tmp_path):
    pack = write_pack(tmp_path, "inner_lr = 0.3\nhidden = [6]\niterations = 2\ngamma = 0.5\n")
    used = run("train", str(pack), "--out", str(tmp_path / "a"), "--meta-batch", "2",
               "--episodes", "2", "--quiet")
    assert used.exit_code == 0, used.output
    assert "recipe from tiny.toml: inner_lr 0.3, hidden 6, iterations 2, gamma 0.5" in used.output
    cfg = saved_config(tmp_path / "a")
    assert (cfg["inner_lr"], cfg["hidden"], cfg["iterations"], cfg["gamma"]) == (0.3, [6], 2, 0.5)
    over = run("train", str(pack), "--out", str(tmp_path / "b"), "--meta-batch", "2",
               "--episodes", "2", "--quiet", "--inner-lr", "0.05", "--hidden", "4",
               "--iterations", "1")
    assert over.exit_code == 0, over.output
    assert "recipe from tiny.toml: gamma 0.5\n" in over.output
    cfg = saved_config(tmp_path / "b")
    assert (cfg["inner_lr"], cfg["hidden"], cfg["iterations"], cfg["gamma"]) == (0.05, [4], 1, 0.5)


def test_a_given_budget_replaces_the_recipes_budget(tmp_path):
    pack = write_pack(tmp_path, 'iterations = 500\ntime_limit = "1h"\ninner_lr = 0.3\n')
    result = run("train", str(pack), "--out", str(tmp_path / "a"), *TINY, "--iterations", "1")
    assert result.exit_code == 0, result.output
    assert "recipe from tiny.toml: inner_lr 0.3\n" in result.output
    cfg = saved_config(tmp_path / "a")
    assert (cfg["iterations"], cfg["time_limit"]) == (1, 0.0)


def test_resume_with_a_recipe_warns_about_nothing(tmp_path):
    pack = write_pack(tmp_path, "inner_lr = 0.3\n")
    first = run("train", str(pack), "--iterations", "1", "--out", str(tmp_path / "r"), *TINY)
    assert first.exit_code == 0, first.output
    more = run("train", str(pack), "--iterations", "2", "--out", str(tmp_path / "r"),
               "--resume", *TINY)
    assert more.exit_code == 0, more.output
    assert "warning:" not in more.output and "recipe from" not in more.output
    assert saved_config(tmp_path / "r")["inner_lr"] == 0.3
    assert len((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()) == 2


def test_navigation_recipe_trains_as_the_old_demo_flag_did(tmp_path):
    args = ["--iterations", "2", "--meta-batch", "2", "--episodes", "2", "--horizon", "10",
            "--hidden", "8", "--quiet"]
    a = run("train", "navigation", *args, "--out", str(tmp_path / "a"))
    b = run("train", "navigation", *args, "--inner-lr", "0.6", "--out", str(tmp_path / "b"))
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    pa = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    pb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert pa["config"] == pb["config"]
    assert all(torch.equal(pa["params"][k], pb["params"][k]) for k in pa["params"])


def compare_fomaml(pack: Path, out: Path):
    """A one-iteration `compare --algos fomaml` of `pack` into `out` (asserted to succeed)."""
    result = run("compare", str(pack), "--algos", "fomaml", "--iterations", "1",
                 "--meta-batch", "2", "--episodes", "2", "--eval-tasks", "2", "--out",
                 str(out), "--quiet")
    assert result.exit_code == 0, result.output
    return result


def test_compare_uses_the_recipe_except_algo(tmp_path):
    pack = write_pack(tmp_path, 'inner_lr = 0.3\nhidden = [6]\n')
    result = compare_fomaml(pack, tmp_path / "c")
    assert "recipe from tiny.toml: inner_lr 0.3, hidden 6" in result.output
    cfg = saved_config(tmp_path / "c" / "fomaml" / "seed-0")
    assert (cfg["algo"], cfg["inner_lr"], cfg["hidden"]) == ("fomaml", 0.3, [6])


def test_step_sizes_of_a_recipes_algo_stay_with_it(tmp_path):
    """A recipe that names its algo keeps its step sizes for that algo: another --algo (or
    compare) trains with its own defaults."""
    pack = write_pack(tmp_path, 'inner_lr = 0.3\nalgo = "reptile"\nhidden = [6]\n')
    result = compare_fomaml(pack, tmp_path / "c")
    assert "recipe from tiny.toml: hidden 6\n" in result.output
    default = TrainConfig().inner_lr
    assert saved_config(tmp_path / "c" / "fomaml" / "seed-0")["inner_lr"] == default != 0.3
    short = ["--meta-batch", "2", "--episodes", "2", "--iterations", "1", "--quiet"]
    other = run("train", str(pack), "--algo", "fomaml", "--out", str(tmp_path / "a"), *short)
    assert other.exit_code == 0, other.output
    assert "recipe from tiny.toml: hidden 6\n" in other.output
    cfg = saved_config(tmp_path / "a")
    assert (cfg["algo"], cfg["inner_lr"], cfg["hidden"]) == ("fomaml", default, [6])
    same = run("train", str(pack), "--algo", "reptile", "--out", str(tmp_path / "b"), *short)
    assert same.exit_code == 0, same.output
    assert saved_config(tmp_path / "b")["inner_lr"] == 0.3


def test_the_recipe_note_says_where_each_value_came_from(tmp_path):
    """A game pack's own [train] keys are named with the pack, the rest with the family."""
    path = tmp_path / "g.toml"
    path.write_text('[pack]\nname = "g"\nfamily = "game"\n[split]\ntrain = 3\ntest = 1\n'
                    "[train]\ninner_lr = 500.0\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", str(path), "--iterations", "1", "--meta-batch",
                                      "2", "--episodes", "2", "--hidden", "8", "--quiet",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("recipe from g.toml: inner_lr 500.0; from the game family's defaults: algo "
            "cavia, learn_inner_lr true, inner_gamma 0.0, inner_rewards goal, outer_lr 0.001"
            ) in result.output
    (out / "stray.txt").write_text("x")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "metrics.jsonl").write_text("")
    refused = CliRunner().invoke(cli, ["train", str(path), "--out", str(busy)])
    assert refused.exit_code == 1 and refused.output.startswith("error: --out")
    assert "recipe from" not in refused.output  # the error alone


def test_the_python_api_trains_what_the_cli_trains(tmp_path):
    """`mamlgame.train(TrainConfig(pack=...), out)` and `mamlgame train PACK` give the same
    checkpoint: the recipe (here the game family's: cavia, inner lr 1000) applies to both."""
    import mamlgame as mg
    from mamlgame.checkpoint import read_checkpoint

    tiny = ["--iterations", "2", "--meta-batch", "2", "--episodes", "2", "--hidden", "8"]
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    result = CliRunner().invoke(cli, ["train", "arena", *tiny, "--quiet", "--out", str(cli_out)])
    assert result.exit_code == 0, result.output
    path = mg.train(TrainConfig(pack="arena", iterations=2, meta_batch=2, episodes=2,
                                hidden=(8,)), api_out, progress=False)
    assert path == api_out / "checkpoint.pt"
    a, b = read_checkpoint(cli_out / "checkpoint.pt"), read_checkpoint(path)
    assert a.config.algo == b.config.algo == "cavia" and b.config.inner_lr == 1000.0
    assert {**a.config.to_dict(), "pack": ""} == {**b.config.to_dict(), "pack": ""}
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        assert torch.equal(a.params[k], b.params[k]), k
    # a default named on purpose: maml on a game pack
    maml = mg.train(TrainConfig(pack="arena", iterations=1, meta_batch=2, episodes=2,
                                hidden=(8,)), tmp_path / "maml", progress=False,
                    given={"algo", "iterations", "meta_batch", "episodes", "hidden"})
    assert read_checkpoint(maml).config.algo == "maml"
