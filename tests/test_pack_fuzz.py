"""Property-based fuzzing of the pack loader: any malformed pack raises `PackError` with a
location (the file, and the line when a key is at fault), never another exception; any
pack that loads generates both splits, with reachable goals."""

import json
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamlgame.errors import PackError
from mamlgame.families.game.generate import LAYOUTS, generate_level
from mamlgame.families.game.levels import check_reachable
from mamlgame.families.game.schema import GENERATE, LEVEL, REWARD
from mamlgame.packs import parse_pack

PATH = "fuzz.toml"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))  # more for a deeper search
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASE = '''[pack]
name = "fuzz"
family = "game"
horizon = 20
seed = 3

[split]
train = 2
test = 2
test_levels = ["a"]

[generate]
mode = { topdown = 1, platformer = 1 }
size = [5, 8]
layout = { open = 1, maze = 1, platforms = 1, gaps = 1 }
goal_distance = [1, 6]
player_speed = [0.5, 1.0]
opponents = [0, 2]
opponent_behaviour = { chase = 1, patrol = 1, random = 1, guard = 1 }
hazards = [0, 2]

[generate.test]
player_speed = 0.75

[reward]
goal = 1.0

[[level]]
name = "a"
map = """
#######
#S.O.G#
#^....#
#######
"""
opponents = [{ behaviour = "patrol", speed = 1.0 }]
'''


def toml_value(v) -> str:
    """A Python value as a TOML inline value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


KEYS = sorted(set(GENERATE) | set(REWARD) | set(LEVEL) | {
    "name", "family", "horizon", "seed", "train", "test", "test_levels", "chase", "patrol",
    "open", "maze", "topdown", "platformer", "behaviour", "speed", "bogus"})
SECTION_KEYS = {"pack": ["name", "family", "horizon", "seed", "description"],
                "split": ["train", "test", "test_levels"], "generate": sorted(GENERATE),
                "generate.test": sorted(GENERATE), "reward": sorted(REWARD),
                "level": sorted(LEVEL)}
MAP = st.text(alphabet="#.SGO^x \n", max_size=60).map(lambda s: "\n" + s)
SCALARS = st.one_of(
    st.integers(-3, 40), st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.booleans(), st.sampled_from(["topdown", "platformer", "chase", "guard", "open", "", "gaps",
                                    "fuzz", "game", "navigation", "a"]), MAP)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)), max_leaves=6)


def check(text: str) -> None:
    """The property: PackError with a location, or a pack whose splits generate."""
    try:
        pack = parse_pack(text, PATH)
        if pack.n_train + pack.n_test <= 12:
            for split in ("train", "test"):
                tasks = pack.pool(split)
                assert len(tasks) and tasks["wall"].shape[0] == len(tasks)
    except PackError as e:
        assert str(e).startswith(PATH + ":") or str(e).startswith(PATH + " "), str(e)
        assert len(str(e)) > len(PATH) + 5


def test_base_pack_is_valid():
    pack = parse_pack(BASE, PATH)
    assert len(pack.pool("train")) == 2 and len(pack.pool("test")) == 3


@SETTINGS
@given(st.data())
def test_setting_any_key_to_any_value(data):
    lines = BASE.splitlines()
    sections = [i for i, ln in enumerate(lines) if ln.startswith("[")]
    at = data.draw(st.sampled_from(sections))
    own = SECTION_KEYS[lines[at].strip("[] ")]
    key = data.draw(st.sampled_from(own) | st.sampled_from(KEYS))
    value = data.draw(VALUES)
    lines.insert(at + 1, f"{key} = {toml_value(value)}")
    text = "\n".join(lines)
    check(text)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "replace", "swap", "insert"]),
                          st.integers(0, 10**6), st.integers(0, 10**6),
                          st.text(alphabet='[]{}=",.#SGO^ \nabcdez0123456789-', max_size=8)),
                min_size=1, max_size=4))
def test_random_edits_of_a_valid_pack(edits):
    text = BASE
    for op, i, j, s in edits:
        lines = text.split("\n")
        a, b = i % len(lines), j % len(lines)
        if op == "delete":
            del lines[a]
        elif op == "duplicate":
            lines.insert(a, lines[a])
        elif op == "swap":
            lines[a], lines[b] = lines[b], lines[a]
        elif op == "insert":
            lines.insert(a, s)
        else:
            line = lines[a]
            k = j % (len(line) + 1)
            lines[a] = line[:k] + s + line[k + 1:]
        text = "\n".join(lines)
    check(text)


@SETTINGS
@given(MAP, st.sampled_from(["topdown", "platformer"]),
       st.lists(st.fixed_dictionaries({}, optional={
           "behaviour": st.sampled_from(["chase", "patrol", "random", "guard", "x"]),
           "speed": st.floats(-1, 3)}), max_size=3) | st.none())
def test_any_hand_designed_map(map_, mode, opponents):
    text = BASE.split("[[level]]")[0] + "[[level]]\nname = \"a\"\n"
    text += f'mode = "{mode}"\nmap = """{map_}"""\n'
    if opponents is not None:
        text += f"opponents = {toml_value(opponents)}\n"
    check(text)


@settings(max_examples=max(10, EXAMPLES // 3), deadline=None)
@given(st.integers(5, 12), st.integers(5, 12) | st.integers(13, 64), st.integers(0, 8),
       st.integers(1, 30) | st.integers(31, 3844), st.integers(0, 30),
       st.sampled_from(["open", "rooms", "maze", "platforms", "gaps"]), st.integers(1, 6))
def test_generated_levels_are_reachable_for_any_settings(lo, hi, opponents, dist, hazards,
                                                         layout, jump):
    lo, hi = min(lo, hi), max(lo, hi)
    mode = "topdown" if layout in LAYOUTS["topdown"] else "platformer"
    # a range reaching past what the largest map holds (one starting past it is an error)
    few = min(hazards, (hi - 2) ** 2 - 2)
    text = BASE.split("[generate]")[0] + (
        f'[generate]\nmode = "{mode}"\nlayout = "{layout}"\nsize = [{lo}, {hi}]\n'
        f"opponents = {opponents}\ngoal_distance = [1, {dist}]\nhazards = [{few}, {hazards}]\n"
        f"jump_height = {jump}\nopponent_behaviour = {{ chase = 1, guard = 1, patrol = 1 }}\n")
    text = text.replace('test_levels = ["a"]', "test_levels = []")
    pack = parse_pack(text, PATH)
    for i in range(3):
        spec = generate_level(pack.generate, 1, i, "x")
        check_reachable(spec)
        assert all((o.row, o.col) != spec.start for o in spec.opponents)
        assert spec.start != spec.goal
