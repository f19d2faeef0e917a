"""Level packs: the TOML loader with located errors, the field schema, train/test splits and
the `Tasks` data. The families' own keys come from their `FamilySpec` (`mamlgame.families`)."""

from mamlgame.packs.loader import (
    LEVELS_DIR,
    SPLITS,
    LevelPack,
    load_pack,
    parse_pack,
    resolve_pack_path,
    shipped_packs,
)
from mamlgame.packs.schema import Dist, FamilySchema, Field, FieldError
from mamlgame.packs.tasks import Tasks

__all__ = [
    "Dist", "FamilySchema", "Field", "FieldError", "LEVELS_DIR", "SPLITS", "LevelPack", "Tasks",
    "load_pack", "parse_pack", "resolve_pack_path", "shipped_packs",
]
