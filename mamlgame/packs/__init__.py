"""Level packs: TOML task sets with validation, procedural generation and train/test splits."""

from mamlgame.packs import game as _game  # noqa: F401  (registers the game schema)
from mamlgame.packs.families import FAMILY_SCHEMAS, FamilySchema, register_schema
from mamlgame.packs.loader import (
    LEVELS_DIR,
    LevelPack,
    load_pack,
    parse_pack,
    resolve_pack_path,
    shipped_packs,
)
from mamlgame.packs.schema import Dist, Field, FieldError
from mamlgame.packs.tasks import Tasks

__all__ = [
    "FAMILY_SCHEMAS", "Dist", "FamilySchema", "Field", "FieldError", "LEVELS_DIR", "LevelPack",
    "Tasks", "load_pack", "parse_pack", "register_schema", "resolve_pack_path", "shipped_packs",
]
