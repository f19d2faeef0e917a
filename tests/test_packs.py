"""Pack loading: shipped packs, splits, reproducibility and located errors."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mamlgame.errors import PackError
from mamlgame.packs import load_pack, parse_pack
from mamlgame.packs.schema import SCHEMAS

HEAD = '[pack]\nname = "t"\nfamily = "velocity"\n'
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["velocity", "navigation", "terrain", "bandit"])
def test_shipped_pack_splits_are_disjoint_and_reproducible(name):
    pack = load_pack(name)
    train, test = pack.pool("train"), pack.pool("test")
    keys = list(train.params)
    a = torch.cat([train[k] for k in keys], -1)
    b = torch.cat([test[k] for k in keys], -1)
    assert not (a[:, None] == b[None]).all(-1).any()
    again = load_pack(name).pool("test")
    assert all(torch.equal(again[k], test[k]) for k in keys)
    assert set(pack.test_levels) <= set(test.ids)


def test_hand_levels_and_test_overrides():
    pack = load_pack("terrain")
    test = pack.pool("test")
    assert test.ids[:2] == ("ice-heavy", "mud-light")
    assert test["payload"][0].item() == 3.0
    assert test["payload"][2:].max() > 2.0  # [generate.test] widens the payload range


def test_sampled_tasks_follow_the_generator_settings():
    pack = parse_pack(HEAD + "[generate]\ntarget_velocity = [1.5, 1.75]\n")
    v = pack.pool("train")["target_velocity"]
    assert v.min() >= 1.5 and v.max() <= 1.75 and len(v) == 1000


@pytest.mark.parametrize("text, message", [
    (HEAD + "[generate]\ntarget_velocity = [3, 1]\n",
     "t.toml:5: generate.target_velocity: expected a number or [lo, hi]"),
    (HEAD + "[generate]\nspeed = 1\n", "t.toml:5: generate.speed: unknown key"),
    (HEAD + "[split]\ntrain = -1\n",
     "t.toml:5: split.train: expected an integer >= 0, got -1"),
    (HEAD + "horizon = 0\n",
     "t.toml:4: pack.horizon: expected an integer in [1, 100000], got 0"),
    (HEAD + "[reward]\nkind = \"cubic\"\n", 't.toml:5: reward.kind: expected one of "squared"'),
    (HEAD + "[generate\n", "t.toml:4: invalid TOML"),
    (HEAD + "[levels]\n", "t.toml:4: levels: unknown section"),
    ('[pack]\nname = "t"\nfamily = "chess"\n', 't.toml:3: pack.family: expected one of'),
    ('[pack]\nname = "Bad Name"\nfamily = "bandit"\n', "t.toml:2: pack.name: expected [a-z0-9-]"),
    ('[pack]\nname = "t"\n', "t.toml:1: pack: missing key 'family'"),
    (HEAD + '[split]\ntest_levels = ["nope"]\n', 'split.test_levels: no [[level]] named "nope"'),
    (HEAD + '[[level]]\nname = "a"\n[[level]]\nname = "b"\ntarget_velocity = "x"\n',
     "t.toml:8: level[1].target_velocity: expected a number"),
])
def test_errors_name_file_line_key_and_expectation(text, message):
    with pytest.raises(PackError) as err:
        parse_pack(text, "t.toml")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("family", ["game", "velocity"])
@pytest.mark.parametrize("key", ["train", "valid", "test"])
def test_split_sizes_are_bounded_per_family(family, key):
    head = f'[pack]\nname = "t"\nfamily = "{family}"\n[split]\n'
    bound = SCHEMAS[family].max_split(parse_pack(head, "t.toml").generate)
    assert parse_pack(head + f"{key} = {bound}\n", "t.toml")  # the bound itself is fine
    with pytest.raises(PackError) as err:
        parse_pack(head + f"{key} = 1000000\n", "t.toml")
    assert str(err.value) == (f"t.toml:5: split.{key}: expected at most {bound} tasks for a "
                              f"{family} pack (each is generated and kept in memory when the "
                              "split is used), got 1000000")


def test_missing_pack_is_a_pack_error():
    with pytest.raises(PackError, match="no such level pack"):
        load_pack("does-not-exist")


def test_valid_split_is_held_out_from_the_training_distribution():
    parse = parse_pack
    text = ('[pack]\nname = "v"\nfamily = "game"\n[split]\ntrain = 30\nvalid = 12\ntest = 5\n'
            '[generate]\nsize = [7, 9]\nopponents = 0\n[generate.test]\nsize = [12, 13]\n'
            'opponents = 2\n')
    pack = parse(text, "v.toml")
    assert pack.splits == ("train", "valid", "test")
    valid, train = pack.pool("valid"), pack.pool("train")
    assert valid.ids == tuple(f"valid-{i}" for i in range(12))
    assert not set(valid["digest"].tolist()) & set(train["digest"].tolist())
    # drawn from [generate], not [generate.test]: small maps, no opponents
    assert int(valid["dims"].max()) <= 9 and not bool(valid["opp_mask"].any())
    assert int(pack.pool("test")["dims"].max()) >= 12
    assert parse(text.replace("valid = 12\n", ""), "v.toml").splits == ("train", "test")
    with pytest.raises(PackError, match="unknown split 'dev'"):
        pack.pool("dev")


# Loading a pack must not depend on what was imported first: the shipped families register
# when `mamlgame.families` is imported, which the packs (the layer below) never import; the
# loader imports it by name when it first needs a schema. The second program loads the
# submodule without the package's `__init__` (which imports everything): nothing but the
# loader's own imports comes first.
FIRST_IMPORT = {
    "as users write it": "from mamlgame.packs.loader import load_pack, parse_pack\n",
    "nothing imported first": (
        "import sys, types\n"
        "pkg = types.ModuleType('mamlgame')\n"
        f"pkg.__path__ = [{str(ROOT / 'mamlgame')!r}]\n"
        "sys.modules['mamlgame'] = pkg\n"
        "from mamlgame.packs.loader import load_pack, parse_pack\n"
        "assert 'mamlgame.families' not in sys.modules\n"),
}


@pytest.mark.parametrize("first", FIRST_IMPORT)
def test_a_pack_loads_whatever_was_imported_first(first):
    program = FIRST_IMPORT[first] + (
        "from mamlgame.packs.loader import resolve_pack_path\n"
        "for name in ('arena', 'navigation'):\n"
        "    pack = load_pack(name)\n"
        "    text = resolve_pack_path(name).read_text()\n"
        "    again = parse_pack(text, name + '.toml')\n"  # what `levels validate` runs
        "    print(pack.name, pack.family, again.family, len(pack.pool('test')))\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0].startswith("arena game game ") and lines[1].startswith(
        "navigation navigation navigation "), result.stdout


def test_a_folder_named_like_a_shipped_pack_does_not_hide_it(tmp_path, monkeypatch):
    import pytest

    from mamlgame.errors import PackError
    from mamlgame.packs import load_pack

    monkeypatch.chdir(tmp_path)
    (tmp_path / "arena").mkdir()
    (tmp_path / "mine").mkdir()
    assert load_pack("arena").name == "arena"
    with pytest.raises(PackError, match="mine: is a folder, not a pack file"):
        load_pack("mine")
