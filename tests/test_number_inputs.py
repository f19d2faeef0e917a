"""Numbers no float can hold, and sizes no machine can run, are one located error line: every
numeric key of every section of every family's packs, given an integer of 400 digits, and the
command-line options that take numbers and lists."""

import pytest
from click.testing import CliRunner

from mamlgame.cli import cli
from mamlgame.families import BUILTIN, family_spec
from mamlgame.packs.loader import PACK_FIELDS, SPLIT_FIELDS, TRAIN_FIELDS

HUGE = 10**400
NUMERIC = ("float", "int", "dist", "intdist", "weights")


def value_for(field) -> object:
    """A HUGE value in the field's shape: a number, a range or a weight table."""
    if field.kind == "weights":
        return {field.choices[0]: HUGE}
    if field.kind in ("dist", "intdist"):
        return [0, HUGE]
    return HUGE


def toml(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return str(value)


def cases():
    for family in BUILTIN:
        schema = family_spec(family).schema
        sections = {"pack": PACK_FIELDS, "split": SPLIT_FIELDS, "generate": schema.generate,
                    "reward": schema.reward, "train": TRAIN_FIELDS}
        for section, fields in sections.items():
            for key, field in fields.items():
                if field.kind in NUMERIC and (family == "game" or section != "train"):
                    yield family, section, key, value_for(field)


@pytest.mark.parametrize("family,section,key,value", list(cases()))
def test_a_number_past_any_float_is_a_located_error(tmp_path, family, section, key, value):
    head = f'[pack]\nname = "huge"\nfamily = "{family}"\n'
    line = f"{key} = {toml(value)}\n"
    text = head + line if section == "pack" else head + f"[{section}]\n" + line
    path = tmp_path / "huge.toml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["levels", "validate", str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {path}:") and f"{section}.{key}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "digits" in result.output  # the number is named, not printed in full


@pytest.mark.parametrize("args,flag", [
    (["train", "navigation", "--hidden", "100,,100"], "--hidden"),
    (["train", "navigation", "--iterations", str(10**10)], "--iterations"),
    (["train", "navigation", "--threads", "100000"], "--threads"),
    (["eval", "missing.pt", "--threads", "100000"], "--threads"),
    (["bench", "--algos", "maml,,"], "--algos"),
    (["compare", "navigation", "--algos", "maml,,"], "--algos"),
    (["play", "mixed", "--speed", "nan", "--headless"], "--speed"),
])
def test_malformed_numbers_and_lists_on_the_command_line(tmp_path, args, flag):
    result = CliRunner().invoke(cli, [*args, *(["--out", str(tmp_path / "o")]
                                               if args[0] in ("train", "compare") else [])])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and flag in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
