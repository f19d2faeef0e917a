"""Task families, one home each, registered once in a `FamilySpec` registry.

Shipped: `velocity`, `navigation`, `terrain`, `bandit` (modules) and `game` (a folder), each
defining `SPEC = FamilySpec(...)` and listed once in `BUILTIN`. A family of your own is one
module with its `SPEC` and a `register(SPEC)` call; see docs/families.md.
"""

from __future__ import annotations

import importlib

from mamlgame.errors import PackError
from mamlgame.families.base import FamilyBase, PolicyHead, State, TaskFamily, task_param
from mamlgame.families.spec import Controls, FamilySpec
from mamlgame.packs import LevelPack
from mamlgame.packs.schema import SCHEMAS

BUILTIN = ("velocity", "navigation", "terrain", "bandit", "game")
_SPECS: dict[str, FamilySpec] = {}
_HEADS: dict[str, type] = {}  # PolicyHead.kind -> class


def register(spec: FamilySpec) -> FamilySpec:
    """Make a family available to packs (`family = "<name>"`) and to every command."""
    _SPECS[spec.name] = spec
    SCHEMAS[spec.name] = spec.schema
    _HEADS.update({cls.kind: cls for cls in spec.heads})
    return spec


def family_spec(name: str) -> FamilySpec:
    """The registered spec of family `name`."""
    if name not in _SPECS:
        raise PackError(f'family "{name}" is not available (known: {", ".join(_SPECS)})')
    return _SPECS[name]


def families() -> tuple[str, ...]:
    """Names of the registered families."""
    return tuple(_SPECS)


def make_family(pack: LevelPack, horizon: int | None = None) -> TaskFamily:
    """The dynamics of `pack`'s family, configured by its horizon and reward settings."""
    return family_spec(pack.family).dynamics(pack, horizon)


def policy_head(family: TaskFamily, table_radius: int = 0) -> PolicyHead | None:
    """The family's per-level policy head (`FamilySpec.policy_head`), None where it has none."""
    spec = _SPECS.get(family.name)
    if spec is None or spec.policy_head is None:
        return None
    return spec.policy_head(family, table_radius)


def rebuild_head(kind: str, config: dict) -> PolicyHead:
    """A saved head (`PolicyHead.config()`) by its `kind`."""
    if kind not in _HEADS:
        raise KeyError(f"policy head {kind!r} is not available (known: {', '.join(_HEADS)})")
    return _HEADS[kind](**config)


for _name in BUILTIN:
    register(importlib.import_module(f"mamlgame.families.{_name}").SPEC)

__all__ = ["BUILTIN", "Controls", "FamilyBase", "FamilySpec", "PolicyHead", "State",
           "TaskFamily", "families", "family_spec", "make_family", "policy_head", "rebuild_head",
           "register", "task_param"]
