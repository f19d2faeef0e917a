"""Typed fields of the level-pack schema: numbers, choices and distributions, with validation;
and `FamilySchema`, the keys one task family's packs may hold.

A field checks a raw TOML value and returns the parsed value or raises `FieldError` with the
expected form; the pack loader adds the file, line and key path.
"""

from __future__ import annotations

import importlib
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from mamlgame.packs.loader import LevelPack
    from mamlgame.packs.tasks import Tasks


class FieldError(ValueError):
    """A value does not match its field; the message says what was expected and what came."""


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items()) + " }"
    return str(value)


def _is_number(value: Any) -> bool:
    """A TOML number that a float can hold (an integer past 1e308 cannot: no number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not isinstance(value, int) or abs(value) <= _FLOAT_INT_MAX


_FLOAT_INT_MAX = int(sys.float_info.max)


@dataclass(frozen=True)
class Dist:
    """A parsed distribution: a constant, a uniform range (int or float) or a categorical."""

    kind: str  # "const" | "uniform" | "int" | "choice"
    lo: float = 0.0
    hi: float = 0.0
    choices: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` draws as a tensor (float, int64, or int64 indices into `choices`)."""
        if self.kind == "const":
            return torch.full((n,), float(self.lo))
        if self.kind == "uniform":
            return self.lo + (self.hi - self.lo) * torch.rand(n, generator=generator)
        if self.kind == "int":
            return torch.randint(int(self.lo), int(self.hi) + 1, (n,), generator=generator)
        w = torch.tensor(self.weights, dtype=torch.float64)
        return torch.multinomial(w, n, replacement=True, generator=generator)

    def draw(self, rng: random.Random) -> float | int | str:
        """One draw from a Python RNG (used by per-level procedural generators)."""
        if self.kind == "const":
            return self.lo
        if self.kind == "uniform":
            return rng.uniform(self.lo, self.hi)
        if self.kind == "int":
            return rng.randint(int(self.lo), int(self.hi))
        return rng.choices(self.choices, weights=self.weights)[0]

    @property
    def mean(self) -> float:
        return 0.5 * (self.lo + self.hi)


@dataclass(frozen=True)
class Field:
    """One key of a pack section.

    kind: "float" | "int" | "str" | "bool" | "dist" | "intdist" | "weights".
    `lo`/`hi` bound numbers and distribution ranges; `choices` bounds strings and weights.
    """

    kind: str
    default: Any
    doc: str = ""
    lo: float = -math.inf
    hi: float = math.inf
    choices: tuple[str, ...] = ()
    lo_open: bool = False  # numbers must be > lo (not >=)

    def _bounds(self) -> str:
        if self.lo > -math.inf and self.hi < math.inf:
            return f"{_num(self.lo)} <= lo <= hi <= {_num(self.hi)}"
        if self.lo > -math.inf:
            return f"{_num(self.lo)} <= lo <= hi"
        if self.hi < math.inf:
            return f"lo <= hi <= {_num(self.hi)}"
        return "lo <= hi"

    def expected(self) -> str:
        """The expected form, for error messages."""
        k = self.kind
        if k in ("float", "int"):
            what = "an integer" if k == "int" else "a number"
            if self.lo_open:
                above = f"{what} > {_num(self.lo)}"
                return above + (f" and <= {_num(self.hi)}" if self.hi < math.inf else "")
            if self.lo > -math.inf and self.hi < math.inf:
                return f"{what} in [{_num(self.lo)}, {_num(self.hi)}]"
            if self.lo > -math.inf:
                return f"{what} >= {_num(self.lo)}"
            return what
        if k == "str":
            if not self.choices:
                return "a string"
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if k == "bool":
            return "true or false"
        if k == "weights":
            return "a table of weights { " + " = w, ".join(self.choices) + " = w } (w >= 0)"
        what = "integers" if k == "intdist" else "numbers"
        return f"a number or [lo, hi] of {what} with {self._bounds()}"

    def parse(self, value: Any) -> Any:
        """Validate `value`; return the parsed value (a `Dist` for distribution kinds)."""
        k = self.kind
        bad = FieldError(f"expected {self.expected()}, got {_fmt(value)}")
        if k == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if k == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise bad
            return value
        if k in ("float", "int"):
            if not _is_number(value) or (k == "int" and not isinstance(value, int)):
                raise bad
            if not (self.lo <= value <= self.hi) or not math.isfinite(value):
                raise bad
            if self.lo_open and value <= self.lo:
                raise bad
            return value
        if k == "weights":
            return self._parse_weights(value, bad)
        return self._parse_dist(value, bad)

    def _parse_dist(self, value: Any, bad: FieldError) -> Dist:
        """A `dist` / `intdist` value: a constant, [lo, hi] or (with choices) weights."""
        k = self.kind
        if _is_number(value):
            if not (math.isfinite(value) and self.lo <= value <= self.hi):
                raise bad
            if k == "intdist" and not isinstance(value, int):
                raise bad
            return Dist("const", value, value)
        if isinstance(value, dict) and self.choices:
            return self._parse_weights(value, bad)
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
            raise bad
        lo, hi = value
        if not (math.isfinite(lo) and math.isfinite(hi) and self.lo <= lo <= hi <= self.hi):
            raise bad
        if k == "intdist" and not (isinstance(lo, int) and isinstance(hi, int)):
            raise bad
        return Dist("int" if k == "intdist" else "uniform", lo, hi)

    def _parse_weights(self, value: Any, bad: FieldError) -> Dist:
        if isinstance(value, str) and value in self.choices:
            return Dist("choice", choices=(value,), weights=(1.0,))
        if not isinstance(value, dict) or not value:
            raise bad
        for name, w in value.items():
            if name not in self.choices or not _is_number(w) or not (0 <= w < math.inf):
                raise bad
        if not 0 < sum(value.values()) < math.inf:
            raise FieldError(f"expected weights with a positive, finite sum, got {_fmt(value)}")
        return Dist("choice", choices=tuple(value), weights=tuple(float(w) for w in value.values()))

    def default_value(self) -> Any:
        """The default as parsed (a `Dist` for distributions); a plain default is kept as
        written, so it may stand outside the bounds for "not given" (`horizon` 0)."""
        if self.kind in ("float", "int", "str", "bool"):
            return self.default
        return self.parse(self.default)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _no_check(table: str, values: dict[str, Any]) -> None:
    return None


MAX_SPLIT = 10_000  # generated tasks per split, unless a family bounds its own


def _max_split(generate: dict[str, Any]) -> int:
    return MAX_SPLIT


@dataclass(frozen=True)
class FamilySchema:
    """What a pack of one family may contain and how its tasks are generated.

    `build(pack, generate, hand_levels, n, split, seed, exclude) -> Tasks` makes a split:
    the hand-designed levels first, then `n` generated ones, none equal to a task of `exclude`.
    `parse_level(level, generate) -> level` completes a validated `[[level]]` table.
    `check(table, values)` validates cross-key constraints (raise FieldError("key: msg")).
    `max_split(generate) -> n`: the most tasks a split may ask for under these `[generate]`
    values (each is generated and kept in memory when the split is first used); default
    `MAX_SPLIT`, which keeps a split of the costliest shipped family (game levels, ~50 kB
    and ~8 ms each at the default sizes) within seconds and a gigabyte.
    `recipe`: the family's default `[train]` recipe (TrainConfig field -> value); a pack's
    own `[train]` keys replace it key by key.
    `test_fixed`: `[generate]` keys that `[generate.test]` may not override (they set the
    observation size, which every split of a pack shares).
    """

    horizon: int
    generate: dict[str, Field]
    reward: dict[str, Field]
    level: dict[str, Field]
    build: Callable[[LevelPack, dict[str, Any], list[dict[str, Any]], int, str, int,
                     Tasks | None], Tasks]
    parse_level: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    check: Callable[[str, dict[str, Any]], None] = field(default=_no_check)
    max_split: Callable[[dict[str, Any]], int] = field(default=_max_split)
    recipe: dict[str, Any] = field(default_factory=dict)
    test_fixed: tuple[str, ...] = ()


# family name -> schema; filled by `mamlgame.families.register` (the loader reads it through
# `family_schemas`)
SCHEMAS: dict[str, FamilySchema] = {}
# The package whose import registers the shipped families. The packs sit below the families
# and never import them; `family_schemas` imports this package by name on first use, so that
# loading a pack does not depend on what the caller imported first.
BUILTIN_FAMILIES = "mamlgame.families"


def family_schemas() -> dict[str, FamilySchema]:
    """The registry of family schemas, the shipped families' included: they register on the
    first call (importing `BUILTIN_FAMILIES` by name), beside any family a user registered."""
    if BUILTIN_FAMILIES not in sys.modules:
        importlib.import_module(BUILTIN_FAMILIES)
    return SCHEMAS
