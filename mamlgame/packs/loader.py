"""Load and validate level packs (TOML) into `LevelPack`; sample task splits as `Tasks`.

Errors are `PackError("file:line: key.path: expected ..., got ...")`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from mamlgame.config import BUDGET_KEYS, DURATION_FORM, SETTINGS, Setting, parse_duration
from mamlgame.errors import PackError
from mamlgame.packs.schema import FamilySchema, Field, FieldError, family_schemas
from mamlgame.packs.tasks import Tasks

LEVELS_DIR = Path(__file__).resolve().parents[1] / "levels"  # package data: mamlgame/levels
DEFAULT_PACK = "mixed"

PACK_FIELDS = {
    "name": Field("str", "", "unique id, [a-z0-9-]"),
    "family": Field("str", "game", "task family (a registered family: `mamlgame.families`)"),
    "description": Field("str", "", "one line shown by `levels list`"),
    "horizon": Field("int", 0, "steps per episode (omitted: the family's default)", lo=1,
                     hi=100_000),
    "seed": Field("int", 0, "seed of every generated level", lo=0, hi=2**62),
}
SPLIT_FIELDS = {
    "train": Field("int", 1000, "procedurally generated training tasks", lo=0),
    "valid": Field("int", 0, "held-out tasks from the training distribution ([generate]: "
                   "in-distribution evaluation, never a train task)", lo=0),
    "test": Field("int", 100, "procedurally generated test tasks ([generate] with "
                  "[generate.test] applied)", lo=0),
}
SPLITS = ("train", "valid", "test")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_LAYER = 100_000  # largest hidden layer a [train] recipe may ask for
MAX_PACK_CHARS = 5_000_000  # a pack's text (hand-designed levels included)
MAX_LEVELS = 10_000  # [[level]] tables in a pack
_GENERATED_ID = re.compile(r"^(train|valid|test)-\d+$")  # the ids of generated levels


def _recipe_field(s: Setting) -> Field:
    """The pack `Field` of a `TrainConfig` setting with a plain kind (its bounds, choices)."""
    lo = -math.inf if s.lo is None else s.lo
    hi = math.inf if s.hi is None else s.hi
    return Field(s.kind, s.default, s.doc, lo=lo, hi=hi, choices=s.choices, lo_open=s.lo_open)


# [train]: the recipe `mamlgame train` uses; every TrainConfig setting marked as a recipe key
TRAIN_KEYS = {name: s for name, s in SETTINGS.items() if s.recipe}
TRAIN_FIELDS = {name: _recipe_field(s) for name, s in TRAIN_KEYS.items()
                if s.kind in ("int", "float", "bool", "str")}


def _line_index(text: str) -> dict[tuple[str, int, str], int]:
    """Map (table path, array-table index, key) -> 1-based line number, by a light scan."""
    index: dict[tuple[str, int, str], int] = {}
    table, arr_idx, counts = "", -1, {}
    in_multiline = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if in_multiline:
            if line.count('"""') % 2 == 1:
                in_multiline = False
            continue
        m = re.match(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*\]\]?", line)
        if m:
            table = m.group(2).replace(" ", "")
            if m.group(1) == "[[":
                arr_idx = counts.get(table, -1) + 1
                counts[table] = arr_idx
            elif not any(table.startswith(t + ".") for t in counts):
                arr_idx = -1
            index.setdefault((table, arr_idx, ""), lineno)
            continue
        k = re.match(r'^\s*"?([A-Za-z0-9_\-]+)"?\s*=', line)
        if k:
            index.setdefault((table, arr_idx, k.group(1)), lineno)
            if line.count('"""') % 2 == 1:
                in_multiline = True
    return index


class _Reporter:
    """Builds located `PackError`s for one file."""

    def __init__(self, path: str, text: str):
        self.path, self.index = path, _line_index(text)

    def line(self, table: str, key: str = "", arr: int = -1) -> int | None:
        return self.index.get((table, arr, key)) or self.index.get((table, arr, ""))

    def error(self, table: str, key: str, msg: str, arr: int = -1) -> PackError:
        line = self.line(table, key, arr)
        where = f"{self.path}:{line}" if line else self.path
        keypath = ".".join(p for p in (table if arr < 0 else f"{table}[{arr}]", key) if p)
        return PackError(f"{where}: {keypath}: {msg}" if keypath else f"{where}: {msg}")

    def section(self, table: str, raw: Any, fields: dict[str, Field], arr: int = -1,
                allow: tuple[str, ...] = (), defaults: bool = True) -> dict[str, Any]:
        """Validate a table against `fields`: unknown keys and bad values are errors."""
        if not isinstance(raw, dict):
            raise self.error(table, "", "expected a table", arr)
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key in allow:
                continue
            if key not in fields:
                known = ", ".join(sorted(fields)) or "none"
                raise self.error(table, key, f"unknown key (known keys: {known})", arr)
            try:
                out[key] = fields[key].parse(value)
            except FieldError as e:
                raise self.error(table, key, str(e), arr) from None
        if defaults:
            for key, f in fields.items():
                if key not in out:
                    out[key] = f.default_value()
        return out


@dataclass(frozen=True)
class LevelPack:
    """A validated level pack: a task distribution with train/test splits."""

    path: str
    text: str
    name: str
    family: str
    description: str
    horizon: int
    seed: int
    n_train: int
    n_test: int
    n_valid: int
    test_levels: tuple[str, ...]
    generate: dict[str, Any]
    generate_test: dict[str, Any]
    reward: dict[str, Any]
    levels: tuple[dict[str, Any], ...] = field(default=())
    train: dict[str, Any] = field(default_factory=dict)  # [train]: TrainConfig field -> value
    train_own: frozenset[str] = frozenset()  # of those, the keys the pack's own [train] sets

    @property
    def schema(self) -> FamilySchema:
        """The pack's family's keys and generator (see `family_schemas`)."""
        return family_schemas()[self.family]

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this pack has: train, test, and valid when `[split] valid` > 0."""
        return ("train", "valid", "test") if self.n_valid else ("train", "test")

    def split_levels(self, split: str) -> list[dict[str, Any]]:
        """Hand-designed levels of a split: `test_levels` for test, the others for train,
        none for valid (it is generated only)."""
        if split == "valid":
            return []
        held = set(self.test_levels)
        return [lv for lv in self.levels if (lv["name"] in held) == (split == "test")]

    def _seed(self, split: str) -> int:
        digest = hashlib.sha256(f"{self.name}/{self.seed}/{split}".encode()).digest()
        return int.from_bytes(digest[:7], "little")

    @cached_property
    def _pools(self) -> dict[str, Tasks]:
        return {}

    def pool(self, split: str) -> Tasks:
        """All tasks of a split (hand-designed first), generated once and cached."""
        if split not in SPLITS:
            raise PackError(f"{self.path}: unknown split '{split}' (expected "
                            f"{', '.join(SPLITS)})")
        if split not in self._pools:
            gen = self.generate_test if split == "test" else self.generate
            n = {"train": self.n_train, "valid": self.n_valid, "test": self.n_test}[split]
            exclude = None if split == "train" else self.pool("train")
            try:
                tasks = self.schema.build(self, gen, self.split_levels(split), n, split,
                                          self._seed(split), exclude)
            except FieldError as e:  # "key: message" -> located at [generate(.test)] key
                key, _, msg = str(e).partition(": ")
                rep = _Reporter(self.path, self.text)
                table = ("generate.test" if split == "test"
                         and rep.index.get(("generate.test", -1, key)) else "generate")
                raise rep.error(table, key, msg) from None
            if len(tasks) == 0:
                raise PackError(f"{self.path}: split.{split}: the {split} split has no tasks")
            self._pools[split] = tasks
        return self._pools[split]

    def tasks(self, split: str = "train", n: int | None = None, seed: int | None = None) -> Tasks:
        """`n` tasks of a split: the first `n` (deterministic) or, with `seed`, a random draw."""
        pool = self.pool(split)
        if seed is None:
            n = len(pool) if n is None else n
            idx = torch.arange(n) % len(pool)
        else:
            g = torch.Generator().manual_seed(seed)
            idx = torch.randint(len(pool), (n or len(pool),), generator=g)
        return pool.select(idx)


def resolve_pack_path(spec: str | Path | None) -> Path:
    """A pack path from a path or a shipped pack name (`navigation` -> levels/navigation.toml)."""
    spec = DEFAULT_PACK if spec is None else str(spec)
    if not spec.strip():
        raise PackError(f"expected a level pack (a path or a shipped pack's name), got "
                        f"{spec!r}")
    p = Path(spec)
    if p.exists() and not p.is_dir():
        return p
    shipped = LEVELS_DIR / f"{spec}.toml"
    if not p.suffix and shipped.exists():  # a shipped name (a folder of that name aside)
        return shipped
    if p.is_dir():
        raise PackError(f"{spec}: is a folder, not a pack file (shipped packs: "
                        f"{', '.join(shipped_packs())})")
    raise PackError(f"{spec}: no such level pack (shipped packs: {', '.join(shipped_packs())})")


def shipped_packs() -> list[str]:
    return sorted(p.stem for p in LEVELS_DIR.glob("*.toml"))


def load_pack(spec: str | Path | None = None) -> LevelPack:
    """Load a pack by path or shipped name; raise `PackError` with a location when invalid."""
    path = resolve_pack_path(spec)
    return parse_pack(read_pack_text(path), str(path))


def read_pack_text(path: Path) -> str:
    """The text of the pack file `path`: a regular file (not a fifo or a device, which could
    block or never end), read up to a bound; `PackError` otherwise."""
    try:
        if not path.is_file():
            raise PackError(f"{path}: not a regular file (a pack is a .toml file)")
        with path.open("rb") as f:  # bounded: no more than the longest pack's UTF-8 bytes
            data = f.read(4 * MAX_PACK_CHARS + 1)
    except OSError as e:
        raise PackError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > 4 * MAX_PACK_CHARS:
        raise PackError(f"{path}: the pack is over {4 * MAX_PACK_CHARS // 1_000_000} MB; at "
                        f"most {MAX_PACK_CHARS // 1_000_000} MB of text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PackError(f"{path}: cannot read: {e}") from None


def parse_pack(text: str, path: str = "<pack>") -> LevelPack:
    """Parse and validate pack text."""
    raw = _toml(text, path)
    rep = _Reporter(path, text)
    head = _head(raw, rep, path)
    schema = family_schemas()[head["family"]]
    split_raw = raw.get("split", {})
    split = rep.section("split", split_raw, SPLIT_FIELDS, allow=("test_levels",))
    test_levels = split_raw.get("test_levels", []) if isinstance(split_raw, dict) else []
    if not (isinstance(test_levels, list) and all(isinstance(t, str) for t in test_levels)):
        raise rep.error("split", "test_levels", "expected a list of level names")
    twice = sorted({t for t in test_levels if test_levels.count(t) > 1})
    if twice:
        raise rep.error("split", "test_levels", f'"{twice[0]}" is listed twice')
    generate, gen_test, reward = _generate_and_reward(raw, rep, schema)
    _check_split_sizes(split, head["family"], schema, generate, gen_test, rep)
    levels = _levels(raw, rep, schema, generate)
    names = {lv["name"] for lv in levels}
    for name in test_levels:
        if name not in names:
            raise rep.error("split", "test_levels", f'no [[level]] named "{name}"')
    own_train = _train(raw.get("train", {}), rep)
    return LevelPack(
        path=path, text=text, name=head["name"], family=head["family"],
        description=head["description"], horizon=head["horizon"] or schema.horizon,
        seed=head["seed"], n_train=split["train"], n_test=split["test"],
        n_valid=split["valid"],
        test_levels=tuple(test_levels), generate=generate, generate_test=gen_test,
        reward=reward, levels=tuple(levels),
        train=_with_family_recipe(schema.recipe, own_train),
        train_own=frozenset(own_train),
    )


def _check_split_sizes(split: dict[str, Any], family: str, schema: FamilySchema,
                       generate: dict[str, Any], gen_test: dict[str, Any], rep: _Reporter
                       ) -> None:
    """Each split asks for at most the family's `max_split` tasks (of its `[generate]`)."""
    for key in SPLITS:
        bound = schema.max_split(gen_test if key == "test" else generate)
        if split[key] > bound:
            raise rep.error("split", key, f"expected at most {bound} tasks for a {family} pack "
                            "(each is generated and kept in memory when the split is used), "
                            f"got {split[key]}")


def _toml(text: str, path: str) -> dict[str, Any]:
    if len(text) > MAX_PACK_CHARS:
        raise PackError(f"{path}: the pack is {len(text) / 1e6:.1f} MB; at most "
                        f"{MAX_PACK_CHARS // 1_000_000} MB of text (generate levels with "
                        "[generate] instead of writing them out)")
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise PackError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        loc = f"{path}:{m.group(1)}" if m else path
        msg = re.sub(r" \(at .*\)", "", msg)
        raise PackError(f"{loc}: invalid TOML: {msg}") from None


def _head(raw: dict[str, Any], rep: _Reporter, path: str) -> dict[str, Any]:
    """The sections present and the validated `[pack]` table (name and a known family)."""
    allowed = {"pack", "split", "generate", "reward", "level", "train"}
    for key in raw:
        if key not in allowed:
            raise rep.error(key, "", f"unknown section (known: {', '.join(sorted(allowed))})")
    if "pack" not in raw:
        raise PackError(f"{path}: pack: missing section [pack] (with name and family)")
    head = rep.section("pack", raw["pack"], PACK_FIELDS)
    for key in ("name", "family"):
        if key not in raw["pack"]:
            raise rep.error("pack", "", f"missing key '{key}'")
    if not _NAME_RE.match(head["name"]):
        raise rep.error("pack", "name", f'expected [a-z0-9-], got "{head["name"]}"')
    known = family_schemas()
    if head["family"] not in known:
        raise rep.error("pack", "family", f'expected one of {", ".join(known)}, '
                        f'got "{head["family"]}"')
    return head


def _generate_and_reward(raw: dict[str, Any], rep: _Reporter, schema: FamilySchema
                         ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """`[generate]`, `[generate]` with `[generate.test]` applied, and `[reward]`, checked."""
    gen_raw = dict(raw.get("generate", {})) if isinstance(raw.get("generate", {}), dict) else None
    if gen_raw is None:
        raise rep.error("generate", "", "expected a table")
    test_raw = gen_raw.pop("test", {})
    generate = rep.section("generate", gen_raw, schema.generate)
    for key in schema.test_fixed:
        if isinstance(test_raw, dict) and key in test_raw:
            raise rep.error("generate.test", key, "cannot be overridden in [generate.test] "
                            "(it sets the observation size, which every split shares)")
    gen_test = dict(generate)
    gen_test.update(rep.section("generate.test", test_raw, schema.generate, defaults=False))
    reward = rep.section("reward", raw.get("reward", {}), schema.reward)
    for table, values in (("generate", generate), ("generate.test", gen_test), ("reward", reward)):
        try:
            schema.check(table, values)
        except FieldError as e:
            key, _, msg = str(e).partition(": ")
            raise rep.error(table, key, msg) from None
    return generate, gen_test, reward


def _levels(raw: dict[str, Any], rep: _Reporter, schema: FamilySchema,
            generate: dict[str, Any]) -> list[dict[str, Any]]:
    """The validated `[[level]]` tables, completed by the family's `parse_level`."""
    levels_raw = raw.get("level", [])
    if not isinstance(levels_raw, list):
        raise rep.error("level", "", "expected [[level]] tables")
    level_fields = {"name": Field("str", "")} | schema.level
    if len(levels_raw) > MAX_LEVELS:
        raise rep.error("level", "", f"{len(levels_raw)} [[level]] tables; at most "
                        f"{MAX_LEVELS}")
    levels, names = [], set()
    for i, lv in enumerate(levels_raw):
        if not isinstance(lv, dict) or "name" not in lv:
            raise rep.error("level", "", "each [[level]] needs a name", arr=i)
        parsed = rep.section("level", lv, level_fields, arr=i, defaults=False)
        _check_level_name(parsed["name"], rep, i)
        if parsed["name"] in names:
            raise rep.error("level", "name", f'duplicate level name "{parsed["name"]}"', arr=i)
        names.add(parsed["name"])
        try:
            levels.append(schema.parse_level(parsed, generate))
        except FieldError as e:
            key, _, msg = str(e).partition(": ")
            raise rep.error("level", key, msg, arr=i) from None
    return levels


def _check_level_name(name: str, rep: _Reporter, i: int) -> None:
    """A level name is a visible id that cannot be read as an index or a generated id."""
    if not name.strip() or name != name.strip() or "\n" in name:
        problem = "an empty name" if not name.strip() else "spaces around or inside lines"
        raise rep.error("level", "name", f'expected a name like "corridor", got "{name}" '
                        f"({problem})", arr=i)
    if name.isdigit() or _GENERATED_ID.match(name):
        raise rep.error("level", "name", f'"{name}" reads as a level index or a generated '
                        "level's id (train-N, valid-N, test-N); choose another name", arr=i)


def _with_family_recipe(family: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The family's default recipe with the pack's own `[train]` keys over it; the budget
    (`iterations`, `time_limit`) is one: a pack that gives either replaces both."""
    if own.keys() & BUDGET_KEYS:
        family = {k: v for k, v in family.items() if k not in BUDGET_KEYS}
    return {**family, **own}


def _train(raw: Any, rep: _Reporter) -> dict[str, Any]:
    """The validated `[train]` recipe: only the keys given, as `TrainConfig` values."""
    if not isinstance(raw, dict):
        raise rep.error("train", "", "expected a table")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in TRAIN_KEYS:
            known = ", ".join(sorted(TRAIN_KEYS))
            raise rep.error("train", key, f"unknown key (known keys: {known})")
        try:
            out[key] = _train_value(TRAIN_KEYS[key], value)
        except FieldError as e:
            raise rep.error("train", key, str(e)) from None
    return out


def _train_value(s: Setting, value: Any) -> Any:
    """One recipe value, checked like the `train` option of the same name."""
    if s.kind == "sizes":
        if not (isinstance(value, list) and value and all(
                isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_LAYER
                for h in value)):
            raise FieldError(f"expected a list of layer sizes (integers in [1, {MAX_LAYER}]), "
                             f"got {_toml_text(value)}")
        return tuple(value)
    if s.kind == "duration":
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            return parse_duration(value)
        except ValueError:
            raise FieldError(f"expected {DURATION_FORM}, got {_toml_text(value)}") from None
    if s.kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise FieldError(f"expected a number, got {_toml_text(value)}")  # the type first
    parsed = TRAIN_FIELDS[s.name].parse(value)
    return float(parsed) if s.kind == "float" else parsed


def _toml_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    return json.dumps(value, default=str)
