"""`mamlgame train PACK --help` shows the defaults a run on PACK uses (its recipe), each with
its source; `mamlgame train --help` the generic ones; a bad PACK is one error line."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mamlgame.cli import cli
from mamlgame.cli.options import cli_default, option_text
from mamlgame.config import SETTINGS, TrainConfig, with_recipe
from mamlgame.packs import load_pack, shipped_packs


def help_text(*args: str) -> str:
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 0, result.output
    # click wraps lines, also after a word's hyphen (`learn-inner-` / `lr`): compare words
    return " ".join(re.sub(r"(?<=\w-)\n\s+", "", result.output).split())


def shown(name: str, value, source: str | None = None) -> str:
    s = SETTINGS[name]
    if s.kind == "bool":  # click names a flag's default by the flag (`no-anneal-lr`)
        text = ("" if value else "no-") + s.flag[2:]
    else:
        text = option_text(cli_default(s, value))
    return f"[default: {text}" + (f" ({source})" if source else "")


def test_a_game_pack_shows_its_family_recipe():
    text = help_text("mixed", "--help")
    assert "Meta-learning algorithm. [default: cavia (the game family's recipe)]" in text
    assert shown("inner_lr", 1000.0, "the game family's recipe") in text
    assert shown("iterations", 400, "mixed.toml [train]") in text
    assert "Defaults followed by a source in parentheses are mixed.toml's recipe" in text


def test_the_generic_help_keeps_the_generic_defaults():
    text = help_text("--help")
    assert "Meta-learning algorithm. [default: maml]" in text
    assert "[default: 0.1; x>=0]" in text and "family's recipe" not in text
    assert "Defaults followed by a source" not in text


@pytest.mark.parametrize("name", shipped_packs())
def test_every_shipped_pack_shows_what_its_run_uses(name):
    """Each recipe value a run on the pack takes is the default shown, with its source; the
    other defaults stay the generic ones."""
    lp = load_pack(name)
    _, used = with_recipe(TrainConfig(pack=str(lp.path)), lp.train, set())
    text = help_text(name, "-h")
    for key, value in used.items():
        source = (f"{Path(lp.path).name} [train]" if key in lp.train_own
                  else f"the {lp.family} family's recipe")
        assert shown(key, value, source) in text, key
    for key in {"meta_batch", "seed"} - set(used):
        assert shown(key, getattr(TrainConfig(), key)) + "; " in text


def test_options_given_with_help_count_as_given():
    """`--algo maml` on a game pack drops the recipe's step sizes, as a run would."""
    text = help_text("mixed", "--algo", "maml", "--help")
    assert "[default: 0.1; x>=0]" in text and "Meta-learning algorithm. [default: maml]" in text
    assert shown("iterations", 400, "mixed.toml [train]") in text
    text = help_text("mixed", "--iterations", "5", "--help")
    assert "(mixed.toml [train])" not in text and shown("algo", "cavia") in text


@pytest.mark.parametrize("pack", ["nosuch", "levels/nosuch.toml"])
def test_a_bad_pack_with_help_is_one_error_line(pack):
    result = CliRunner().invoke(cli, ["train", pack, "--help"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {pack}: no such level pack (shipped packs: {', '.join(shipped_packs())})"]
